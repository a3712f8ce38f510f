"""The job server with `--allow-download`: a job on a Hub model and a Hub dataset, fetched from a local server in
the Hub's URL layout (fake_hub.py), its download events, cancel during the download, and the refusal without it."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from conftest import arithmetic_records
from fake_hub import Cut, FakeHub
from test_server_support import ServerProcess, connected

HUB_JOB = """\
base_model: tiny-org/tiny-llama
method: lora
dataset: {hub: data-org/arithmetic, eval_split: 0}
lora: {r: 4, alpha: 8}
training: {max_steps: 2, batch_size: 2, max_seq_length: 48, precision: fp32, logging_steps: 1}
"""


@pytest.fixture
def hub(tiny_model_dir: Path) -> Iterator[FakeHub]:
    server = FakeHub().start()
    server.add_model_folder("tiny-org/tiny-llama", tiny_model_dir)
    rows = "".join(json.dumps(record) + "\n" for record in arithmetic_records(8))
    server.add_dataset("data-org/arithmetic", {"data/train.jsonl": rows.encode()})
    yield server
    server.stop()


def hub_server(hub: FakeHub, tmp_path: Path, *args: str) -> ServerProcess:
    # The inherited MODELFACTORY_ALLOW_DOWNLOAD=1 must not matter: only --allow-download lets a trainer download.
    env = {"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "0", "MODELFACTORY_ALLOW_DOWNLOAD": "1"}
    return ServerProcess(tmp_path / "state", "--cancel-grace", "20", *args, env=env)


async def submit_hub_job(server: ServerProcess) -> tuple[Any, str]:
    client = await connected(server)
    reply = await client.request({"type": "submit", "config_yaml": HUB_JOB, "dataset": {"hub": True}})
    assert reply["type"] == "submitted", reply
    return client, str(reply["job"]["job_id"])


def test_a_job_on_a_hub_model_and_dataset_downloads_then_trains(hub: FakeHub, tmp_path: Path) -> None:
    async def scenario(server: ServerProcess) -> list[dict[str, Any]]:
        client, job_id = await submit_hub_job(server)
        frames = await client.watch_to_end(job_id, timeout=300)
        await client.connection.close()
        return [frame["event"] for frame in frames]

    with hub_server(hub, tmp_path, "--allow-download") as server:
        events = asyncio.run(scenario(server))
    kinds = [event["type"] for event in events]
    assert kinds[:3] == ["queued", "launched", "download"], kinds
    assert kinds[-2:] == ["done", "ended"], kinds
    last_download = [event for event in events if event["type"] == "download"][-1]
    assert last_download["finished"] is True and last_download["bytes_done"] == last_download["bytes_total"] > 0
    start = next(event for event in events if event["type"] == "start")
    assert (start["model"], start["train_records"]) == ("tiny-org/tiny-llama", 8)


def test_without_allow_download_a_job_on_an_uncached_hub_model_fails_download_disabled(hub: FakeHub, tmp_path: Path) -> None:
    async def scenario(server: ServerProcess) -> list[dict[str, Any]]:
        client, job_id = await submit_hub_job(server)
        frames = await client.watch_to_end(job_id, timeout=300)
        await client.connection.close()
        return [frame["event"] for frame in frames]

    with hub_server(hub, tmp_path) as server:
        events = asyncio.run(scenario(server))
    error = next(event for event in events if event["type"] == "error")
    assert error["code"] == "download-disabled" and "--allow-download" in error["message"]
    assert events[-1]["state"] == "failed"
    assert hub.log == []


def test_cancel_stops_a_job_while_it_downloads(hub: FakeHub, tmp_path: Path) -> None:
    release = threading.Event()
    hub.cuts["model.safetensors"] = Cut(after_bytes=300_000, hold=release)

    async def scenario(server: ServerProcess) -> tuple[list[dict[str, Any]], float]:
        client, job_id = await submit_hub_job(server)
        assert await asyncio.to_thread(hub.sent_partial.wait, 240), "the trainer never reached the weights"
        cancel_at = time.monotonic()
        ack = await client.request({"type": "cancel", "job_id": job_id})
        assert ack["type"] == "ack", ack
        frames = await client.watch_to_end(job_id, timeout=60)
        await client.connection.close()
        return [frame["event"] for frame in frames], time.monotonic() - cancel_at

    try:
        with hub_server(hub, tmp_path, "--allow-download") as server:
            events, took = asyncio.run(scenario(server))
    finally:
        release.set()
    ended = events[-1]
    assert (ended["state"], ended["reason"], ended["exit_code"]) == ("cancelled", "user-cancelled", 130)
    assert [event["step"] for event in events if event["type"] == "cancelled"] == [0]
    assert "start" not in [event["type"] for event in events]
    assert took < 15
