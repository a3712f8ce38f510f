"""The visible queue: queue positions, placement, move_job and cancel of queued jobs (local executor, fake trainer)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from test_server_support import ServerProcess, connected, fake_trainer_env, messages_dataset, tiny_config


def test_queued_jobs_show_positions_and_run_in_the_order_they_were_moved_to(tmp_path: Path) -> None:
    env = fake_trainer_env(tmp_path, 40, 0.05)

    async def scenario(server: ServerProcess) -> None:
        client = await connected(server)
        first, second, third, fourth = [
            (await client.submit_upload(tiny_config(), messages_dataset(4)))["job_id"] for _ in range(4)
        ]
        listed = await client.list_jobs()
        assert listed[first]["state"] in ("queued", "running")
        assert [listed[job]["queue_position"] for job in (second, third, fourth)] == [0, 1, 2]

        ack = await client.request({"type": "move_job", "job_id": fourth, "position": 0})
        assert ack == {"type": "ack", "id": ack["id"], "job_id": fourth, "state": "queued"}
        await client.request({"type": "move_job", "job_id": second, "position": 99})  # past the end: last
        listed = await client.list_jobs()
        assert [listed[job]["queue_position"] for job in (fourth, third, second)] == [0, 1, 2]

        cancelled = await client.request({"type": "cancel", "job_id": third})
        assert cancelled["state"] == "cancelled"
        listed = await client.list_jobs()
        assert listed[third]["queue_position"] is None
        assert [listed[job]["queue_position"] for job in (fourth, second)] == [0, 1]

        refused = await client.request({"type": "move_job", "job_id": third, "position": 0})
        assert refused["type"] == "error" and refused["code"] == "job-not-queued", refused
        bad = await client.request({"type": "move_job", "job_id": fourth, "position": -1})
        assert bad["type"] == "error" and bad["code"] == "bad-message", bad

        runs = {job: await client.watch_to_end(job, timeout=120) for job in (first, fourth, second)}
        launch = {job: next(f["event"]["time"] for f in frames if f["event"]["type"] == "launched") for job, frames in runs.items()}
        assert launch[first] < launch[fourth] < launch[second], "the moved job must start before the one it passed"
        placement = (await client.list_jobs())[first]["placement"]
        assert placement["executor"] == "local" and placement["node"] and placement["processes"] == 1, placement

    with ServerProcess(tmp_path / "state", env=env) as server:
        asyncio.run(scenario(server))
