"""The job server with the real trainer on builtin:tiny-llama: submit, watch, download, cancel, crash, chat, restart."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_server_support import Client, ServerProcess, connected, event_seqs, messages_dataset, open_client, tiny_config


@pytest.fixture(scope="module")
def server(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    # tiny_model_dir builds the model once into the session cache, which the server and its trainers inherit.
    root = tmp_path_factory.mktemp("server-jobs")
    with ServerProcess(root / "state", "--cancel-grace", "20") as running:
        yield running


@pytest.fixture(scope="module")
def finished_job(server: ServerProcess) -> dict[str, Any]:
    """A real tiny LoRA job submitted with an uploaded dataset and watched to its end."""

    async def scenario() -> dict[str, Any]:
        client = await connected(server)
        data = messages_dataset(24)
        job = await client.submit_upload(tiny_config(steps=4), data)
        assert job["state"] in ("queued", "running")
        frames = await client.watch_to_end(job["job_id"], timeout=240)
        await client.connection.close()
        return {"job_id": job["job_id"], "frames": frames, "data": data}

    return asyncio.run(scenario())


def test_a_submitted_job_with_an_uploaded_dataset_runs_to_done(
    server: ServerProcess, finished_job: dict[str, Any]
) -> None:
    frames = finished_job["frames"]
    kinds = [frame["event"]["type"] for frame in frames]
    assert kinds[:3] == ["queued", "launched", "start"]
    assert kinds[-2:] == ["done", "ended"], kinds
    assert kinds.count("log") == 4
    assert event_seqs(frames) == list(range(len(frames)))
    ended = frames[-1]["event"]
    assert (ended["state"], ended["reason"], ended["exit_code"]) == ("done", None, 0)
    job_dir = server.state_dir / "jobs" / finished_job["job_id"]
    uploaded = next((job_dir / "data").iterdir())
    assert hashlib.sha256(uploaded.read_bytes()).hexdigest() == hashlib.sha256(finished_job["data"]).hexdigest()
    start = frames[2]["event"]
    assert start["model"] == "builtin:tiny-llama" and start["train_records"] + start["eval_records"] == 24


def test_the_adapter_download_verifies_and_equals_the_files_on_disk(
    server: ServerProcess, finished_job: dict[str, Any]
) -> None:
    async def scenario() -> tuple[dict[str, bytes], dict[str, str], dict[str, Any]]:
        client = await connected(server)
        request_id = await client.send({"type": "download_adapter", "job_id": finished_job["job_id"]})
        files: dict[str, bytearray] = {}
        announced: dict[str, dict[str, Any]] = {}
        current = ""
        while True:
            frame = await client.reply(request_id)
            if frame["type"] == "adapter_file":
                current = frame["name"]
                announced[current] = frame
                files[current] = bytearray()
            elif frame["type"] == "adapter_chunk":
                assert frame["name"] == current and frame["offset"] == len(files[current])
                files[current] += base64.b64decode(frame["data"])
            elif frame["type"] == "adapter_end":
                end = frame
                break
            else:
                raise AssertionError(frame)
        await client.connection.close()
        for name, frame in announced.items():
            assert len(files[name]) == frame["size"]
            assert hashlib.sha256(files[name]).hexdigest() == frame["sha256"]
        return {name: bytes(data) for name, data in files.items()}, end["files"], end

    files, digests, end = asyncio.run(scenario())
    done = next(frame["event"] for frame in finished_job["frames"] if frame["event"]["type"] == "done")
    assert end["sha256"] == done["sha256"] == hashlib.sha256(files["adapter_model.safetensors"]).hexdigest()
    assert {"adapter_config.json", "adapter_model.safetensors"} <= set(files)
    adapter_dir = Path(done["adapter_dir"])
    for name, data in files.items():
        assert (adapter_dir / name).read_bytes() == data
        assert digests[name] == hashlib.sha256(data).hexdigest()


def test_100_random_disconnects_while_replaying_a_finished_job(
    server: ServerProcess, finished_job: dict[str, Any]
) -> None:
    expected = finished_job["frames"]
    rng = random.Random(99)

    async def scenario() -> list[dict[str, Any]]:
        received: list[dict[str, Any]] = []
        started = time.monotonic()
        for attempt in range(100):
            async with open_client(server) as connection:
                client = Client(connection)
                await client.send({"type": "watch", "job_id": finished_job["job_id"], "from_seq": len(received)})
                take = rng.randint(0, 2) if attempt < 99 else len(expected)
                while take > 0 and len(received) < len(expected):
                    frame = await client.recv(30)
                    if frame["type"] == "event":
                        received.append(frame)
                        take -= 1
                if rng.random() < 0.5:
                    connection.transport.abort()
        assert time.monotonic() - started < 60
        return received

    received = asyncio.run(scenario())
    assert event_seqs(received) == list(range(len(expected)))
    assert [frame["event"] for frame in received] == [frame["event"] for frame in expected]


def test_a_job_with_a_bad_dataset_fails_and_the_server_stays_up(server: ServerProcess) -> None:
    async def scenario() -> dict[str, Any]:
        client = await connected(server)
        job = await client.submit_upload(tiny_config(), b'this is not json\n{"half": \n', name="broken.jsonl")
        frames = await client.watch_to_end(job["job_id"], timeout=240)
        listed = await client.list_jobs()
        await client.connection.close()
        assert listed[job["job_id"]]["state"] == "failed"
        return dict(frames[-1]["event"])

    ended = asyncio.run(scenario())
    assert ended["state"] == "failed"
    assert ended["reason"] == "dataset"
    assert ended["exit_code"] == 1
    assert server.alive()


def test_cancel_a_running_real_job(server: ServerProcess) -> None:
    async def scenario() -> tuple[list[dict[str, Any]], float]:
        client = await connected(server)
        job = await client.submit_upload(tiny_config(steps=400, save_steps=2), messages_dataset(24))
        await client.send({"type": "watch", "job_id": job["job_id"], "from_seq": 0})
        frames: list[dict[str, Any]] = []
        while True:
            frame = await client.recv(240)
            if frame["type"] == "event":
                frames.append(frame)
                if frame["event"]["type"] == "log":
                    break
        cancel_at = time.monotonic()
        ack = await client.request({"type": "cancel", "job_id": job["job_id"]})
        assert ack["type"] == "ack"
        frames += await client.watch_to_end(job["job_id"], from_seq=len(frames), timeout=60)
        await client.connection.close()
        return frames, time.monotonic() - cancel_at

    frames, took = asyncio.run(scenario())
    kinds = [frame["event"]["type"] for frame in frames]
    ended = frames[-1]["event"]
    assert (ended["state"], ended["reason"]) == ("cancelled", "user-cancelled")
    assert ended["exit_code"] == 130, "the trainer stopped on SIGTERM within the grace period"
    assert "cancelled" in kinds and "done" not in kinds
    assert took < 20
    cancelled = next(frame["event"] for frame in frames if frame["event"]["type"] == "cancelled")
    if cancelled["adapter_dir"] is not None:
        assert (Path(cancelled["adapter_dir"]) / "adapter_model.safetensors").is_file()


def test_chat_streams_tokens_from_the_base_and_the_adapter(server: ServerProcess, finished_job: dict[str, Any]) -> None:
    params = {
        "max_new_tokens": 8,
        "temperature": 0.0,
        "top_p": 1.0,
        "top_k": 0,
        "repetition_penalty": 1.0,
        "seed": 1,
        "stop": [],
    }
    messages = [{"role": "user", "content": "What is 2 plus 2?"}]

    async def chat(client: Client, adapter_job_id: str | None, base: str | None) -> tuple[list[str], dict[str, Any]]:
        request_id = await client.send(
            {
                "type": "chat",
                "base": base,
                "adapter_job_id": adapter_job_id,
                "messages": messages,
                "system": None,
                "params": params,
            }
        )
        tokens: list[str] = []
        while True:
            frame = await client.reply(request_id, timeout=240)
            if frame["type"] == "chat_token":
                tokens.append(frame["text"])
            elif frame["type"] == "chat_done":
                return tokens, frame
            else:
                raise AssertionError(frame)

    async def scenario() -> None:
        client = await connected(server)
        base_tokens, base_done = await chat(client, None, "builtin:tiny-llama")
        adapter_tokens, adapter_done = await chat(client, finished_job["job_id"], None)
        for tokens, done in ((base_tokens, base_done), (adapter_tokens, adapter_done)):
            assert done["finish_reason"] in ("stop", "length")
            assert done["tokens"] >= len(tokens) >= 1
            assert done["time_to_first_token_ms"] >= 0
        refused = await client.request(
            {
                "type": "chat",
                "base": None,
                "adapter_job_id": "nosuchjob",
                "messages": messages,
                "system": None,
                "params": params,
            }
        )
        assert refused["type"] == "error" and refused["code"] == "unknown-job"
        await client.connection.close()

    asyncio.run(scenario())
    assert "chat worker started" in server.stderr_text()
    assert server.stderr_text().count("chat worker started") == 1, "one warm worker serves both requests"


def test_chat_cancel_stops_a_long_reply(server: ServerProcess) -> None:
    params = {
        "max_new_tokens": 2000,
        "temperature": 1.0,
        "top_p": 1.0,
        "top_k": 0,
        "repetition_penalty": 1.0,
        "seed": 3,
        "stop": [],
    }

    async def scenario() -> tuple[int, dict[str, Any]]:
        client = await connected(server)
        chat_id = await client.send(
            {
                "type": "chat",
                "base": "builtin:tiny-llama",
                "adapter_job_id": None,
                "messages": [{"role": "user", "content": "Tell a long story."}],
                "system": "Be verbose.",
                "params": params,
            }
        )
        cancelled = False
        while True:
            frame = await client.reply(chat_id, timeout=240)
            if frame["type"] == "chat_token" and not cancelled:
                cancelled = True
                ack = await client.request({"type": "chat_cancel", "chat_id": chat_id})
                assert ack["type"] == "ack"
                # Frames of the chat that came while waiting for the ack were kept in client.frames.
                frame = next(
                    (kept for kept in client.frames if kept.get("id") == chat_id and kept["type"] == "chat_done"), frame
                )
            if frame["type"] == "chat_done":
                await client.connection.close()
                tokens = sum(1 for kept in client.frames if kept.get("id") == chat_id and kept["type"] == "chat_token")
                return tokens, frame
            elif frame["type"] != "chat_token":
                raise AssertionError(frame)

    tokens, done = asyncio.run(scenario())
    assert done["finish_reason"] == "cancelled", done
    assert 1 <= tokens < 2000


def test_a_dead_chat_worker_is_started_again_by_the_next_chat(server: ServerProcess) -> None:
    started = [json.loads(line) for line in server.stderr_text().splitlines() if '"chat worker started"' in line]
    assert started, "an earlier chat started the worker"
    os.kill(started[-1]["pid"], signal.SIGKILL)
    params = {
        "max_new_tokens": 4,
        "temperature": 0.0,
        "top_p": 1.0,
        "top_k": 0,
        "repetition_penalty": 1.0,
        "seed": 1,
        "stop": [],
    }

    async def scenario() -> dict[str, Any]:
        client = await connected(server)
        deadline = time.monotonic() + 30
        while '"chat worker exited"' not in server.stderr_text():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        request_id = await client.send(
            {
                "type": "chat",
                "base": "builtin:tiny-llama",
                "adapter_job_id": None,
                "messages": [{"role": "user", "content": "hi"}],
                "system": None,
                "params": params,
            }
        )
        while True:
            frame = await client.reply(request_id, timeout=240)
            if frame["type"] != "chat_token":
                await client.connection.close()
                return frame

    done = asyncio.run(scenario())
    assert done["type"] == "chat_done", done
    assert server.stderr_text().count('"chat worker started"') == len(started) + 1


def test_a_restarted_server_keeps_history_and_replays_everything(
    server: ServerProcess, finished_job: dict[str, Any]
) -> None:
    async def snapshot(running: ServerProcess) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
        client = await connected(running)
        listed = await client.list_jobs()
        replay = await client.watch_to_end(finished_job["job_id"], from_seq=0)
        await client.connection.close()
        return listed, replay

    listed_before, _ = asyncio.run(snapshot(server))
    assert server.stop() == 0
    with ServerProcess(server.state_dir) as restarted:
        listed_after, replay = asyncio.run(snapshot(restarted))
    assert listed_after == listed_before
    assert [frame["event"] for frame in replay] == [frame["event"] for frame in finished_job["frames"]]
    log_lines = (server.state_dir / "jobs" / finished_job["job_id"] / "events.jsonl").read_text().splitlines()
    assert [json.loads(line)["event"] for line in log_lines] == [frame["event"] for frame in replay]
