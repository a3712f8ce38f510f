"""Preference tuning on the tiny model through TRL: DPO raises the reward margin; ORPO and KTO train; mismatches are refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import parse_events, run_trainer, write_config, write_jsonl

JOB = """base_model: builtin:tiny-llama
method: lora
objective: {objective}
dataset:
  path: {data}
  eval_split: 0
lora: {{r: 16, alpha: 32, dropout: 0.0, target_modules: [{targets}]}}
training:
  max_steps: {steps}
  learning_rate: 0.005
  batch_size: 4
  gradient_accumulation_steps: 1
  max_seq_length: 64
  warmup_ratio: 0.0
  lr_scheduler: constant
  logging_steps: 1
  save_steps: 1000
  gradient_checkpointing: false
  beta: 0.1
output_dir: out-{objective}
"""
TARGETS = "q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj"


def preference_pairs(count: int = 12) -> list[dict[str, Any]]:
    """The right sum chosen, a wrong one rejected (TRL's conversational keys)."""
    pairs = [(a, b) for a in range(1, 10) for b in range(1, 10)][:count]
    return [
        {
            "prompt": [{"role": "user", "content": f"What is {a} plus {b}?"}],
            "chosen": [{"role": "assistant", "content": f"{a} plus {b} is {a + b}."}],
            "rejected": [{"role": "assistant", "content": f"{a} plus {b} is {a + b + 3}."}],
        }
        for a, b in pairs
    ]


def kto_records() -> list[dict[str, Any]]:
    return [
        {"prompt": f"What is {a} plus 2?", "completion": f"{a} plus 2 is {a + 2 if good else a + 5}.", "label": good}
        for a in range(1, 7)
        for good in (True, False)
    ]


def _train(directory: Path, objective: str, data: str, steps: int, targets: str = TARGETS) -> dict[str, Any]:
    config = write_config(directory, JOB.format(objective=objective, data=data, steps=steps, targets=targets), f"{objective}.finetune.yaml")
    completed = run_trainer("train", str(config), timeout=400)
    return {"config": config, "events": parse_events(completed.stdout), "returncode": completed.returncode, "stderr": completed.stderr}


@pytest.fixture(scope="module")
def dpo_run(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    directory = tmp_path_factory.mktemp("dpo")
    write_jsonl(directory / "pairs.jsonl", preference_pairs())
    return {"dir": directory, **_train(directory, "dpo", "pairs.jsonl", 30)}


def test_dpo_raises_the_reward_margin(dpo_run: dict[str, Any]) -> None:
    assert dpo_run["returncode"] == 0, dpo_run["stderr"][-3000:]
    events = dpo_run["events"]
    start = next(event for event in events if event["type"] == "start")
    assert start["objective"] == "dpo"
    assert start["reference_model"] == "base model with the adapter disabled"
    logs = [event for event in events if event["type"] == "log"]
    assert len(logs) == 30
    assert all("reward_margin" in log and "reward_accuracy" in log for log in logs)
    first, last = logs[0]["reward_margin"], sum(log["reward_margin"] for log in logs[-3:]) / 3
    print(f"\nDPO reward margin: first {first:.3f}, mean of the last three {last:.3f}; last accuracy {logs[-1]['reward_accuracy']}")
    # At step 1 the adapter is zero: the policy is the reference, the margin exactly 0.
    assert first == pytest.approx(0.0, abs=1e-6)
    assert last > first + 1.0
    assert sum(log["reward_accuracy"] for log in logs[-3:]) / 3 >= 0.9
    done = events[-1]
    assert done["type"] == "done" and done["objective"] == "dpo"
    adapter = Path(done["adapter_dir"])
    assert (adapter / "adapter_model.safetensors").is_file() and (adapter / "chat_template.jinja").is_file()
    checkpoint = dpo_run["dir"] / "out-dpo" / "checkpoints" / "checkpoint-30"
    assert sorted(path.suffix for path in checkpoint.iterdir() if path.suffix not in {".json", ".safetensors", ".md", ".jinja"}) == []


def test_the_dpo_adapter_prefers_the_chosen_answers(dpo_run: dict[str, Any], tmp_path: Path) -> None:
    """eval on the pairs' chosen answers: the DPO adapter's loss on them drops below the base's."""
    assert dpo_run["returncode"] == 0
    completed = run_trainer(
        "eval", str(dpo_run["config"]), "--adapter", str(dpo_run["dir"] / "out-dpo" / "adapter"),
        "--data", str(dpo_run["dir"] / "pairs.jsonl"), "--json", "--out", str(tmp_path), "--max-new-tokens", "4",
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-2000:]
    base, adapter = json.loads(completed.stdout)["models"]
    assert adapter["metrics"]["loss"] < base["metrics"]["loss"]


@pytest.mark.parametrize("objective", ["orpo", "kto"])
def test_orpo_and_kto_train_through_trl(objective: str, tiny_model_dir: Path, tmp_path: Path) -> None:
    if objective == "kto":
        write_jsonl(tmp_path / "data.jsonl", kto_records())
    else:
        write_jsonl(tmp_path / "data.jsonl", preference_pairs(8))
    run = _train(tmp_path, objective, "data.jsonl", 2)
    assert run["returncode"] == 0, run["stderr"][-3000:]
    events = run["events"]
    start = next(event for event in events if event["type"] == "start")
    assert start["reference_model"] == (None if objective == "orpo" else "base model with the adapter disabled")
    logs = [event for event in events if event["type"] == "log"]
    assert len(logs) == 2 and all("reward_margin" in log for log in logs)
    assert events[-1]["type"] == "done" and (Path(events[-1]["adapter_dir"]) / "adapter_model.safetensors").is_file()


def test_records_that_do_not_fit_the_objective_are_refused_in_the_contract_words(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "chat.jsonl", [{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]}])
    run = _train(tmp_path, "dpo", "chat.jsonl", 2)
    assert run["returncode"] == 1
    error = run["events"][-1]
    assert error["type"] == "error" and error["code"] == "dataset"
    assert "messages records train with objective sft, not dpo" in error["message"]


def test_lora_on_lm_head_is_a_config_error_for_dpo(tiny_model_dir: Path, tmp_path: Path) -> None:
    write_jsonl(tmp_path / "pairs.jsonl", preference_pairs(4))
    run = _train(tmp_path, "dpo", "pairs.jsonl", 2, targets=TARGETS + ", lm_head")
    assert run["returncode"] == 1
    error = run["events"][-1]
    assert error["type"] == "error" and error["code"] == "config" and "lm_head" in error["message"]
