"""A hostile or unlucky client never hangs, crashes or blinds the job server.

A YAML alias bomb, base models outside the allowed roots, uploads left unfinished, names with a trailing
newline, duplicated upgrade headers, and the token reaching the CUDA probe.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_server_support import TOKEN, TRAINER_ROOT, Client, ServerProcess, connected, fake_trainer_env


def alias_bomb() -> str:
    """A config of under 500 bytes whose aliases expand to 9**9 (387 million) strings."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    lines += ["base_model: *i", "method: lora", "dataset: {path: x.jsonl}"]
    return "\n".join(lines) + "\n"


def peak_rss_mib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    raise AssertionError("no VmHWM")


def config_with_base(base: str) -> str:
    return f"base_model: {json.dumps(base)}\nmethod: lora\ndataset:\n  path: x.jsonl\ntraining:\n  max_steps: 1\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("server-hostile")
    with ServerProcess(root / "state", "--ping-interval", "2", env=fake_trainer_env(root, 1, 0.0)) as running:
        yield running


@pytest.fixture(scope="module")
def model_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    (root / "my-model").mkdir()
    (root / "my-model" / "config.json").write_text("{}")
    (root / "escape").symlink_to("/etc")
    return root


@pytest.fixture(scope="module")
def rooted(tmp_path_factory: pytest.TempPathFactory, model_root: Path) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("server-rooted")
    env = fake_trainer_env(root, 1, 0.0)
    with ServerProcess(root / "state", "--model-root", str(model_root), env=env) as running:
        yield running


# ---- 1. the YAML alias bomb ---------------------------------------------------------------------------------


def test_an_alias_bomb_is_refused_at_once_and_other_clients_are_answered(server: ServerProcess) -> None:
    assert len(alias_bomb().encode()) < 500
    assert server.process is not None

    async def scenario() -> None:
        bomber, other = await connected(server), await connected(server)
        upload_id = await bomber.upload("train.jsonl", b'{"text": "hello"}\n')
        started = time.monotonic()
        bomb_id = await bomber.send({"type": "submit", "config_yaml": alias_bomb(), "dataset": {"upload_id": upload_id}})
        listed = await other.request({"type": "list_jobs"}, timeout=5)
        assert listed["type"] == "job_list"
        await asyncio.wait_for(other.connection.ping(), 5)
        refusal = await bomber.reply(bomb_id, timeout=5)
        assert refusal["type"] == "error" and refusal["code"] == "bad-config", refusal
        assert "alias" in refusal["message"]
        assert time.monotonic() - started < 5
        # The upload is still there for a corrected config.
        fixed = config_with_base("builtin:tiny-llama")
        again = await bomber.request({"type": "submit", "config_yaml": fixed, "dataset": {"upload_id": upload_id}})
        assert again["type"] == "submitted", again
        await bomber.connection.close()
        await other.connection.close()

    asyncio.run(scenario())
    assert peak_rss_mib(server.process.pid) < 300
    assert server.alive()


def test_deep_nesting_is_refused_as_bad_config(server: ServerProcess) -> None:
    async def scenario() -> None:
        client = await connected(server)
        upload_id = await client.upload("train.jsonl", b'{"text": "hello"}\n')
        for text in ("x: " + "[" * 50_000 + "]" * 50_000, "x: " + "{a: " * 30_000 + "1" + "}" * 30_000):
            reply = await client.request({"type": "submit", "config_yaml": text, "dataset": {"upload_id": upload_id}})
            assert reply["type"] == "error" and reply["code"] == "bad-config", reply
        await client.connection.close()

    asyncio.run(scenario())
    assert server.alive()


# ---- 2. base models only from allowed roots -----------------------------------------------------------------

OUTSIDE = ["/etc", "~", "/proc/self/cwd", "../../..", "/", "./", "data/../..", "C:\\Windows", "org/name/../../x"]


@pytest.mark.parametrize("which", ["without roots", "with a root"])
def test_base_models_outside_the_roots_are_refused_without_echoing_paths(
    which: str, request: pytest.FixtureRequest, model_root: Path
) -> None:
    server: ServerProcess = request.getfixturevalue("server" if which == "without roots" else "rooted")

    async def scenario() -> None:
        client = await connected(server)
        upload_id = await client.upload("train.jsonl", b'{"text": "hello"}\n')
        for base in [*OUTSIDE, str(model_root / "escape"), str(model_root / "missing"), str(model_root.parent)]:
            reply = await client.request(
                {"type": "submit", "config_yaml": config_with_base(base), "dataset": {"upload_id": upload_id}}
            )
            assert reply["type"] == "error" and reply["code"] == "path-not-allowed", (base, reply)
            for secret in (str(TRAINER_ROOT), str(Path.home()), str(model_root)):
                assert secret not in reply["message"], (base, reply)
            chat = await client.request({"type": "chat", "base": base, "adapter_job_id": None, "messages": [{"role": "user", "content": "hi"}]})
            assert chat["type"] == "error" and chat["code"] == "path-not-allowed", (base, chat)
        await client.connection.close()

    asyncio.run(scenario())
    assert server.alive()


def test_builtin_hub_ids_and_folders_in_a_model_root_are_accepted(rooted: ServerProcess, model_root: Path) -> None:
    async def scenario() -> list[dict[str, Any]]:
        client = await connected(rooted)
        jobs = []
        for base in ("builtin:tiny-llama", "Qwen/Qwen2.5-0.5B-Instruct", "gpt2", str(model_root / "my-model")):
            upload_id = await client.upload("train.jsonl", b'{"text": "hello"}\n')
            reply = await client.request(
                {"type": "submit", "config_yaml": config_with_base(base), "dataset": {"upload_id": upload_id}}
            )
            assert reply["type"] == "submitted", (base, reply)
            jobs.append(reply["job"])
        await client.connection.close()
        return jobs

    jobs = asyncio.run(scenario())
    stored = (rooted.state_dir / "jobs" / jobs[-1]["job_id"] / "config.finetune.yaml").read_text()
    assert str((model_root / "my-model").resolve()) in stored


# ---- 3. upload staging per connection -----------------------------------------------------------------------


def test_unfinished_uploads_are_limited_per_connection_and_released_on_disconnect(server: ServerProcess) -> None:
    async def begin(client: Client, index: int) -> dict[str, Any]:
        return await client.request(
            {"type": "upload_begin", "name": f"part{index}.jsonl", "size": 1000, "sha256": "0" * 64}
        )

    async def scenario() -> None:
        hoarder = await connected(server)
        answers = [await begin(hoarder, index) for index in range(9)]
        assert all(answer["type"] == "upload_ready" for answer in answers[:8]), answers
        assert answers[8]["type"] == "error" and answers[8]["code"] == "upload-too-large", answers[8]
        # Eight connections fill the server's table of staged uploads, then go away without finishing.
        hoarders = [hoarder] + [await connected(server) for _ in range(7)]
        for client in hoarders[1:]:
            for index in range(8):
                assert (await begin(client, index))["type"] == "upload_ready"
        for client in hoarders:
            await client.connection.close()
        await asyncio.sleep(0.5)
        fresh = await connected(server)
        answer = await begin(fresh, 0)
        assert answer["type"] == "upload_ready", answer
        await fresh.connection.close()

    asyncio.run(scenario())


def test_an_upload_cut_off_by_a_lost_connection_can_be_continued(server: ServerProcess) -> None:
    data = b'{"text": "hello"}\n' * 10

    async def scenario() -> None:
        import base64
        import hashlib

        first = await connected(server)
        begin = await first.request(
            {"type": "upload_begin", "name": "cut.jsonl", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        )
        upload_id = begin["upload_id"]
        piece = base64.b64encode(data[:50]).decode()
        await first.request({"type": "upload_chunk", "upload_id": upload_id, "offset": 0, "data": piece})
        await first.connection.close()
        second = await connected(server)
        rest = base64.b64encode(data[50:]).decode()
        ack = await second.request({"type": "upload_chunk", "upload_id": upload_id, "offset": 50, "data": rest})
        assert ack["type"] == "upload_ack" and ack["received"] == len(data), ack
        done = await second.request({"type": "upload_end", "upload_id": upload_id})
        assert done["type"] == "upload_done", done
        await second.connection.close()

    asyncio.run(scenario())


# ---- 4. small holes -----------------------------------------------------------------------------------------


def test_names_and_job_ids_with_a_trailing_newline_are_refused(server: ServerProcess) -> None:
    async def scenario() -> None:
        client = await connected(server)
        reply = await client.request({"type": "upload_begin", "name": "train.jsonl\n", "size": 1, "sha256": "0" * 64})
        assert reply["type"] == "error" and reply["code"] == "bad-message", reply
        for kind in ("watch", "cancel", "resume", "download_adapter", "unwatch"):
            frame: dict[str, Any] = {"type": kind, "job_id": "20250101-000000-abcd\n"}
            if kind == "watch":
                frame["from_seq"] = 0
            reply = await client.request(frame)
            assert reply["type"] == "error" and reply["code"] == "bad-message", (kind, reply)
        await client.connection.close()

    asyncio.run(scenario())
    assert not any("\n" in path.name for path in (server.state_dir / "uploads").iterdir())


def upgrade_with(port: int, headers: list[tuple[str, str]]) -> int:
    lines = [
        "GET / HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in headers),
    ]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        answer = b""
        while b"\r\n" not in answer:
            piece = sock.recv(4096)
            if not piece:
                break
            answer += piece
    return int(answer.decode(errors="replace").split(" ", 2)[1])


def test_duplicated_authorization_or_origin_headers_are_a_400(server: ServerProcess) -> None:
    bearer = ("Authorization", f"Bearer {TOKEN}")
    assert upgrade_with(server.port, [bearer, bearer]) == 400
    assert upgrade_with(server.port, [bearer, ("Authorization", "Bearer wrong-token-0000000000")]) == 400
    assert upgrade_with(server.port, [bearer, ("Origin", "https://a.example"), ("Origin", "https://b.example")]) == 400
    assert upgrade_with(server.port, [bearer]) == 101
    assert "Traceback" not in server.stderr_text()


SITECUSTOMIZE = """
import json, os, sys
with open(os.environ["PROBE_REPORT"], "a") as report:
    report.write(json.dumps({"argv0": sys.argv[0] if sys.argv else "", "token": "MODELFACTORY_TOKEN" in os.environ}) + "\\n")
"""


def test_the_cuda_probe_never_sees_the_token(tmp_path: Path) -> None:
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    report = tmp_path / "report.jsonl"
    env = {"PYTHONPATH": str(hook), "PROBE_REPORT": str(report)}

    async def scenario(server: ServerProcess) -> None:
        client = await connected(server)
        health = await client.request({"type": "health"}, timeout=180)
        assert health["type"] == "health_report", health
        await client.connection.close()

    with ServerProcess(tmp_path / "state", env=env) as server:
        asyncio.run(scenario(server))
    processes = [json.loads(line) for line in report.read_text().splitlines()]
    probes = [process for process in processes if process["argv0"] == "-c"]
    assert probes, processes
    assert not any(probe["token"] for probe in probes), processes
