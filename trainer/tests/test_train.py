"""The train command end to end on the tiny model: events, loss, adapter files, resume, cancel, OOM, QLoRA."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    TRAINED_RUN_STEPS,
    TRAINER_ROOT,
    arithmetic_records,
    parse_events,
    run_trainer,
    trainer_command,
    write_config,
    write_jsonl,
)

from modelfactory_trainer.checkpoints import sha256_of

LONG_JOB = """base_model: builtin:tiny-llama
method: lora
dataset: {{path: train.jsonl, eval_split: 0}}
lora: {{r: 4, alpha: 8, target_modules: [q_proj, v_proj]}}
training:
  max_steps: {max_steps}
  learning_rate: 0.001
  batch_size: 2
  gradient_accumulation_steps: 1
  max_seq_length: 32
  logging_steps: 1
  save_steps: {save_steps}
  gradient_checkpointing: false
output_dir: out
"""


def _of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [event for event in events if event["type"] == kind]


def _long_job(directory: Path, max_steps: int = 100000, save_steps: int = 100000) -> Path:
    write_jsonl(directory / "train.jsonl", arithmetic_records(8))
    return write_config(directory, LONG_JOB.format(max_steps=max_steps, save_steps=save_steps))


def _start(config: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        trainer_command("train", str(config), *extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=TRAINER_ROOT,
        env={**os.environ, **(env or {})},
    )


def _read_until(process: subprocess.Popen[str], predicate: Any, limit_seconds: float = 120) -> list[dict[str, Any]]:
    """Events read from a running trainer until one satisfies `predicate` (or the stream ends)."""
    assert process.stdout is not None
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + limit_seconds
    for line in process.stdout:
        seen.append(json.loads(line))
        if predicate(seen[-1]) or time.monotonic() > deadline:
            break
    return seen


def test_events_follow_the_contract(trained_run: dict[str, Any]) -> None:
    assert trained_run["returncode"] == 0, trained_run["stderr"][-2000:]
    events = trained_run["events"]
    assert all(isinstance(event["time"], float) for event in events)
    assert events[0]["type"] == "start" and events[-1]["type"] == "done"
    start = events[0]
    assert start["method"] == "lora" and start["device"] == "cpu" and start["precision"] == "fp32"
    assert start["total_steps"] == TRAINED_RUN_STEPS
    assert start["epochs"] == TRAINED_RUN_STEPS / 2  # 8 training records, 4 per step
    assert start["train_records"] == 8 and start["eval_records"] == 2
    assert 0 < start["trainable_params"] < start["total_params"]
    assert start["resumed_from"] is None
    logs = _of_type(events, "log")
    assert [log["step"] for log in logs] == [1, 5, 10, 15, 20, 25, 30, 35, 40]
    assert all(log["tokens_per_second"] > 0 and log["eta_seconds"] >= 0 for log in logs)
    assert logs[-1]["eta_seconds"] == 0
    assert [event["step"] for event in _of_type(events, "eval")] == [20, 40]
    checkpoints = _of_type(events, "checkpoint")
    assert [event["step"] for event in checkpoints] == [20, 40]
    assert all(Path(event["path"]).is_dir() for event in checkpoints)
    assert events[-1]["steps"] == TRAINED_RUN_STEPS


def test_loss_falls_on_a_memorisable_dataset(trained_run: dict[str, Any]) -> None:
    logs = _of_type(trained_run["events"], "log")
    first, last = logs[0]["loss"], logs[-1]["loss"]
    assert last < first / 2, (first, last)


def test_adapter_is_complete_and_hashes_match(trained_run: dict[str, Any]) -> None:
    done = trained_run["events"][-1]
    adapter = Path(done["adapter_dir"])
    assert adapter == trained_run["dir"] / "out" / "adapter"
    assert {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json"} <= set(done["files"])
    assert done["sha256"] == sha256_of(adapter / "adapter_model.safetensors")
    for name, digest in done["files"].items():
        assert sha256_of(adapter / name) == digest
    manifest = json.loads((adapter / "adapter.sha256.json").read_text())
    assert manifest == done["files"]
    assert not list(adapter.glob("*.bin")) and not list(adapter.glob("*.pt"))
    assert not [p for p in (trained_run["dir"] / "out").iterdir() if p.name.startswith(".adapter")]


def test_checkpoints_hold_no_pickle(trained_run: dict[str, Any]) -> None:
    checkpoint = trained_run["dir"] / "out" / "checkpoints" / "checkpoint-40"
    names = {path.name for path in checkpoint.iterdir()}
    assert {"adapter_model.safetensors", "optimizer.safetensors", "scheduler.json", "trainer_state.json"} <= names
    assert not [name for name in names if name.endswith((".bin", ".pt", ".pth", ".pkl"))]


def test_config_error_is_a_typed_event(tmp_path: Path) -> None:
    config = write_config(tmp_path, "base_model: builtin:tiny-llama\nmethod: lora\ndataset: {path: x.jsonl}\ntraining: {learning_rate: 5}\n")
    completed = run_trainer("train", str(config))
    assert completed.returncode == 1
    events = parse_events(completed.stdout)
    assert len(events) == 1 and events[0]["type"] == "error" and events[0]["code"] == "config"
    assert "$.training.learning_rate" in events[0]["message"]


def test_missing_dataset_is_a_typed_event(tmp_path: Path) -> None:
    config = write_config(tmp_path, "base_model: builtin:tiny-llama\nmethod: lora\ndataset: {path: missing.jsonl}\n")
    completed = run_trainer("train", str(config))
    events = parse_events(completed.stdout)
    assert completed.returncode == 1 and events[-1]["code"] == "dataset" and "missing.jsonl" in events[-1]["message"]


def test_unknown_target_module_is_a_config_error(tmp_path: Path, tiny_model_dir: Path) -> None:
    write_jsonl(tmp_path / "train.jsonl", arithmetic_records(4))
    config = write_config(
        tmp_path, "base_model: builtin:tiny-llama\nmethod: lora\ndataset: {path: train.jsonl}\nlora: {target_modules: [c_attn]}\n"
    )
    completed = run_trainer("train", str(config))
    events = parse_events(completed.stdout)
    assert completed.returncode == 1 and events[-1]["code"] == "config"
    assert "$.lora.target_modules" in events[-1]["message"]


def test_resume_after_sigkill_picks_the_newest_complete_checkpoint(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = _long_job(tmp_path, max_steps=100000, save_steps=3)
    process = _start(config)
    seen = _read_until(process, lambda event: event["type"] == "checkpoint" and event["step"] >= 6)
    process.kill()
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert seen[-1]["type"] == "checkpoint", seen[-3:]

    checkpoints_dir = tmp_path / "out" / "checkpoints"
    steps = sorted(int(path.name.split("-")[1]) for path in checkpoints_dir.glob("checkpoint-*"))
    assert len(steps) >= 2
    newest, fallback = steps[-1], steps[-2]
    # What a SIGKILL in the middle of a save leaves: the newest checkpoint's weights cut short.
    weights = checkpoints_dir / f"checkpoint-{newest}" / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    (checkpoints_dir / f"checkpoint-{newest}" / "trainer_state.json").write_text('{"global_step": ')

    target = fallback + 4
    completed = run_trainer("train", str(config), "--resume", "--max-steps", str(target))
    assert completed.returncode == 0, completed.stderr[-2000:]
    events = parse_events(completed.stdout)
    assert events[0]["resumed_from"] == str(checkpoints_dir / f"checkpoint-{fallback}")
    assert f"skipping checkpoint-{newest}" in completed.stderr
    logs = _of_type(events, "log")
    assert logs[0]["step"] == fallback + 1 and logs[-1]["step"] == target
    assert events[-1]["type"] == "done" and events[-1]["steps"] == target


def test_sigterm_cancels_within_the_grace_period(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = _long_job(tmp_path)
    grace = 20.0
    process = _start(config, env={"MODELFACTORY_CANCEL_GRACE_SECONDS": str(grace)})
    _read_until(process, lambda event: event["type"] == "log" and event["step"] >= 3)
    signalled = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.stdout is not None
    rest = [json.loads(line) for line in process.stdout]
    process.wait(timeout=grace + 10)
    elapsed = time.monotonic() - signalled
    assert process.returncode == 130
    assert elapsed < grace
    assert rest[-1]["type"] == "cancelled"
    adapter_dir = rest[-1]["adapter_dir"]
    if adapter_dir is not None:
        manifest = json.loads((Path(adapter_dir) / "adapter.sha256.json").read_text())
        for name, digest in manifest.items():
            assert sha256_of(Path(adapter_dir) / name) == digest
    else:
        assert not (tmp_path / "out" / "adapter").exists()


def test_forced_oom_yields_a_typed_oom_event(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = _long_job(tmp_path, max_steps=20)
    completed = run_trainer("train", str(config), env={"MODELFACTORY_TEST_FORCE_OOM_AT_STEP": "3"})
    assert completed.returncode == 1
    events = parse_events(completed.stdout)
    oom = events[-1]
    assert oom["type"] == "oom" and oom["step"] == 2
    assert oom["batch_size"] == 2 and oom["max_seq_length"] == 32
    assert any("batch_size to 1" in advice for advice in oom["advice"])
    assert "allocated_gb" in oom and "total_gb" in oom
    assert not (tmp_path / "out" / "adapter").exists()


def _cuda_with_bitsandbytes() -> bool:
    import importlib.util

    import torch

    return torch.cuda.is_available() and importlib.util.find_spec("bitsandbytes") is not None


QLORA_JOB = """base_model: builtin:tiny-llama
method: qlora
dataset: {path: train.jsonl, eval_split: 0}
quantization: {bits: 4, type: nf4, double_quant: true}
training: {max_steps: 4, batch_size: 2, gradient_accumulation_steps: 1, max_seq_length: 32, logging_steps: 1}
output_dir: out
"""


def test_qlora_trains_on_cuda_and_is_a_typed_error_elsewhere(tmp_path: Path, tiny_model_dir: Path) -> None:
    """Where CUDA and bitsandbytes are present QLoRA trains; anywhere else the job ends in a typed error."""
    write_jsonl(tmp_path / "train.jsonl", arithmetic_records(4))
    completed = run_trainer("train", str(write_config(tmp_path, QLORA_JOB)))
    events = parse_events(completed.stdout)
    assert "Traceback" not in completed.stderr, completed.stderr[-2000:]
    if _cuda_with_bitsandbytes():
        assert completed.returncode == 0, completed.stderr[-2000:]
        assert events[0]["method"] == "qlora" and events[0]["device"] == "cuda"
        assert events[-1]["type"] == "done" and events[-1]["steps"] == 4
    else:
        assert completed.returncode == 1
        assert events[-1]["type"] == "error" and events[-1]["code"] in {"cuda-unavailable", "bitsandbytes-missing"}


def test_events_validate_against_the_protocol_schema(trained_run: dict[str, Any], tmp_path: Path) -> None:
    from jsonschema import Draft7Validator

    schema_path = TRAINER_ROOT.parent / "schemas" / "trainer-protocol.schema.json"
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    validator = Draft7Validator({**schema, "$ref": "#/definitions/jobEvent"})
    oom_run = run_trainer(
        "train", str(_long_job(tmp_path, max_steps=5)), env={"MODELFACTORY_TEST_FORCE_OOM_AT_STEP": "2"}
    )
    events = trained_run["events"] + parse_events(oom_run.stdout)
    assert {event["type"] for event in events} >= {"start", "log", "eval", "checkpoint", "done", "oom"}
    for event in events:
        problems = [error.message for error in validator.iter_errors(event)]
        assert not problems, (event["type"], problems)


def test_the_adapter_keeps_the_chat_template_it_was_trained_with(tmp_path: Path, tiny_model_dir: Path) -> None:
    from modelfactory_trainer import chat as chat_module
    from modelfactory_trainer.chat import ChatEngine, GenerationParams
    from modelfactory_trainer.data import resolve_chat_template

    write_jsonl(tmp_path / "train.jsonl", [{"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}] * 4)
    job = LONG_JOB.format(max_steps=2, save_steps=100).replace("max_seq_length: 32", "max_seq_length: 128")
    config = write_config(tmp_path, "chat_template: chatml\n" + job)
    completed = run_trainer("train", str(config))
    assert completed.returncode == 0, completed.stderr[-2000:]
    done = parse_events(completed.stdout)[-1]
    adapter = Path(done["adapter_dir"])
    chatml = resolve_chat_template("chatml")
    assert chatml and (adapter / "chat_template.jinja").read_text(encoding="utf-8") == chatml
    manifest = json.loads((adapter / "adapter.sha256.json").read_text())
    assert manifest["chat_template.jinja"] == sha256_of(adapter / "chat_template.jinja") == done["files"]["chat_template.jinja"]

    # chat renders the adapter's prompts with chatml, the base model's with its own template.
    prompts: list[tuple[str | None, str]] = []
    real_render = chat_module.render_chat

    def recording(*args: Any, **kwargs: Any) -> str:
        text = real_render(*args, **kwargs)
        prompts.append((kwargs.get("chat_template"), text))
        return text

    engine = ChatEngine()
    engine.prepare("builtin:tiny-llama", str(adapter))
    chat_module.render_chat = recording
    try:
        for side in (str(adapter), None):
            engine.generate([("user", "2+2?")], side, GenerationParams(max_new_tokens=2, temperature=0.0), threading.Event(), lambda _: None)
    finally:
        chat_module.render_chat = real_render
    (adapter_template, adapter_prompt), (base_template, base_prompt) = prompts
    assert adapter_template == chatml and adapter_prompt.startswith("<|im_start|>user\n2+2?<|im_end|>")
    assert base_template is None and "<|im_start|>" not in base_prompt
