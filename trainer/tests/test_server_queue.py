"""Queueing, ordering and resilience of the job server, driven by a fake trainer (fast and deterministic).

The fake trainer is a script that prints events as `train` would; the real trainer runs in test_server_jobs.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from test_server_support import (
    Client,
    RawWebSocket,
    ServerProcess,
    connected,
    disk_records,
    event_seqs,
    fake_trainer_env,
    messages_dataset,
    open_client,
    tiny_config,
    wait_until_gone,
)


def test_jobs_run_one_at_a_time_in_submission_order(tmp_path: Path) -> None:
    env = fake_trainer_env(tmp_path, 5, 0.02)

    async def scenario(server: ServerProcess) -> None:
        client = await connected(server)
        jobs = [await client.submit_upload(tiny_config(), messages_dataset(4)) for _ in range(3)]
        ended = [await client.watch_to_end(job["job_id"]) for job in jobs]
        for earlier, later in zip(ended, ended[1:], strict=False):
            earlier_end = earlier[-1]["event"]["time"]
            later_launch = next(frame["event"]["time"] for frame in later if frame["event"]["type"] == "launched")
            assert later_launch >= earlier_end
        for frames in ended:
            kinds = [frame["event"]["type"] for frame in frames]
            assert kinds[:3] == ["queued", "launched", "start"] and kinds[-2:] == ["done", "ended"]
            assert kinds.count("log") == 5, "the stray non-JSON line must be skipped, every event kept"
            assert frames[2]["event"]["token_in_env"] is False, "the server's token must not reach the trainer"
            assert frames[-1]["event"]["state"] == "done"
        listed = await client.list_jobs()
        assert [listed[job["job_id"]]["state"] for job in jobs] == ["done"] * 3
        await client.connection.close()

    with ServerProcess(tmp_path / "state", env=env) as server:
        asyncio.run(scenario(server))


def test_100_random_disconnects_during_a_live_job_lose_and_repeat_nothing(tmp_path: Path) -> None:
    env = fake_trainer_env(tmp_path, 800, 0.012)
    rng = random.Random(1234)

    async def scenario(server: ServerProcess) -> None:
        submitter = await connected(server)
        job_id = (await submitter.submit_upload(tiny_config(), messages_dataset(4)))["job_id"]
        received: list[dict[str, Any]] = []
        disconnects = 0
        started = time.monotonic()
        while not received or received[-1]["event"]["type"] != "ended":
            # max_queue=None: this client closes with replayed frames still unread. With the library's default
            # flow control it stops reading once 16 frames wait, never sees the server's close frame and sits
            # out its 10 s close timeout; on a loaded machine the replay backlog grows past 16 on most
            # reconnects and the run takes minutes. The server's side of the close is what is under test.
            connection = await open_client(server, max_queue=None)
            client = Client(connection)
            await client.send({"type": "watch", "job_id": job_id, "from_seq": len(received)})
            budget = rng.randint(0, 6) if disconnects < 100 else 10**9
            try:
                while budget > 0:
                    frame = await client.recv(30)
                    if frame["type"] != "event":
                        continue
                    received.append(frame)
                    budget -= 1
                    if frame["event"]["type"] == "ended":
                        break
                if rng.random() < 0.3:
                    await asyncio.sleep(rng.random() * 0.02)
            finally:
                if rng.random() < 0.5:
                    connection.transport.abort()
                else:
                    await connection.close()
            disconnects += 1
        seqs = event_seqs(received)
        assert seqs == list(range(len(seqs))), "lost, duplicated or reordered events"
        assert disconnects >= 100
        assert time.monotonic() - started < 60
        listed = await submitter.list_jobs()
        assert received[-1]["event"]["state"] == listed[job_id]["state"] == "done"
        assert listed[job_id]["last_seq"] == seqs[-1]
        on_disk = disk_records(server.state_dir, job_id)
        assert [record["event"] for record in on_disk] == [frame["event"] for frame in received]
        await submitter.connection.close()

    with ServerProcess(tmp_path / "state", env=env) as server:
        asyncio.run(scenario(server))


def test_a_slow_consumer_is_closed_with_1008_and_others_are_served(tmp_path: Path) -> None:
    env = fake_trainer_env(tmp_path, 400, 0.0, 30_000)

    async def scenario(server: ServerProcess) -> None:
        submitter = await connected(server)
        job_id = (await submitter.submit_upload(tiny_config(), messages_dataset(4)))["job_id"]
        # A peer that stops reading, with a small receive buffer (loopback autotuning would absorb 32 MiB here).
        slow = RawWebSocket(server.port, receive_buffer=32 * 1024)
        assert slow.status_line.startswith("HTTP/1.1 101")
        slow.send_text(json.dumps({"type": "watch", "id": "w", "job_id": job_id, "from_seq": 0}))
        deadline = time.monotonic() + 60
        while "slow consumer disconnected" not in server.stderr_text():
            assert time.monotonic() < deadline, "the slow consumer was never cut off"
            await asyncio.sleep(0.1)
        opcodes, close_code = await asyncio.to_thread(slow.read_until_close)
        slow.close()
        assert close_code == 1008
        assert 0 < opcodes.count(0x1) < 406, "the slow consumer got part of the stream, then the close"
        frames = await submitter.watch_to_end(job_id)
        assert frames[-1]["event"]["state"] == "done"
        await submitter.connection.close()

    with ServerProcess(tmp_path / "state", "--client-buffer-bytes", str(1 << 20), env=env) as server:
        asyncio.run(scenario(server))
        assert server.alive()


def test_cancel_queued_and_running_jobs_and_kill_after_the_grace_period(tmp_path: Path) -> None:
    env = fake_trainer_env(tmp_path, 10_000, 0.01, 0, "--ignore-term")

    async def scenario(server: ServerProcess) -> None:
        client = await connected(server)
        running = await client.submit_upload(tiny_config(), messages_dataset(4))
        queued = await client.submit_upload(tiny_config(), messages_dataset(4))
        ack = await client.request({"type": "cancel", "job_id": queued["job_id"]})
        assert ack["type"] == "ack" and ack["state"] == "cancelled"
        await client.send({"type": "watch", "job_id": running["job_id"], "from_seq": 0})
        while True:
            frame = await client.recv(30)
            if frame["type"] == "event" and frame["event"]["type"] == "log":
                break
        cancelled_at = time.monotonic()
        await client.request({"type": "cancel", "job_id": running["job_id"]})
        while not (frame["type"] == "event" and frame["event"]["type"] == "ended"):
            frame = await client.recv(30)
        assert frame["event"]["state"] == "cancelled"
        assert frame["event"]["reason"] == "killed-after-grace"
        assert frame["event"]["exit_code"] == -signal.SIGKILL
        assert 0.9 < time.monotonic() - cancelled_at < 10
        listed = await client.list_jobs()
        assert listed[queued["job_id"]]["state"] == "cancelled"
        assert listed[queued["job_id"]]["reason"] == "user-cancelled"
        kinds = [record["event"]["type"] for record in disk_records(server.state_dir, queued["job_id"])]
        assert kinds == ["queued", "ended"], "a cancelled queued job never starts"
        await client.connection.close()

    with ServerProcess(tmp_path / "state", "--cancel-grace", "1", env=env) as server:
        asyncio.run(scenario(server))


@pytest.mark.parametrize(("flag", "reason"), [("--fail", "dataset"), ("--oom", "oom")])
def test_a_failing_trainer_ends_failed_with_its_reason_and_the_server_stays_up(
    tmp_path: Path, flag: str, reason: str
) -> None:
    env = fake_trainer_env(tmp_path, 2, 0.0, 0, flag)

    async def scenario(server: ServerProcess) -> None:
        client = await connected(server)
        job = await client.submit_upload(tiny_config(), messages_dataset(4))
        frames = await client.watch_to_end(job["job_id"])
        ended = frames[-1]["event"]
        assert (ended["state"], ended["reason"], ended["exit_code"]) == ("failed", reason, 1)
        download = await client.request({"type": "download_adapter", "job_id": job["job_id"]})
        assert download["type"] == "error" and download["code"] == "job-not-done"
        assert (await client.request({"type": "list_jobs"}))["type"] == "job_list"
        await client.connection.close()

    with ServerProcess(tmp_path / "state", env=env) as server:
        asyncio.run(scenario(server))
        assert server.alive()


def test_a_restart_keeps_history_fails_a_job_whose_trainer_died_meanwhile_and_runs_the_queued_one(
    tmp_path: Path,
) -> None:
    state_dir = tmp_path / "state"
    slow_env = fake_trainer_env(tmp_path, 10_000, 0.01)
    first = ServerProcess(state_dir, env=slow_env).start()

    async def before_crash() -> tuple[str, str]:
        client = await connected(first)
        running = await client.submit_upload(tiny_config(), messages_dataset(4))
        queued = await client.submit_upload(tiny_config(), messages_dataset(4))
        await client.send({"type": "watch", "job_id": running["job_id"], "from_seq": 0})
        logs = 0
        while logs < 3:
            frame = await client.recv(30)
            logs += frame["type"] == "event" and frame["event"]["type"] == "log"
        await client.connection.close()
        return running["job_id"], queued["job_id"]

    running_id, queued_id = asyncio.run(before_crash())
    assert first.process is not None
    first.process.send_signal(signal.SIGKILL)
    first.stop()
    # The trainer outlives the server (it runs detached); here it dies too before a server follows it again.
    launched = next(record["event"] for record in disk_records(state_dir, running_id) if record["event"]["type"] == "launched")
    os.killpg(int(launched["pid"]), signal.SIGKILL)
    wait_until_gone(int(launched["pid"]))
    log_path = state_dir / "jobs" / running_id / "events.jsonl"
    before = disk_records(state_dir, running_id)
    with open(log_path, "ab") as handle:
        handle.write(b'{"seq": 99999, "event": {"type": "log", "ti')

    async def after_restart(server: ServerProcess) -> None:
        client = await connected(server)
        listed = await client.list_jobs()
        assert listed[running_id]["state"] == "failed"
        assert listed[running_id]["reason"] == "trainer-lost"
        replay = await client.watch_to_end(running_id, from_seq=0)
        # What the trainer wrote to its run file after the server died is logged too, before the end.
        assert [frame["event"] for frame in replay[: len(before)]] == [record["event"] for record in before]
        assert {frame["event"]["type"] for frame in replay[len(before) : -1]} <= {"log"}
        assert "no job server was following it" in replay[-1]["event"]["message"]
        assert event_seqs(replay) == list(range(len(replay)))
        queued_frames = await client.watch_to_end(queued_id, from_seq=0)
        assert queued_frames[-1]["event"]["state"] == "done"
        await client.connection.close()

    with ServerProcess(state_dir, env=fake_trainer_env(tmp_path, 3, 0.0)) as second:
        asyncio.run(after_restart(second))


def test_sigint_stops_the_running_job_and_the_server_cleanly(tmp_path: Path) -> None:
    env = fake_trainer_env(tmp_path, 10_000, 0.01)
    server = ServerProcess(tmp_path / "state", env=env).start()

    async def submit_and_wait_for_a_log() -> str:
        client = await connected(server)
        job_id = (await client.submit_upload(tiny_config(), messages_dataset(4)))["job_id"]
        await client.send({"type": "watch", "job_id": job_id, "from_seq": 0})
        while True:
            frame = await client.recv(30)
            if frame["type"] == "event" and frame["event"]["type"] == "log":
                break
        await client.connection.close()
        return str(job_id)

    job_id = asyncio.run(submit_and_wait_for_a_log())
    assert server.process is not None
    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(30) == 0
    server.stop()
    ended = disk_records(server.state_dir, job_id)[-1]["event"]
    assert (ended["type"], ended["state"], ended["reason"], ended["exit_code"]) == (
        "ended",
        "cancelled",
        "server-shutdown",
        130,
    )
