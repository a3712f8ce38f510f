"""Resuming a cancelled or failed job: same job id, the log goes on, the trainer continues from its checkpoint.

The first test runs the real trainer on builtin:tiny-llama; the second drives queueing and restarts with the fake
trainer of test_server_support (fast and deterministic).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from modelfactory_trainer.protocol import ProtocolError, parse_client_frame
from test_server_support import (
    Client,
    ServerProcess,
    connected,
    event_seqs,
    fake_trainer_env,
    messages_dataset,
    tiny_config,
)


async def read_events(client: Client, job_id: str, ends: int = 1, timeout: float = 240) -> list[dict[str, Any]]:
    """Event frames of job_id up to and including its ends-th `ended` (a resumed job has one per run)."""
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        frame = await client.recv(max(deadline - time.monotonic(), 0.01))
        if frame["type"] == "event" and frame["job_id"] == job_id:
            events.append(frame)
            if frame["event"]["type"] == "ended":
                ends -= 1
                if ends == 0:
                    return events


async def request_keeping_events(
    client: Client, frame: dict[str, Any], job_id: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The reply to frame, and the events of job_id that arrived before it (a live watcher sees `queued` first)."""
    mark = len(client.frames)
    reply = await client.request(frame)
    early = [kept for kept in client.frames[mark:] if kept["type"] == "event" and kept["job_id"] == job_id]
    return reply, early


async def wait_for_event(client: Client, job_id: str, kind: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        frame = await client.recv(max(deadline - time.monotonic(), 0.01))
        if frame["type"] == "event" and frame["job_id"] == job_id and frame["event"]["type"] == kind:
            return


def kinds(frames: list[dict[str, Any]]) -> list[str]:
    return [frame["event"]["type"] for frame in frames]


def log_file_events(state_dir: Path, job_id: str) -> list[dict[str, Any]]:
    lines = (state_dir / "jobs" / job_id / "events.jsonl").read_text().splitlines()
    return [json.loads(line)["event"] for line in lines]


def test_a_cancelled_real_job_resumes_from_its_newest_checkpoint_to_done(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    async def scenario(server: ServerProcess) -> dict[str, Any]:
        watcher = await connected(server)
        job = await watcher.submit_upload(tiny_config(steps=200, save_steps=10), messages_dataset(24))
        job_id = job["job_id"]
        await watcher.send({"type": "watch", "job_id": job_id, "from_seq": 0})
        first_run: list[dict[str, Any]] = []
        while not first_run or first_run[-1]["event"]["type"] != "checkpoint":
            frame = await watcher.recv(240)
            if frame["type"] == "event":
                first_run.append(frame)
        cancel, early = await request_keeping_events(watcher, {"type": "cancel", "job_id": job_id}, job_id)
        assert cancel["type"] == "ack"
        first_run += early
        if first_run[-1]["event"]["type"] != "ended":
            first_run += await read_events(watcher, job_id, timeout=60)
        summary_before = (await watcher.list_jobs())[job_id]

        # A second client that saw the first run end watches again from the next seq, before the resume.
        rewatcher = await connected(server)
        watching = await rewatcher.request({"type": "watch", "job_id": job_id, "from_seq": len(first_run)})
        assert watching["type"] == "watching"

        resume = {"type": "resume", "id": "resume-1", "job_id": job_id}
        ack, early = await request_keeping_events(watcher, resume, job_id)
        # Both are read at once: a client whose receive queue is full stops reading, pongs included.
        rest, rewatched = await asyncio.gather(read_events(watcher, job_id), read_events(rewatcher, job_id))
        second_run = early + rest

        replayer = await connected(server)
        await replayer.send({"type": "watch", "job_id": job_id, "from_seq": 0})
        replay = await read_events(replayer, job_id, ends=2)
        summary_after = (await replayer.list_jobs())[job_id]
        again = await replayer.request({"type": "resume", "job_id": job_id})
        unknown = await replayer.request({"type": "resume", "job_id": "20990101-000000-deadbeef"})
        malformed = await replayer.request({"type": "resume", "id": "bad-1", "job_id": "../escape"})
        for client in (watcher, rewatcher, replayer):
            await client.connection.close()
        return {
            "job_id": job_id,
            "first_run": first_run,
            "ack": ack,
            "second_run": second_run,
            "rewatched": rewatched,
            "replay": replay,
            "summary_before": summary_before,
            "summary_after": summary_after,
            "again": again,
            "unknown": unknown,
            "malformed": malformed,
        }

    with ServerProcess(tmp_path / "state", "--cancel-grace", "20") as server:
        result = asyncio.run(scenario(server))
        server_log = server.stderr_text()
    first_run, second_run = result["first_run"], result["second_run"]

    ended = first_run[-1]["event"]
    assert (ended["state"], ended["reason"]) == ("cancelled", "user-cancelled")
    assert result["summary_before"]["state"] == "cancelled"
    assert (result["ack"]["type"], result["ack"]["job_id"], result["ack"]["state"]) == (
        "ack",
        result["job_id"],
        "queued",
    )

    assert kinds(second_run)[:3] == ["queued", "launched", "start"]
    assert kinds(second_run)[-2:] == ["done", "ended"]
    assert second_run[0]["event"]["resumed"] is True
    assert second_run[-1]["event"]["state"] == "done" and second_run[-1]["event"]["exit_code"] == 0
    newest_checkpoint = [frame["event"] for frame in first_run if frame["event"]["type"] == "checkpoint"][-1]
    start = second_run[2]["event"]
    assert start["resumed_from"] is not None
    assert Path(start["resumed_from"]).name == f"checkpoint-{newest_checkpoint['step']}"
    first_resumed_log = next(frame["event"] for frame in second_run if frame["event"]["type"] == "log")
    assert first_resumed_log["step"] > newest_checkpoint["step"], "training continued instead of restarting"
    assert f'"job launched", "job_id": "{result["job_id"]}"' in server_log and '"resume": true' in server_log

    whole = first_run + second_run
    assert event_seqs(whole) == list(range(len(whole))), "seqs run on without a gap or a repeat across the resume"
    assert result["rewatched"] == second_run, "a watcher from last seq + 1 gets exactly the continued events"
    assert result["replay"] == whole, "a replay from 0 after the resume equals the live stream"

    summary_after = result["summary_after"]
    assert (summary_after["state"], summary_after["reason"]) == ("done", None)
    assert summary_after["last_seq"] == len(whole) - 1
    assert summary_after["created"] == result["summary_before"]["created"]

    assert (result["again"]["type"], result["again"]["code"]) == ("error", "job-not-resumable")
    assert (result["unknown"]["type"], result["unknown"]["code"]) == ("error", "unknown-job")
    assert (result["malformed"]["type"], result["malformed"]["code"], result["malformed"]["id"]) == (
        "error",
        "bad-message",
        "bad-1",
    )
    assert [frame["event"] for frame in whole] == log_file_events(tmp_path / "state", result["job_id"])


def test_a_resumed_job_queues_behind_a_running_one_and_survives_a_server_restart(tmp_path: Path) -> None:
    env = fake_trainer_env(tmp_path, 80, 0.03)
    state_dir = tmp_path / "state"

    async def before_restart(server: ServerProcess) -> tuple[str, str, dict[str, Any]]:
        client = await connected(server)
        first = (await client.submit_upload(tiny_config(), messages_dataset(4)))["job_id"]
        await client.send({"type": "watch", "job_id": first, "from_seq": 0})
        await wait_for_event(client, first, "start")
        running = await client.request({"type": "resume", "job_id": first})
        assert (running["type"], running["code"]) == ("error", "job-not-resumable")
        await client.request({"type": "cancel", "job_id": first})
        await read_events(client, first, timeout=60)

        second = (await client.submit_upload(tiny_config(), messages_dataset(4)))["job_id"]
        await client.send({"type": "watch", "job_id": second, "from_seq": 0})
        await wait_for_event(client, second, "launched")
        resumed = await client.request({"type": "resume", "job_id": first})
        queued_twice = await client.request({"type": "resume", "job_id": first})
        listed = await client.list_jobs()
        await client.connection.close()
        assert (resumed["type"], resumed["state"]) == ("ack", "queued")
        assert (queued_twice["type"], queued_twice["code"]) == ("error", "job-not-resumable")
        assert (listed[first]["state"], listed[second]["state"]) == ("queued", "running")
        return first, second, listed[first]

    async def after_restart(server: ServerProcess, first: str, second: str) -> dict[str, list[dict[str, Any]]]:
        client = await connected(server)
        await client.send({"type": "watch", "job_id": first, "from_seq": 0})
        first_events = await read_events(client, first, ends=2, timeout=60)
        shutdown_ended = log_file_events(state_dir, second)[-1]
        assert (shutdown_ended["state"], shutdown_ended["reason"]) == ("cancelled", "server-shutdown")
        resumed, _ = await request_keeping_events(client, {"type": "resume", "job_id": second}, second)
        assert (resumed["type"], resumed["state"]) == ("ack", "queued")
        await client.send({"type": "watch", "job_id": second, "from_seq": 0})
        second_events = await read_events(client, second, ends=2, timeout=60)
        await client.connection.close()
        return {"first": first_events, "second": second_events}

    with ServerProcess(state_dir, env=env) as server:
        first, second, queued_summary = asyncio.run(before_restart(server))
    with ServerProcess(state_dir, env=env) as restarted:
        runs = asyncio.run(after_restart(restarted, first, second))
        restarted_log = restarted.stderr_text()

    for job_id, events in ((first, runs["first"]), (second, runs["second"])):
        assert event_seqs(events) == list(range(len(events)))
        resumed_at = kinds(events).index("queued", 1)
        assert events[resumed_at]["event"]["resumed"] is True
        assert kinds(events)[resumed_at : resumed_at + 3] == ["queued", "launched", "start"]
        assert kinds(events)[-2:] == ["done", "ended"] and events[-1]["event"]["state"] == "done"
        launched = [json.loads(line) for line in restarted_log.splitlines() if '"job launched"' in line]
        assert any(record["job_id"] == job_id and record["resume"] is True for record in launched)
    assert queued_summary["created"] == runs["first"][0]["event"]["time"], "a resume keeps the job's creation time"


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "resume", "id": "x"},
        {"type": "resume", "id": "x", "job_id": ""},
        {"type": "resume", "id": "x", "job_id": "a/../b"},
        {"type": "resume", "id": "x", "job_id": 7},
        {"type": "resume", "id": "x", "job_id": "j1", "from_seq": 0},
    ],
)
def test_a_malformed_resume_frame_is_refused_by_the_schema(frame: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError) as refused:
        parse_client_frame(json.dumps(frame))
    assert (refused.value.code, refused.value.request_id) == ("bad-message", "x")


def test_a_well_formed_resume_frame_parses() -> None:
    request = parse_client_frame('{"type": "resume", "id": "r1", "job_id": "20260101-000000-abcd"}')
    assert (request.type, request.id, request.body) == ("resume", "r1", {"job_id": "20260101-000000-abcd"})
