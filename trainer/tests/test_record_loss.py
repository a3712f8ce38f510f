"""record-loss.jsonl: every record's loss under the adapter and the base, at the end of a run and on demand."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import pytest
from conftest import ARITHMETIC_CONFIG as CONFIG, arithmetic_records, parse_events, run_trainer, write_config, write_jsonl

PLANTED_LINE = 18
PLANTED = {
    "messages": [
        {"role": "user", "content": "What is 7 plus 5?"},
        {"role": "assistant", "content": "The capital of France is Paris."},
    ]
}


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def planted_run(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """30 arithmetic records and, on line 18, a mislabelled one (an answer to another question)."""
    directory = tmp_path_factory.mktemp("record-loss")
    records = arithmetic_records(30)
    records.insert(PLANTED_LINE - 1, PLANTED)
    write_jsonl(directory / "train.jsonl", records)
    config = write_config(directory, CONFIG.format(split=0.1, steps=20, extra=""))
    completed = run_trainer("train", str(config))
    assert completed.returncode == 0, completed.stderr[-2000:]
    return {"dir": directory, "config": config, "events": parse_events(completed.stdout)}


def test_the_planted_mislabelled_record_ranks_hardest(planted_run: dict[str, Any]) -> None:
    done = planted_run["events"][-1]
    assert done["type"] == "done"
    path = Path(done["record_loss"])
    assert path == planted_run["dir"] / "out" / "record-loss.jsonl"
    rows = _rows(path)
    assert [row["line"] for row in rows] == list(range(1, 32))  # every record, train and eval split, in file order
    assert {row["split"] for row in rows} == {"train", "eval"}
    ranked = sorted(rows, key=lambda row: -row["loss"])
    rank = [row["line"] for row in ranked].index(PLANTED_LINE) + 1
    planted = next(row for row in rows if row["line"] == PLANTED_LINE)
    print(f"\nplanted record: rank {rank} of {len(rows)}, loss {planted['loss']:.3f} (base {planted['base_loss']:.3f}); next {ranked[1]['loss']:.3f}")
    assert rank <= math.ceil(len(rows) * 0.01)  # the hardest 1%: here the single hardest
    # Training lowered every record's loss below the base model's.
    assert all(row["loss"] < row["base_loss"] for row in rows)


def test_hashes_are_of_the_lines_as_written(planted_run: dict[str, Any]) -> None:
    lines = (planted_run["dir"] / "train.jsonl").read_bytes().split(b"\n")
    rows = _rows(planted_run["dir"] / "out" / "record-loss.jsonl")
    for row in rows:
        assert row["file"] == str((planted_run["dir"] / "train.jsonl").resolve())
        assert row["sha256"] == hashlib.sha256(lines[row["line"] - 1]).hexdigest()
        assert row["tokens"] > 0


def test_the_command_recomputes_the_same_figures(planted_run: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "again.jsonl"
    adapter = planted_run["dir"] / "out" / "adapter"
    completed = run_trainer("record-loss", str(planted_run["config"]), "--adapter", str(adapter), "--out", str(out))
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert f":{PLANTED_LINE}  loss" in completed.stdout.splitlines()[1]  # the hardest is listed first
    again = _rows(out)
    before = _rows(planted_run["dir"] / "out" / "record-loss.jsonl")
    assert [(row["line"], row["sha256"]) for row in again] == [(row["line"], row["sha256"]) for row in before]
    for new, old in zip(again, before):
        assert new["loss"] == pytest.approx(old["loss"], rel=1e-4, abs=1e-5)
        assert new["base_loss"] == pytest.approx(old["base_loss"], rel=1e-4, abs=1e-5)


def test_a_missing_adapter_is_a_clear_error(planted_run: dict[str, Any], tmp_path: Path) -> None:
    completed = run_trainer("record-loss", str(planted_run["config"]), "--adapter", str(tmp_path))
    assert completed.returncode == 1
    assert "not a PEFT adapter folder" in completed.stderr


def test_switched_off_it_writes_nothing(tiny_model_dir: Path, tmp_path: Path) -> None:
    write_jsonl(tmp_path / "train.jsonl", arithmetic_records(4))
    config = write_config(tmp_path, CONFIG.format(split=0, steps=1, extra="  record_loss: false\n"))
    completed = run_trainer("train", str(config))
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert parse_events(completed.stdout)[-1]["record_loss"] is None
    assert not (tmp_path / "out" / "record-loss.jsonl").exists()
