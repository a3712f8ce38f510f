"""Export: a merged model answers as base + adapter token for token; the Modelfile; the model card; GGUF refusal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import run_trainer, write_jsonl

from modelfactory_trainer.export import convert_chat_template, modelfile_text, trained_system_prompt
from modelfactory_trainer.tiny import CHAT_TEMPLATE

PROMPTS = ["What is 3 plus 4?", "What is 2 plus 5?", "Hello there", "Summarise the meeting notes."]


@pytest.fixture(scope="module")
def merged(trained_run: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    assert trained_run["returncode"] == 0, trained_run["stderr"][-2000:]
    out = tmp_path_factory.mktemp("export") / "merged"
    adapter = trained_run["dir"] / "out" / "adapter"
    completed = run_trainer(
        "export", "--adapter", str(adapter), "--out", str(out), "--merge", "--ollama",
        "--config", str(trained_run["config"]), "--max-shard-size", "200KB", "--system", "You add numbers.", "--events",
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    events = [json.loads(line) for line in completed.stdout.splitlines() if line.strip()]
    return {"out": out, "adapter": adapter, "events": events}


def _greedy_ids(model: Any, tokenizer: Any, prompt: str) -> list[int]:
    import torch

    text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True)
    inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        output = model.generate(**inputs, max_new_tokens=40, do_sample=False, temperature=None, top_p=None, top_k=None,
                                pad_token_id=tokenizer.pad_token_id)
    return [int(token) for token in output[0, inputs["input_ids"].shape[1]:]]


def test_merged_model_answers_as_base_plus_adapter_token_for_token(merged: dict[str, Any], tiny_model_dir: Path) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(merged["out"])
    adapter_tokenizer = AutoTokenizer.from_pretrained(merged["adapter"])
    assert tokenizer.chat_template == adapter_tokenizer.chat_template == CHAT_TEMPLATE
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    with_adapter = PeftModel.from_pretrained(base, str(merged["adapter"])).eval()
    merged_model = AutoModelForCausalLM.from_pretrained(merged["out"], dtype=torch.float32).eval()
    answers = 0
    for prompt in PROMPTS:
        expected = _greedy_ids(with_adapter, tokenizer, prompt)
        actual = _greedy_ids(merged_model, tokenizer, prompt)
        assert actual == expected, prompt
        answers += len(actual)
    with with_adapter.disable_adapter():
        base_ids = _greedy_ids(with_adapter, tokenizer, PROMPTS[0])
    assert base_ids != _greedy_ids(merged_model, tokenizer, PROMPTS[0])  # the merge changed the model
    assert answers > 20


def test_merged_folder_is_a_standard_sharded_model(merged: dict[str, Any]) -> None:
    out: Path = merged["out"]
    index = json.loads((out / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) > 1 and all((out / shard).is_file() for shard in shards)
    assert not any("lora" in name for name in index["weight_map"])  # merged, not a wrapped adapter
    for name in ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "README.md"):
        assert (out / name).is_file(), name
    assert not list(out.parent.glob(".merged.tmp-*"))  # the staging folder was renamed away
    card = (out / "README.md").read_text()
    assert "base_model: \"builtin:tiny-llama\"" in card and "merge_and_unload" in card
    assert "r=16, alpha=32" in card and "train.jsonl" in card and "sha256:" in card
    stages = [event["stage"] for event in merged["events"] if event["type"] == "export_progress"]
    assert stages[0] == "tokenizer" and "merge" in stages and stages[-1] == "done"
    assert merged["events"][-1]["type"] == "export_done" and merged["events"][-1]["merged"] is True


def test_modelfile_of_the_merged_export(merged: dict[str, Any]) -> None:
    text = (merged["out"] / "Modelfile").read_text()
    assert "\nFROM .\n" in text and "ADAPTER" not in text
    assert 'TEMPLATE """{{ if .System }}<|system|>\n{{ .System }}<|end|>\n{{ end }}' in text
    assert '{{ if eq .Role "user" }}<|user|>\n{{ .Content }}<|end|>\n' in text
    assert text.rstrip().endswith('PARAMETER stop "</s>"')
    assert 'SYSTEM """You add numbers."""' in text
    assert 'PARAMETER stop "<|end|>"' in text


def test_export_without_merge_copies_the_adapter_and_refuses_an_existing_folder(merged: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "adapter-export"
    completed = run_trainer("export", "--adapter", str(merged["adapter"]), "--out", str(out), "--ollama")
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    modelfile = (out / "Modelfile").read_text()
    assert "\nADAPTER ./adapter\n" in modelfile and "\nFROM /" in modelfile
    again = run_trainer("export", "--adapter", str(merged["adapter"]), "--out", str(out))
    assert again.returncode == 1 and "already exists" in again.stderr


def test_gguf_without_llama_cpp_says_how_and_writes_nothing(merged: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "gguf"
    completed = run_trainer("export", "--adapter", str(merged["adapter"]), "--out", str(out), "--gguf",
                            env={"MODELFACTORY_LLAMA_CPP": ""})
    assert completed.returncode == 1
    assert "convert_hf_to_gguf.py" in completed.stderr and "--llama-cpp" in completed.stderr
    assert not out.exists() and not list(tmp_path.glob(".gguf.tmp-*"))


def test_chatml_template_converts_and_a_positional_one_is_refused_with_a_reason(tiny_tokenizer: Any) -> None:
    chatml = (Path(__file__).resolve().parents[2] / "schemas" / "chat-templates" / "chatml.jinja").read_text()
    conversion = convert_chat_template(tiny_tokenizer, chatml)
    assert conversion.template is not None, conversion.reason
    assert conversion.template.startswith("{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}")
    assert conversion.template.endswith("{{ end }}{{ end }}<|im_start|>assistant\n")
    assert conversion.stops == ["<|im_end|>", "<|im_start|>user"]
    # A template that marks the last user turn differently cannot be a per-role Go template.
    positional = ("{% for m in messages %}{% if loop.last %}[LAST]{% endif %}<{{ m['role'] }}>{{ m['content'] }}</>"
                  "{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}")
    refused = convert_chat_template(tiny_tokenizer, positional)
    assert refused.template is None and refused.reason and "position" in refused.reason
    text = modelfile_text(".", None, refused, None, ["</s>"])
    assert "TEMPLATE" not in text.replace("# No TEMPLATE", "") and "# No TEMPLATE: the chat template renders" in text


def test_trained_system_prompt_is_the_shared_one(tmp_path: Path) -> None:
    def record(system: str | None) -> dict[str, Any]:
        turns = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
        return {"messages": ([{"role": "system", "content": system}] if system else []) + turns}

    shared = write_jsonl(tmp_path / "a.jsonl", [record("Be kind.")] * 3 + [record(None)])
    assert trained_system_prompt([shared]) == "Be kind."
    mixed = write_jsonl(tmp_path / "b.jsonl", [record("One."), record("Two."), record(None)])
    assert trained_system_prompt([mixed]) is None


def test_an_export_whose_server_is_gone_stops_with_its_converter_and_leaves_nothing(merged: dict[str, Any], tmp_path: Path) -> None:
    """The job server runs exports with --exit-with-parent and a pipe on stdin; the pipe closing (the server
    killed) stops the export, the GGUF converter it waits on included, and its staging folder goes."""
    import os
    import signal
    import subprocess
    import time

    from conftest import TRAINER_ROOT, trainer_command

    llama_cpp = tmp_path / "llama.cpp"
    llama_cpp.mkdir()
    started = tmp_path / "converter.pid"
    # A converter that takes its time, as a real one on a large model does.
    (llama_cpp / "convert_hf_to_gguf.py").write_text(
        f"import os, pathlib, time\npathlib.Path({str(started)!r}).write_text(str(os.getpid()))\ntime.sleep(600)\n"
    )
    out = tmp_path / "exported"
    export = subprocess.Popen(
        trainer_command("export", "--adapter", str(merged["adapter"]), "--out", str(out), "--gguf", "--llama-cpp",
                        str(llama_cpp), "--events", "--exit-with-parent"),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=TRAINER_ROOT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not started.is_file() and time.monotonic() < deadline and export.poll() is None:
            time.sleep(0.2)
        assert started.is_file(), export.stderr.read().decode()[-2000:] if export.poll() is not None else "no converter"
        converter = int(started.read_text())
        assert export.stdin is not None
        export.stdin.close()  # what the server's death does to the pipe
        export.wait(timeout=20)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(converter, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"the converter {converter} outlived its export")
        assert not out.exists() and not list(tmp_path.glob(".exported.tmp-*"))
    finally:
        if export.poll() is None:
            os.killpg(export.pid, signal.SIGKILL)
            export.wait()
