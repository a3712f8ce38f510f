"""The job event log on its own: numbering, reading from any seq, and recovery from a torn or damaged file."""

from __future__ import annotations

import json
from pathlib import Path

from modelfactory_trainer.jobs import EventLog


def filled_log(path: Path, count: int) -> EventLog:
    log = EventLog(path)
    log.load()
    for index in range(count):
        seq, text = log.append({"type": "log", "time": float(index), "step": index, "text": "é\n\u2028"})
        assert seq == index
        assert json.loads(text)["step"] == index
    return log


def test_append_numbers_events_and_read_starts_at_any_seq(tmp_path: Path) -> None:
    log = filled_log(tmp_path / "events.jsonl", 50)
    assert log.next_seq == 50
    window = log.read(17, 5)
    assert [seq for seq, _ in window] == [17, 18, 19, 20, 21]
    assert [json.loads(text)["step"] for _, text in window] == [17, 18, 19, 20, 21]
    assert [seq for seq, _ in log.read(48, 10)] == [48, 49]
    assert log.read(50, 10) == []
    # U+2028 stays raw in the file (ensure_ascii=False); only b"\n" ends a line.
    lines = (tmp_path / "events.jsonl").read_bytes().rstrip(b"\n").split(b"\n")
    assert [json.loads(line)["seq"] for line in lines] == list(range(50))
    assert json.loads(lines[0])["event"]["text"] == "é\n\u2028"


def test_a_reloaded_log_continues_the_numbering(tmp_path: Path) -> None:
    filled_log(tmp_path / "events.jsonl", 3)
    again = EventLog(tmp_path / "events.jsonl")
    assert [event["step"] for event in again.load()] == [0, 1, 2]
    assert again.append({"type": "log", "time": 9.0})[0] == 3
    assert [seq for seq, _ in again.read(0, 10)] == [0, 1, 2, 3]


def test_a_torn_last_line_is_cut_and_appends_go_on_from_there(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    filled_log(path, 4)
    intact = path.read_bytes()
    with open(path, "ab") as handle:
        handle.write(b'{"seq":4,"event":{"type":"lo')
    log = EventLog(path)
    assert len(log.load()) == 4
    assert path.read_bytes() == intact
    assert not (tmp_path / "events.jsonl.damaged").exists()
    assert log.append({"type": "log", "time": 1.0})[0] == 4


def test_damage_before_the_end_keeps_the_valid_prefix_and_the_whole_file_aside(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    filled_log(path, 5)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = b'{"seq":7,"event":{}}\n'  # a seq out of order
    damaged = b"".join(lines)
    path.write_bytes(damaged)
    log = EventLog(path)
    assert [event["step"] for event in log.load()] == [0, 1]
    assert (tmp_path / "events.jsonl.damaged").read_bytes() == damaged
    assert log.next_seq == 2
