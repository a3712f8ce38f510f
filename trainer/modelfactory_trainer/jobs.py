"""Jobs of the job server: one queue, one job at a time, every event in an on-disk log.

Decisions (the server's contract, also in `server.py --help`):

- One queue and one running job per server (the local executor). The job's trainer process sees every GPU the
  server sees (`CUDA_VISIBLE_DEVICES` as inherited) unless its config asks for `resources.gpus` above 1 (torchrun
  on that many). With `--executor ray` several jobs run at once on a Ray cluster, and a restart reattaches to
  them instead of failing them (`executors.py`).
- A job is `<state_dir>/jobs/<job_id>/`: `config.finetune.yaml` (dataset and output_dir rewritten into the
  folder), `data/` (the uploaded dataset), `events.jsonl`, `trainer.log` (the trainer's stderr), `output/`.
- `events.jsonl` holds one `{"seq": n, "event": {...}}` per line, seqs 0, 1, 2... without gaps. Each line is
  written, flushed and fsynced before it is broadcast (trainer events are at most a few per second, so an
  fsync per event costs nothing that matters and a crash loses no event a client has seen).
- Beside the trainer's events (start, log, eval, checkpoint, done, cancelled, oom, error) the server writes
  `queued` (seq 0), `launched` and `ended` (last of each run: the final state and its reason). The state of a job
  is derived from its log alone, so a restarted server keeps all history. On load a torn last line (the server
  died mid-write) is cut; damage before the last line keeps the valid prefix and the file aside as `.damaged`.
- The server stops the running job on SIGINT/SIGTERM (reason `server-shutdown`) and starts no queued one after it
  (they stay queued for the next start); the trainer never sees the server's token (`MODELFACTORY_TOKEN` is
  removed from its environment). `trust_remote_code: true` is refused unless the server runs with
  `--allow-remote-code`. Submitted configs are checked against
  `schemas/finetune.schema.json`; `dataset.datanet` is not accepted by submit (one dataset file per job).
- A job outlives its server (`detached.py`): the trainer runs behind a small entrypoint in a session of its own,
  which writes the trainer's events to a run file in the job folder and its pid, start time and run id to
  `run.json`; the server tails the run file into `events.jsonl` (`runfile.py`, shared with the ray executor).
  A server that starts again adopts a job whose entrypoint is still alive (same pid, start time and run id) and
  goes on tailing from the first event it had not logged, so every event is logged once and in order; a run
  that ended while no server ran is read to its end (`run-exit.json` holds the exit code); one whose trainer
  died with no exit recorded is `failed` with reason `trainer-lost`. A log written by an older server (no run
  file: the trainer's stdout was the server's pipe) is `failed` with `server-restarted` as before. Jobs that were
  still queued are queued again.
- Resume: a cancelled or failed job (a `server-restarted` or `server-shutdown` one included; never a done one) is
  queued again under its id. Its log goes on after `ended` with `queued` (`resumed: true`), seqs still without
  gaps, and the trainer runs as `train CONFIG --resume` in the same folder: it continues from the newest complete
  checkpoint (from step 0 when there is none). The stored config is checked again first, against this server's
  rules now (`--allow-remote-code`, `--data-root` may have changed since the submit), and a job whose trainer
  outlived a dead server waits until that trainer has exited (two trainers never share a job folder).
- Cancel: a queued job ends at once; a running one, adopted ones included, gets SIGTERM (to its process group)
  and SIGKILL after the grace period. A trainer that crashes or runs out of memory only ends its own job.
- A server-side dataset path must lie inside one of the `--data-root` folders; with none given, only uploaded
  datasets are accepted.
- A base model (`base_model` of a config, `base` of a chat) is a `builtin:` model, a Hugging Face id (loaded
  from the server's HF cache), or a folder inside the job folders or one of the `--model-root` folders (stored
  resolved); anything else is refused with `path-not-allowed`, whose message never names a path.
- A submitted config is parsed with limits (`server_yaml.py`: aliases, expanded size, depth) in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .hub_download import ALLOW_DOWNLOAD_ENV
from .protocol import ProtocolError

RESUMABLE_STATES = ("cancelled", "failed")
TRAINER_EVENT_TYPES = frozenset(
    {"download", "start", "log", "eval", "eval_start", "progress", "eval_done", "checkpoint", "done", "cancelled", "oom", "error"}
)
TRAIN_ARGV_ENV = "MODELFACTORY_TRAIN_ARGV"
STDERR_TAIL_CHARS = 2000
MAX_EVENT_LINE_BYTES = 1 << 20
LOCAL_POLL_S = 0.1  # how often the server reads a local run's file and checks its entrypoint
JOB_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")  # used with fullmatch: no trailing newline
HUB_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}(/[A-Za-z0-9][A-Za-z0-9_.-]{0,95})?")
BUILTIN_PREFIX = "builtin:"
MODEL_REFUSAL = (
    "a base model is a builtin: model, a Hugging Face id (org/name, from the server's cache), a finished job's "
    "adapter folder, or a folder inside one of the server's --model-root folders"
)

EventListener = Callable[[int, str], None]
"""Called with (seq, event JSON text) for every event appended after the listener was added."""


def default_train_argv() -> list[str]:
    """The trainer command; tests of queueing may swap in a fake trainer through the environment."""
    override = os.environ.get(TRAIN_ARGV_ENV)
    if override:
        argv = json.loads(override)
        if not isinstance(argv, list) or not argv or not all(isinstance(part, str) for part in argv):
            raise ValueError(f"{TRAIN_ARGV_ENV} must be a JSON array of strings")
        return argv
    return [sys.executable, "-m", "modelfactory_trainer", "train"]


def finetune_schema_path() -> Path:
    from .schemas import FINETUNE, schema_file

    return schema_file(FINETUNE)


def is_inside(path: Path, roots: list[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def launch_placement(event: dict[str, Any]) -> dict[str, Any]:
    """Where a run was placed, as its `launched` event tells (the ray executor fills in the node later)."""
    placement: dict[str, Any] = {
        "executor": "ray" if event.get("executor") == "ray" else "local",
        "node": event.get("node") if isinstance(event.get("node"), str) else None,
        "gpus": [str(gpu) for gpu in event.get("gpus", [])] if isinstance(event.get("gpus"), list) else [],
    }
    for key in ("submission_id", "processes", "status"):
        if key in event:
            placement[key] = event[key]
    return placement



def held_out_share(config: dict[str, Any]) -> float:
    """The share of records a config holds out for evaluation (`dataset.eval_split`, its default when absent)."""
    from .config import apply_defaults, load_schema

    dataset = config.get("dataset")
    with_defaults = apply_defaults(load_schema(), {"dataset": dict(dataset) if isinstance(dataset, dict) else {}})
    try:
        return float(with_defaults["dataset"].get("eval_split", 0))
    except (TypeError, ValueError):
        return 0.0

class EventLog:
    """An append-only JSONL file of numbered events with an in-memory index of line offsets."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offsets: list[int] = []
        self._size = 0

    @property
    def next_seq(self) -> int:
        return len(self._offsets)

    def load(self) -> list[dict[str, Any]]:
        """Index the file, cutting a torn last line (the server died mid-write); returns every event."""
        events: list[dict[str, Any]] = []
        data = self.path.read_bytes() if self.path.exists() else b""
        position = 0
        while position < len(data):
            end = data.find(b"\n", position)
            if end < 0:
                break
            try:
                record = json.loads(data[position:end])
                valid = record.get("seq") == len(events) and isinstance(record.get("event"), dict)
            except ValueError:
                valid = False
            if not valid:
                break
            self._offsets.append(position)
            events.append(record["event"])
            position = end + 1
        if position != len(data):
            if b"\n" in data[position:]:
                # Damage before the last line is not a torn append: keep the whole file aside for inspection.
                self.path.with_name(self.path.name + ".damaged").write_bytes(data)
            with open(self.path, "r+b") as handle:
                handle.truncate(position)
                os.fsync(handle.fileno())
        self._size = position
        return events

    def append(self, event: dict[str, Any]) -> tuple[int, str]:
        seq = len(self._offsets)
        event_text = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
        line = f'{{"seq":{seq},"event":{event_text}}}\n'.encode()
        with open(self.path, "ab") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        self._offsets.append(self._size)
        self._size += len(line)
        return seq, event_text

    def read(self, start: int, limit: int) -> list[tuple[int, str]]:
        """Events start..start+limit-1 that exist, as (seq, event JSON text)."""
        if start >= len(self._offsets):
            return []
        stop = min(start + limit, len(self._offsets))
        end_offset = self._offsets[stop] if stop < len(self._offsets) else self._size
        with open(self.path, "rb") as handle:
            handle.seek(self._offsets[start])
            chunk = handle.read(end_offset - self._offsets[start])
        result: list[tuple[int, str]] = []
        for seq, line in zip(range(start, stop), chunk.rstrip(b"\n").split(b"\n"), strict=True):
            record = json.loads(line)
            result.append((seq, json.dumps(record["event"], separators=(",", ":"), ensure_ascii=False)))
        return result


@dataclass
class Job:
    job_id: str
    folder: Path
    log: EventLog
    created: float = 0.0
    name: str = ""
    base_model: str = ""
    method: str = ""
    state: str = "queued"
    reason: str | None = None
    done_event: dict[str, Any] | None = None
    resume: bool = False  # the next run continues from a checkpoint (a `queued` event with `resumed: true`)
    orphan_pid: int | None = None  # a trainer left by a server that died, sent SIGTERM when the history loaded
    process: subprocess.Popen[bytes] | None = None  # the local run's entrypoint when this server started it
    cancel_requested: bool = False
    cancel_reason: str = "user-cancelled"
    listeners: list[EventListener] = field(default_factory=list)
    launch: dict[str, Any] | None = None  # the last `launched` event: on the ray executor it names the Ray job
    trainer_events_since_launch: int = 0  # how many trainer events the current run has logged (ray reattach)
    placement: dict[str, Any] | None = None  # where the job runs or ran: executor, node, GPUs
    position_of: Callable[[Job], int | None] | None = None  # the manager's queue, for queue_position
    # An evaluation job (queued by `evaluate`): {"adapter_job", "adapter_dir", "data", "max_new_tokens"}.
    evaluate: dict[str, Any] | None = None

    @property
    def config_path(self) -> Path:
        return self.folder / "config.finetune.yaml"

    def summary(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "state": self.state,
            "reason": self.reason,
            "created": self.created,
            "name": self.name,
            "base_model": self.base_model,
            "method": self.method,
            "last_seq": max(self.log.next_seq - 1, 0),
            "queue_position": self.position_of(self) if self.position_of is not None else None,
            **({"placement": self.placement} if self.placement is not None else {}),
        }

    def adapter_dir(self) -> Path | None:
        """The finished adapter folder the trainer reported, if it lies inside the job folder."""
        if self.state != "done" or self.done_event is None:
            return None
        reported = self.done_event.get("adapter_dir")
        if not isinstance(reported, str):
            return None
        candidate = Path(reported)
        if not candidate.is_absolute():
            candidate = self.folder / candidate
        candidate = candidate.resolve()
        if not is_inside(candidate, [self.folder.resolve()]) or not candidate.is_dir():
            return None
        return candidate

    def apply(self, event: dict[str, Any]) -> None:
        """Advance the state from one event; the log is the source of truth."""
        kind = event.get("type")
        if kind == "queued":
            if event.get("resumed") is True:
                self.resume = True
            else:
                self.created = float(event.get("time", 0.0))
                self.name = str(event.get("name", ""))
                self.base_model = str(event.get("base_model", ""))
                self.method = str(event.get("method", ""))
                evaluate = event.get("evaluate")
                self.evaluate = evaluate if isinstance(evaluate, dict) else None
            self.state = "queued"
            self.reason = None
            self.done_event = None
        elif kind == "launched":
            self.state = "running"
            self.launch = event
            self.trainer_events_since_launch = 0
            self.placement = launch_placement(event)
        elif kind in TRAINER_EVENT_TYPES:
            self.trainer_events_since_launch += 1
            if kind == "done":
                self.done_event = event
        elif kind == "ended":
            self.state = str(event.get("state"))
            self.reason = event.get("reason")
            if self.placement is not None and self.placement.get("status") in ("PENDING", "RUNNING"):
                # what Ray said last is not known from the log: say nothing rather than something stale
                self.placement = {key: value for key, value in self.placement.items() if key != "status"}


class JobManager:
    def __init__(
        self,
        state_dir: Path,
        *,
        data_roots: list[Path],
        model_roots: list[Path] | None = None,
        cancel_grace_s: float = 30.0,
        allow_remote_code: bool = False,
        allow_download: bool = False,
        log: Callable[..., None],
        executor: Any = None,
    ) -> None:
        self.jobs_dir = state_dir / "jobs"
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self.data_roots = [root.resolve() for root in data_roots]
        self.model_roots = [root.resolve() for root in model_roots or []]
        self.cancel_grace_s = cancel_grace_s
        self.allow_remote_code = allow_remote_code
        self.allow_download = allow_download
        self.train_argv = default_train_argv()
        self._log = log
        self.jobs: dict[str, Job] = {}
        self._queue: deque[Job] = deque()
        self._wakeup = asyncio.Event()
        self._running: Job | None = None
        self._stopping = False
        self._worker: asyncio.Task[None] | None = None
        self._finetune_validator: Any = None
        self.executor = executor  # None: local child processes; else a RayExecutor (executors.py)
        self._active: dict[str, Job] = {}
        self._reattach: list[Job] = []
        self._adopt: list[Job] = []  # local runs left by a server that died: followed before the queue moves
        self._run_tasks: set[asyncio.Task[None]] = set()

    # ---- history -------------------------------------------------------------------------------------------

    def load_history(self) -> None:
        for folder in sorted(self.jobs_dir.iterdir()):
            if folder.is_dir() and folder.name.startswith(".") and folder.name.endswith(".tmp"):
                shutil.rmtree(folder, ignore_errors=True)  # a submit the server died in the middle of
                continue
            if not folder.is_dir() or not JOB_ID_PATTERN.fullmatch(folder.name):
                continue
            job = Job(folder.name, folder, EventLog(folder / "events.jsonl"))
            events = job.log.load()
            if not events:
                continue
            for event in events:
                job.apply(event)
            self.jobs[job.job_id] = job
            job.position_of = self.queue_position
            if job.placement is not None and job.placement["executor"] == "ray":
                from .executors import read_placement

                read_placement(job)
            if job.state == "running" and self.executor is not None and self.executor.owns(job):
                self._reattach.append(job)  # still running on the cluster, perhaps: start() looks
            elif job.state == "running" and job.launch is not None and job.launch.get("executor") == "ray":
                message = "the server restarted without --executor ray; the job's Ray job is not followed"
                self._end(job, "failed", "server-restarted", None, message)
            elif job.state == "running" and self.executor is None and isinstance((job.launch or {}).get("run_file"), str):
                self._adopt.append(job)  # a detached local run: start() follows it (alive) or reads its end
            elif job.state == "running":
                self._stop_orphan(job, events)
                self._end(job, "failed", "server-restarted", None, "the server stopped while this job was running")
            elif job.state == "queued":
                self._queue.append(job)
        self._log("history loaded", jobs=len(self.jobs), requeued=len(self._queue), adopted=len(self._adopt))

    def _stop_orphan(self, job: Job, events: list[dict[str, Any]]) -> None:
        launched = [event for event in events if event.get("type") == "launched"]
        pid = launched[-1].get("pid") if launched else None
        if not isinstance(pid, int) or pid <= 0 or not self._is_trainer_of(job, pid):
            return
        job.orphan_pid = pid
        try:
            os.killpg(pid, signal.SIGTERM)
            self._log("stopped an orphaned trainer", job_id=job.job_id, pid=pid)
        except OSError:
            pass

    @staticmethod
    def _is_trainer_of(job: Job, pid: int) -> bool:
        """Whether pid is alive and a trainer of this job (a recycled pid runs something else)."""
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
        return str(job.config_path).encode() in cmdline

    # ---- submitting ----------------------------------------------------------------------------------------

    def _validate_config(self, config: dict[str, Any]) -> None:
        if self._finetune_validator is None:
            from .protocol import end_anchored_validator

            from .schemas import FINETUNE, load_schema_json

            self._finetune_validator = end_anchored_validator()(load_schema_json(FINETUNE))
        errors = sorted(self._finetune_validator.iter_errors(config), key=lambda error: list(error.absolute_path))
        if errors:
            where = "/".join(str(part) for part in errors[0].absolute_path) or "(config)"
            raise ProtocolError("bad-config", f"{where}: {errors[0].message}"[:500])
        if config.get("trust_remote_code") and not self.allow_remote_code:
            raise ProtocolError(
                "bad-config", "trust_remote_code needs the server to be started with --allow-remote-code"
            )

    def resolve_server_path(self, raw: str) -> Path:
        if not self.data_roots:
            raise ProtocolError("path-not-allowed", "this server accepts uploaded datasets only (no --data-root)")
        path = Path(raw)
        if not path.is_absolute():
            raise ProtocolError("path-not-allowed", "a server-side dataset path must be absolute")
        resolved = path.resolve()
        if not is_inside(resolved, self.data_roots) or not resolved.is_file():
            raise ProtocolError("path-not-allowed", "the dataset path is not a file inside the server's data roots")
        return resolved

    def check_base_model(self, spec: Any) -> str:
        """The base model as the trainer or chat worker should load it, or ProtocolError (`path-not-allowed`).

        Allowed: `builtin:` models, Hugging Face ids (the children load them from the HF cache), and folders
        inside the server's job folders or a `--model-root` (returned resolved, so what loads is what was
        checked). The refusal never names the resolved path.
        """
        if not isinstance(spec, str) or not spec:
            raise ProtocolError("bad-config", "base_model must be a non-empty string")
        if spec.startswith(BUILTIN_PREFIX):
            return spec
        if HUB_ID_PATTERN.fullmatch(spec) and ".." not in spec and not spec.endswith("."):
            return spec
        path = Path(spec)
        if not path.is_absolute():
            raise ProtocolError("path-not-allowed", MODEL_REFUSAL)
        try:
            resolved = path.resolve()
            is_folder = resolved.is_dir()
        except (OSError, RuntimeError):
            raise ProtocolError("path-not-allowed", MODEL_REFUSAL) from None
        if not is_folder or not is_inside(resolved, [*self.model_roots, self.jobs_dir.resolve()]):
            raise ProtocolError("path-not-allowed", MODEL_REFUSAL)
        if resolved in self.model_roots or resolved == self.jobs_dir.resolve():
            raise ProtocolError("path-not-allowed", MODEL_REFUSAL)  # a folder inside a root, not the root
        return str(resolved)

    def prepare_config(self, config_yaml: str, dataset_path: str | None) -> dict[str, Any]:
        """Parse and validate a submitted config with its dataset and output rewritten into the job folder
        (dataset_path None: the records are the config's Hub dataset, `dataset.hub`)."""
        import yaml

        from .server_yaml import YamlLimitError, load_client_yaml

        try:
            config = load_client_yaml(config_yaml)
        except YamlLimitError as exc:
            raise ProtocolError("bad-config", f"the config is refused: {exc}"[:500]) from None
        except yaml.YAMLError as exc:
            raise ProtocolError("bad-config", f"the config is not valid YAML: {exc}"[:500]) from None
        except RecursionError:
            raise ProtocolError("bad-config", "the config is nested too deeply") from None
        if not isinstance(config, dict):
            raise ProtocolError("bad-config", "the config must be a YAML mapping")
        submitted = config.get("dataset")
        dataset_section: dict[str, Any] = dict(submitted) if isinstance(submitted, dict) else {}
        if dataset_path is None:
            if "hub" not in dataset_section:
                raise ProtocolError("bad-config", "submit names a Hub dataset but the config has no dataset.hub")
        else:
            dataset_section = {key: value for key, value in dataset_section.items() if key not in ("path", "datanet")}
            dataset_section["path"] = dataset_path
        config["dataset"] = dataset_section
        config["output_dir"] = "output"
        config["target"] = "local"
        self._validate_config(config)
        config["base_model"] = self.check_base_model(config.get("base_model"))
        return config

    def create(self, config: dict[str, Any], dataset_file: Path | None, *, move_dataset: bool, name: str) -> Job:
        """Create the job folder from a prepared config and queue the job.

        dataset_file is a verified upload (moved into `data/`), an allowed server path (used where it is), or None
        for a Hub dataset.
        """
        import yaml

        job_id = time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(4)
        folder = self.jobs_dir / job_id
        staging = self.jobs_dir / f".{job_id}.tmp"
        (staging / "data").mkdir(parents=True)
        if move_dataset and dataset_file is not None:
            shutil.move(str(dataset_file), staging / "data" / dataset_file.name)
        (staging / "config.finetune.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        job = Job(job_id, folder, EventLog(folder / "events.jsonl"))
        os.rename(staging, folder)
        self._append(
            job,
            {
                "type": "queued",
                "time": time.time(),
                "name": name or str(config.get("base_model")),
                "base_model": str(config.get("base_model")),
                "method": str(config.get("method", "lora")),
            },
        )
        self.jobs[job_id] = job
        job.position_of = self.queue_position
        self._queue.append(job)
        self._wakeup.set()
        self._log("job queued", job_id=job_id)
        return job

    def create_evaluation(
        self, source: Job, data_file: Path | None, *, move_data: bool, max_new_tokens: int, name: str
    ) -> Job:
        """Queue `eval` of a done job's adapter against its base model, as a job of its own (events, watch, cancel)."""
        if self.executor is not None:
            raise ProtocolError(
                "bad-config",
                "this server places jobs on a Ray cluster (--executor ray), where evaluations do not run yet: "
                "evaluate on a server with the local executor, or run `python -m modelfactory_trainer eval` on a node",
            )
        adapter = source.adapter_dir()
        if adapter is None or not (adapter / "adapter_model.safetensors").is_file():
            raise ProtocolError("adapter-missing", f"job {source.job_id} has no finished adapter to evaluate")
        # The source job's config (written by this server), its dataset read where the source job keeps it.
        import yaml

        config = yaml.safe_load(source.config_path.read_text(encoding="utf-8"))
        dataset = config.get("dataset") if isinstance(config, dict) else None
        if not isinstance(dataset, dict) or not isinstance(dataset.get("path"), str):
            raise ProtocolError("bad-config", f"the stored config of job {source.job_id} names no dataset file")
        if data_file is None and held_out_share(config) <= 0:
            raise ProtocolError(
                "no-held-out",
                f"job {source.job_id}'s config holds out no records (dataset.eval_split is 0): "
                "evaluate its adapter on a held-out file instead",
            )
        job_id = time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(4)
        folder = self.jobs_dir / job_id
        staging = self.jobs_dir / f".{job_id}.tmp"
        (staging / "data").mkdir(parents=True)
        data: str | None = None
        if data_file is not None and move_data:
            shutil.move(str(data_file), staging / "data" / data_file.name)
            data = str(folder / "data" / data_file.name)
        elif data_file is not None:
            data = str(data_file)
        dataset["path"] = str((source.folder / dataset["path"]).resolve())
        (staging / "config.finetune.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        job = Job(job_id, folder, EventLog(folder / "events.jsonl"))
        os.rename(staging, folder)
        evaluate = {"adapter_job": source.job_id, "adapter_dir": str(adapter), "data": data, "max_new_tokens": max_new_tokens}
        self._append(
            job,
            {
                "type": "queued",
                "time": time.time(),
                "name": name or f"eval {source.name or source.job_id}",
                "base_model": source.base_model,
                "method": "eval",
                "evaluate": evaluate,
            },
        )
        self.jobs[job_id] = job
        self._queue.append(job)
        self._wakeup.set()
        self._log("evaluation queued", job_id=job_id, adapter_job=source.job_id)
        return job

    def _argv(self, job: Job) -> list[str]:
        if job.evaluate is None:
            return [*self.train_argv, str(job.config_path), *(["--resume"] if job.resume else [])]
        base = [*self.train_argv[:-1], "eval"] if self.train_argv[-1:] == ["train"] else [sys.executable, "-m", "modelfactory_trainer", "eval"]
        evaluate = job.evaluate
        argv = [*base, str(job.config_path), "--adapter", str(evaluate["adapter_dir"]), "--events", "--out", str(job.folder / "output" / "eval")]
        if evaluate.get("data"):
            argv += ["--data", str(evaluate["data"])]
        return [*argv, "--max-new-tokens", str(int(evaluate.get("max_new_tokens") or 128))]

    def resume(self, job: Job) -> None:
        """Queue a cancelled or failed job again under its id; its trainer will run with --resume."""
        if job.state not in RESUMABLE_STATES:
            raise ProtocolError(
                "job-not-resumable",
                f"job {job.job_id} is {job.state}; only a cancelled or failed job can be resumed",
            )
        if job.orphan_pid is not None and self._is_trainer_of(job, job.orphan_pid):
            raise ProtocolError(
                "job-not-resumable",
                f"the previous trainer of job {job.job_id} (pid {job.orphan_pid}) is still stopping; try again soon",
            )
        self._check_stored_config(job)
        job.cancel_requested = False
        job.cancel_reason = "user-cancelled"
        self._append(
            job,
            {
                "type": "queued",
                "time": time.time(),
                "name": job.name,
                "base_model": job.base_model,
                "method": job.method,
                "resumed": True,
            },
        )
        if job not in self._queue:  # a job cancelled while it was queued can still be in the queue: once is enough
            self._queue.append(job)
        self._wakeup.set()
        self._log("job resumed", job_id=job.job_id)

    def _check_stored_config(self, job: Job) -> None:
        """The job's config must still pass this server's checks, which may differ from the submitting server's."""
        import yaml

        from .server_yaml import load_client_yaml

        try:
            config = load_client_yaml(job.config_path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError, RecursionError) as exc:
            message = f"the stored config of job {job.job_id} is unreadable: {exc}"
            raise ProtocolError("bad-config", message[:500]) from None
        if not isinstance(config, dict):
            raise ProtocolError("bad-config", f"the stored config of job {job.job_id} is not a mapping")
        self._validate_config(config)
        self.check_base_model(config.get("base_model"))
        dataset = config.get("dataset")
        if isinstance(dataset, dict) and "hub" in dataset:
            return  # a Hub dataset: the schema has checked its id; the trainer loads it
        dataset_path = dataset.get("path") if isinstance(dataset, dict) else None
        if not isinstance(dataset_path, str):
            raise ProtocolError("bad-config", f"the stored config of job {job.job_id} names no dataset path")
        if Path(dataset_path).is_absolute():
            self.resolve_server_path(dataset_path)
        elif not is_inside((job.folder / dataset_path).resolve(), [job.folder.resolve()]):
            raise ProtocolError("path-not-allowed", "the stored dataset path leaves the job folder")

    # ---- events --------------------------------------------------------------------------------------------

    def _append(self, job: Job, event: dict[str, Any]) -> None:
        seq, text = job.log.append(event)
        job.apply(event)
        for listener in list(job.listeners):
            listener(seq, text)

    def _end(self, job: Job, state: str, reason: str | None, exit_code: int | None, message: str = "") -> None:
        event: dict[str, Any] = {
            "type": "ended",
            "time": time.time(),
            "state": state,
            "reason": reason,
            "exit_code": exit_code,
        }
        if message:
            event["message"] = message
        self._append(job, event)
        self._log("job ended", job_id=job.job_id, state=state, reason=reason, exit_code=exit_code)

    def get(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise ProtocolError("unknown-job", f"no job {job_id!r}")
        return job

    def list(self) -> list[Job]:
        return sorted(self.jobs.values(), key=lambda job: (job.created, job.job_id))

    async def follow(
        self,
        job: Job,
        from_seq: int,
        deliver: Callable[[int, str], Any],
        listener: EventListener,
        batch: int = 256,
    ) -> int:
        """Replay events from from_seq with back-pressure (awaiting deliver), then add listener for live ones.

        Between the last replayed event and adding the listener nothing awaits, so the event loop cannot
        append in between: no event is lost or sent twice. Returns the first seq the listener will get.
        """
        next_seq = from_seq
        while next_seq < job.log.next_seq:
            for seq, text in job.log.read(next_seq, batch):
                await deliver(seq, text)
                next_seq = seq + 1
        job.listeners.append(listener)
        return next_seq

    # ---- running -------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._work())
        for job in self._reattach:
            self._active[job.job_id] = job
            self._spawn_run(job, reattach=True)
        self._reattach.clear()
        if self._queue:
            self._wakeup.set()

    @property
    def running_job(self) -> Job | None:
        return self._running or next(iter(self._active.values()), None)

    def queue_position(self, job: Job) -> int | None:
        """0 for the job that starts next; None when the job is not queued."""
        if job.state != "queued":
            return None
        position = 0
        for queued in self._queue:
            if queued is job:
                return position
            if queued.state == "queued":
                position += 1
        return None

    def move(self, job: Job, position: int) -> None:
        """Put a queued job at position (0: next to start) among the queued jobs."""
        if job.state != "queued" or job not in self._queue:
            raise ProtocolError("job-not-queued", f"job {job.job_id} is {job.state}; only a queued job can be moved")
        self._queue.remove(job)
        queued = [entry for entry in self._queue if entry.state == "queued"]
        if position >= len(queued):
            self._queue.append(job)
        else:
            self._queue.insert(self._queue.index(queued[position]), job)
        self._log("job moved", job_id=job.job_id, position=min(position, len(queued)))

    def _spawn_run(self, job: Job, *, reattach: bool) -> None:
        async def run() -> None:
            try:
                await self.executor.run(self, job, reattach=reattach)
            except Exception as exc:  # the server outlives any job
                self._log("job runner failed", job_id=job.job_id, error=repr(exc))
                if job.state not in ("done", "failed", "cancelled"):
                    self._end(job, "failed", "internal", None, f"the server could not run the job: {exc}"[:500])
            finally:
                self._active.pop(job.job_id, None)
                self._wakeup.set()

        task = asyncio.get_running_loop().create_task(run())
        self._run_tasks.add(task)
        task.add_done_callback(self._run_tasks.discard)

    def queued_count(self) -> int:
        return sum(1 for job in self._queue if job.state == "queued")

    async def _work(self) -> None:
        while self._adopt:
            job = self._adopt.pop(0)
            await self._as_running(job, self._follow_local(job, adopted=True), "the server could not follow the job")
        while True:
            while not self._queue or (self.executor is not None and len(self._active) >= self.executor.max_running):
                self._wakeup.clear()
                await self._wakeup.wait()
            job = self._queue.popleft()
            if job.state != "queued":
                continue
            if self._stopping:  # left queued in its log: the next server start queues it again
                self._queue.appendleft(job)
                return
            if self.executor is not None:  # several at once: the cluster places them
                self._active[job.job_id] = job
                self._spawn_run(job, reattach=False)
                continue
            await self._as_running(job, self._run(job), "the server could not run the job")

    async def _as_running(self, job: Job, work: Awaitable[None], failure: str) -> None:
        """Awaits `work` with `job` as the running job; an exception fails the job, never the server."""
        self._running = job
        try:
            await work
        except Exception as exc:  # the server outlives any job
            self._log("job runner failed", job_id=job.job_id, error=repr(exc))
            if job.state not in ("done", "failed", "cancelled"):
                self._end(job, "failed", "internal", None, f"{failure}: {exc}"[:500])
        finally:
            self._running = None

    def _child_env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key != "MODELFACTORY_TOKEN"}
        env["PYTHONUNBUFFERED"] = "1"
        # Only --allow-download lets a trainer fetch from the Hub (hub_download.py); an inherited variable cannot.
        env.pop(ALLOW_DOWNLOAD_ENV, None)
        if self.allow_download:
            env[ALLOW_DOWNLOAD_ENV] = "1"
        return env

    async def _run(self, job: Job) -> None:
        from .executors import ResourceRefusal, local_launch

        try:
            argv, env, job.placement = local_launch(self.train_argv, job.config_path, self._child_env())
        except ResourceRefusal as refusal:
            self._end(job, "failed", "resources", None, str(refusal))
            return
        # An evaluation runs `eval` in one process on the GPUs the config asks for; training may run under torchrun.
        argv = self._argv(job) if job.evaluate is not None else [*argv, str(job.config_path), *(["--resume"] if job.resume else [])]
        run_id = secrets.token_hex(8)
        run_file = f"events-{run_id}.jsonl"
        entry = [sys.executable, "-m", "modelfactory_trainer.detached", str(job.folder.resolve()), run_file, run_id, "--", *argv]
        with open(job.folder / "runner.log", "ab") as runner_log:
            # A session of its own: not killed with the server, and the leader of the group cancel signals.
            process = subprocess.Popen(
                entry,
                stdin=subprocess.DEVNULL,
                stdout=runner_log,
                stderr=runner_log,
                cwd=str(job.folder),
                env=env,
                start_new_session=True,
            )
        job.process = process
        self._append(
            job, {"type": "launched", "time": time.time(), "pid": process.pid, "run_file": run_file, **job.placement}
        )
        self._log("job launched", job_id=job.job_id, pid=process.pid, resume=job.resume)
        if job.cancel_requested:
            self._signal(job, signal.SIGTERM)
        await self._follow_local(job, adopted=False)

    def _local_run(self, job: Job) -> tuple[int, str, str]:
        launch = job.launch or {}
        return int(launch.get("pid") or 0), str(launch.get("run_file")), str(launch.get("run_file"))[len("events-") : -len(".jsonl")]

    def _local_alive(self, job: Job) -> bool:
        from .detached import run_is_alive

        if job.process is not None:
            return job.process.poll() is None
        pid, _, run_id = self._local_run(job)
        return pid > 0 and run_is_alive(job.folder, pid, run_id)

    async def _follow_local(self, job: Job, *, adopted: bool) -> None:
        """Tail the run's file into the job's log until the entrypoint exits; then end the job from its exit code."""
        from .detached import exit_code_of
        from .runfile import RunFileTail

        pid, run_file, run_id = self._local_run(job)
        tail = RunFileTail(job.folder / run_file, job.trainer_events_since_launch if adopted else 0)
        if adopted:
            alive = self._local_alive(job)
            self._log("job adopted" if alive else "job ended while no server ran", job_id=job.job_id, pid=pid)
        while self._local_alive(job):
            tail.pump(self, job)
            await asyncio.sleep(LOCAL_POLL_S)
        tail.pump(self, job)  # the entrypoint fsynced the run file before it wrote its exit code
        exit_code = exit_code_of(job.folder, run_id)
        if exit_code is None and job.process is not None:
            exit_code = job.process.returncode  # the entrypoint itself was killed (SIGKILL after the grace period)
        job.process = None
        if exit_code is None and not job.cancel_requested:
            message = (
                "the trainer stopped while no job server was following it (killed, or the machine restarted) and "
                "left no exit code; resume continues from the newest checkpoint"
            )
            self._end(job, "failed", "trainer-lost", None, message)
            return
        state, reason = self._outcome(job, exit_code if exit_code is not None else -9, tail.last_outcome)
        message = self._stderr_tail(job) if state == "failed" else ""
        self._end(job, state, reason, exit_code, message)

    def _outcome(self, job: Job, exit_code: int, last: dict[str, Any] | None) -> tuple[str, str | None]:
        kind = last.get("type") if last else None
        if job.cancel_requested:
            return "cancelled", job.cancel_reason
        if exit_code == 0 and kind in ("done", "eval_done"):
            return "done", None
        if kind == "error":
            assert last is not None
            return "failed", str(last.get("code", "internal"))
        if kind == "oom":
            return "failed", "oom"
        if kind == "cancelled" or exit_code == 130:
            return "cancelled", "interrupted"
        if exit_code < 0:
            return "failed", f"signal-{-exit_code}"
        if exit_code == 0:
            return "failed", "no-done-event"
        return "failed", f"exit-code-{exit_code}"

    def _stderr_tail(self, job: Job) -> str:
        path = job.folder / "trainer.log"
        try:
            with open(path, "rb") as handle:
                handle.seek(max(path.stat().st_size - STDERR_TAIL_CHARS, 0))
                return handle.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def _signal(self, job: Job, signum: int) -> None:
        """Signal the local run's process group (the entrypoint leads it), if that run is still alive."""
        if not self._local_alive(job):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._local_run(job)[0], signum)

    def cancel(self, job: Job, reason: str = "user-cancelled") -> None:
        if job.state == "queued":
            self._end(job, "cancelled", reason, None)
            return
        if job.state == "running" and self.executor is not None and self.executor.owns(job):
            # Asked again after a stop that did not reach the cluster (its dashboard was down), it asks again.
            job.cancel_reason = job.cancel_reason if job.cancel_requested else reason
            job.cancel_requested = True
            asyncio.get_running_loop().create_task(self.executor.stop(self, job))
            return
        if job.state != "running" or job.cancel_requested:
            return
        job.cancel_requested = True
        job.cancel_reason = reason
        self._signal(job, signal.SIGTERM)
        asyncio.get_running_loop().create_task(self._kill_after_grace(job))

    async def _kill_after_grace(self, job: Job) -> None:
        deadline = time.monotonic() + self.cancel_grace_s
        while self._local_alive(job):
            if time.monotonic() >= deadline:
                job.cancel_reason = "killed-after-grace"
                self._signal(job, signal.SIGKILL)
                return
            await asyncio.sleep(LOCAL_POLL_S)

    async def shutdown(self) -> None:
        """Cancel the running job (waiting out its grace period) and stop the queue worker."""
        self._stopping = True
        for task in list(self._run_tasks):  # ray: the jobs go on on the cluster; the next start reattaches
            task.cancel()
        job = self._running
        if job is not None and job.state == "running":
            self.cancel(job, "server-shutdown")
            while job.state == "running":
                await asyncio.sleep(0.05)
        if self._worker is not None:
            self._worker.cancel()
