"""Shared fixtures: the tiny model in a session-private cache, JSONL writers, and a trainer runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

TRAINER_ROOT = Path(__file__).resolve().parents[1]


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def arithmetic_records(count: int = 8) -> list[dict[str, Any]]:
    """Short, regular chat records a tiny model can memorise in a few dozen steps."""
    pairs = [(a, b) for a in range(1, 10) for b in range(1, 10)][:count]
    return [
        {
            "messages": [
                {"role": "user", "content": f"What is {a} plus {b}?"},
                {"role": "assistant", "content": f"{a} plus {b} is {a + b}."},
            ]
        }
        for a, b in pairs
    ]


# A LoRA job on the tiny model over arithmetic_records (format: split, steps, extra lines under training).
ARITHMETIC_CONFIG = """base_model: builtin:tiny-llama
method: lora
dataset:
  path: train.jsonl
  eval_split: {split}
lora: {{r: 16, alpha: 32, dropout: 0.0, target_modules: [q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, lm_head]}}
training:
  max_steps: {steps}
  learning_rate: 0.01
  batch_size: 4
  gradient_accumulation_steps: 1
  max_seq_length: 64
  warmup_ratio: 0.0
  lr_scheduler: constant
  logging_steps: 10
  save_steps: 1000
  gradient_checkpointing: false
{extra}output_dir: out
"""


def write_config(directory: Path, body: str, name: str = "job.finetune.yaml") -> Path:
    path = directory / name
    path.write_text(body, encoding="utf-8")
    return path


def parse_events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


@pytest.fixture(scope="session")
def modelfactory_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private MODELFACTORY_CACHE for the whole session, also inherited by trainer subprocesses."""
    cache = tmp_path_factory.mktemp("modelfactory-cache")
    previous = os.environ.get("MODELFACTORY_CACHE")
    os.environ["MODELFACTORY_CACHE"] = str(cache)
    yield cache
    if previous is None:
        os.environ.pop("MODELFACTORY_CACHE", None)
    else:
        os.environ["MODELFACTORY_CACHE"] = previous


@pytest.fixture(scope="session")
def tiny_model_dir(modelfactory_cache: Path) -> Path:
    from modelfactory_trainer.tiny import ensure_tiny_llama

    return ensure_tiny_llama()


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture
def jsonl_writer(tmp_path: Path) -> Callable[..., Path]:
    """write(records, name="train.jsonl") -> path, inside the test's temp dir."""

    def write(records: list[Any], name: str = "train.jsonl") -> Path:
        return write_jsonl(tmp_path / name, records)

    return write


def trainer_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "modelfactory_trainer", *args]


def run_trainer(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        trainer_command(*args), capture_output=True, text=True, timeout=timeout, env=full_env, cwd=TRAINER_ROOT
    )


TRAINED_RUN_STEPS = 40


@pytest.fixture(scope="session")
def trained_run(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One real LoRA job on the tiny model, shared by the tests that need a trained adapter.

    Returns {"dir", "config", "events", "returncode", "stderr"}.
    """
    directory = tmp_path_factory.mktemp("trained-run")
    write_jsonl(directory / "data" / "train.jsonl", arithmetic_records(10))
    config = write_config(
        directory,
        f"""base_model: builtin:tiny-llama
method: lora
dataset:
  path: data/train.jsonl
  eval_split: 0.2
lora: {{r: 16, alpha: 32, dropout: 0.0, target_modules: [q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, lm_head]}}
training:
  max_steps: {TRAINED_RUN_STEPS}
  learning_rate: 0.01
  batch_size: 4
  gradient_accumulation_steps: 1
  max_seq_length: 64
  warmup_ratio: 0.0
  lr_scheduler: constant
  logging_steps: 5
  save_steps: 20
  eval_steps: 20
  gradient_checkpointing: false
output_dir: out
""",
    )
    completed = run_trainer("train", str(config))
    return {
        "dir": directory,
        "config": config,
        "events": parse_events(completed.stdout),
        "returncode": completed.returncode,
        "stderr": completed.stderr,
    }


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    """No test may skip: a skip because a tool is missing hides a missing install step, so it fails the run."""
    skipped = terminalreporter.stats.get("skipped", [])
    if skipped:
        terminalreporter.write_line(f"{len(skipped)} test(s) skipped; every test must run, so this run fails (the reasons are in the summary)", red=True)


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and reporter.stats.get("skipped") and exitstatus == 0:
        session.exitstatus = 1
