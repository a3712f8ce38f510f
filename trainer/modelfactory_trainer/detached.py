"""The local executor's entrypoint: `python -m modelfactory_trainer.detached JOB_FOLDER RUN_FILE RUN_ID -- ARGV...`.

The job server starts it in a session of its own (so it is the leader of the trainer's process group), with its
stdout and stderr on `runner.log` in the job folder: nothing ties it to the server, which may die and start again
while the trainer runs. It

- writes `run.json` (its pid, its start time in clock ticks since boot from `/proc/self/stat`, and RUN_ID, a
  random id that is also on its command line), so a server that starts later can tell this process from another
  that got the same pid;
- runs ARGV (the trainer, torchrun, or an evaluation) in the job folder, copies its event lines to RUN_FILE
  (`runfile.copy_events`: the n-th line is the n-th trainer event) and its stderr to `trainer.log`;
- when the trainer exits, fsyncs RUN_FILE and writes `run-exit.json` (RUN_ID and the trainer's exit code, negative
  for a signal), so a server that was not running at that moment still learns how the run ended.

Cancel signals the whole process group (the server's `killpg`), which reaches the trainer directly: this process
ignores SIGTERM and SIGINT itself (with a handler, not SIG_IGN, which the trainer would inherit) and never forwards
them, because a second SIGTERM makes the trainer give up its grace period.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from .runfile import copy_events

RUN_INFO = "run.json"
RUN_EXIT = "run-exit.json"


def process_start_ticks(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (start time after boot, in clock ticks); None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()  # the command name may hold spaces and parentheses
    if len(fields) < 20 or fields[0] == b"Z":  # a zombie has ended: it only waits to be reaped
        return None
    return int(fields[19])


def run_is_alive(folder: Path, pid: int, run_id: str) -> bool:
    """Whether pid is alive and is the entrypoint of run `run_id` (not a recycled pid running something else)."""
    ticks = process_start_ticks(pid)
    if ticks is None:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    if run_id.encode() not in cmdline:
        return False
    info = read_json(folder / RUN_INFO)
    # run.json is written first thing; until it is there the command line alone must do.
    if info is None or info.get("run_id") != run_id:
        return True
    return info.get("pid") == pid and info.get("start_ticks") == ticks


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as handle:
            value = json.loads(handle.read(1 << 16))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def write_json(path: Path, value: dict[str, Any]) -> None:
    temp = path.with_name(path.name + ".tmp")
    with open(temp, "w", encoding="utf-8") as handle:
        json.dump(value, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def exit_code_of(folder: Path, run_id: str) -> int | None:
    """The trainer's exit code as `run-exit.json` records it for this run, or None (the run did not finish)."""
    recorded = read_json(folder / RUN_EXIT)
    if recorded is None or recorded.get("run_id") != run_id or not isinstance(recorded.get("exit_code"), int):
        return None
    return int(recorded["exit_code"])


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 5 or args[3] != "--":
        sys.stderr.write("usage: python -m modelfactory_trainer.detached JOB_FOLDER RUN_FILE RUN_ID -- ARGV...\n")
        return 2
    folder, run_id, command = Path(args[0]), args[2], args[4:]
    run_file = folder / args[1]
    if not (folder / "config.finetune.yaml").is_file() or run_file.parent != folder:
        sys.stderr.write(f"{folder} is not a job folder\n")
        return 2

    def ignore(_signum: int, _frame: object) -> None:
        pass  # the group signal reaches the trainer itself

    signal.signal(signal.SIGTERM, ignore)
    signal.signal(signal.SIGINT, ignore)
    os.chdir(folder)
    (folder / RUN_EXIT).unlink(missing_ok=True)
    write_json(folder / RUN_INFO, {"pid": os.getpid(), "start_ticks": process_start_ticks(os.getpid()), "run_id": run_id})
    with open(folder / "trainer.log", "ab") as stderr_file, open(run_file, "ab") as events:
        try:
            child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr_file)
        except OSError as exc:
            stderr_file.write(f"could not start the trainer: {exc}\n".encode())
            write_json(folder / RUN_EXIT, {"run_id": run_id, "exit_code": 127})
            return 127
        assert child.stdout is not None
        copy_events(child.stdout, events, stderr_file)
        code = child.wait()
        events.flush()
        os.fsync(events.fileno())
    write_json(folder / RUN_EXIT, {"run_id": run_id, "exit_code": code})
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
