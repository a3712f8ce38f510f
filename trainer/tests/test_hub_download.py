"""Base models and datasets from the Hub, against a local server in the Hub's URL layout (fake_hub.py).

Every trainer here runs as a subprocess with HF_ENDPOINT pointed at that server and HF_HOME in the test's temp
folder, so nothing reaches the internet and no cache outside the test is read or written.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from conftest import TRAINER_ROOT, arithmetic_records, parse_events, trainer_command, write_config
from fake_hub import Cut, FakeHub

MODEL_REPO = "tiny-org/tiny-llama"
DATASET_REPO = "data-org/arithmetic"
GATED_TOKEN = "hf_test_gated_token_5f2a"


@pytest.fixture
def hub(tiny_model_dir: Path) -> Iterator[FakeHub]:
    server = FakeHub().start()
    server.add_model_folder(MODEL_REPO, tiny_model_dir)
    rows = "".join(json.dumps(record) + "\n" for record in arithmetic_records(8))
    server.add_dataset(DATASET_REPO, {"README.md": b"# arithmetic\n", "data/train.jsonl": rows.encode()})
    yield server
    server.stop()


def hub_env(hub: FakeHub, home: Path, allow: bool = True, token: str | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("HF_", "MODELFACTORY_ALLOW"))}
    env.update({"HF_ENDPOINT": hub.url, "HF_HOME": str(home), "HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "0"})
    env["HF_HUB_DISABLE_TELEMETRY"] = "1"
    if allow:
        env["MODELFACTORY_ALLOW_DOWNLOAD"] = "1"
    if token is not None:
        env["HF_TOKEN"] = token
    return env


def job_config(directory: Path, base_model: str, dataset: str = f"{{hub: {DATASET_REPO}}}", extra: str = "") -> Path:
    return write_config(
        directory,
        f"""base_model: {base_model}
method: lora
dataset: {dataset}
lora: {{r: 4, alpha: 8, target_modules: [q_proj, v_proj]}}
training:
  max_steps: 2
  batch_size: 2
  max_seq_length: 48
  logging_steps: 1
  gradient_checkpointing: false
{extra}output_dir: out
""",
    )


def run(args: list[str], env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(trainer_command(*args), capture_output=True, text=True, env=env, timeout=timeout, cwd=TRAINER_ROOT)


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [event for event in events if event["type"] == kind]


def model_gets(hub: FakeHub, name: str) -> int:
    return sum(1 for method, path, _ in hub.requests("GET") if path.endswith(f"/resolve/{hub.repos[('model', MODEL_REPO)].sha}/{name}"))


def test_a_hub_model_and_dataset_download_then_train_with_tensorboard_and_train_offline_from_the_cache(
    hub: FakeHub, tmp_path: Path, tiny_model_dir: Path
) -> None:
    config = job_config(tmp_path, MODEL_REPO, extra="  report_to: tensorboard\n")
    completed = run(["train", str(config)], hub_env(hub, tmp_path / "hf"))
    events = parse_events(completed.stdout)
    assert completed.returncode == 0, completed.stderr[-3000:]

    downloads = of_type(events, "download")
    repo = hub.repos[("model", MODEL_REPO)]
    total = sum(len(data) for data in repo.files.values())
    assert downloads[0]["files_done"] == 0 and downloads[0]["finished"] is False
    last = downloads[-1]
    assert last["finished"] is True and last["revision"] == repo.sha
    assert (last["files_done"], last["files_total"], last["bytes_done"], last["bytes_total"]) == (6, 6, total, total)
    assert [event["type"] for event in events].index("download") < [event["type"] for event in events].index("start")
    assert of_type(events, "done")[0]["steps"] == 2

    snapshot = tmp_path / "hf" / "hub" / "models--tiny-org--tiny-llama" / "snapshots" / repo.sha
    weights = (snapshot / "model.safetensors").read_bytes()
    assert hashlib.sha256(weights).digest() == hashlib.sha256((tiny_model_dir / "model.safetensors").read_bytes()).digest()
    # The dataset came from the Hub too, through the datasets library, into the same HF_HOME.
    assert any(path.endswith("/data/train.jsonl") for _, path, _ in hub.requests("GET"))
    start = of_type(events, "start")[0]
    tensorboard = Path(start["tensorboard_dir"])
    assert tensorboard == tmp_path / "out" / "tensorboard"
    assert list(tensorboard.rglob("events.out.tfevents.*")), "TensorBoard wrote no event file"

    # Without permission to download, the same job trains from the cache and sends the Hub nothing.
    requests_before = len(hub.log)
    offline = run(["train", str(config)], hub_env(hub, tmp_path / "hf", allow=False))
    assert offline.returncode == 0, offline.stdout[-3000:]
    offline_events = parse_events(offline.stdout)
    assert not of_type(offline_events, "download") and of_type(offline_events, "done")
    assert len(hub.log) == requests_before

    # A pinned commit that is cached is used without asking the Hub, even where downloads are allowed.
    config.write_text(config.read_text(encoding="utf-8") + f"revision: {repo.sha}\n", encoding="utf-8")
    pinned = run(["train", str(config)], hub_env(hub, tmp_path / "hf"))
    assert pinned.returncode == 0 and not of_type(parse_events(pinned.stdout), "download"), pinned.stdout[-2000:]
    assert not [entry for entry in hub.log[requests_before:] if MODEL_REPO in entry[1]]  # the dataset is not pinned

    # A Hub that now refuses the repository (gated since) does not stop a job whose model is cached.
    config.write_text(config.read_text(encoding="utf-8").replace(f"revision: {repo.sha}\n", ""), encoding="utf-8")
    repo.gated_token = GATED_TOKEN
    refused = run(["train", str(config)], hub_env(hub, tmp_path / "hf"))
    assert refused.returncode == 0, refused.stdout[-2000:]
    assert "is gated" in refused.stderr and "using the cached snapshot of tiny-org/tiny-llama" in refused.stderr


def test_a_hub_model_outside_the_cache_without_permission_is_download_disabled(hub: FakeHub, tmp_path: Path) -> None:
    config = job_config(tmp_path, MODEL_REPO, dataset="{path: train.jsonl}")
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in arithmetic_records(4)), encoding="utf-8")
    completed = run(["train", str(config)], hub_env(hub, tmp_path / "hf", allow=False))
    assert completed.returncode == 1
    error = of_type(parse_events(completed.stdout), "error")[0]
    assert error["code"] == "download-disabled"
    assert "--allow-download" in error["message"] and "modelfactory.trainer.allowDownload" in error["message"]
    assert hub.log == []


def test_a_missing_repository_is_hub_not_found(hub: FakeHub, tmp_path: Path) -> None:
    config = job_config(tmp_path, "tiny-org/no-such-model")
    completed = run(["train", str(config)], hub_env(hub, tmp_path / "hf"))
    error = of_type(parse_events(completed.stdout), "error")[0]
    assert completed.returncode == 1
    assert error["code"] == "hub-not-found"
    assert "tiny-org/no-such-model" in error["message"] and "spelling" in error["message"]


def test_a_missing_revision_is_hub_not_found(hub: FakeHub, tmp_path: Path) -> None:
    config = job_config(tmp_path, MODEL_REPO, extra="")
    config.write_text(config.read_text(encoding="utf-8") + "revision: v9\n", encoding="utf-8")
    completed = run(["train", str(config)], hub_env(hub, tmp_path / "hf"))
    error = of_type(parse_events(completed.stdout), "error")[0]
    assert (error["code"], "no revision 'v9'" in error["message"]) == ("hub-not-found", True)


def test_a_gated_repository_is_hub_gated_without_the_token_and_loads_with_it(hub: FakeHub, tmp_path: Path) -> None:
    hub.repos[("model", MODEL_REPO)].gated_token = GATED_TOKEN
    config = job_config(tmp_path, MODEL_REPO)
    refused = run(["train", str(config)], hub_env(hub, tmp_path / "hf"))
    error = of_type(parse_events(refused.stdout), "error")[0]
    assert refused.returncode == 1
    assert error["code"] == "hub-gated"
    assert "accept its terms" in error["message"] and "HF_TOKEN" in error["message"]

    # With the token in the environment (as the job server or the extension passes it), check fetches the
    # tokenizer's files (no weights) and reads every record; the token appears in no output.
    checked = run(["check", str(config), "--json"], hub_env(hub, tmp_path / "hf", token=GATED_TOKEN))
    report = json.loads(checked.stdout)
    assert checked.returncode == 0, checked.stderr[-3000:]
    assert (report["records"], report["loaded"], report["problems"]) == (8, 8, [])
    assert model_gets(hub, "tokenizer.json") == 1 and model_gets(hub, "model.safetensors") == 0
    assert GATED_TOKEN not in checked.stdout + checked.stderr + refused.stdout + refused.stderr


def test_a_connection_cut_mid_file_is_resumed_and_the_job_trains(hub: FakeHub, tmp_path: Path, tiny_model_dir: Path) -> None:
    hub.cuts["model.safetensors"] = Cut(after_bytes=300_000)
    config = job_config(tmp_path, MODEL_REPO)
    completed = run(["train", str(config)], hub_env(hub, tmp_path / "hf"))
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "Trying to resume download" in completed.stderr
    assert model_gets(hub, "model.safetensors") == 2
    sha = hub.repos[("model", MODEL_REPO)].sha
    fetched = tmp_path / "hf" / "hub" / "models--tiny-org--tiny-llama" / "snapshots" / sha / "model.safetensors"
    assert fetched.read_bytes() == (tiny_model_dir / "model.safetensors").read_bytes()
    assert of_type(parse_events(completed.stdout), "done")


def test_cancel_during_a_download_ends_the_job_and_a_rerun_fetches_only_what_is_missing(hub: FakeHub, tmp_path: Path) -> None:
    import threading

    release = threading.Event()
    hub.cuts["model.safetensors"] = Cut(after_bytes=300_000, hold=release)
    config = job_config(tmp_path, MODEL_REPO)
    env = hub_env(hub, tmp_path / "hf")
    process = subprocess.Popen(
        trainer_command("train", str(config)), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=TRAINER_ROOT
    )
    try:
        assert hub.sent_partial.wait(180), "the trainer never reached the model's weights"
        time.sleep(0.5)
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        stdout, _ = process.communicate(timeout=60)
        stopped_after = time.monotonic() - signalled
    finally:
        release.set()
        if process.poll() is None:
            process.kill()
    events = parse_events(stdout)
    assert process.returncode == 130
    assert stopped_after < 15  # well inside the trainer's 30 s cancel grace: the wait is left at once
    assert of_type(events, "download")[-1]["finished"] is False
    assert of_type(events, "cancelled") == [{**of_type(events, "cancelled")[0], "step": 0, "adapter_dir": None}]
    assert not of_type(events, "start")

    gets_before = {name: model_gets(hub, name) for name in ("config.json", "tokenizer.json", "model.safetensors")}
    rerun = run(["train", str(config)], env)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert model_gets(hub, "config.json") == gets_before["config.json"]  # finished files stay in the cache
    assert model_gets(hub, "tokenizer.json") == gets_before["tokenizer.json"]
    assert model_gets(hub, "model.safetensors") == gets_before["model.safetensors"] + 1


def test_check_runs_the_record_contract_on_a_hub_dataset_and_names_refusals(hub: FakeHub, tmp_path: Path) -> None:
    good = arithmetic_records(2)
    refused = {"messages": [{"role": "user", "content": "only a question"}]}
    hub.add_dataset("data-org/mixed", {"train.jsonl": "".join(json.dumps(r) + "\n" for r in [*good, refused]).encode()})
    config = job_config(tmp_path, "builtin:tiny-llama", dataset="{hub: data-org/mixed, split: train}")
    checked = run(["check", str(config), "--json"], hub_env(hub, tmp_path / "hf"))
    report = json.loads(checked.stdout)
    assert checked.returncode == 1
    assert (report["records"], report["loaded"]) == (3, 2)
    [problem] = report["problems"]
    assert problem["where"] == "hub:data-org/mixed[train][2]"
    assert problem["message"].endswith("]") and "[messages/" in problem["message"], problem


def test_a_missing_hub_dataset_is_hub_not_found(hub: FakeHub, tmp_path: Path) -> None:
    config = job_config(tmp_path, "builtin:tiny-llama", dataset="{hub: data-org/absent}")
    completed = run(["train", str(config)], hub_env(hub, tmp_path / "hf"))
    error = of_type(parse_events(completed.stdout), "error")[0]
    assert (completed.returncode, error["code"]) == (1, "hub-not-found")
    assert "data-org/absent" in error["message"]


def test_a_hub_dataset_outside_the_cache_without_permission_or_gated_is_a_typed_error(hub: FakeHub, tmp_path: Path) -> None:
    config = job_config(tmp_path, "builtin:tiny-llama")
    offline = run(["train", str(config)], hub_env(hub, tmp_path / "hf", allow=False))
    error = of_type(parse_events(offline.stdout), "error")[0]
    assert (offline.returncode, error["code"]) == (1, "download-disabled")
    assert DATASET_REPO in error["message"] and "--allow-download" in error["message"]
    assert hub.log == []

    hub.repos[("dataset", DATASET_REPO)].gated_token = GATED_TOKEN
    gated = run(["train", str(config)], hub_env(hub, tmp_path / "hf"))
    error = of_type(parse_events(gated.stdout), "error")[0]
    assert (gated.returncode, error["code"]) == (1, "hub-gated")
    assert "HF_TOKEN" in error["message"]
