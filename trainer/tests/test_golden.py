"""`golden FILE.evals.yaml`: golden prompts against the base and a trained adapter, JUnit XML for CI."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from conftest import arithmetic_records, run_trainer, write_config, write_jsonl

from scripted_judge import ScriptedJudge

from modelfactory_trainer.golden import check_answer, judge_problems, junit_xml

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


JUDGED = """config: job.finetune.yaml
max_new_tokens: 16
{judge}prompts:
  - name: judged sum
    prompt: What is 1 plus 2?
    expect:
      judge:
        rubric: States the sum of the two numbers in a short sentence.
        min_score: 6
  - name: no judge here
    prompt: What is 2 plus 1?
    expect: {{contains: ["plus"]}}
"""


def _trained_form(answer: str, _request: dict[str, Any]) -> str:
    """The scripted judge: a high score for an answer in the trained form, a low one otherwise."""
    if answer.strip().startswith("1 plus 2 is"):
        return json.dumps({"score": 9, "reason": "states the sum in one sentence"})
    return 'Here is my grade: {"score": 2, "reason": "it never states the sum"}'


def test_a_judge_expectation_passes_the_adapter_and_fails_the_base_with_its_reason(golden_dir: Path) -> None:
    with ScriptedJudge(_trained_form) as judge:
        evals = golden_dir / "judged.evals.yaml"
        block = f"judge: {{base_url: '{judge.url}', model: grader, api_key_env: GOLDEN_JUDGE_KEY}}\n"
        evals.write_text(JUDGED.format(judge=block), encoding="utf-8")
        junit = golden_dir / "judged-junit.xml"
        completed = run_trainer("golden", str(evals), "--junit", str(junit), "--json", env={"GOLDEN_JUDGE_KEY": "sk-golden"})
    assert completed.returncode == 1, completed.stderr[-2000:]
    results = {(r["name"], r["model"]): r for r in json.loads(completed.stdout)["results"]}
    print("\n" + "\n".join(f"{key}: {r['answer']!r} {r.get('judge')} {r['problems']}" for key, r in results.items()))
    # Only the judged prompt went to the judge, once per model, with the rubric, the prompt and no reference.
    assert len(judge.requests) == 2
    assert {request["model"] for request in judge.requests} == {"grader"}
    assert set(judge.headers) == {"Bearer sk-golden"}
    asked = judge.requests[0]["messages"][-1]["content"]
    assert "States the sum of the two numbers" in asked and "What is 1 plus 2?" in asked and "Reference answer" not in asked
    adapter, base = results[("judged sum", "out")], results[("judged sum", "base")]
    assert adapter["passed"] and adapter["judge"] == {"score": 9.0, "min_score": 6.0, "reason": "states the sum in one sentence"}
    assert not base["passed"] and base["judge"]["score"] == 2.0
    assert base["problems"] == ["the judge scored it 2/10, below 6: it never states the sum"]
    assert "judge" not in results[("no judge here", "out")]

    root = ET.fromstring(junit.read_text(encoding="utf-8"))
    failures = [case.find("failure") for case in root.iter("testcase") if case.get("name") == "judged sum"]
    texts = [failure.text or "" for failure in failures if failure is not None]
    assert len(texts) == 1 and "2/10, below 6: it never states the sum" in texts[0]


def test_a_malformed_judge_reply_fails_the_check_clearly_without_crashing(golden_dir: Path) -> None:
    with ScriptedJudge(lambda _answer, _request: "Looks good to me!") as judge:
        evals = golden_dir / "malformed.evals.yaml"
        evals.write_text(JUDGED.format(judge=f"judge: {{base_url: '{judge.url}', model: grader}}\n"), encoding="utf-8")
        completed = run_trainer("golden", str(evals), "--only", "judged sum")
    assert completed.returncode == 1, completed.stderr[-2000:]  # a failed check, not bad input (2)
    assert "Traceback" not in completed.stderr
    lines = [line for line in completed.stdout.splitlines() if line.startswith("FAIL")]
    assert len(lines) == 2
    assert all("the judge gave no score: the judge's reply holds no score from 1 to 10: 'Looks good to me!'" in line for line in lines)


def test_the_command_line_names_the_judge_and_overrides_the_file(golden_dir: Path) -> None:
    with ScriptedJudge(_trained_form) as judge:
        evals = golden_dir / "cli-judge.evals.yaml"
        evals.write_text(JUDGED.format(judge="judge: {base_url: 'http://127.0.0.1:9/v1', model: elsewhere}\n"), encoding="utf-8")
        completed = run_trainer(
            "golden", str(evals), "--only", "judged sum", "--json",
            "--judge-url", judge.url, "--judge-model", "cli-grader", "--judge-key-env", "CLI_JUDGE_KEY",
            env={"CLI_JUDGE_KEY": "sk-cli"},
        )  # fmt: skip
    assert completed.returncode == 1, completed.stderr[-2000:]
    assert {request["model"] for request in judge.requests} == {"cli-grader"} and set(judge.headers) == {"Bearer sk-cli"}
    assert {r["model"]: r["passed"] for r in json.loads(completed.stdout)["results"]} == {"base": False, "out": True}


def test_a_judged_prompt_without_an_endpoint_is_refused_before_any_model_loads(tmp_path: Path) -> None:
    # The config does not exist: the judge's error comes first, so nothing was loaded.
    evals = tmp_path / "nojudge.evals.yaml"
    evals.write_text(JUDGED.format(judge="").replace("job.finetune.yaml", "missing.finetune.yaml"), encoding="utf-8")
    completed = run_trainer("golden", str(evals))
    assert completed.returncode == 2 and completed.stdout == ""
    assert "prompt 'judged sum' has a judge expectation but the judge endpoint has no base_url and model" in completed.stderr
    assert "--judge-url" in completed.stderr
    # Without the judged prompt no endpoint is needed (the missing config is then the error).
    only = run_trainer("golden", str(evals), "--only", "no judge here")
    assert only.returncode == 2 and "missing.finetune.yaml" in only.stderr and "judge expectation" not in only.stderr
    # A key variable named but not set is refused too, naming the variable.
    evals.write_text(
        JUDGED.format(judge="judge: {base_url: 'http://127.0.0.1:9/v1', model: m, api_key_env: GOLDEN_UNSET_KEY}\n"), encoding="utf-8"
    )
    unset = run_trainer("golden", str(evals), env={"GOLDEN_UNSET_KEY": ""})
    assert unset.returncode == 2 and "$GOLDEN_UNSET_KEY, which is not set" in unset.stderr


def test_judge_problems() -> None:
    assert judge_problems({"rubric": "r"}, 7.0, "fine") == []  # min_score defaults to 7
    assert judge_problems({"rubric": "r"}, 6.5, "close") == ["the judge scored it 6.5/10, below 7: close"]
    assert judge_problems({"rubric": "r", "min_score": 3}, 3.0, "ok") == []
    assert judge_problems({"rubric": "r"}, None, "judge request failed: APIConnectionError: x") == [
        "the judge gave no score: judge request failed: APIConnectionError: x"
    ]
