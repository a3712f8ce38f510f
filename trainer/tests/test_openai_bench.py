"""`openai_bench` runs end to end on the tiny model: concurrent streaming clients against the sequential floor, with
every stream checked against the same request answered alone. Figures are printed, never asserted (PERF.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import TRAINER_ROOT


def test_concurrent_streams_answer_as_each_request_alone_without_errors(trained_run: dict[str, Any]) -> None:
    assert trained_run["returncode"] == 0, trained_run["stderr"][-2000:]
    adapter = Path(trained_run["dir"]) / "out" / "adapter"
    completed = subprocess.run(
        [sys.executable, "-m", "modelfactory_trainer.openai_bench", "--clients", "8", "--tokens", "8", "--adapter", str(adapter)],
        capture_output=True, text=True, timeout=600, cwd=TRAINER_ROOT,
    )  # fmt: skip
    assert completed.returncode == 0, (completed.stdout[-2000:], completed.stderr[-2000:])
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    print(f"\n{result}")
    concurrent = result["concurrent"]
    assert (result["clients"], concurrent["errors"], concurrent["mismatched"]) == (8, 0, 0)
    # Greedy and the same prompts: the concurrent run generated exactly the sequential run's tokens.
    assert concurrent["tokens"] == result["sequential"]["tokens"] > 0
    assert concurrent["tokens_per_second"] > 0 and concurrent["ratio_to_sequential"] > 0
    for key in ("warm_adapter_ttft_ms", "one_token_same_model_ms", "one_token_switching_ms", "swap_ms"):
        assert isinstance(result[key], float), key
