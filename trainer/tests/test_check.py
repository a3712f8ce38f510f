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


def _image_record(*files: str) -> dict:
    return {
        "messages": [{"role": "user", "content": "<image>" * len(files) + " What is this?"}, {"role": "assistant", "content": "A cat."}],
        "images": list(files),
    }


def test_missing_media_files_are_problems_under_the_linter_rule(tmp_path: Path, tiny_model_dir: Path) -> None:
    (tmp_path / "present.png").write_bytes(b"png")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "inner.png").write_bytes(b"png")
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "device.png").symlink_to("/dev/null")
    records = [
        _image_record("present.png", "sub/inner.png"),  # 1: fine, relative to the dataset's folder
        _image_record("missing.png"),  # 2
        _image_record("https://example.com/cat.png"),  # 3: a URL, unchecked
        _image_record(str(tmp_path / "present.png")),  # 4: absolute and present
        _image_record(str(tmp_path / "gone.png")),  # 5
        _image_record("folder.png"),  # 6: a folder
        _image_record("device.png"),  # 7: a link to a device
        _image_record("/dev/zero"),  # 8: a device, never stat()ed
        _image_record("../" * 12 + "proc/self/environ"),  # 9: resolves into /proc
        _image_record(""),  # 10
    ]
    write_jsonl(tmp_path / "data.jsonl", records)
    completed = run_trainer("check", str(_config(tmp_path)), "--json")
    assert completed.returncode == 1
    problems = json.loads(completed.stdout)["problems"]
    media = [(Path(p["where"]).name, p["message"]) for p in problems if p["message"].endswith("[media/missing-file]")]
    assert [where for where, _ in media] == [f"data.jsonl:{n}" for n in (2, 5, 6, 7, 8, 9, 10)]
    assert "'missing.png' does not exist" in media[0][1] and str(tmp_path / "missing.png") in media[0][1]
    assert "not a regular file" in media[2][1] and "not a regular file" in media[3][1]
    assert "device" in media[4][1] and "device" in media[5][1] and "empty" in media[6][1]
    # Besides, the text-only trainer refuses media records at the config level (the contract's words).
    assert any("text-only" in p["message"] for p in problems)


def test_media_files_of_a_json_array_resolve_against_its_folder(tmp_path: Path, tiny_model_dir: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "cat.png").write_bytes(b"png")
    (tmp_path / "data" / "data.json").write_text(json.dumps([_image_record("cat.png"), _image_record("dog.png")]), encoding="utf-8")
    config = write_config(
        tmp_path,
        "base_model: builtin:tiny-llama\nmethod: lora\ndataset: {path: data/data.json}\ntraining: {max_seq_length: 64}\n",
    )
    completed = run_trainer("check", str(config), "--json")
    media = [p for p in json.loads(completed.stdout)["problems"] if p["message"].endswith("[media/missing-file]")]
    assert [Path(p["where"]).name for p in media] == ["data.json[1]"]
