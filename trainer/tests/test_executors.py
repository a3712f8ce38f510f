"""The pieces of the executors that need no cluster: the Ray entrypoint's run file, the tail that reads it, and
the local executor's refusal of a job asking for more GPUs than the machine has."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from modelfactory_trainer.executors import RunFileTail, local_gpus
from test_server_support import FAKE_TRAINER, ServerProcess, connected, fake_trainer_env, messages_dataset, tiny_config


def test_the_ray_entrypoint_keeps_only_trainer_events_and_writes_its_placement(tmp_path: Path) -> None:
    folder = tmp_path / "job"
    folder.mkdir()
    (folder / "config.finetune.yaml").write_text("base_model: builtin:tiny-llama\n")
    script = tmp_path / "fake_trainer.py"
    script.write_text(FAKE_TRAINER)
    env = {
        **os.environ,
        "MODELFACTORY_TRAIN_ARGV": json.dumps([sys.executable, str(script), "3", "0", "0", "--fail"]),
        "MODELFACTORY_TOKEN": "must-not-reach-the-trainer",
        "CUDA_VISIBLE_DEVICES": "2,3",
    }
    completed = subprocess.run(
        [sys.executable, "-m", "modelfactory_trainer.ray_entry", str(folder), "events-run1.jsonl"],
        env=env, capture_output=True, timeout=60,
    )  # fmt: skip
    assert completed.returncode == 1, completed.stderr
    lines = (folder / "events-run1.jsonl").read_text().splitlines()
    kinds = [json.loads(line)["type"] for line in lines]
    assert kinds == ["start", "log", "log", "log", "error"], "the stray non-JSON line goes to trainer.log, not here"
    assert json.loads(lines[0])["token_in_env"] is False
    assert b"a stray line that is not JSON" in (folder / "trainer.log").read_bytes()
    placement = json.loads((folder / "placement.json").read_text())
    assert placement["gpus"] == ["2", "3"] and placement["node"]


def test_the_ray_entrypoint_refuses_a_folder_it_cannot_see(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "modelfactory_trainer.ray_entry", str(tmp_path / "absent"), "events-x.jsonl"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert completed.returncode == 2 and "is the state folder shared" in completed.stderr


def test_the_tail_reads_whole_lines_once_and_skips_what_was_logged_before(tmp_path: Path) -> None:
    run_file = tmp_path / "events-r.jsonl"
    events = [{"type": "log", "time": 1.0, "step": step} for step in range(1, 6)]
    text = "".join(json.dumps(event) + "\n" for event in events)
    run_file.write_text(text[: len(text) - 10])  # the last line still being written
    tail = RunFileTail(run_file, skip=2)
    assert [event["step"] for event in tail.read()] == [3, 4]
    assert tail.read() == []
    with open(run_file, "a") as handle:
        handle.write(text[len(text) - 10 :])
    assert [event["step"] for event in tail.read()] == [5]
    assert RunFileTail(tmp_path / "not-yet.jsonl", skip=0).read() == []


def test_a_local_job_asking_for_more_gpus_than_the_machine_has_fails_with_resources(tmp_path: Path) -> None:
    env = fake_trainer_env(tmp_path, 3, 0.0)
    wanted = len(local_gpus()) + 2  # above 1: the torchrun path would be next

    async def scenario(server: ServerProcess) -> None:
        client = await connected(server)
        job = await client.submit_upload(tiny_config() + f"resources: {{gpus: {wanted}}}\n", messages_dataset(4))
        frames = await client.watch_to_end(job["job_id"])
        ended = frames[-1]["event"]
        assert ended["state"] == "failed" and ended["reason"] == "resources", ended
        assert f"asks for {wanted} GPUs" in ended["message"]
        refused = await client.request(
            {"type": "submit", "config_yaml": tiny_config() + "resources: {gpus: -1}\n", "dataset": {"path": "/x"}}
        )
        assert refused["type"] == "error"

    with ServerProcess(tmp_path / "state", env=env) as server:
        asyncio.run(scenario(server))


def test_a_local_job_asking_for_two_gpus_runs_under_torchrun(tmp_path: Path, tiny_model_dir: Path) -> None:
    """Two visible devices named by CUDA_VISIBLE_DEVICES: on this CPU machine torch sees no CUDA, so the two
    torchrun processes train on CPU (gloo), which is the launch path a two-GPU machine takes."""
    env = {"CUDA_VISIBLE_DEVICES": "0,1", "OMP_NUM_THREADS": "1"}

    async def scenario(server: ServerProcess) -> None:
        client = await connected(server)
        config = tiny_config(steps=2) + "resources: {gpus: 2}\n"
        job = await client.submit_upload(config, messages_dataset(8))
        frames = await client.watch_to_end(job["job_id"], timeout=300)
        kinds = [frame["event"]["type"] for frame in frames]
        assert frames[-1]["event"]["state"] == "done", frames[-1]
        assert kinds.count("start") == 1, "only rank 0 speaks"
        launched = frames[1]["event"]
        assert launched["processes"] == 2 and launched["gpus"] == ["0", "1"], launched
        log = (server.state_dir / "jobs" / job["job_id"] / "trainer.log").read_text(errors="replace")
        assert log.count("Loading weights: 100%") == 2, "two trainer processes each load the model once"
        placement = (await client.list_jobs())[job["job_id"]]["placement"]
        assert placement == {"executor": "local", "node": placement["node"], "gpus": ["0", "1"], "processes": 2}

    with ServerProcess(tmp_path / "state", env=env) as server:
        asyncio.run(scenario(server))
