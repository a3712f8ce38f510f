"""Where the job server runs a job: `--executor local` (child processes, one job at a time) or `ray`.

local: the trainer runs detached behind `detached.py` (jobs.py `_run`; it outlives the server, which tails its run
file with the same `runfile.RunFileTail` as the ray executor and adopts it after a restart) and sees every GPU the server sees,
unless the config sets `resources.gpus`: then it sees the first N (`CUDA_VISIBLE_DEVICES`; 0 is a CPU job),
and above 1 it runs under torchrun, one process per GPU; only rank 0 writes events (train.py), so the event
stream is the same. Asking for more GPUs than the machine has fails the job with reason `resources`.

ray: each job is a Ray job submitted through the Ray dashboard's job API (`JobSubmissionClient`), with
`entrypoint_num_gpus`/`entrypoint_num_cpus`/`entrypoint_memory` from the config's `resources`; Ray starts it
when the cluster has them (PENDING meanwhile) on whichever node has them, so jobs run side by side. The server
hands at most `--max-running` jobs to Ray at once; the rest wait in its own queue (where they can be moved or
cancelled). The entrypoint (`ray_entry.py`) runs the trainer in the job folder, which must be on storage every
node sees at the same path (on one machine, the server's state folder), writes the trainer's events to a run
file in that folder and its placement (node, GPUs) beside it; the server tails the run file and appends each
event to `events.jsonl` with the next seq, so watch, resume and replay are the same as on the local executor.
The `launched` event names the Ray submission id, so a restarted server finds the Ray job again, skips the
events it already logged (one run-file line per logged event) and goes on tailing. Cancel is `stop_job`
(Ray sends SIGTERM to the entrypoint and the trainer, SIGKILL after `RAY_JOB_STOP_WAIT_TIME_S` on the cluster).
A server shutdown leaves Ray jobs running: the next start reattaches to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .runfile import RunFileTail

__all__ = ["RayExecutor", "ResourceRefusal", "RunFileTail", "local_gpus", "local_launch", "read_placement"]

if TYPE_CHECKING:
    from .jobs import Job, JobManager

POLL_S = 0.25
STATUS_EVERY_S = 1.0
RAY_ENV_PREFIXES = ("MODELFACTORY_", "HF_", "TRANSFORMERS_", "OMP_")
RAY_ENV_NAMES = ("PYTHONPATH",)
TERMINAL_RAY = ("SUCCEEDED", "FAILED", "STOPPED")


class ResourceRefusal(Exception):
    """The job asks for more than this executor can give it."""


def requested_resources(config_path: Path) -> dict[str, Any]:
    """The `resources` section of a stored (already validated) job config; {} when absent or unreadable."""
    import yaml

    try:
        config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    resources = config.get("resources") if isinstance(config, dict) else None
    return dict(resources) if isinstance(resources, dict) else {}


def local_gpus() -> list[str]:
    """The GPUs this machine shows the server: CUDA_VISIBLE_DEVICES if set, else what nvidia-smi lists."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [part.strip() for part in visible.split(",") if part.strip() and part.strip() != "-1"]
    return list(_listed_gpus())


@functools.cache
def _listed_gpus() -> tuple[str, ...]:
    """Asked once per server: the GPUs of a machine do not change while it runs."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return ()
    try:
        listed = subprocess.run(
            [smi, "--query-gpu=index", "--format=csv,noheader"], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return tuple(line.strip() for line in listed.stdout.splitlines() if line.strip()) if listed.returncode == 0 else ()


def local_launch(
    train_argv: list[str], config_path: Path, env: dict[str, str]
) -> tuple[list[str], dict[str, str], dict[str, Any]]:
    """The command, environment and placement of a local run (torchrun when the job asks for several GPUs)."""
    wanted = requested_resources(config_path).get("gpus")
    gpus = local_gpus()
    placement: dict[str, Any] = {"executor": "local", "node": socket.gethostname(), "gpus": gpus, "processes": 1}
    if not isinstance(wanted, int):
        return train_argv, env, placement
    if wanted > len(gpus):
        raise ResourceRefusal(f"the job asks for {wanted} GPUs; this machine has {len(gpus)}")
    env = {**env, "CUDA_VISIBLE_DEVICES": ",".join(gpus[:wanted])}  # gpus: 0 is a CPU job
    placement.update(gpus=gpus[:wanted], processes=max(wanted, 1))
    if wanted <= 1:
        return train_argv, env, placement
    if train_argv[1:] != ["-m", "modelfactory_trainer", "train"]:
        return train_argv, env, placement  # a swapped-in trainer command is run as given
    torchrun = Path(sys.executable).with_name("torchrun")
    argv = [str(torchrun), "--standalone", "--nproc_per_node", str(wanted), "-m", "modelfactory_trainer", "train"]
    return argv, env, placement


class RayExecutor:
    """Jobs as Ray jobs on the cluster whose dashboard is at `address` (e.g. http://127.0.0.1:8265)."""

    name = "ray"

    def __init__(self, address: str, *, max_running: int, default_gpus: int, log: Any) -> None:
        try:
            from ray.job_submission import JobSubmissionClient
        except ImportError as exc:
            raise RuntimeError(
                "--executor ray needs Ray: pip install 'modelfactory-trainer[ray]' (ray[default])"
            ) from exc
        self.address = address
        self.max_running = max_running
        self.default_gpus = default_gpus
        self._log = log
        self.client = JobSubmissionClient(address)  # checks the address answers; raises with Ray's message

    # ---- the job manager's hooks -------------------------------------------------------------------------

    @staticmethod
    def owns(job: Job) -> bool:
        launch = job.launch or {}
        return launch.get("executor") == "ray" and isinstance(launch.get("submission_id"), str)

    async def stop(self, manager: JobManager, job: Job) -> None:
        submission_id = str((job.launch or {}).get("submission_id"))
        try:
            await asyncio.to_thread(self.client.stop_job, submission_id)
            manager._log("ray job stop requested", job_id=job.job_id, submission_id=submission_id)
        except Exception as exc:  # the run loop sees the job's end, or keeps following it
            manager._log("ray stop_job failed", job_id=job.job_id, error=repr(exc))

    async def run(self, manager: JobManager, job: Job, *, reattach: bool) -> None:
        if reattach:
            await self._follow(manager, job, skip=job.trainer_events_since_launch)
            return
        resources = requested_resources(job.config_path)
        gpus = resources.get("gpus", self.default_gpus)
        cpus = resources.get("cpus", 1)
        memory_gb = resources.get("memory_gb")
        submission_id = f"modelfactory-{job.job_id}-{secrets.token_hex(3)}"
        run_file = f"events-{submission_id}.jsonl"
        entrypoint = shlex.join(
            [
                sys.executable,
                "-m",
                "modelfactory_trainer.ray_entry",
                str(job.folder.resolve()),
                run_file,
                *(["--resume"] if job.resume else []),
            ]
        )
        env_vars = {
            key: value
            # The job server's child environment: no token, and the Hub download switch only from --allow-download.
            for key, value in manager._child_env().items()
            if (key.startswith(RAY_ENV_PREFIXES) or key in RAY_ENV_NAMES) and key != "MODELFACTORY_TOKEN"
        }
        # Logged before the submit: a server that dies in between finds no Ray job and fails the run, where the
        # other order could leave a Ray job nobody follows and start a second trainer in the same folder.
        manager._append(
            job,
            {
                "type": "launched",
                "time": time.time(),
                "executor": "ray",
                "submission_id": submission_id,
                "node": None,
                "gpus": [],
                "status": "PENDING",
                "requested": {"gpus": gpus, "cpus": cpus, "memory_gb": memory_gb},
            },
        )
        manager._log("job submitted to ray", job_id=job.job_id, submission_id=submission_id, gpus=gpus, cpus=cpus)
        try:
            await asyncio.to_thread(
                self.client.submit_job,
                entrypoint=entrypoint,
                submission_id=submission_id,
                runtime_env={"env_vars": env_vars},
                metadata={"modelfactory_job_id": job.job_id},
                entrypoint_num_gpus=gpus,
                entrypoint_num_cpus=cpus,
                entrypoint_memory=int(memory_gb * 2**30) if memory_gb else None,
            )
        except Exception as exc:
            manager._end(job, "failed", "ray-submit-failed", None, f"Ray refused the job: {exc}"[:500])
            return
        if job.cancel_requested:
            await self.stop(manager, job)
        await self._follow(manager, job, skip=0)

    # ---- following a Ray job -----------------------------------------------------------------------------

    async def _follow(self, manager: JobManager, job: Job, *, skip: int) -> None:
        launch = job.launch or {}
        submission_id = str(launch["submission_id"])
        run_file = job.folder / f"events-{submission_id}.jsonl"
        tail = RunFileTail(run_file, skip)
        next_status = 0.0
        info: Any = None
        lost_since: float | None = None
        while True:
            tail.pump(manager, job)
            read_placement(job)
            if time.monotonic() >= next_status:
                next_status = time.monotonic() + STATUS_EVERY_S
                try:
                    info = await asyncio.to_thread(self.client.get_job_info, submission_id)
                    lost_since = None
                except Exception as exc:
                    if "does not exist" in str(exc) or "404" in str(exc):
                        manager._end(job, "failed", "server-restarted", None, "the Ray job is gone from the cluster")
                        return
                    if lost_since is None:
                        lost_since = time.monotonic()
                        manager._log("ray dashboard unreachable; retrying", job_id=job.job_id, error=repr(exc))
                    info = None
                if info is not None:
                    status = str(getattr(info.status, "value", info.status))
                    if job.placement is not None and job.placement.get("status") != status:
                        job.placement = {**job.placement, "status": status}
                    if status in TERMINAL_RAY:
                        break
            await asyncio.sleep(POLL_S)
        tail.pump(manager, job)  # the entrypoint flushed and fsynced before it exited
        read_placement(job)
        last_outcome = tail.last_outcome
        exit_code = info.driver_exit_code if isinstance(info.driver_exit_code, int) else None
        if status == "STOPPED" and not job.cancel_requested:
            state, reason = "cancelled", "stopped-on-cluster"
        else:
            state, reason = manager._outcome(job, exit_code if exit_code is not None else -1, last_outcome)
            if exit_code is None and state == "failed" and str(reason).startswith("signal-"):
                reason = "ray-job-failed"  # no exit code and no trainer outcome: Ray's message says why
        message = ""
        if state == "failed":
            message = manager._stderr_tail(job) or str(info.message or "")[-2000:]
        manager._end(job, state, reason, exit_code, message)



def read_placement(job: Job) -> None:
    """The node and GPUs a Ray job's entrypoint wrote into its folder, once it has been placed."""
    if job.placement is None or job.placement.get("executor") != "ray" or job.placement.get("node") is not None:
        return
    with contextlib.suppress(OSError, ValueError):
        written = json.loads((job.folder / "placement.json").read_text(encoding="utf-8"))
        if isinstance(written, dict) and isinstance(written.get("node"), str):
            gpus = written.get("gpus")
            job.placement = {
                **job.placement,
                "node": written["node"][:200],
                "gpus": [str(gpu)[:32] for gpu in gpus][:64] if isinstance(gpus, list) else [],
            }
