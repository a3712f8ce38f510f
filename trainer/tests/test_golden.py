"""`golden FILE.evals.yaml`: golden prompts against the base and a trained adapter, JUnit XML for CI."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from conftest import arithmetic_records, run_trainer, write_config, write_jsonl

from modelfactory_trainer.golden import check_answer, junit_xml

CONFIG = """base_model: builtin:tiny-llama
method: lora
dataset: {path: train.jsonl, eval_split: 0}
lora: {r: 16, alpha: 32, dropout: 0.0, target_modules: [q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, lm_head]}
training: {max_steps: 40, learning_rate: 0.01, batch_size: 4, max_seq_length: 64, warmup_ratio: 0.0, lr_scheduler: constant, logging_steps: 10, save_steps: 1000, gradient_checkpointing: false, record_loss: false}
output_dir: out
"""
EVALS = """config: job.finetune.yaml
max_new_tokens: 16
prompts:
  - name: answers in the trained form
    prompt: What is 1 plus 2?
    expect:
      regex: "^1 plus 2 is \\\\d+\\\\.?$"
      not_contains: ["Paris"]
  - name: stays short
    prompt: What is 2 plus 1?
    expect:
      contains: ["plus"]
      max_tokens: 12
"""


@pytest.fixture(scope="module")
def golden_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("golden")
    write_jsonl(directory / "train.jsonl", arithmetic_records(12))
    config = write_config(directory, CONFIG)
    completed = run_trainer("train", str(config))
    assert completed.returncode == 0, completed.stderr[-2000:]
    (directory / "golden.evals.yaml").write_text(EVALS, encoding="utf-8")
    return directory


def test_the_adapter_passes_where_the_base_fails_and_junit_says_so(golden_dir: Path) -> None:
    junit = golden_dir / "junit.xml"
    completed = run_trainer("golden", str(golden_dir / "golden.evals.yaml"), "--junit", str(junit), "--json")
    assert completed.returncode == 1, completed.stderr[-2000:]  # the base model fails its checks
    report = json.loads(completed.stdout)
    by_model: dict[str, list[dict[str, Any]]] = {}
    for result in report["results"]:
        by_model.setdefault(result["model"], []).append(result)
    assert set(by_model) == {"base", "out"}  # the config's adapter is found by default
    print("\n" + "\n".join(f"{r['model']}: {r['name']}: {r['answer']!r} {r['problems']}" for r in report["results"]))
    assert all(result["passed"] for result in by_model["out"])
    assert not any(result["passed"] for result in by_model["base"])
    assert report["failed"] == 2 and report["passed"] == 2

    root = ET.fromstring(junit.read_text(encoding="utf-8"))
    suites = {suite.get("name"): suite for suite in root.iter("testsuite")}
    assert set(suites) == {"golden.evals.yaml [base]", "golden.evals.yaml [out]"}
    assert suites["golden.evals.yaml [base]"].get("failures") == "2"
    assert suites["golden.evals.yaml [out]"].get("failures") == "0"
    failure = suites["golden.evals.yaml [base]"].find("testcase/failure")
    assert failure is not None and "--- answer ---" in (failure.text or "")


def test_only_runs_the_named_prompts_and_refuses_an_unknown_name(golden_dir: Path) -> None:
    evals = str(golden_dir / "golden.evals.yaml")
    completed = run_trainer("golden", evals, "--only", "stays short", "--json")
    report = json.loads(completed.stdout)
    assert {result["name"] for result in report["results"]} == {"stays short"}
    assert {result["model"] for result in report["results"]} == {"base", "out"}
    # Each result carries its expectations, for the editor's expected-vs-actual message.
    assert all(result["expect"] == {"contains": ["plus"], "max_tokens": 12} for result in report["results"])
    unknown = run_trainer("golden", evals, "--only", "no such prompt")
    assert unknown.returncode == 2 and "no prompt named 'no such prompt'" in unknown.stderr


def test_a_file_that_breaks_the_schema_is_refused_with_its_path(golden_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.evals.yaml"
    bad.write_text("config: x.finetune.yaml\nprompts:\n  - name: a\n    prompt: hi\n    expect: {contain: [x]}\n", encoding="utf-8")
    completed = run_trainer("golden", str(bad))
    assert completed.returncode == 2
    assert "$.prompts[0].expect" in completed.stderr and "contain" in completed.stderr


def test_each_expectation() -> None:
    assert check_answer({"contains": ["4"], "not_contains": ["5"]}, "2 plus 2 is 4.", 6) == []
    assert check_answer({"equals": " 2 plus 2 is 4. "}, "2 plus 2 is 4.", 6) == []
    assert check_answer({"regex": r"is \d\.$"}, "2 plus 2 is 4.", 6) == []
    problems = check_answer({"contains": ["5"], "not_contains": ["4"], "regex": "^x", "equals": "y", "max_tokens": 3}, "2 plus 2 is 4.", 6)
    assert problems == [
        "expected it to contain '5'",
        "expected it not to contain '4'",
        "expected it to match /^x/",
        "expected exactly 'y'",
        "expected at most 3 tokens, got 6",
    ]


def test_junit_carries_control_characters_as_valid_xml() -> None:
    row = {"name": "t", "model": "base", "answer": "a\x10b", "problems": ["expected it to contain 'c'"], "seconds": 0.1}
    root = ET.fromstring(junit_xml([row], "f.evals.yaml"))
    assert root.find("testsuite/testcase/system-out").text == "a\ufffdb"  # type: ignore[union-attr]
