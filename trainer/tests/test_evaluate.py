"""`eval`: the base and a trained adapter answer held-out records; scores, files, judge, events and cancel."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
from conftest import ARITHMETIC_CONFIG, TRAINER_ROOT, arithmetic_records, parse_events, run_trainer, trainer_command, write_config, write_jsonl



@pytest.fixture(scope="module")
def adapter_run(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One tiny adapter trained on 12 arithmetic records, shared by every test here."""
    directory = tmp_path_factory.mktemp("eval-run")
    write_jsonl(directory / "train.jsonl", arithmetic_records(12))
    config = write_config(directory, ARITHMETIC_CONFIG.format(split=0.25, steps=40, extra=""))
    completed = run_trainer("train", str(config))
    assert completed.returncode == 0, completed.stderr[-2000:]
    return {"dir": directory, "config": config, "adapter": directory / "out" / "adapter", "data": directory / "train.jsonl"}


def test_the_adapter_beats_the_base_on_its_training_answers(adapter_run: dict[str, Path], tmp_path: Path) -> None:
    completed = run_trainer(
        "eval", str(adapter_run["config"]), "--adapter", str(adapter_run["adapter"]),
        "--data", str(adapter_run["data"]), "--json", "--out", str(tmp_path), "--max-new-tokens", "16",
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-2000:]
    summary = json.loads(completed.stdout)
    assert summary["examples"] == 12
    base, adapter = summary["models"]
    assert (base["name"], base["adapter"]) == ("base", None)
    assert adapter["adapter"] == str(adapter_run["adapter"].resolve())
    assert set(base["metrics"]) == {"loss", "rouge_l", "bleu", "exact_match"}
    print(f"\nbase {base['metrics']}\nadapter {adapter['metrics']}")
    assert adapter["metrics"]["loss"] < base["metrics"]["loss"] - 1.0
    assert adapter["metrics"]["rouge_l"] > base["metrics"]["rouge_l"] + 0.3
    assert adapter["metrics"]["bleu"] > base["metrics"]["bleu"]

    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 24
    first = rows[0]
    assert first["file"] == str(adapter_run["data"].resolve()) and first["line"] == 1
    assert first["prompt"] == [{"role": "user", "content": "What is 1 plus 1?"}]
    assert first["reference"] == "1 plus 1 is 2."
    assert sorted({row["line"] for row in rows}) == list(range(1, 13))
    written = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert written["models"] == summary["models"]
    # The summary is the mean of the rows, per model.
    adapter_rows = [row for row in rows if row["adapter"] is not None]
    assert adapter["metrics"]["rouge_l"] == pytest.approx(sum(row["rouge_l"] for row in adapter_rows) / 12)
    assert adapter["metrics"]["exact_match"] == pytest.approx(sum(row["exact_match"] for row in adapter_rows) / 12)


def test_default_held_out_set_is_the_configs_eval_split(adapter_run: dict[str, Path]) -> None:
    completed = run_trainer("eval", str(adapter_run["config"]), "--json", "--max-new-tokens", "4")
    assert completed.returncode == 0, completed.stderr[-2000:]
    summary = json.loads(completed.stdout)
    assert summary["examples"] == 3  # 25% of 12, as training held out
    assert [model["name"] for model in summary["models"]] == ["base"]
    assert (adapter_run["dir"] / "out" / "eval" / "summary.json").is_file()


def test_no_held_out_records_is_a_clear_error(adapter_run: dict[str, Path], tmp_path: Path) -> None:
    write_jsonl(tmp_path / "train.jsonl", arithmetic_records(4))
    config = write_config(tmp_path, ARITHMETIC_CONFIG.format(split=0, steps=40, extra=""))
    completed = run_trainer("eval", str(config), "--json")
    assert completed.returncode == 1
    assert "eval_split" in completed.stderr and "--data" in completed.stderr
    assert completed.stdout == ""


class ChatCompletionsServer:
    """A small real HTTP server (aiohttp) that speaks the OpenAI chat completions API as a judge."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[str] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        from aiohttp import web

        async def completions(request: web.Request) -> web.Response:
            body = await request.json()
            self.requests.append(body)
            self.headers.append(request.headers.get("Authorization", ""))
            grading = body["messages"][-1]["content"]
            answer = grading.split("Answer to grade:\n", 1)[1]
            reference = grading.split("Reference answer:\n", 1)[1].split("\n\nAnswer to grade:", 1)[0]
            score = 9 if answer.strip() == reference.strip() else 2
            reply = {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": json.dumps({"score": score, "reason": "compared"})},
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
            return web.json_response(reply)

        async def start() -> None:
            app = web.Application()
            app.router.add_post("/v1/chat/completions", completions)
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self._ready.set()

        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(start())
        self._loop.run_forever()

    def __enter__(self) -> "ChatCompletionsServer":
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *_: Any) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


@pytest.fixture
def judge_server() -> Iterator[ChatCompletionsServer]:
    with ChatCompletionsServer() as server:
        yield server


def test_llm_judge_through_an_openai_compatible_endpoint(
    adapter_run: dict[str, Path], tmp_path: Path, judge_server: ChatCompletionsServer
) -> None:
    rubric = tmp_path / "rubric.txt"
    rubric.write_text("The sum must be right.", encoding="utf-8")
    data = write_jsonl(tmp_path / "held.jsonl", arithmetic_records(4))
    completed = run_trainer(
        "eval", str(adapter_run["config"]), "--adapter", str(adapter_run["adapter"]), "--data", str(data),
        "--json", "--out", str(tmp_path / "out"), "--max-new-tokens", "16",
        "--judge-url", f"http://127.0.0.1:{judge_server.port}/v1", "--judge-model", "grader", "--judge-rubric", str(rubric),
        env={"MODELFACTORY_JUDGE_API_KEY": "judge-key"},
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-2000:]
    summary = json.loads(completed.stdout)
    assert len(judge_server.requests) == 8  # 4 examples x (base, adapter)
    assert all(request["model"] == "grader" for request in judge_server.requests)
    assert "The sum must be right." in judge_server.requests[0]["messages"][-1]["content"]
    assert set(judge_server.headers) == {"Bearer judge-key"}
    rows = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    for row in rows:
        assert row["judge"] == (9.0 if row["exact_match"] else 2.0)
    for model, expected in zip(summary["models"], ("base", "out")):
        assert model["name"] == expected
        judged = [row["judge"] for row in rows if row["model"] == expected]
        assert model["metrics"]["judge"] == pytest.approx(sum(judged) / len(judged))


def test_events_and_cancel(adapter_run: dict[str, Path], tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "many.jsonl", arithmetic_records(60))
    process = subprocess.Popen(
        trainer_command("eval", str(adapter_run["config"]), "--data", str(data), "--events", "--out", str(tmp_path / "out"), "--max-new-tokens", "200"),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=TRAINER_ROOT,
    )  # fmt: skip
    assert process.stdout is not None
    seen: list[dict[str, Any]] = []
    for line in process.stdout:
        seen.append(json.loads(line))
        if seen[-1]["type"] == "progress" and seen[-1]["done"] == 2:
            process.send_signal(signal.SIGTERM)
            break
    rest = parse_events(process.stdout.read())
    assert process.wait(60) == 130
    events = seen + rest
    assert events[0]["type"] == "eval_start" and events[0]["examples"] == 60 and events[0]["models"] == ["base"]
    assert events[1] == {**events[1], "type": "progress", "done": 1, "total": 60, "model": "base"}
    assert events[-1]["type"] == "cancelled"
    kept = (tmp_path / "out" / "results.jsonl").read_text(encoding="utf-8").splitlines()
    assert 2 <= len(kept) < 60  # what was answered before the signal is kept
    assert not (tmp_path / "out" / "summary.json").exists()
