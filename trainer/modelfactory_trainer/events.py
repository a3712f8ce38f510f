"""JSON-lines output: one object per line on stdout, flushed, safe to call from several threads."""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
from typing import IO, Any


def _finite(value: Any) -> Any:
    """NaN and infinities are not JSON; they become null so every line stays parseable."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def is_main_process() -> bool:
    """Under torchrun / accelerate launch only rank 0 speaks, so the stream has no duplicates."""
    return int(os.environ.get("RANK", "0")) == 0


class JsonLineWriter:
    def __init__(self, stream: IO[str] | None = None, enabled: bool = True) -> None:
        self._stream = stream if stream is not None else sys.stdout
        self._enabled = enabled
        self._lock = threading.Lock()

    def write(self, obj: dict[str, Any]) -> dict[str, Any]:
        clean = _finite(obj)
        if self._enabled:
            line = json.dumps(clean, ensure_ascii=False, allow_nan=False)
            with self._lock:
                self._stream.write(line + "\n")
                self._stream.flush()
        return clean


class EventWriter(JsonLineWriter):
    """Job events: every one carries `type` and `time` (unix seconds)."""

    def emit(self, event_type: str, **fields: Any) -> dict[str, Any]:
        return self.write({"type": event_type, "time": time.time(), **fields})


def note(message: str) -> None:
    """Human-readable progress goes to stderr; stdout is reserved for machine-readable lines."""
    print(f"[modelfactory] {message}", file=sys.stderr, flush=True)
