"""`check CONFIG`: every record loaded and rendered as train would, with the tokenizer only, and a report."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_trainer, write_config, write_jsonl

TOOL_RECORD = {
    "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "18 C"},
        {"role": "assistant", "content": "18 C in Paris."},
    ],
    "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
}
PLAIN = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]}


def _config(directory: Path, template: str = "") -> Path:
    return write_config(
        directory,
        f"base_model: builtin:tiny-llama\nmethod: lora\n{template}dataset: {{path: data.jsonl}}\ntraining: {{max_seq_length: 64}}\n",
    )


def test_a_clean_dataset_loads_with_exact_token_counts(tmp_path: Path, tiny_model_dir: Path) -> None:
    write_jsonl(tmp_path / "data.jsonl", [PLAIN, TOOL_RECORD])
    completed = run_trainer("check", str(_config(tmp_path, "chat_template: chatml\n")), "--json")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    report = json.loads(completed.stdout)
    assert report["records"] == 2 and report["loaded"] == 2 and report["problems"] == []
    tokens = report["tokens"]
    assert tokens["exact"] is True and tokens["template"] == "chatml" and tokens["limit"] == 64
    assert 0 < tokens["p50"] <= tokens["max"] and tokens["trained"] > 0


def test_problems_name_where_and_the_linter_rule_and_exit_1(tmp_path: Path, tiny_model_dir: Path) -> None:
    bad_call = {"conversations": [{"from": "human", "value": "Weather?"}, {"from": "function_call", "value": "get_weather(Rome)"}, {"from": "gpt", "value": "Sunny."}]}
    path = write_jsonl(tmp_path / "data.jsonl", [PLAIN, bad_call])
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"messages": oops}\n')
    completed = run_trainer("check", str(_config(tmp_path)), "--json")
    assert completed.returncode == 1
    report = json.loads(completed.stdout)
    assert report["records"] == 3 and report["loaded"] == 1
    assert [(Path(p["where"]).name, p["message"].rsplit(" ", 1)[-1]) for p in report["problems"]] == [
        ("data.jsonl:2", "[messages/tool-call]"),
        ("data.jsonl:3", "[jsonl/invalid-json]"),
    ]


def test_the_model_template_that_drops_tool_calls_is_a_problem(tmp_path: Path, tiny_model_dir: Path) -> None:
    # builtin:tiny-llama's own template writes role and content only: the call would vanish from training.
    write_jsonl(tmp_path / "data.jsonl", [TOOL_RECORD])
    completed = run_trainer("check", str(_config(tmp_path)), "--json")
    assert completed.returncode == 1
    message = json.loads(completed.stdout)["problems"][0]["message"]
    assert "does not render tool calls" in message and "chat_template: chatml" in message


def test_preference_data_for_an_sft_job_is_refused_in_the_contract_words(tmp_path: Path, tiny_model_dir: Path) -> None:
    write_jsonl(tmp_path / "data.jsonl", [{"prompt": "Hi", "chosen": "Hello.", "rejected": "Go away."}])
    completed = run_trainer("check", str(_config(tmp_path)), "--json")
    assert completed.returncode == 1
    assert "preference records train with objective dpo, not sft" in completed.stdout


def test_show_marks_the_trained_tokens(tmp_path: Path, tiny_model_dir: Path) -> None:
    write_jsonl(tmp_path / "data.jsonl", [PLAIN])
    completed = run_trainer("check", str(_config(tmp_path)), "--show", "1")
    assert completed.returncode == 0, completed.stderr
    assert "1 of 1 records load and render" in completed.stdout
    assert "\u27e6Hello." in completed.stdout and "Hi\u27e6" not in completed.stdout
