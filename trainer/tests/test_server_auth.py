"""The job server's front door: upgrade refusals, frame limits, malformed frames, start-up refusals, pings."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_server_support import TOKEN, TRAINER_ROOT, Client, ServerProcess, connected, open_client
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("server-auth")
    with ServerProcess(root / "state", "--ping-interval", "1") as running:
        yield running


def raw_upgrade(port: int, path: str = "/", headers: dict[str, str] | None = None) -> str:
    """Send an upgrade request by hand and return the status line and headers of the answer."""
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            piece = sock.recv(4096)
            if not piece:
                break
            answer += piece
    return answer.decode(errors="replace")


def status_of(answer: str) -> int:
    return int(answer.split(" ", 2)[1])


def test_no_token_is_refused_with_401_before_the_switch(server: ServerProcess) -> None:
    answer = raw_upgrade(server.port)
    assert status_of(answer) == 401
    assert "www-authenticate: bearer" in answer.lower()


def test_wrong_token_is_refused_with_401(server: ServerProcess) -> None:
    assert status_of(raw_upgrade(server.port, headers={"Authorization": f"Bearer {TOKEN}x"})) == 401
    assert status_of(raw_upgrade(server.port, headers={"Authorization": TOKEN})) == 401


def test_a_token_in_the_query_string_is_refused_and_never_logged(server: ServerProcess) -> None:
    canary = "canary" + "9" * 20
    answer = raw_upgrade(server.port, path=f"/?token={canary}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert status_of(answer) == 400
    assert status_of(raw_upgrade(server.port, path=f"/?token={canary}")) == 400
    assert canary not in server.stderr_text()
    assert TOKEN not in server.stderr_text()


def test_a_foreign_origin_is_refused_with_403(server: ServerProcess) -> None:
    for origin in ("https://evil.example", "null", "vscode-webview://abc"):
        answer = raw_upgrade(server.port, headers={"Authorization": f"Bearer {TOKEN}", "Origin": origin})
        assert status_of(answer) == 403, origin


def test_the_right_token_without_origin_switches_protocols(server: ServerProcess) -> None:
    assert status_of(raw_upgrade(server.port, headers={"Authorization": f"Bearer {TOKEN}"})) == 101


def test_the_websockets_client_sees_the_refusals(server: ServerProcess) -> None:
    async def scenario() -> None:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(server.url, open_timeout=10):
                pass
        assert refused.value.response.status_code == 401
        async with open_client(server) as connection:
            client = Client(connection)
            welcome = await client.request({"type": "hello", "protocol": 1, "client": "pytest"})
            assert welcome["type"] == "welcome"
            assert welcome["limits"]["max_message_bytes"] == 1 << 20

    asyncio.run(scenario())


def test_a_2_mib_frame_closes_with_1009_and_the_server_keeps_serving(server: ServerProcess) -> None:
    async def scenario() -> None:
        async with open_client(server, max_size=None) as connection:
            await connection.send("x" * (2 << 20))
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(connection.recv(), 30)
            assert connection.close_code == 1009
        async with open_client(server) as connection:
            assert (await Client(connection).request({"type": "list_jobs"}))["type"] == "job_list"

    asyncio.run(scenario())


def test_a_flood_of_small_fragments_is_bounded_like_one_big_frame(server: ServerProcess) -> None:
    """Fragments count toward the message limit as they arrive: 20,000 fragments of 64 bytes
    (1.3 MB in all) close the connection with 1009 instead of growing a buffer without bound."""

    async def scenario() -> None:
        async with open_client(server, max_size=None) as connection:
            with pytest.raises(ConnectionClosed):
                await connection.send(["x" * 64 for _ in range(20_000)])
                await asyncio.wait_for(connection.recv(), 30)
            assert connection.close_code == 1009
        async with open_client(server) as connection:
            assert (await Client(connection).request({"type": "list_jobs"}))["type"] == "job_list"

    asyncio.run(scenario())


MALFORMED: list[tuple[str, str, str | None]] = [
    ("not json at all", "bad-json", None),
    ("[1, 2, 3]", "bad-message", None),
    ('{"id": "m1"}', "bad-message", "m1"),
    ('{"type": "launch_missiles", "id": "m2"}', "unknown-type", "m2"),
    ('{"type": "watch", "id": "m3", "job_id": "x"}', "bad-message", "m3"),
    ('{"type": "watch", "id": "m4", "job_id": "../etc", "from_seq": 0}', "bad-message", "m4"),
    ('{"type": "watch", "id": "m5", "job_id": "nosuchjob", "from_seq": 0}', "unknown-job", "m5"),
    ('{"type": "cancel", "id": "m6", "job_id": "nosuchjob"}', "unknown-job", "m6"),
    ('{"type": "list_jobs", "id": "m7", "extra": true}', "bad-message", "m7"),
    (
        '{"type": "upload_begin", "id": "m8", "name": "../../x.jsonl", "size": 1, "sha256": "' + "0" * 64 + '"}',
        "bad-message",
        "m8",
    ),
    (
        '{"type": "upload_begin", "id": "m9", "name": "a..jsonl", "size": 1, "sha256": "' + "0" * 64 + '"}',
        "bad-message",
        "m9",
    ),
    (
        '{"type": "upload_begin", "id": "m10", "name": "big.jsonl", "size": 99999999999999, "sha256": "'
        + "0" * 64
        + '"}',
        "upload-too-large",
        "m10",
    ),
    (
        '{"type": "upload_chunk", "id": "m11", "upload_id": "' + "a" * 32 + '", "offset": 0, "data": ""}',
        "unknown-upload",
        "m11",
    ),
    (
        '{"type": "submit", "id": "m12", "config_yaml": "base_model: x", "dataset": {"path": "/etc/passwd"}}',
        "path-not-allowed",
        "m12",
    ),
    ('{"type": "download_adapter", "id": "m13", "job_id": "nosuchjob"}', "unknown-job", "m13"),
]


def test_malformed_frames_get_error_frames_and_the_connection_stays_usable(server: ServerProcess) -> None:
    async def scenario() -> None:
        async with open_client(server) as connection:
            client = Client(connection)
            for text, code, request_id in MALFORMED:
                await connection.send(text)
                frame = await client.recv(30)
                assert frame["type"] == "error", (text, frame)
                assert frame["code"] == code, (text, frame)
                assert frame["id"] == request_id, (text, frame)
            await connection.send(b"\x00binary")
            frame = await client.recv(30)
            assert frame["type"] == "error" and frame["code"] == "bad-message"
            assert (await client.request({"type": "list_jobs"}))["type"] == "job_list"

    asyncio.run(scenario())


def test_uploads_check_offsets_and_sha256(server: ServerProcess) -> None:
    async def scenario() -> None:
        client = await connected(server)
        try:
            data = b'{"text": "hello"}\n' * 10
            begin = await client.request(
                {"type": "upload_begin", "name": "a.jsonl", "size": len(data), "sha256": "f" * 64}
            )
            upload_id = begin["upload_id"]
            wrong = await client.request(
                {"type": "upload_chunk", "upload_id": upload_id, "offset": 5, "data": base64.b64encode(data).decode()}
            )
            assert wrong["type"] == "error" and wrong["code"] == "upload-offset"
            chunk = {
                "type": "upload_chunk",
                "upload_id": upload_id,
                "offset": 0,
                "data": base64.b64encode(data).decode(),
            }
            assert (await client.request(chunk))["received"] == len(data)
            mismatch = await client.request({"type": "upload_end", "upload_id": upload_id})
            assert mismatch["type"] == "error" and mismatch["code"] == "upload-mismatch"
            gone = await client.request({"type": "upload_end", "upload_id": upload_id})
            assert gone["type"] == "error" and gone["code"] == "unknown-upload"
        finally:
            await client.connection.close()

    asyncio.run(scenario())


def test_a_half_open_connection_is_dropped_within_two_ping_intervals(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        request = (
            f"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Bearer {TOKEN}\r\n\r\n"
        )
        sock.sendall(request.encode())
        opened = time.monotonic()
        received = b""
        while True:
            piece = sock.recv(65536)
            if not piece:
                break
            received += piece
        elapsed = time.monotonic() - opened
    assert received.startswith(b"HTTP/1.1 101")
    # ping at 1 s, no pong by 2 s: the server fails the connection (then waits at most close_timeout = 1 s).
    assert elapsed < 2 * 1 + 1 + 1.5, elapsed


def start_refused(tmp_path: Path, *args: str, token: str | None = TOKEN) -> tuple[int, str]:
    env = dict(os.environ)
    env.pop("MODELFACTORY_TOKEN", None)
    if token is not None:
        env["MODELFACTORY_TOKEN"] = token
    argv = [
        sys.executable,
        "-m",
        "modelfactory_trainer",
        "serve",
        "--port",
        "0",
        "--state-dir",
        str(tmp_path / "s"),
        *args,
    ]
    done = subprocess.run(argv, env=env, cwd=TRAINER_ROOT, capture_output=True, timeout=60)
    return done.returncode, done.stderr.decode()


def test_a_non_loopback_bind_without_tls_refuses_to_start(tmp_path: Path) -> None:
    code, stderr = start_refused(tmp_path, "--host", "0.0.0.0")
    assert code == 2
    assert "without TLS" in stderr
    assert TOKEN not in stderr


def test_no_token_refuses_to_start_and_a_short_token_too(tmp_path: Path) -> None:
    code, stderr = start_refused(tmp_path, "--host", "127.0.0.1", token=None)
    assert code == 2 and "no token" in stderr
    code, stderr = start_refused(tmp_path, "--host", "127.0.0.1", token="short")
    assert code == 2 and "at least" in stderr


def test_the_token_file_is_read_and_allow_insecure_remote_starts(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    with ServerProcess(tmp_path / "a", "--token-file", str(token_file), token=None) as server:
        assert status_of(raw_upgrade(server.port, headers={"Authorization": f"Bearer {TOKEN}"})) == 101
        assert status_of(raw_upgrade(server.port)) == 401
    with ServerProcess(tmp_path / "b", "--allow-insecure-remote", token=None) as server:
        assert status_of(raw_upgrade(server.port)) == 101


def test_health_reports_versions_without_importing_torch_in_the_server(server: ServerProcess) -> None:
    async def scenario() -> None:
        client = await connected(server)
        try:
            report = await client.request({"type": "health"}, timeout=150)
            assert report["type"] == "health_report"
            assert report["versions"]["torch"] and report["versions"]["transformers"] and report["versions"]["peft"]
            assert report["versions"]["python"] == sys.version.split()[0]
            assert isinstance(report["cuda"]["available"], bool)
            assert report["jobs"] == {"queued": 0, "running": None}
        finally:
            await client.connection.close()

    asyncio.run(scenario())
    assert server.process is not None
    maps = Path(f"/proc/{server.process.pid}/maps")
    if maps.exists():
        assert "libtorch" not in maps.read_text(), "the server process imported torch"


def test_every_client_message_type_has_a_handler() -> None:
    from modelfactory_trainer.protocol import client_types
    from modelfactory_trainer.server import ClientSession

    missing = [name for name in client_types() if not hasattr(ClientSession, f"_on_{name}")]
    assert missing == []
    assert (
        json.loads((TRAINER_ROOT.parent / "schemas" / "trainer-protocol.schema.json").read_text())["definitions"][
            "protocolVersion"
        ]["const"]
        == 1
    )


def test_tls_serves_wss(tmp_path: Path) -> None:
    openssl = shutil.which("openssl")
    assert openssl is not None, "openssl is needed to make the test certificate (Debian's openssl package)"
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )

    async def scenario(port: int) -> None:
        context = ssl.create_default_context(cafile=str(cert))
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with connect(
            f"wss://127.0.0.1:{port}/", ssl=context, additional_headers=headers, open_timeout=30
        ) as connection:
            assert (await Client(connection).request({"type": "hello"}))["type"] == "welcome"

    with ServerProcess(tmp_path / "s", "--tls-cert", str(cert), "--tls-key", str(key)) as server:
        asyncio.run(scenario(server.port))


def test_start_up_rules_for_remote_binds() -> None:
    from modelfactory_trainer.server import build_parser, startup_refusal

    def refusal(*argv: str, token: str | None = TOKEN) -> str | None:
        return startup_refusal(build_parser().parse_args(list(argv)), token)

    assert refusal("--host", "127.0.0.1") is None
    assert refusal("--host", "::1") is None
    assert refusal("--host", "0.0.0.0") is not None
    assert refusal("--host", "gpu-box.example") is not None
    assert refusal("--host", "0.0.0.0", "--tls-cert", "c.pem", "--tls-key", "k.pem") is None
    assert refusal("--host", "0.0.0.0", "--tls-cert", "c.pem") is not None
    assert refusal("--host", "0.0.0.0", "--tls-cert", "c.pem", "--tls-key", "k.pem", token=None) is not None
    assert refusal("--host", "0.0.0.0", "--allow-insecure-remote", token=None) is None
