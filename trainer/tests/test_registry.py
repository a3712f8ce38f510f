"""LLaMA-Factory's dataset registry on the trainer's side: the shared corpus (test/conformance/registry.jsonl,
also run by test/conformance/registry.test.ts), resolving a config's `dataset: {registry, name}`, `check` on
the real demo entries (test/fixtures/registry/llama-factory), and a tiny job trained through an entry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import parse_events, run_trainer, write_config, write_jsonl

from modelfactory_trainer.config import parse_config
from modelfactory_trainer.data import load_examples
from modelfactory_trainer.errors import ConfigError, DatasetError
from modelfactory_trainer.records import RecordRefused, to_example
from modelfactory_trainer.registry import map_registry_record, registry_reading, resolve_registered

REPO = Path(__file__).resolve().parents[2]
CASES = [json.loads(line) for line in (REPO / "test" / "conformance" / "registry.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
FIXTURES = REPO / "test" / "fixtures" / "registry"


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_registry_corpus(case: dict[str, Any]) -> None:
    if "entry_refused" in case:
        with pytest.raises(DatasetError) as refused:
            registry_reading(case["entry"])
        assert str(refused.value) == case["entry_refused"]
        return
    reading = registry_reading(case["entry"])
    assert reading.format == case["format"]
    mapped = map_registry_record(reading, case["record"])
    assert mapped == case["mapped"]
    if "refused" in case:
        with pytest.raises(RecordRefused) as refused_record:
            to_example(mapped, reading.format)
        assert refused_record.value.rule in case["refused"]
    else:
        assert to_example(mapped, reading.format) == case["example"]


def _config(directory: Path, dataset: dict[str, Any]) -> Any:
    return parse_config({"base_model": "builtin:tiny-llama", "method": "lora", "dataset": dataset, "output_dir": "out"}, directory / "job.finetune.yaml")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("alpaca_en", "read from hf_hub_url (llamafactory/alpaca_en): this trainer reads local files only"),
        ("alpaca_en_dmo", "no entry named 'alpaca_en_dmo'. Did you mean 'alpaca_en_demo'?"),
        ("mllm_demo", None),
    ],
)
def test_resolving_an_entry(name: str, message: str | None) -> None:
    registry = FIXTURES / "llama-factory" / "dataset_info.json"
    if message is None:
        assert resolve_registered(registry, name).file.name == "mllm_demo.json"
        return
    with pytest.raises(DatasetError) as refused:
        resolve_registered(registry, name)
    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("escapes", "file_name ../llama-factory/alpaca_en_demo.json is outside the registry's folder"),
        ("missing_file", "file_name absent.jsonl does not exist"),
        ("no_file", "entry 'no_file' names no file_name"),
        ("bad_formatting", 'formatting "sharegtp" is not read by this trainer: use alpaca or sharegpt'),
    ],
)
def test_entries_the_trainer_refuses(name: str, message: str) -> None:
    with pytest.raises(DatasetError) as refused:
        resolve_registered(FIXTURES / "defects" / "dataset_info.json", name)
    assert message in str(refused.value)


def test_records_load_through_the_entrys_columns() -> None:
    config = _config(FIXTURES, {"registry": "defects/dataset_info.json", "name": "qa"})
    examples = load_examples(config)
    assert [example.messages for example in examples][0] == (("user", "What is 2 plus 3?"), ("assistant", "2 plus 3 is 5."))
    absent = _config(FIXTURES, {"registry": "defects/dataset_info.json", "name": "absent_column"})
    with pytest.raises(DatasetError, match=r"'output' is missing \[schema/missing-field\]"):
        load_examples(absent)


@pytest.mark.parametrize(
    ("dataset", "message"),
    [
        ({"registry": "data/dataset_info.json"}, '$.dataset: dataset.registry needs "name"'),
        ({"name": "identity"}, '$.dataset: dataset.name picks an entry of a registry: add "registry"'),
        ({"path": "a.jsonl", "registry": "data/dataset_info.json", "name": "x"}, '$.dataset: dataset has more than one source ("path" and "registry")'),
        ({"eval_split": 0.1}, '$.dataset: dataset needs one source: "path" (a file), "datanet"'),
    ],
)
def test_config_says_which_dataset_source_is_wrong(tmp_path: Path, dataset: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        _config(tmp_path, dataset)
    assert str(refused.value).startswith(message)


def _check(config: Path) -> dict[str, Any]:
    completed = run_trainer("check", str(config), "--json")
    report: dict[str, Any] = json.loads(completed.stdout)
    report["returncode"] = completed.returncode
    return report


@pytest.mark.parametrize(
    ("name", "extra", "verdict"),
    [
        ("alpaca_en_demo", "", None),
        ("glaive_toolcall_en_demo", "chat_template: chatml\n", None),
        ("glaive_toolcall_en_demo", "", "the chat template does not render tool calls (the call to 'calculate_age'"),
        ("identity", "", None),
        ("dpo_en_demo", "", "preference records train with objective dpo, not sft"),
        ("kto_en_demo", "", "kto records train with objective kto, not sft"),
        ("mllm_demo", "", "records carry images, videos or audio"),
        ("c4_demo", "", "'output' is missing [schema/missing-field]"),
        ("alpaca_en", "", "this trainer reads local files only"),
    ],
)
def test_check_on_real_llama_factory_entries(tmp_path: Path, tiny_model_dir: Path, name: str, extra: str, verdict: str | None) -> None:
    registry = FIXTURES / "llama-factory" / "dataset_info.json"
    config = write_config(
        tmp_path, f"base_model: builtin:tiny-llama\nmethod: lora\n{extra}dataset: {{registry: {registry}, name: {name}}}\noutput_dir: out\n"
    )
    report = _check(config)
    messages = " | ".join(problem["message"] for problem in report["problems"])
    if verdict is None:
        assert report["returncode"] == 0 and report["records"] == report["loaded"] > 0, messages
    else:
        assert report["returncode"] == 1 and verdict in messages, messages


def test_trains_on_a_registered_alpaca_dataset_with_columns(tmp_path: Path, tiny_model_dir: Path) -> None:
    pairs = [(a, b) for a in range(1, 5) for b in range(1, 4)]
    write_jsonl(tmp_path / "data" / "sums.jsonl", [{"question": f"What is {a} plus {b}?", "answer": f"{a + b}."} for a, b in pairs])
    registry = {"sums": {"file_name": "sums.jsonl", "columns": {"prompt": "question", "response": "answer"}}}
    (tmp_path / "data" / "dataset_info.json").write_text(json.dumps(registry), encoding="utf-8")
    config = write_config(
        tmp_path,
        """base_model: builtin:tiny-llama
method: lora
dataset: {registry: data/dataset_info.json, name: sums, eval_split: 0.25}
lora: {r: 4, alpha: 8, dropout: 0.0}
training: {max_steps: 3, batch_size: 2, gradient_accumulation_steps: 1, max_seq_length: 48, logging_steps: 1, eval_steps: 3, save_steps: 3, gradient_checkpointing: false}
output_dir: out
""",
    )
    completed = run_trainer("train", str(config))
    events = parse_events(completed.stdout)
    assert completed.returncode == 0, completed.stderr[-2000:]
    start = next(event for event in events if event["type"] == "start")
    assert (start["train_records"], start["eval_records"]) == (9, 3)
    done = [event for event in events if event["type"] == "done"]
    assert done and done[0]["steps"] == 3, events[-3:]
    assert (Path(done[0]["adapter_dir"]) / "adapter_model.safetensors").is_file()
