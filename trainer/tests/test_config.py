"""Config loading: schema validation with JSON paths, the schema's defaults, path resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelfactory_trainer.config import load_config, load_schema
from modelfactory_trainer.errors import ConfigError

MINIMAL = "base_model: builtin:tiny-llama\nmethod: lora\ndataset:\n  path: data/train.jsonl\n"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "job.finetune.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_come_from_the_schema(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, MINIMAL))
    schema = load_schema()["properties"]
    training_schema = schema["training"]["properties"]
    for key in ("epochs", "learning_rate", "batch_size", "max_seq_length", "precision", "seed", "logging_steps"):
        assert config.training[key] == training_schema[key]["default"]
    assert config.lora["target_modules"] == schema["lora"]["properties"]["target_modules"]["default"]
    assert config.dataset["format"] == "auto" and config.dataset["eval_split"] == 0.05
    assert "save_steps" not in config.training and config.quantization is None
    assert config.dataset_path == tmp_path / "data" / "train.jsonl"
    assert config.output_dir == tmp_path / "outputs" / "run-1"


@pytest.mark.parametrize(
    ("text", "path_in_message"),
    [
        (MINIMAL + "training:\n  learning_rate: 3\n", "$.training.learning_rate"),
        (MINIMAL + "training:\n  batch_size: 2.5\n", "$.training.batch_size"),
        (MINIMAL + "lora:\n  r: 0\n", "$.lora.r"),
        (MINIMAL + "lora:\n  rank: 8\n", "$.lora"),
        (MINIMAL.replace("method: lora", "method: dora"), "$.method"),
        ("method: lora\ndataset: {path: x.jsonl}\n", "$"),
        ("base_model: m\nmethod: lora\ndataset: {path: a.jsonl, datanet: d.yaml}\n", "$.dataset"),
        (MINIMAL.replace("method: lora", "method: qlora"), "$.quantization"),
        (MINIMAL + "quantization: {bits: 4}\n", "$.quantization"),
        ("- just\n- a list\n", "$"),
    ],
)
def test_invalid_configs_name_the_json_path(tmp_path: Path, text: str, path_in_message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(_write(tmp_path, text))
    assert raised.value.code == "config"
    assert raised.value.message.startswith(path_in_message + ":"), raised.value.message


def test_yaml_syntax_errors_give_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="line 3"):
        load_config(_write(tmp_path, "base_model: x\nmethod: lora\ndataset: {path: a.jsonl}}\n"))


def test_qlora_keeps_its_quantization_with_defaults(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, MINIMAL.replace("method: lora", "method: qlora") + "quantization: {}\n"))
    assert config.quantization == {"bits": 4, "type": "nf4", "double_quant": True}


def test_yaml_12_numbers_read_as_the_editor_reads_them(tmp_path: Path) -> None:
    """`learning_rate: 5e-5` is a number to the editor's YAML 1.2 parser; PyYAML alone would read a string."""
    from modelfactory_trainer.config import load_config, load_yaml

    assert load_yaml("a: 5e-5\nb: '5e-5'\nc: 1.0e-7\nd: 3") == {"a": 5e-5, "b": "5e-5", "c": 1e-7, "d": 3}
    config = tmp_path / "job.finetune.yaml"
    config.write_text(
        "base_model: builtin:tiny-llama\nmethod: lora\ndataset: {path: d.jsonl}\ntraining: {learning_rate: 5e-5}\n", encoding="utf-8"
    )
    assert load_config(config).training["learning_rate"] == 5e-5
