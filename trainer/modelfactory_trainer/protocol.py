"""The trainer protocol: frames between the extension and the job server.

The contract lives in `schemas/trainer-protocol.schema.json` (the TypeScript client validates against the same
file with ajv). Client frames are validated on receipt: the `type` picks the definition, so a refusal names
the field that is wrong rather than listing every alternative of a `oneOf`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from .schemas import PROTOCOL, PROTOCOL_SCHEMA_ENV, load_schema_json, schema_file

PROTOCOL_VERSION = 1
SCHEMA_ENV = PROTOCOL_SCHEMA_ENV

JOB_STATES = ("queued", "running", "done", "failed", "cancelled")
TERMINAL_STATES = ("done", "failed", "cancelled")


class ProtocolError(Exception):
    """A frame the server refuses; becomes an `error` frame with this code."""

    def __init__(self, code: str, message: str, request_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


@dataclass(frozen=True)
class Request:
    type: str
    id: str
    body: dict[str, Any]


def schema_path() -> Path:
    """The schema beside the package in the repository (editable install), or where the env var points."""
    return schema_file(PROTOCOL)


@lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    schema: dict[str, Any] = load_schema_json(PROTOCOL)
    return schema


@cache
def end_anchored_validator() -> Any:
    r"""Draft 7 with `pattern` read as ajv (ECMAScript) reads it: a final `$` is the end of the string.

    Python's `re.search` lets `$` match before a final newline, so `^[a-z]+$` would accept "name\n" here and
    refuse it in the TypeScript client. The schema stays as it is (valid for both engines); only this check
    differs from jsonschema's: a pattern ending in an unescaped `$` is searched with `\Z` in its place.
    """
    import re

    from jsonschema import Draft7Validator, validators
    from jsonschema.exceptions import ValidationError

    def pattern(validator: Any, expected: str, instance: Any, _schema: Any) -> Any:
        if not validator.is_type(instance, "string"):
            return
        anchored = expected
        if expected.endswith("$") and not expected.endswith("\\$"):
            anchored = expected[:-1] + r"\Z"
        if re.search(anchored, instance) is None:
            yield ValidationError(f"{instance!r} does not match {expected!r}")

    return validators.extend(Draft7Validator, {"pattern": pattern})


@cache
def _validator(definition: str) -> Any:
    schema = load_schema()
    return end_anchored_validator()({"$ref": f"#/definitions/{definition}", "definitions": schema["definitions"]})


def client_types() -> list[str]:
    return sorted(name[len("client_") :] for name in load_schema()["definitions"] if name.startswith("client_"))


def server_types() -> list[str]:
    return sorted(name[len("server_") :] for name in load_schema()["definitions"] if name.startswith("server_"))


def _first_error(validator: Any, frame: Any) -> str | None:
    errors = sorted(validator.iter_errors(frame), key=lambda error: list(error.absolute_path))
    if not errors:
        return None
    error = errors[0]
    where = "/".join(str(part) for part in error.absolute_path) or "(frame)"
    return f"{where}: {error.message}"[:500]


def parse_client_frame(text: str | bytes) -> Request:
    """Decode and validate one client frame, or raise ProtocolError."""
    if isinstance(text, bytes):
        raise ProtocolError("bad-message", "binary frames are not part of the protocol; send JSON text")
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError("bad-json", f"not JSON: {exc}"[:300]) from None
    if not isinstance(frame, dict):
        raise ProtocolError("bad-message", "a frame must be a JSON object")
    raw_id = frame.get("id")
    request_id = raw_id if isinstance(raw_id, str) and 0 < len(raw_id) <= 128 else None
    frame_type = frame.get("type")
    if not isinstance(frame_type, str):
        raise ProtocolError("bad-message", "a frame needs a string 'type'", request_id)
    if frame_type not in client_types():
        raise ProtocolError("unknown-type", f"unknown message type {frame_type[:64]!r}", request_id)
    problem = _first_error(_validator(f"client_{frame_type}"), frame)
    if problem is not None:
        raise ProtocolError("bad-message", f"{frame_type}: {problem}", request_id)
    assert request_id is not None  # the schema requires a non-empty id of at most 128 characters
    body = {key: value for key, value in frame.items() if key not in ("type", "id")}
    return Request(frame_type, request_id, body)


def server_frame_problem(frame: dict[str, Any]) -> str | None:
    """Why a server frame breaks the schema, or None. Tests check every frame the server sends with it."""
    frame_type = frame.get("type")
    if not isinstance(frame_type, str) or frame_type not in server_types():
        return f"unknown server frame type {frame_type!r}"
    return _first_error(_validator(f"server_{frame_type}"), frame)


def encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def error_frame(code: str, message: str, request_id: str | None) -> dict[str, Any]:
    return {"type": "error", "id": request_id, "code": code, "message": message}
