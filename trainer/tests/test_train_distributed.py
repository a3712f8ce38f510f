"""`train` under torchrun: two CPU processes (gloo) share the data, and only rank 0 speaks and writes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from conftest import TRAINER_ROOT, arithmetic_records, parse_events, write_config, write_jsonl

JOB = """base_model: builtin:tiny-llama
method: lora
dataset: {path: train.jsonl, eval_split: 0}
training: {max_steps: 4, batch_size: 2, gradient_accumulation_steps: 1, max_seq_length: 32, logging_steps: 1}
output_dir: out
"""


def test_torchrun_two_processes_one_event_stream(tmp_path: Path, tiny_model_dir: Path) -> None:
    write_jsonl(tmp_path / "train.jsonl", arithmetic_records(8))
    config = write_config(tmp_path, JOB)
    torchrun = Path(sys.executable).with_name("torchrun")
    launcher = subprocess.Popen(
        [str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "modelfactory_trainer", "train", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=TRAINER_ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1"}, start_new_session=True,
    )
    try:
        stdout, stderr = launcher.communicate(timeout=120)
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)  # the launcher and both workers share this group
            launcher.wait()
    assert launcher.returncode == 0, stderr[-3000:]
    events = parse_events(stdout)
    assert [event["type"] for event in events].count("start") == 1
    assert events[0]["epochs"] == 2.0
    assert [event["step"] for event in events if event["type"] == "log"] == [1, 2, 3, 4]
    # 8 records, 2 per process per step, 2 processes: one epoch every 2 steps.
    assert [event["epoch"] for event in events if event["type"] == "log"] == [0.5, 1.0, 1.5, 2.0]
    assert events[-1]["type"] == "done" and (tmp_path / "out" / "adapter" / "adapter_model.safetensors").is_file()
