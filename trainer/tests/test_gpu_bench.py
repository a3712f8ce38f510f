"""The GPU benchmark: the architectures are the real sizes, the FLOP formula, and an end-to-end CPU run on tiny."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from modelfactory_trainer.gpu_bench import MODELS, flops_per_token, parameter_counts, peak_tflops_for

TRAINER_ROOT = Path(__file__).resolve().parents[1]


def test_the_random_models_have_the_published_parameter_counts() -> None:
    # Published totals: Qwen2.5-0.5B 494,032,768 (embedding tied to the head); Meta-Llama-3-8B 8,030,261,248.
    assert parameter_counts(MODELS["qwen2.5-0.5b"])["total"] == 494_032_768
    assert parameter_counts(MODELS["llama-8b"])["total"] == 8_030_261_248


def test_flop_counted_parameters_drop_the_embedding_and_keep_the_head() -> None:
    qwen = parameter_counts(MODELS["qwen2.5-0.5b"])
    assert qwen["flop_counted"] == qwen["total"]  # tied: the embedding leaves, the head matmul comes back, same size
    llama = parameter_counts(MODELS["llama-8b"])
    assert llama["flop_counted"] == llama["total"] - 128256 * 4096
    per_token = flops_per_token(MODELS["llama-8b"], llama["flop_counted"], 2048)
    assert per_token == 6 * llama["flop_counted"] + 12 * 32 * 4096 * 2048


def test_peak_table_tells_h100_variants_apart() -> None:
    assert peak_tflops_for("NVIDIA H100 80GB HBM3") == 989.0
    assert peak_tflops_for("NVIDIA H100 PCIe") == 756.0
    assert peak_tflops_for("NVIDIA A100-SXM4-80GB") == 312.0
    assert peak_tflops_for("Some Future GPU") is None


def test_the_benchmark_runs_end_to_end_on_cpu_with_tiny(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    argv = [
        sys.executable,
        "-m",
        "modelfactory_trainer.gpu_bench",
        "--model",
        "tiny",
        "--steps",
        "2",
        "--seq",
        "32",
        "--batch",
        "2",
        "--json",
        str(out),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=TRAINER_ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert json.loads(done.stdout) == report
    assert report["device"] in ("cpu", "cuda")
    assert report["params_total"] == parameter_counts(MODELS["tiny"])["total"]
    runs = {(run["method"], run["variant"]): run for run in report["runs"]}
    assert set(runs) >= {("lora", "lean"), ("lora", "peft_trainer")}
    for run in runs.values():
        assert run["tokens_per_second"] > 0 and run["steps_timed"] == 1
        assert math.isfinite(run["loss_first"]) and run["params_trainable"] > 0
    ratio = report["ratios"]["lora"]["lean_over_peft_trainer_tokens_per_second"]
    assert math.isclose(
        ratio, runs[("lora", "lean")]["tokens_per_second"] / runs[("lora", "peft_trainer")]["tokens_per_second"]
    )
    assert runs[("lora", "lean")]["params_trainable"] == runs[("lora", "peft_trainer")]["params_trainable"]
    if report["device"] == "cpu":
        assert report["ratios"]["lora"]["lean_over_peft_trainer_peak_memory"] is None
        assert runs[("lora", "lean")]["mfu"] is None and runs[("lora", "lean")]["peak_allocated_bytes"] is None
        assert "qlora" in report["skipped"]
    estimate = report["memory_vs_estimate"]["lora"]
    assert isinstance(estimate, str) and estimate.startswith("estimate unavailable") or estimate["total_bytes"] > 0
