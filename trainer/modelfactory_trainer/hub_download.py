"""Where it is allowed, a job fetches its base model from the Hugging Face Hub before it trains.

- Permission: `MODELFACTORY_ALLOW_DOWNLOAD=1` in the trainer's environment (the job server sets it under
  `serve --allow-download`; the extension under `modelfactory.trainer.allowDownload`). Without it the process
  runs with `HF_HUB_OFFLINE=1` and a Hub id must already be in the local cache (`download-disabled` otherwise).
- What is fetched: the repository's top-level safetensors weights, configs, tokenizer files and chat templates
  (never pickled weights), at `revision` (a branch, tag or commit; `main` when omitted), pinned to the commit the
  Hub names for it, into the ordinary Hugging Face cache (`HF_HOME` / `HF_HUB_CACHE`).
- Token: huggingface_hub's own lookup (`HF_TOKEN` in the environment, else a stored login); it is never put on a
  command line or into an event.
- Progress: `download` events (files, bytes, rate, ETA) about every PROGRESS_INTERVAL_S.
- Cuts: huggingface_hub retries a connection cut mid-file (five times, continuing with a Range request from the
  last block it wrote, its DOWNLOAD_CHUNK_SIZE). A run that ends anyway (cancelled, the network gone for good)
  keeps every finished file in the cache, so running the job again fetches only the unfinished ones; the
  partial file itself is discarded by huggingface_hub 2.x (a process-unique temporary, since its PR #4228).
- Cancel: SIGTERM (the job server's cancel) stops waiting for the transfer at once and the job ends `cancelled`.
- Failures are typed: `hub-gated`, `hub-not-found`, `download-disabled`, `download-failed`, each with what to do.
"""

from __future__ import annotations

import fnmatch
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .errors import DownloadDisabledError, DownloadFailedError, HubGatedError, HubNotFoundError, ModelError

ALLOW_DOWNLOAD_ENV = "MODELFACTORY_ALLOW_DOWNLOAD"
COMMIT_PATTERN = re.compile(r"[0-9a-f]{40}")
PROGRESS_INTERVAL_S = 1.0
POLL_INTERVAL_S = 0.2
# Top-level files a causal LM loads from: weights in safetensors only, configs, tokenizers, chat templates.
MODEL_FILE_PATTERNS = ("*.safetensors", "*.json", "tokenizer.model", "*.tiktoken", "*.txt", "*.jinja")
TOKENIZER_FILE_PATTERNS = tuple(pattern for pattern in MODEL_FILE_PATTERNS if pattern != "*.safetensors")
TOKEN_ADVICE = (
    "give the trainer a Hugging Face token that can read it: HF_TOKEN in the job server's environment, or "
    "'ModelFactory: Set Hugging Face Token' for the local trainer"
)


def downloads_allowed() -> bool:
    return os.environ.get(ALLOW_DOWNLOAD_ENV, "").strip().lower() in ("1", "true", "yes")


def apply_download_policy() -> None:
    """Called before any Hugging Face library is imported: a process that may not download works offline, so
    neither transformers nor datasets reaches the network behind the trainer's back."""
    if not downloads_allowed():
        os.environ["HF_HUB_OFFLINE"] = "1"


def hub_endpoint() -> str:
    from huggingface_hub import constants

    return str(constants.ENDPOINT).rstrip("/")


def wanted_file(name: str, weights: bool) -> bool:
    if "/" in name:
        return False
    patterns = MODEL_FILE_PATTERNS if weights else TOKENIZER_FILE_PATTERNS
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def cached_snapshot(repo_id: str, revision: str | None, weights: bool = True) -> Path | None:
    """The cached snapshot folder of repo_id at revision when it holds a loadable model (config.json and, with
    weights, every safetensors file its index names, or one), else None. Reads the cache only."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    if not isinstance(found, str):
        return None
    folder = Path(found).parent
    if not weights:
        return folder
    import json

    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return folder if all((folder / shard).is_file() for shard in shards) else None
    return folder if any(folder.glob("*.safetensors")) else None


@dataclass
class _Transfer:
    """Shared between the downloading thread and the thread that reports and watches for cancellation."""

    files: list[tuple[str, int]]
    done_files: int = 0
    done_bytes: int = 0
    cached_bytes: int = 0  # of files that were already in the cache: not transferred, so not in the rate
    current: str | None = None
    folder: str | None = None
    error: BaseException | None = None


def _translate(exc: BaseException, repo_id: str, revision: str | None) -> Exception:
    """huggingface_hub's failures as the trainer's typed errors, each saying what to do."""
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    endpoint = hub_endpoint()
    if isinstance(exc, GatedRepoError):
        return HubGatedError(
            f"{repo_id} is gated: accept its terms on {endpoint}/{repo_id} with your account, then {TOKEN_ADVICE}"
        )
    if isinstance(exc, RepositoryNotFoundError):
        return HubNotFoundError(
            f"{repo_id} is not a model repository on {endpoint}: check base_model's spelling; if it is private, "
            f"{TOKEN_ADVICE}"
        )
    if isinstance(exc, RevisionNotFoundError):
        return HubNotFoundError(f"{repo_id} has no revision {revision!r}: set revision to a branch, tag or commit it has")
    if isinstance(exc, EntryNotFoundError):
        return HubNotFoundError(f"{repo_id}: a file the Hub listed is missing ({exc}); pin another revision")
    if isinstance(exc, LocalEntryNotFoundError):
        return DownloadFailedError(f"cannot reach {endpoint} to fetch {repo_id}: check the network, then run the job again")
    if isinstance(exc, HfHubHTTPError):
        return DownloadFailedError(f"fetching {repo_id} from {endpoint} failed: {exc}; run the job again to resume")
    return DownloadFailedError(
        f"fetching {repo_id} from {endpoint} broke off ({type(exc).__name__}: {exc}); run the job again: "
        "the download resumes where it stopped"
    )


def _repo_cache_folder(repo_id: str) -> Path:
    """The repository's folder in the cache, in huggingface_hub's documented layout (blobs/, refs/, snapshots/)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}"


def _remember_revision(repo_id: str, revision: str | None, commit: str) -> None:
    """Files are fetched at the commit the Hub named, so that a branch moving mid-download cannot mix two
    commits; the branch or tag asked for is then pointed at that commit (refs/<revision>), as huggingface_hub
    itself does, so an offline run finds the snapshot by the same name."""
    name = revision or "main"
    if name == commit or any(part in ("", ".", "..") for part in name.split("/")):
        return  # the Hub resolved it, so it names no folder above refs/; this is a second guard
    ref = _repo_cache_folder(repo_id) / "refs" / name
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text(commit, encoding="utf-8")


def _partial_bytes(repo_id: str) -> int:
    """Bytes of the blobs being written now (`*.incomplete` in the repo's cache folder)."""
    blobs = _repo_cache_folder(repo_id) / "blobs"
    total = 0
    for partial in blobs.glob("*.incomplete") if blobs.is_dir() else []:
        try:
            total += partial.stat().st_size
        except OSError:
            continue
    return total


def _download_files(repo_id: str, commit: str, transfer: _Transfer) -> None:
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    try:
        for name, size in transfer.files:
            transfer.current = name
            if isinstance(try_to_load_from_cache(repo_id, name, revision=commit), str):
                transfer.cached_bytes += size
            path = hf_hub_download(repo_id, name, revision=commit)
            transfer.folder = str(Path(path).parent)
            transfer.done_files += 1
            transfer.done_bytes += size
        transfer.current = None
    except BaseException as exc:  # handed to the watching thread, which raises it as a typed error
        transfer.error = exc


Emit = Callable[..., Any]


def fetch_model(
    repo_id: str, revision: str | None, emit: Emit, cancelled: threading.Event, weights: bool = True
) -> Path | None:
    """Download repo_id's model files at revision into the cache; the snapshot folder, or None when cancelled."""
    from huggingface_hub import HfApi

    try:
        info = HfApi().model_info(repo_id, revision=revision, files_metadata=True)
    except Exception as exc:
        raise _translate(exc, repo_id, revision) from exc
    files = [(s.rfilename, int(s.size or 0)) for s in info.siblings or [] if wanted_file(s.rfilename, weights)]
    files.sort(key=lambda item: (item[0].endswith(".safetensors"), item[0]))  # the small files first, weights last
    names = [name for name, _ in files]
    if "config.json" not in names:
        raise ModelError(f"{repo_id} has no config.json at {revision or 'main'}: it is not a transformers model")
    if weights and not any(name.endswith(".safetensors") for name in names):
        raise ModelError(
            f"{repo_id} has no safetensors weights at {revision or 'main'}: this trainer loads no pickled weights; "
            "pick a revision or repository with .safetensors files"
        )
    commit = str(info.sha)
    transfer = _Transfer(files)
    bytes_total = sum(size for _, size in files)
    started = time.monotonic()
    stale_partial = _partial_bytes(repo_id)  # left by a process that was killed: not this run's progress
    worker = threading.Thread(target=_download_files, args=(repo_id, commit, transfer), daemon=True)

    def report(finished: bool) -> None:
        partial = max(_partial_bytes(repo_id) - stale_partial, 0)
        now_bytes = bytes_total if finished else min(transfer.done_bytes + partial, bytes_total)
        elapsed = max(time.monotonic() - started, 1e-6)
        rate = max(now_bytes - transfer.cached_bytes, 0) / elapsed
        eta = 0.0 if finished else ((bytes_total - now_bytes) / rate if rate > 0 else None)
        emit(
            "download",
            repo=repo_id,
            revision=commit,
            file=None if finished else transfer.current,
            files_done=len(files) if finished else transfer.done_files,
            files_total=len(files),
            bytes_done=now_bytes,
            bytes_total=bytes_total,
            bytes_per_second=rate,
            eta_seconds=eta,
            finished=finished,
        )

    report(False)
    worker.start()
    last_report = time.monotonic()
    while worker.is_alive():
        worker.join(POLL_INTERVAL_S)
        if cancelled.is_set():
            return None
        if time.monotonic() - last_report >= PROGRESS_INTERVAL_S and worker.is_alive():
            report(False)
            last_report = time.monotonic()
    if transfer.error is not None:
        raise _translate(transfer.error, repo_id, revision) from transfer.error
    _remember_revision(repo_id, revision, commit)
    report(True)
    assert transfer.folder is not None
    return Path(transfer.folder)


def model_source(
    spec: str, revision: str | None, emit: Emit, cancelled: threading.Event, weights: bool = True
) -> str | None:
    """What to load a base model from: a builtin's or folder's path, a Hub id's cached (or now downloaded)
    snapshot folder, or None when the download was cancelled."""
    from .models import resolve_model_source

    resolved = resolve_model_source(spec)
    if resolved != spec:
        return resolved
    cached = cached_snapshot(spec, revision, weights)
    if cached is not None and revision is not None and COMMIT_PATTERN.fullmatch(revision):
        return str(cached)  # a commit never changes: nothing to ask the Hub
    if not downloads_allowed():
        if cached is not None:
            return str(cached)
        at = f" at revision {revision}" if revision else ""
        raise DownloadDisabledError(
            f"{spec}{at} is not in this machine's Hugging Face cache and this trainer may not download: start the "
            "job server with --allow-download (or turn on modelfactory.trainer.allowDownload for the local trainer), "
            f"fetch it by hand (`hf download {spec}`), or point base_model at a local folder"
        )
    try:
        fetched = fetch_model(spec, revision, emit, cancelled, weights)
    except (DownloadFailedError, HubGatedError, HubNotFoundError) as exc:
        if cached is None:
            raise
        from .events import note

        note(f"{exc.message}; using the cached snapshot of {spec} ({cached.name[:12]})")
        return str(cached)
    return None if fetched is None else str(fetched)
