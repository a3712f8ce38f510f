"""The fine-tune config: YAML validated against schemas/finetune.schema.json, the schema's defaults applied."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .schemas import FINETUNE, FINETUNE_SCHEMA_ENV, load_schema_json, schema_file

SCHEMA_ENV = FINETUNE_SCHEMA_ENV


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 floats: `5e-5` is a number, as the editor's YAML parser reads it
    (PyYAML follows YAML 1.1, which needs a dot, `5.0e-5`, and would hand the trainer the string '5e-5')."""


_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"),
    list("-+0123456789."),
)


def load_yaml(text: str) -> Any:
    """A config or manifest's YAML, read as the editor reads it (YAML 1.2 numbers), safely (no Python objects)."""
    return yaml.load(text, Loader=_Yaml12Loader)  # noqa: S506 - a SafeLoader subclass


def schema_path() -> Path:
    """The schema shared with the TypeScript side; an env override serves installs outside the repo."""
    return schema_file(FINETUNE)


def load_schema() -> dict[str, Any]:
    schema: dict[str, Any] = load_schema_json(FINETUNE)
    return schema


def apply_defaults(schema: dict[str, Any], instance: dict[str, Any]) -> dict[str, Any]:
    """Fill every absent property that has a `default`, recursing into objects that are present."""
    for key, subschema in schema.get("properties", {}).items():
        if key not in instance and "default" in subschema:
            instance[key] = copy.deepcopy(subschema["default"])
        value = instance.get(key)
        if isinstance(value, dict) and "properties" in subschema:
            apply_defaults(subschema, value)
    return instance


@dataclass(frozen=True)
class FinetuneConfig:
    """A validated config with defaults applied and its paths resolved against the config's folder."""

    path: Path
    data: dict[str, Any]
    dataset_path: Path | None
    datanet_path: Path | None
    output_dir: Path
    registry_path: Path | None = None
    #: A published Datanet version (HUB/NAME@VERSION), pulled by datanet_pull.py.
    datanet_version: str | None = None

    @property
    def training(self) -> dict[str, Any]:
        return self.data["training"]  # type: ignore[no-any-return]

    @property
    def lora(self) -> dict[str, Any]:
        return self.data["lora"]  # type: ignore[no-any-return]

    @property
    def dataset(self) -> dict[str, Any]:
        return self.data["dataset"]  # type: ignore[no-any-return]

    @property
    def quantization(self) -> dict[str, Any] | None:
        return self.data.get("quantization")

    @property
    def method(self) -> str:
        return str(self.data["method"])

    @property
    def base_model(self) -> str:
        return str(self.data["base_model"])


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path.name}: invalid YAML{where}: {problem}") from exc


DATASET_SOURCES = (
    '"path" (a file), "datanet" (a datanet.yaml), "datanet_version" (a version published on a Datanet hub), '
    '"registry" with "name" (an entry of LLaMA-Factory\'s '
    'dataset_info.json) or "hub" (a dataset repository on the Hugging Face Hub)'
)
HUB_DATASET_KEYS = ("split", "subset", "revision")


def _check_dataset_sources(dataset: Any) -> None:
    """Which of the dataset's sources is given, in the words of the editor's linter (config/placement.ts)."""
    if not isinstance(dataset, dict):
        return
    given = [key for key in ("path", "datanet", "datanet_version", "registry", "hub") if key in dataset]
    if len(given) > 1:
        named = " and ".join(f'"{key}"' for key in given)
        raise ConfigError(f"$.dataset: dataset has more than one source ({named}): keep one of {DATASET_SOURCES}.")
    if given == ["registry"] and "name" not in dataset:
        raise ConfigError('$.dataset: dataset.registry needs "name": the entry of the registry to train on.')
    if "name" in dataset and given != ["registry"]:
        raise ConfigError('$.dataset: dataset.name picks an entry of a registry: add "registry" (a dataset_info.json, relative to this config).')
    if not given:
        raise ConfigError(f"$.dataset: dataset needs one source: {DATASET_SOURCES}.")
    for key in HUB_DATASET_KEYS:
        if key in dataset and given != ["hub"]:
            raise ConfigError(f'$.dataset: dataset.{key} applies to a Hub dataset: add "hub" (org/name) or remove it.')


def parse_config(data: Any, config_path: Path) -> FinetuneConfig:
    """Validate a parsed config; errors name the JSON path of the offending value."""
    from jsonschema import Draft7Validator
    from jsonschema.exceptions import best_match

    if not isinstance(data, dict):
        raise ConfigError("$: a fine-tune config must be a YAML mapping (key: value pairs)")
    data = copy.deepcopy(data)
    schema = load_schema()
    _check_dataset_sources(data.get("dataset"))
    error = best_match(Draft7Validator(schema).iter_errors(data))
    if error is not None:
        raise ConfigError(f"{error.json_path}: {error.message}")

    has_quantization = "quantization" in data
    if data.get("method", "lora") == "qlora" and not has_quantization:
        raise ConfigError("$.quantization: method qlora needs a quantization section (bits: 4, type: nf4)")
    if data.get("method", "lora") == "lora" and has_quantization:
        raise ConfigError("$.quantization: method lora trains a 16/32-bit model; remove it or use method: qlora")
    data.setdefault("lora", {})
    data.setdefault("training", {})
    apply_defaults(schema, data)

    base_dir = config_path.resolve().parent
    dataset = data["dataset"]
    return FinetuneConfig(
        path=config_path.resolve(),
        data=data,
        dataset_path=(base_dir / dataset["path"]).resolve() if "path" in dataset else None,
        datanet_path=(base_dir / dataset["datanet"]).resolve() if "datanet" in dataset else None,
        output_dir=(base_dir / data["output_dir"]).resolve(),
        registry_path=(base_dir / dataset["registry"]).resolve() if "registry" in dataset else None,
        datanet_version=str(dataset["datanet_version"]) if "datanet_version" in dataset else None,
    )


def load_config(config_path: str | Path) -> FinetuneConfig:
    path = Path(config_path)
    return parse_config(_read_yaml(path), path)
