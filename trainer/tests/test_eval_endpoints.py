"""`eval --endpoint URL --model NAME`: a real `serve --openai` on the tiny model answers beside the local base and
adapter, through the official `openai` client; its loss is null (said so), never made up."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import parse_events, run_trainer
from test_server_openai import OpenAIServerProcess
from test_server_support import TOKEN

KEY_ENV = "MF_TEST_ENDPOINT_KEY"


@pytest.fixture(scope="module")
def adapter(trained_run: dict[str, Any]) -> Path:
    assert trained_run["returncode"] == 0, trained_run["stderr"][-2000:]
    return Path(trained_run["dir"]) / "out" / "adapter"


@pytest.fixture(scope="module")
def endpoint(adapter: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenAIServerProcess]:
    root = tmp_path_factory.mktemp("eval-endpoint")
    with OpenAIServerProcess(root / "state", "--openai", "--no-websocket", "--adapter", f"calc={adapter}") as running:
        yield running


def _eval(trained_run: dict[str, Any], out: Path, *more: str, key: str | None = TOKEN) -> Any:
    data = Path(trained_run["dir"]) / "data" / "train.jsonl"
    return run_trainer(
        "eval", str(trained_run["config"]), "--data", str(data), "--out", str(out), "--max-new-tokens", "12", *more,
        env={KEY_ENV: key} if key is not None else None, timeout=400,
    )  # fmt: skip


def test_an_endpoint_is_scored_beside_the_base_and_the_adapter_without_a_loss(
    trained_run: dict[str, Any], adapter: Path, endpoint: OpenAIServerProcess, tmp_path: Path
) -> None:
    completed = _eval(
        trained_run, tmp_path, "--adapter", str(adapter), "--json",
        "--endpoint", endpoint.base_url, "--model", "calc", "--model", "builtin:tiny-llama", "--api-key-env", KEY_ENV,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    summary = json.loads(completed.stdout)
    names = [model["name"] for model in summary["models"]]
    assert names == ["base", "out", "calc", "builtin:tiny-llama"], names
    local_base, local_adapter, remote_adapter, remote_base = summary["models"]
    for remote, model in ((remote_adapter, "calc"), (remote_base, "builtin:tiny-llama")):
        assert (remote["endpoint"], remote["endpoint_model"], remote["adapter"]) == (endpoint.base_url, model, None)
        assert remote["metrics"]["loss"] is None and "no token probabilities" in remote["loss_note"]
        assert {"rouge_l", "bleu", "exact_match"} <= set(remote["metrics"])
        assert all(isinstance(remote["metrics"][key], float) for key in ("rouge_l", "bleu", "exact_match"))
    assert isinstance(local_adapter["metrics"]["loss"], float) and "loss_note" not in local_adapter

    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 4 * summary["examples"]
    remote_rows = [row for row in rows if row["model"] == "calc"]
    assert remote_rows and all(row["loss"] is None and row["endpoint_model"] == "calc" for row in remote_rows)
    # The endpoint serves the same adapter on the same base, greedily: the same answers, example by example.
    by_model = {name: [row["answer"] for row in rows if row["model"] == name] for name in names}
    assert by_model["calc"] == by_model["out"]
    assert by_model["builtin:tiny-llama"] == by_model["base"]
    assert remote_adapter["metrics"]["rouge_l"] == pytest.approx(local_adapter["metrics"]["rouge_l"])
    assert remote_adapter["metrics"]["rouge_l"] > remote_base["metrics"]["rouge_l"]
    # The table a person reads says "-" for the loss it does not have.
    table = _eval(trained_run, tmp_path / "table", "--endpoints-only", "--endpoint", endpoint.base_url, "--model", "calc",
                  "--api-key-env", KEY_ENV)
    assert table.returncode == 0, table.stderr[-3000:]
    line = next(line for line in table.stdout.splitlines() if line.startswith("calc"))
    assert line.split()[1] == "-"


def test_endpoints_only_streams_events_and_loads_no_local_model(
    trained_run: dict[str, Any], endpoint: OpenAIServerProcess, tmp_path: Path
) -> None:
    completed = _eval(
        trained_run, tmp_path, "--events", "--endpoints-only",
        "--endpoint", endpoint.base_url, "--model", "calc", "--api-key-env", KEY_ENV,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    events = parse_events(completed.stdout)
    assert events[0]["type"] == "eval_start" and events[0]["models"] == ["calc"]
    assert events[-1]["type"] == "eval_done"
    assert [model["name"] for model in events[-1]["summary"]["models"]] == ["calc"]


@pytest.mark.parametrize(
    ("args", "key", "expected"),
    [
        (["--model", "no-such-model"], TOKEN, "does not serve model 'no-such-model'"),
        (["--model", "calc"], "wrong-key", "could not list its models: AuthenticationError"),
        (["--model", "calc"], None, f"--api-key-env {KEY_ENV}: that environment variable is not set"),
        (["--model", "calc", "--endpoint", "http://127.0.0.1:9/v1"], TOKEN, "one --model per --endpoint"),
    ],
)
def test_endpoint_mistakes_fail_before_any_answer_with_what_to_fix(
    trained_run: dict[str, Any], endpoint: OpenAIServerProcess, tmp_path: Path, args: list[str], key: str | None,
    expected: str,
) -> None:
    completed = _eval(
        trained_run, tmp_path, "--endpoints-only", "--endpoint", endpoint.base_url, "--api-key-env", KEY_ENV, *args,
        key=key,
    )  # fmt: skip
    assert completed.returncode == 1
    assert expected in completed.stderr, completed.stderr[-2000:]
    assert TOKEN not in completed.stderr and "wrong-key" not in completed.stderr
    assert not (tmp_path / "results.jsonl").exists()
