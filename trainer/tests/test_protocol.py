"""The trainer protocol schema and its Python side: validity, one definition per type, refusals, drift."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator
from modelfactory_trainer.protocol import (
    PROTOCOL_VERSION,
    ProtocolError,
    client_types,
    load_schema,
    parse_client_frame,
    server_frame_problem,
    server_types,
)

REPO = Path(__file__).resolve().parents[2]
SHA = "ab" * 32
UPLOAD = "0123456789abcdef" * 2

CLIENT_EXAMPLES: dict[str, dict[str, Any]] = {
    "hello": {"protocol": 1, "client": "vscode 1.99"},
    "health": {},
    "upload_begin": {"name": "train.jsonl", "size": 10, "sha256": SHA},
    "upload_chunk": {"upload_id": UPLOAD, "offset": 0, "data": "aGVsbG8="},
    "upload_end": {"upload_id": UPLOAD},
    "submit": {"config_yaml": "base_model: x\n", "dataset": {"upload_id": UPLOAD}, "name": "run"},
    "evaluate": {"job_id": "20260101-000000-abcd", "data": {"path": "/data/held.jsonl"}, "max_new_tokens": 64, "name": "eval"},
    "list_jobs": {},
    "watch": {"job_id": "20260101-000000-abcd", "from_seq": 3},
    "unwatch": {"job_id": "j1"},
    "cancel": {"job_id": "j1"},
    "resume": {"job_id": "j1"},
    "move_job": {"job_id": "j1", "position": 0},
    "download_adapter": {"job_id": "j1"},
    "chat": {
        "base": "builtin:tiny-llama",
        "adapter_job_id": None,
        "messages": [{"role": "user", "content": "hi"}],
        "system": None,
        "params": {
            "max_new_tokens": 4,
            "temperature": 0.7,
            "top_p": 0.9,
            "top_k": 40,
            "repetition_penalty": 1.1,
            "seed": None,
            "stop": ["\n"],
        },
    },
    "chat_cancel": {"chat_id": "c1"},
    "export": {"job_id": "j1", "name": "my-model", "merge": True, "ollama": True, "gguf": False, "system": None},
}

SERVER_EXAMPLES: dict[str, dict[str, Any]] = {
    "welcome": {
        "id": "1",
        "server": "modelfactory-trainer",
        "server_version": "0.1.0",
        "protocol": 1,
        "limits": {"max_message_bytes": 1, "max_upload_bytes": 1, "upload_chunk_bytes": 1, "adapter_chunk_bytes": 1},
    },
    "health_report": {
        "id": "1",
        "versions": {
            "python": "3.11",
            "torch": "2",
            "transformers": "5",
            "peft": "0.2",
            "bitsandbytes": None,
            "modelfactory_trainer": "0.1",
        },
        "cuda": {"available": True, "version": "12.8"},
        "gpus": [{"index": 0, "name": "H100", "free_gb": 70.5, "total_gb": 79.6}],
        "jobs": {"queued": 0, "running": None},
    },
    "upload_ready": {"id": "1", "upload_id": UPLOAD, "chunk_bytes": 1024},
    "upload_ack": {"id": "1", "upload_id": UPLOAD, "received": 10},
    "upload_done": {"id": "1", "upload_id": UPLOAD, "name": "a.jsonl", "size": 10, "sha256": SHA},
    "submitted": {
        "id": "1",
        "job": {
            "job_id": "j1",
            "state": "queued",
            "reason": None,
            "created": 1.0,
            "name": "n",
            "base_model": "b",
            "method": "lora",
            "last_seq": 0,
        },
    },
    "job_list": {"id": "1", "jobs": []},
    "watching": {
        "id": "1",
        "from_seq": 0,
        "job": {
            "job_id": "j1",
            "state": "done",
            "reason": None,
            "created": 1.0,
            "name": "n",
            "base_model": "b",
            "method": "lora",
            "last_seq": 9,
        },
    },
    "event": {"job_id": "j1", "seq": 4, "event": {"type": "log", "time": 1.0, "step": 1, "total_steps": 9, "epoch": 0.1, "loss": 2.0, "learning_rate": 0.0002}},
    "ack": {"id": "1", "job_id": "j1", "state": "cancelled"},
    "adapter_file": {"id": "1", "job_id": "j1", "name": "adapter_model.safetensors", "size": 3, "sha256": SHA},
    "adapter_chunk": {"id": "1", "name": "adapter_model.safetensors", "offset": 0, "data": "AAAA"},
    "adapter_end": {"id": "1", "job_id": "j1", "files": {"adapter_model.safetensors": SHA}, "sha256": SHA},
    "chat_token": {"id": "c1", "text": "Hel"},
    "chat_done": {
        "id": "c1",
        "tokens": 3,
        "time_to_first_token_ms": 12.5,
        "tokens_per_second": 40.0,
        "finish_reason": "stop",
    },
    "chat_error": {"id": "c1", "code": "model", "message": "no such model"},
    "export_progress": {"id": "e1", "stage": "merge", "fraction": 0.4, "message": "merging"},
    "export_done": {
        "id": "e1",
        "job_id": "j1",
        "name": "my-model",
        "path": "/srv/exports/my-model",
        "merged": True,
        "files": ["config.json", "Modelfile"],
        "template_converted": True,
        "template_note": None,
    },
    "error": {"id": None, "code": "bad-json", "message": "not JSON"},
}


def test_the_schema_is_valid_draft_07_and_versioned() -> None:
    schema = load_schema()
    Draft7Validator.check_schema(schema)
    assert schema["definitions"]["protocolVersion"]["const"] == PROTOCOL_VERSION


def test_every_type_has_an_example_and_the_union_picks_exactly_one_definition() -> None:
    assert sorted(CLIENT_EXAMPLES) == client_types()
    assert sorted(SERVER_EXAMPLES) == server_types()
    schema = load_schema()
    for side, examples, prefix in (
        ("clientMessage", CLIENT_EXAMPLES, "client_"),
        ("serverMessage", SERVER_EXAMPLES, "server_"),
    ):
        union = Draft7Validator({"$ref": f"#/definitions/{side}", "definitions": schema["definitions"]})
        for message_type, body in examples.items():
            frame = {"type": message_type, **({"id": "r1"} if prefix == "client_" else {}), **body}
            assert list(union.iter_errors(frame)) == [], (message_type, [e.message for e in union.iter_errors(frame)])
            if prefix == "server_":
                assert server_frame_problem(frame) is None


def test_trainer_events_in_event_frames_must_carry_their_fields() -> None:
    schema = load_schema()
    union = Draft7Validator({"$ref": "#/definitions/serverMessage", "definitions": schema["definitions"]})

    def frame(event: dict[str, object]) -> dict[str, object]:
        return {"type": "event", "job_id": "j1", "seq": 1, "event": {"time": 1.0, **event}}

    complete = {"type": "log", "step": 1, "total_steps": 9, "epoch": 0.1, "loss": 2.0, "learning_rate": 2e-4}
    assert list(union.iter_errors(frame(complete))) == []
    without_loss = {k: v for k, v in complete.items() if k != "loss"}
    assert list(union.iter_errors(frame(without_loss))) != []
    assert list(union.iter_errors(frame({"type": "done", "adapter_dir": "a", "sha256": "nothex", "steps": 3}))) != []
    assert list(union.iter_errors(frame({"type": "error", "code": "mystery", "message": "m"}))) != []


def test_client_frames_parse_into_requests() -> None:
    for message_type, body in CLIENT_EXAMPLES.items():
        request = parse_client_frame(json.dumps({"type": message_type, "id": "r9", **body}))
        assert (request.type, request.id, request.body) == (message_type, "r9", body)


@pytest.mark.parametrize(
    ("text", "code", "request_id"),
    [
        ("{", "bad-json", None),
        ("[" * 100000, "bad-json", None),
        ('"a string"', "bad-message", None),
        ('{"type": 5, "id": "x"}', "bad-message", "x"),
        ('{"type": "nope", "id": "x"}', "unknown-type", "x"),
        ('{"type": "health"}', "bad-message", None),
        ('{"type": "health", "id": ""}', "bad-message", None),
        ('{"type": "watch", "id": "x", "job_id": "a/b", "from_seq": 0}', "bad-message", "x"),
        ('{"type": "watch", "id": "x", "job_id": "a", "from_seq": -1}', "bad-message", "x"),
        (
            '{"type": "upload_begin", "id": "x", "name": ".hidden", "size": 1, "sha256": "' + SHA + '"}',
            "bad-message",
            "x",
        ),
        (
            '{"type": "upload_chunk", "id": "x", "upload_id": "' + UPLOAD + '", "offset": 0, "data": "not base64!"}',
            "bad-message",
            "x",
        ),
        (
            '{"type": "submit", "id": "x", "config_yaml": "a: 1", "dataset": {"path": "/x", "upload_id": "'
            + UPLOAD
            + '"}}',
            "bad-message",
            "x",
        ),
        (
            '{"type": "chat", "id": "x", "base": "b", "adapter_job_id": null, '
            '"messages": [{"role": "tool", "content": ""}]}',
            "bad-message",
            "x",
        ),
    ],
)
def test_bad_frames_are_refused_with_a_code_and_the_id_when_usable(
    text: str, code: str, request_id: str | None
) -> None:
    with pytest.raises(ProtocolError) as refused:
        parse_client_frame(text)
    assert refused.value.code == code
    assert refused.value.request_id == request_id


def test_a_refusal_names_the_field_at_fault() -> None:
    with pytest.raises(ProtocolError) as refused:
        parse_client_frame('{"type": "watch", "id": "x", "job_id": "a", "from_seq": "zero"}')
    assert "from_seq" in refused.value.message


def test_every_error_code_the_server_raises_is_in_the_schema() -> None:
    allowed = set(load_schema()["definitions"]["server_error"]["properties"]["code"]["enum"])
    package = REPO / "trainer" / "modelfactory_trainer"
    raised: set[str] = set()
    for module in ("protocol.py", "jobs.py", "server.py", "server_uploads.py", "server_chat.py"):
        source = (package / module).read_text()
        raised |= set(re.findall(r'ProtocolError\(\s*"([a-z-]+)"', source))
        raised |= set(re.findall(r'error_frame\(\s*"([a-z-]+)"', source))
    assert raised, "the scan found no error codes"
    assert raised <= allowed, raised - allowed


def test_the_schema_compiles_under_ajv_strict_mode_for_the_typescript_client() -> None:
    node = shutil.which("node")
    assert node is not None and (REPO / "node_modules" / "ajv").is_dir(), "node and ajv are needed: run `npm ci`"
    script = """
const Ajv = require('ajv');
const schema = require(process.argv[1]);
const ajv = new Ajv({ strict: true, allErrors: true, allowUnionTypes: true });
ajv.addSchema(schema);
const client = ajv.getSchema(schema.$id + '#/definitions/clientMessage');
const server = ajv.getSchema(schema.$id + '#/definitions/serverMessage');
const ok = client({ type: 'watch', id: '1', job_id: 'j1', from_seq: 0 }) && !client({ type: 'watch', id: '1' })
  && server({ type: 'event', job_id: 'j1', seq: 0,
              event: { type: 'ended', time: 1, state: 'done', reason: null, exit_code: 0 } })
  && !server({ type: 'event', job_id: 'j1', seq: 0, event: { type: 'ended', time: 1 } });
process.stdout.write(ok ? 'ok' : 'mismatch');
"""
    done = subprocess.run(
        [node, "-e", script, str(REPO / "schemas" / "trainer-protocol.schema.json")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "ok"
