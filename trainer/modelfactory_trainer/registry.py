"""LLaMA-Factory's dataset registry (dataset_info.json): a config's `dataset: {registry, name}`.

An entry names a local file (`file_name`, relative to the registry's folder) and how its records are
written (`formatting`, `ranking`, `columns`, `tags`). A record read through an entry is first rewritten
to the record contract's keys (`map_registry_record`), then converted by records.py as usual. The
tables are in schemas/records/contract.json (`registry`); server/src/core/dataset/registryEntry.ts is
the same procedure in TypeScript, and test/conformance/registry.jsonl holds both sides to it.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import DatasetError
from .records import contract

Json = dict[str, Any]


@dataclass(frozen=True)
class RegistryReading:
    """How an entry reads its records: which record key holds each LLaMA-Factory column, and the speaker names."""

    formatting: str
    ranking: bool
    format: str
    columns: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


def _table() -> Json:
    table: Json = contract()["registry"]
    return table


def _strings(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {key: v for key, v in value.items() if isinstance(v, str) and v}


def registry_reading(entry: Any) -> RegistryReading:
    """An entry as LLaMA-Factory reads it; `columns` or `tags`, when given, replace the defaults (role_tag and
    content_tag keep theirs). Raises DatasetError when the entry cannot be read."""
    table = _table()
    if not isinstance(entry, dict):
        raise DatasetError("a registry entry must be an object")
    formatting = entry.get("formatting", "alpaca")
    if formatting not in table["formatting"]:
        raise DatasetError(
            f"formatting {json.dumps(formatting)} is not read by this trainer: use {' or '.join(table['formatting'])}"
        )
    known = table["columns"][formatting]
    given = _strings(entry["columns"]) if "columns" in entry else table["default_columns"][formatting]
    columns = {name: key for name, key in given.items() if name in known}
    tags = _strings(entry["tags"]) if "tags" in entry else dict(table["tags"])
    tags.setdefault("role_tag", table["tags"]["role_tag"])
    tags.setdefault("content_tag", table["tags"]["content_tag"])
    ranking = entry.get("ranking") is True
    record_format = "preference" if ranking else "kto" if columns.get("kto_tag") else formatting
    return RegistryReading(formatting, ranking, record_format, columns, tags)


def _map_turn(turn: Any, tags: dict[str, str]) -> Any:
    if not isinstance(turn, dict):
        return turn
    table = _table()
    out: Json = {}
    if tags["role_tag"] in turn:
        role = turn[tags["role_tag"]]
        speaker = role
        for tag in table["speaker_tags"]:
            if tag in tags and tags[tag] == role:
                speaker = table["tags"][tag]
        out["from"] = speaker
    if tags["content_tag"] in turn:
        out["value"] = turn[tags["content_tag"]]
    return out


def map_registry_record(reading: RegistryReading, record: Any) -> Any:
    """A record read through an entry, with only the columns the entry reads, under the contract's keys."""
    if not isinstance(record, dict):
        return record
    table = _table()
    known = table["columns"][reading.formatting]
    out: Json = {}
    for name, key in reading.columns.items():
        if key not in record:
            continue
        value = record[key]
        target = known[name]
        if reading.formatting == "sharegpt" and name in table["turn_columns"]:
            out[target] = [_map_turn(turn, reading.tags) for turn in value] if isinstance(value, list) else _map_turn(value, reading.tags)
        else:
            out[target] = value
    return out


@dataclass(frozen=True)
class RegisteredDataset:
    """A registry entry resolved to its local file."""

    registry: Path
    name: str
    file: Path
    reading: RegistryReading


def resolve_registered(registry: Path, name: str) -> RegisteredDataset:
    """The entry `name` of the registry at `registry`: its file (inside the registry's folder) and how to read it."""
    try:
        info = json.loads(registry.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise DatasetError(f"{registry}: cannot read the dataset registry: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{registry}:{exc.lineno}: the dataset registry is not valid JSON: {exc.msg}") from exc
    if not isinstance(info, dict):
        raise DatasetError(f"{registry}: a dataset registry is a JSON object of named entries")
    if name not in info:
        close = difflib.get_close_matches(name, [str(key) for key in info], n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise DatasetError(f"{registry}: no entry named '{name}'.{hint}")
    entry = info[name]
    if not isinstance(entry, dict):
        raise DatasetError(f"{registry}: entry '{name}' must be an object")
    if not isinstance(entry.get("file_name"), str) or not entry["file_name"]:
        hub = next((key for key in _table()["sources"] if key != "file_name" and key in entry), None)
        if hub:
            raise DatasetError(
                f"{registry}: entry '{name}' is read from {hub} ({entry[hub]}): this trainer reads local files only "
                "(nothing is downloaded); save the records as JSONL and give the entry a file_name"
            )
        raise DatasetError(f"{registry}: entry '{name}' names no file_name")
    folder = registry.resolve().parent
    file = (folder / entry["file_name"]).resolve()
    if not file.is_relative_to(folder):
        raise DatasetError(f"{registry}: entry '{name}': file_name {entry['file_name']} is outside the registry's folder")
    if file.suffix.lower() not in (".jsonl", ".json"):
        raise DatasetError(
            f"{registry}: entry '{name}': file_name {entry['file_name']} is not a .jsonl or .json file: "
            "this trainer reads JSONL or JSON arrays of records"
        )
    if not file.is_file():
        what = "is a folder, not a file" if file.is_dir() else "does not exist"
        raise DatasetError(f"{registry}: entry '{name}': file_name {entry['file_name']} {what} ({file})")
    try:
        reading = registry_reading(entry)
    except DatasetError as exc:
        raise DatasetError(f"{registry}: entry '{name}': {exc}") from exc
    return RegisteredDataset(registry.resolve(), name, file, reading)
