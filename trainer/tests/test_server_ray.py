"""The ray executor against a real Ray head on loopback (CPU only), shared by the module's tests.

Queueing behaviour is driven by the fake trainer of test_server_support (fast, deterministic events); one job
runs the real trainer on builtin:tiny-llama through Ray end to end.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ray_head import RayHead
from test_server_support import (
    ServerProcess,
    connected,
    event_seqs,
    fake_trainer_env,
    messages_dataset,
    tiny_config,
)

CPU_RESOURCES = "resources: {gpus: 0, cpus: 1}\n"


@pytest.fixture(scope="module")
def ray_head() -> Iterator[RayHead]:
    # Directly under the temporary folder, not pytest's deeper tmp_path: Ray puts its sockets at
    # <temp-dir>/session_<date>_<time>_<pid>/sockets/plasma_store, and a Unix socket's path is capped at
    # 107 bytes (under the test run's own TMPDIR, the tmp_path route came to 108).
    temp_dir = Path(tempfile.mkdtemp(prefix="ray-"))
    head = RayHead(temp_dir)
    head.start()
    try:
        yield head
    finally:
        head.stop()
        shutil.rmtree(temp_dir, ignore_errors=True)


def ray_server(state_dir: Path, head: RayHead, env: dict[str, str], *extra: str) -> ServerProcess:
    return ServerProcess(state_dir, "--executor", "ray", "--ray-address", head.address, *extra, env=env)


def trainer_events(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [frame["event"] for frame in frames if frame["event"]["type"] not in ("queued", "launched", "ended")]


def assert_one_clean_run(frames: list[dict[str, Any]], steps: int) -> None:
    assert event_seqs(frames) == list(range(len(frames))), "seqs from 0 without gaps or repeats"
    kinds = [frame["event"]["type"] for frame in frames]
    assert kinds[:3] == ["queued", "launched", "start"] and kinds[-2:] == ["done", "ended"], kinds
    assert [event["step"] for event in trainer_events(frames) if event["type"] == "log"] == list(range(1, steps + 1))
    assert frames[1]["event"]["executor"] == "ray" and frames[1]["event"]["submission_id"].startswith("modelfactory-")
    assert frames[-1]["event"]["state"] == "done", frames[-1]


def test_two_jobs_at_once_both_finish_overlapping_every_event_once(tmp_path: Path, ray_head: RayHead) -> None:
    steps = 30
    env = fake_trainer_env(tmp_path, steps, 0.1)

    async def scenario(server: ServerProcess) -> None:
        client = await connected(server)
        config = tiny_config() + CPU_RESOURCES
        jobs = [await client.submit_upload(config, messages_dataset(4)) for _ in range(2)]
        runs = await asyncio.gather(*[(await connected(server)).watch_to_end(job["job_id"], timeout=240) for job in jobs])
        for frames in runs:
            assert_one_clean_run(frames, steps)
            assert not frames[2]["event"]["token_in_env"], "the server's token must not reach a Ray job"
        spans = [(trainer_events(frames)[0]["time"], trainer_events(frames)[-1]["time"]) for frames in runs]
        assert spans[0][0] < spans[1][1] and spans[1][0] < spans[0][1], f"the two jobs did not overlap: {spans}"
        listed = await client.list_jobs()
        for job in jobs:
            placement = listed[job["job_id"]]["placement"]
            assert placement["executor"] == "ray" and placement["node"], placement
            assert placement["status"] == "SUCCEEDED", placement
            assert listed[job["job_id"]]["queue_position"] is None

    with ray_server(tmp_path / "state", ray_head, env) as server:
        asyncio.run(scenario(server))


def test_cancel_stops_the_ray_job_and_jobs_past_max_running_wait_in_the_queue(tmp_path: Path, ray_head: RayHead) -> None:
    env = fake_trainer_env(tmp_path, 600, 0.1)

    async def scenario(server: ServerProcess) -> None:
        client = await connected(server)
        job_id = (await client.submit_upload(tiny_config() + CPU_RESOURCES, messages_dataset(4)))["job_id"]
        waiting = (await client.submit_upload(tiny_config() + CPU_RESOURCES, messages_dataset(4)))["job_id"]
        listed = await client.list_jobs()
        assert listed[waiting]["state"] == "queued" and listed[waiting]["queue_position"] == 0, listed[waiting]
        dropped = await client.request({"type": "cancel", "job_id": waiting})
        assert dropped["state"] == "cancelled", dropped
        await client.send({"type": "watch", "job_id": job_id, "from_seq": 0})
        while True:  # wait until the trainer runs on the cluster
            frame = await client.recv(240)
            if frame["type"] == "event" and frame["event"]["type"] == "log":
                break
        ack = await client.request({"type": "cancel", "job_id": job_id})
        assert ack["type"] == "ack", ack
        frames = await (await connected(server)).watch_to_end(job_id, timeout=120)
        kinds = [frame["event"]["type"] for frame in frames]
        assert kinds[-2:] == ["cancelled", "ended"], kinds[-5:]
        assert frames[-1]["event"]["state"] == "cancelled" and frames[-1]["event"]["reason"] == "user-cancelled"
        assert event_seqs(frames) == list(range(len(frames)))
        listed = await client.list_jobs()
        assert listed[job_id]["placement"]["status"] == "STOPPED"

    with ray_server(tmp_path / "state", ray_head, env, "--max-running", "1") as server:
        asyncio.run(scenario(server))


def test_a_server_restart_while_a_job_runs_keeps_it(tmp_path: Path, ray_head: RayHead) -> None:
    steps = 120
    env = fake_trainer_env(tmp_path, steps, 0.1)
    state = tmp_path / "state"

    async def before(server: ServerProcess) -> str:
        client = await connected(server)
        job_id = str((await client.submit_upload(tiny_config() + CPU_RESOURCES, messages_dataset(4)))["job_id"])
        await client.send({"type": "watch", "job_id": job_id, "from_seq": 0})
        logs = 0
        while logs < 5:
            frame = await client.recv(240)
            if frame["type"] == "event" and frame["event"]["type"] == "log":
                logs += 1
        return job_id

    async def after(server: ServerProcess, job_id: str) -> None:
        client = await connected(server)
        listed = await client.list_jobs()
        # Running, or already done when this machine is quick: either way the ended event is this server's.
        assert listed[job_id]["state"] in ("running", "done"), listed[job_id]
        frames = await client.watch_to_end(job_id, timeout=240)
        assert_one_clean_run(frames, steps)

    with ray_server(state, ray_head, env) as server:
        job_id = asyncio.run(before(server))
    lines = (state / "jobs" / job_id / "events.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["event"]["type"] != "ended", "the shutdown must leave the Ray job running"
    with ray_server(state, ray_head, env) as server:
        asyncio.run(after(server, job_id))


def test_the_real_trainer_runs_through_ray(tmp_path: Path, ray_head: RayHead, tiny_model_dir: Path) -> None:
    async def scenario(server: ServerProcess) -> None:
        client = await connected(server)
        job_id = (await client.submit_upload(tiny_config(steps=2) + CPU_RESOURCES, messages_dataset(8)))["job_id"]
        frames = await client.watch_to_end(job_id, timeout=400)
        assert frames[-1]["event"]["state"] == "done", frames[-1]
        done = [frame["event"] for frame in frames if frame["event"]["type"] == "done"]
        assert len(done) == 1 and len(done[0]["sha256"]) == 64
        adapter = tmp_path / "state" / "jobs" / job_id / "output" / "adapter" / "adapter_model.safetensors"
        assert adapter.is_file()
        assert (tmp_path / "state" / "jobs" / job_id / "placement.json").is_file()

    with ray_server(tmp_path / "state", ray_head, {}) as server:
        asyncio.run(scenario(server))
