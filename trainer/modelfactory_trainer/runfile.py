"""A run file: the trainer's events as JSON lines in the job folder, written by a process that outlives the server.

Both executors run the trainer behind a small entrypoint that owns the trainer's stdout and copies each event line to
`events-<run id>.jsonl` in the job folder (`ray_entry.py` on a Ray node, `detached.py` on the local executor). Only
JSON objects with a trainer event type are copied (anything else goes to `trainer.log`), so the n-th line is the
n-th trainer event the server appends to `events.jsonl`: a server that starts again skips the lines it already
logged by counting them (`Job.trainer_events_since_launch`) and goes on tailing, and every event is logged exactly
once and in order.

- `copy_events` is the writer (the entrypoint's loop over the trainer's stdout);
- `RunFileTail` is the reader (the server), `RunFileTail.pump` appends what is new to the job's log.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .jobs import MAX_EVENT_LINE_BYTES, TRAINER_EVENT_TYPES

if TYPE_CHECKING:
    from .jobs import Job, JobManager

OUTCOME_TYPES = ("done", "eval_done", "cancelled", "oom", "error")
"""Trainer events that say how a run ended; the last one decides the job's state with the exit code."""


def is_trainer_event(line: bytes) -> bool:
    try:
        event = json.loads(line)
    except ValueError:
        return False
    return isinstance(event, dict) and event.get("type") in TRAINER_EVENT_TYPES


def copy_events(stdout: IO[bytes], events: IO[bytes], other: IO[bytes]) -> None:
    """Copy the trainer's event lines to the run file (flushed per line) and anything else to `other`, until EOF."""
    while True:
        line = stdout.readline(MAX_EVENT_LINE_BYTES + 1)
        if not line:
            return
        if not line.endswith(b"\n"):
            if len(line) > MAX_EVENT_LINE_BYTES:  # an over-long line: drop the rest of it
                while (rest := stdout.readline(MAX_EVENT_LINE_BYTES)) and not rest.endswith(b"\n"):
                    pass
                continue
            line += b"\n"
        if is_trainer_event(line):
            events.write(line)
            events.flush()
        else:
            other.write(b"[stdout] " + line)
            other.flush()


class RunFileTail:
    """Complete lines of a growing JSONL file, each parsed once; the first `skip` lines were logged before."""

    def __init__(self, path: Path, skip: int) -> None:
        self.path = path
        self.skip = skip
        self.offset = 0
        self.partial = b""
        self.last_outcome: dict[str, Any] | None = None

    def read(self) -> list[dict[str, Any]]:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                data = handle.read(8 << 20)
        except FileNotFoundError:
            return []
        self.offset += len(data)
        data = self.partial + data
        lines = data.split(b"\n")
        self.partial = lines.pop()
        events: list[dict[str, Any]] = []
        for line in lines:
            if self.skip > 0:
                self.skip -= 1
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue  # the entrypoints write only JSON objects; a damaged line is dropped, not fatal
            if isinstance(event, dict) and event.get("type") in TRAINER_EVENT_TYPES:
                if not isinstance(event.get("time"), (int, float)):
                    event["time"] = time.time()
                events.append(event)
        return events

    def pump(self, manager: JobManager, job: Job) -> int:
        """Append every new event to the job's log (seq, fsync, broadcast); returns how many."""
        appended = 0
        while events := self.read():
            for event in events:
                if event["type"] in OUTCOME_TYPES:
                    self.last_outcome = event
                manager._append(job, event)
            appended += len(events)
        return appended
