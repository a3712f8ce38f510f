"""The entrypoint of a Ray job: `python -m modelfactory_trainer.ray_entry JOB_FOLDER RUN_FILE [--resume]`.

Runs on whichever node Ray places the job, with the job folder on storage the job server shares (one machine:
the server's own state folder; several: a shared mount at the same path on every node). It writes:

- `placement.json`: the node (host name, IP) and the GPUs Ray gave the job (`CUDA_VISIBLE_DEVICES`);
- `RUN_FILE` (inside the job folder): the trainer's events, one JSON object per line, appended and flushed as
  they come. Only lines that are JSON objects with a trainer event type are kept (anything else goes to
  `trainer.log`), so the n-th line is the n-th event the server appends: after a restart the server skips the
  lines it already has by counting, and no event is lost or repeated;
- `trainer.log`: the trainer's stderr.

A stop from Ray (SIGTERM to this process and its children) reaches the trainer, which ends with `cancelled`.
The exit code is the trainer's.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from .jobs import default_train_argv
from .runfile import copy_events


def placement() -> dict[str, object]:
    gpus_text = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    gpus = [part for part in gpus_text.split(",") if part.strip()]
    host = socket.gethostname()
    try:
        address = socket.gethostbyname(host)
    except OSError:
        address = None
    return {"node": host, "node_ip": address, "gpus": gpus, "pid": os.getpid()}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    resume = "--resume" in args
    args = [arg for arg in args if arg != "--resume"]
    if len(args) != 2:
        sys.stderr.write("usage: python -m modelfactory_trainer.ray_entry JOB_FOLDER RUN_FILE [--resume]\n")
        return 2
    folder = Path(args[0])
    run_file = folder / args[1]
    if not (folder / "config.finetune.yaml").is_file() or run_file.parent != folder:
        sys.stderr.write(f"{folder} is not a job folder this node can see (is the state folder shared?)\n")
        return 2
    os.chdir(folder)
    temp = folder / "placement.json.tmp"
    temp.write_text(json.dumps(placement()), encoding="utf-8")
    os.replace(temp, folder / "placement.json")
    command = [*default_train_argv(), str(folder / "config.finetune.yaml"), *(["--resume"] if resume else [])]
    env = {key: value for key, value in os.environ.items() if key != "MODELFACTORY_TOKEN"}
    env["PYTHONUNBUFFERED"] = "1"
    with open(folder / "trainer.log", "ab") as stderr_file, open(run_file, "ab") as events:
        child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr_file, env=env)

        def forward(signum: int, _frame: object) -> None:
            if child.poll() is None:
                child.send_signal(signum)

        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        assert child.stdout is not None
        copy_events(child.stdout, events, stderr_file)
        code = child.wait()
        events.flush()
        os.fsync(events.fileno())
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
