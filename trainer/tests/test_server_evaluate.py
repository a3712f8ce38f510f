"""`evaluate` on the job server: a done job's adapter against the base, queued and streamed like a job (real trainer)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_server_support import ServerProcess, connected, event_seqs, messages_dataset, tiny_config


@pytest.fixture(scope="module")
def server(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("server-evaluate")
    with ServerProcess(root / "state") as running:
        yield running


def test_evaluate_streams_progress_and_a_summary(server: ServerProcess) -> None:
    async def scenario() -> dict[str, Any]:
        client = await connected(server)
        trained = await client.submit_upload(tiny_config(steps=4), messages_dataset(12))
        frames = await client.watch_to_end(trained["job_id"], timeout=240)
        assert frames[-1]["event"]["state"] == "done", frames[-1]
        held_out = messages_dataset(3)
        upload_id = await client.upload("held.jsonl", held_out)
        reply = await client.request(
            {"type": "evaluate", "job_id": trained["job_id"], "data": {"upload_id": upload_id}, "max_new_tokens": 8}
        )
        assert reply["type"] == "submitted", reply
        evaluation = reply["job"]
        assert evaluation["method"] == "eval" and evaluation["job_id"] != trained["job_id"]
        eval_frames = await client.watch_to_end(evaluation["job_id"], timeout=240)
        # An evaluation job has no adapter of its own: evaluating it is refused with a typed error.
        refused = await client.request({"type": "evaluate", "job_id": evaluation["job_id"]})
        unknown = await client.request({"type": "evaluate", "job_id": "no-such-job"})
        await client.connection.close()
        return {"frames": eval_frames, "job_id": evaluation["job_id"], "refused": refused, "unknown": unknown}

    result = asyncio.run(scenario())
    frames = result["frames"]
    kinds = [frame["event"]["type"] for frame in frames]
    assert kinds[:3] == ["queued", "launched", "eval_start"], kinds
    assert kinds[-2:] == ["eval_done", "ended"], kinds
    assert kinds.count("progress") == 6  # 3 examples x (base, adapter)
    assert event_seqs(frames) == list(range(len(frames)))
    assert frames[2]["event"]["examples"] == 3
    summary = frames[-2]["event"]["summary"]
    assert [model["name"] for model in summary["models"]] == ["base", "output"]
    assert set(summary["models"][1]["metrics"]) == {"loss", "rouge_l", "bleu", "exact_match"}
    assert frames[-1]["event"]["state"] == "done"
    results = server.state_dir / "jobs" / result["job_id"] / "output" / "eval" / "results.jsonl"
    rows = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 6 and rows[0]["file"].endswith("held.jsonl") and rows[0]["line"] == 1
    assert result["refused"]["type"] == "error" and result["refused"]["code"] == "adapter-missing"
    assert result["unknown"]["type"] == "error"


def test_held_out_share_is_the_configs_split_or_its_default() -> None:
    """What `evaluate` without data checks before queueing: a split of 0 is refused as `no-held-out`."""
    from modelfactory_trainer.config import load_schema
    from modelfactory_trainer.jobs import held_out_share

    default = load_schema()["properties"]["dataset"]["properties"]["eval_split"]["default"]
    assert default > 0
    assert held_out_share({"dataset": {"path": "d.jsonl", "eval_split": 0}}) == 0
    assert held_out_share({"dataset": {"path": "d.jsonl", "eval_split": 0.0}}) == 0
    assert held_out_share({"dataset": {"path": "d.jsonl", "eval_split": 0.2}}) == 0.2
    assert held_out_share({"dataset": {"path": "d.jsonl"}}) == default
    assert held_out_share({"dataset": {"path": "d.jsonl", "eval_split": "lots"}}) == 0
    assert held_out_share({}) == default
