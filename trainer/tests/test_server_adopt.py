"""A local job outlives its server: after `kill -9` of `serve`, the trainer goes on, and the next server adopts it.

The first test runs the real trainer on builtin:tiny-llama through two real `serve` processes on one state folder,
with a client that watches across the restart; the others use the fake trainer of test_server_support (fast, and
its log steps count 1, 2, 3... so a lost or repeated event shows).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from test_server_support import (
    Client,
    ServerProcess,
    connected,
    disk_records,
    event_seqs,
    fake_trainer_env,
    messages_dataset,
    process_running,
    tiny_config,
    wait_until_gone,
)


def disk_events(state_dir: Path, job_id: str) -> list[dict[str, Any]]:
    return [record["event"] for record in disk_records(state_dir, job_id)]


def launched_pid(state_dir: Path, job_id: str) -> int:
    return int(next(event for event in disk_events(state_dir, job_id) if event["type"] == "launched")["pid"])


async def events_until(client: Client, job_id: str, done: Any, timeout: float = 240) -> list[dict[str, Any]]:
    """Event frames of job_id until done(frames) holds."""
    frames: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while not frames or not done(frames):
        frame = await client.recv(max(deadline - time.monotonic(), 0.01))
        if frame["type"] == "event" and frame["job_id"] == job_id:
            frames.append(frame)
    return frames


def kill_hard(server: ServerProcess) -> None:
    assert server.process is not None
    server.process.kill()
    server.process.wait(30)
    server.stop()


def assert_steps_once_in_order(events: list[dict[str, Any]]) -> list[int]:
    steps = [int(event["step"]) for event in events if event["type"] == "log"]
    assert steps == sorted(set(steps)), f"a log event lost its order or came twice: {steps}"
    return steps


def test_a_real_job_survives_kill_9_of_its_server_and_a_watcher_follows_it_across(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    state_dir = tmp_path / "state"
    first = ServerProcess(state_dir).start()

    async def before() -> tuple[str, list[dict[str, Any]], int]:
        client = await connected(first)
        # The chat worker is a child too: it must not outlive the server either.
        chat_id = await client.send(
            {
                "type": "chat",
                "base": "builtin:tiny-llama",
                "adapter_job_id": None,
                "messages": [{"role": "user", "content": "hi"}],
                "system": None,
                "params": {"max_new_tokens": 2, "temperature": 0.0, "top_p": 1.0, "top_k": 0,
                           "repetition_penalty": 1.0, "seed": 1, "stop": []},
            }
        )  # fmt: skip
        while (await client.reply(chat_id, timeout=240))["type"] == "chat_token":
            pass
        job_id = (await client.submit_upload(tiny_config(steps=400), messages_dataset(24)))["job_id"]
        await client.send({"type": "watch", "job_id": job_id, "from_seq": 0})
        seen = await events_until(
            client, job_id, lambda frames: frames[-1]["event"]["type"] == "log" and frames[-1]["event"]["step"] >= 3
        )
        chat_pid = next(
            json.loads(line)["pid"] for line in first.stderr_text().splitlines() if '"chat worker started"' in line
        )
        return job_id, seen, int(chat_pid)

    trainer_pid = 0
    try:
        job_id, seen, chat_pid = asyncio.run(before())
        trainer_pid = launched_pid(state_dir, job_id)
        kill_hard(first)
        wait_until_gone(chat_pid, 60)  # its stdin closed with the server: it finishes and leaves
        time.sleep(1.0)  # the trainer goes on meanwhile, into its run file only
        assert process_running(trainer_pid), "the trainer outlives a server killed with SIGKILL"

        with ServerProcess(state_dir) as second:

            async def after() -> tuple[list[dict[str, Any]], dict[str, Any], list[dict[str, Any]]]:
                client = await connected(second)
                # The watcher picks up where it stopped, as a client does after it reconnects.
                rest = await client.watch_to_end(job_id, from_seq=seen[-1]["seq"] + 1, timeout=600)
                listed = (await client.list_jobs())[job_id]
                replay = await client.watch_to_end(job_id, from_seq=0)
                await client.connection.close()
                return rest, listed, replay

            rest, listed, replay = asyncio.run(after())
            second_log = second.stderr_text()
    finally:
        kill_hard(first)
        if trainer_pid:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(trainer_pid, signal.SIGKILL)

    assert '"job adopted"' in second_log, "the trainer was still running when the second server started"
    whole = seen + rest
    assert event_seqs(whole) == list(range(len(whole))), "no seq lost or repeated across the restart"
    events = [frame["event"] for frame in whole]
    assert [frame["event"] for frame in replay] == events == disk_events(state_dir, job_id)
    kinds = [event["type"] for event in events]
    assert kinds.count("launched") == 1 and kinds.count("start") == 1 and kinds.count("done") == 1
    assert kinds[-2:] == ["done", "ended"]
    assert (events[-1]["state"], events[-1]["reason"], events[-1]["exit_code"]) == ("done", None, 0)
    assert assert_steps_once_in_order(events)[-1] == 400
    assert (listed["state"], listed["last_seq"]) == ("done", len(whole) - 1)
    assert not process_running(trainer_pid)


def test_an_adopted_job_can_be_cancelled_and_its_whole_process_group_stops(tmp_path: Path) -> None:
    env = fake_trainer_env(tmp_path, 100_000, 0.01)
    state_dir = tmp_path / "state"
    first = ServerProcess(state_dir, "--cancel-grace", "5", env=env).start()

    async def submit() -> tuple[str, int]:
        client = await connected(first)
        job_id = (await client.submit_upload(tiny_config(), messages_dataset(4)))["job_id"]
        await client.send({"type": "watch", "job_id": job_id, "from_seq": 0})
        seen = await events_until(client, job_id, lambda frames: frames[-1]["event"]["type"] == "log")
        return job_id, len(seen)

    async def cancel(server: ServerProcess, job_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        client = await connected(server)
        listed = (await client.list_jobs())[job_id]
        assert listed["state"] == "running"
        await client.send({"type": "watch", "job_id": job_id, "from_seq": 0})
        await events_until(client, job_id, lambda frames: len(frames) > listed["last_seq"] + 3)
        ack = await client.request({"type": "cancel", "job_id": job_id})
        await client.connection.close()
        replayer = await connected(server)
        ended = await replayer.watch_to_end(job_id, from_seq=0, timeout=60)
        await replayer.connection.close()
        return ack, ended

    trainer_pid = 0
    try:
        job_id, _ = asyncio.run(submit())
        trainer_pid = launched_pid(state_dir, job_id)
        kill_hard(first)
        time.sleep(0.5)
        with ServerProcess(state_dir, "--cancel-grace", "5", env=env) as second:
            ack, frames = asyncio.run(cancel(second, job_id))
        wait_until_gone(trainer_pid, 30)
    finally:
        kill_hard(first)
        if trainer_pid:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(trainer_pid, signal.SIGKILL)
    assert ack["type"] == "ack"
    ended = frames[-1]["event"]
    assert (ended["state"], ended["reason"], ended["exit_code"]) == ("cancelled", "user-cancelled", 130)
    events = disk_events(state_dir, job_id)
    assert [frame["event"] for frame in frames] == events
    steps = assert_steps_once_in_order(events)
    assert steps == list(range(1, len(steps) + 1)), "every step the trainer logged is logged once, none skipped"
    assert events[-2]["type"] == "cancelled"


def test_a_run_that_finished_while_no_server_ran_is_read_to_its_end(tmp_path: Path) -> None:
    env = fake_trainer_env(tmp_path, 300, 0.01)
    state_dir = tmp_path / "state"
    first = ServerProcess(state_dir, env=env).start()

    async def submit() -> str:
        client = await connected(first)
        job_id = (await client.submit_upload(tiny_config(), messages_dataset(4)))["job_id"]
        await client.send({"type": "watch", "job_id": job_id, "from_seq": 0})
        await events_until(client, job_id, lambda frames: frames[-1]["event"]["type"] == "log")
        return job_id

    try:
        job_id = asyncio.run(submit())
        trainer_pid = launched_pid(state_dir, job_id)
        kill_hard(first)
        wait_until_gone(trainer_pid, 60)  # the run ends while no server runs

        async def replay(server: ServerProcess) -> list[dict[str, Any]]:
            client = await connected(server)
            frames = await client.watch_to_end(job_id, from_seq=0)
            await client.connection.close()
            return frames

        with ServerProcess(state_dir, env=env) as second:
            frames = asyncio.run(replay(second))
            second_log = second.stderr_text()
    finally:
        kill_hard(first)
    assert '"job ended while no server ran"' in second_log
    events = [frame["event"] for frame in frames]
    assert events == disk_events(state_dir, job_id)
    assert assert_steps_once_in_order(events) == list(range(1, 301))
    assert (events[-1]["state"], events[-1]["exit_code"]) == ("done", 0)
