"""training.report_to and the Hub keys of a config, checked before any model loads (in-process, no training)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from conftest import write_config

from modelfactory_trainer.config import load_config
from modelfactory_trainer.errors import ConfigError
from modelfactory_trainer.trackers import TRACKER_PACKAGES, report_targets, tensorboard_dir


def config_with(tmp_path: Path, training: str = "", dataset: str = "{path: train.jsonl}", extra: str = "") -> Path:
    return write_config(tmp_path, f"base_model: builtin:tiny-llama\nmethod: lora\ndataset: {dataset}\ntraining: {{{training}}}\n{extra}output_dir: out\n")


def test_report_to_defaults_to_none_and_tensorboard_writes_beside_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
    plain = load_config(config_with(tmp_path))
    assert (report_targets(plain), tensorboard_dir(plain)) == ("none", None)
    assert "TENSORBOARD_LOGGING_DIR" not in os.environ
    tracked = load_config(config_with(tmp_path, "report_to: [tensorboard]"))
    assert report_targets(tracked) == ["tensorboard"]
    assert tensorboard_dir(tracked) == tmp_path / "out" / "tensorboard"
    assert os.environ["TENSORBOARD_LOGGING_DIR"] == str(tmp_path / "out" / "tensorboard")


def test_a_tracker_whose_package_is_missing_is_a_config_error_naming_the_package(tmp_path: Path) -> None:
    missing = [name for name, (module, _) in TRACKER_PACKAGES.items() if importlib.util.find_spec(module) is None]
    assert missing, "every tracker package is installed here: this test needs one that is not"
    name = missing[0]
    with pytest.raises(ConfigError, match=rf"report_to: {name} needs the {TRACKER_PACKAGES[name][1]} package"):
        report_targets(load_config(config_with(tmp_path, f"report_to: {name}")))


def test_unknown_trackers_and_bad_revisions_break_the_schema(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\$\.training\.report_to"):
        load_config(config_with(tmp_path, "report_to: neptune"))
    with pytest.raises(ConfigError, match=r"\$\.revision"):
        load_config(config_with(tmp_path, extra="revision: ../../etc\n"))
    assert load_config(config_with(tmp_path, extra="revision: v1.0\n")).data["revision"] == "v1.0"


@pytest.mark.parametrize("key", ["split", "subset", "revision"])
def test_hub_dataset_keys_without_hub_are_refused_in_the_editors_words(tmp_path: Path, key: str) -> None:
    with pytest.raises(ConfigError, match=rf'dataset\.{key} applies to a Hub dataset: add "hub" \(org/name\) or remove it\.'):
        load_config(config_with(tmp_path, dataset=f"{{path: train.jsonl, {key}: x}}"))


def test_a_hub_dataset_is_one_source_and_takes_its_keys(tmp_path: Path) -> None:
    config = load_config(config_with(tmp_path, dataset="{hub: data-org/arithmetic, split: 'train[:10]', subset: en, revision: main}"))
    assert config.dataset["hub"] == "data-org/arithmetic" and config.dataset_path is None
    with pytest.raises(ConfigError, match=r'more than one source \("path" and "hub"\)'):
        load_config(config_with(tmp_path, dataset="{path: train.jsonl, hub: data-org/arithmetic}"))


@pytest.mark.parametrize("key,value", [("subset", "../../x"), ("split", "train/../../x"), ("hub", "../x")])
def test_hub_dataset_names_cannot_name_a_path(tmp_path: Path, key: str, value: str) -> None:
    fields = {"hub": "data-org/arithmetic", key: value}
    dataset = "{" + ", ".join(f"{name}: '{text}'" for name, text in fields.items()) + "}"
    with pytest.raises(ConfigError, match=rf"\$\.dataset\.{key}: .* does not match"):
        load_config(config_with(tmp_path, dataset=dataset))
