"""Checkpoint files without pickle, the completeness check used by --resume, and the atomic adapter write."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
from pathlib import Path
from typing import Any

from .events import note
from .digest import sha256_of

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
TRAINER_STATE = "trainer_state.json"
OPTIMIZER_FILE = "optimizer.safetensors"
SCHEDULER_FILE = "scheduler.json"
SCALER_FILE = "scaler.json"
SHA256_MANIFEST = "adapter.sha256.json"
_CHECKPOINT_NAME = re.compile(r"^checkpoint-(\d+)$")

# What a checkpoint written by this trainer holds; a missing or unreadable one means the write was cut.
_SAFETENSORS_FILES = (ADAPTER_WEIGHTS, OPTIMIZER_FILE)
_JSON_FILES = (ADAPTER_CONFIG, TRAINER_STATE, SCHEDULER_FILE)


def safetensors_is_readable(path: Path) -> bool:
    """The header parses and the file is exactly as long as the header says (catches truncation)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            prefix = handle.read(8)
            if len(prefix) != 8:
                return False
            (header_length,) = struct.unpack("<Q", prefix)
            if header_length > size - 8:
                return False
            header = json.loads(handle.read(header_length))
    except (OSError, ValueError):
        return False
    if not isinstance(header, dict):
        return False
    data_end = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2):
            return False
        data_end = max(data_end, int(offsets[1]))
    return 8 + header_length + data_end == size


def _json_is_readable(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8") as handle:
            return isinstance(json.load(handle), dict)
    except (OSError, ValueError):
        return False


def checkpoint_problem(directory: Path) -> str | None:
    """Why a checkpoint cannot be resumed from, or None when it is complete."""
    for name in _SAFETENSORS_FILES:
        if not safetensors_is_readable(directory / name):
            return f"{name} is missing or truncated"
    for name in _JSON_FILES:
        if not _json_is_readable(directory / name):
            return f"{name} is missing or not valid JSON"
    return None


def newest_complete_checkpoint(checkpoints_dir: Path) -> Path | None:
    """The highest-step checkpoint whose files are all present and parseable; broken ones are skipped."""
    if not checkpoints_dir.is_dir():
        return None
    candidates = []
    for entry in checkpoints_dir.iterdir():
        match = _CHECKPOINT_NAME.match(entry.name)
        if match and entry.is_dir():
            candidates.append((int(match.group(1)), entry))
    for _, directory in sorted(candidates, reverse=True):
        problem = checkpoint_problem(directory)
        if problem is None:
            return directory
        note(f"skipping {directory.name}: {problem} (an interrupted save)")
    return None


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_json_durably(path: Path, payload: Any) -> None:
    """Temp file in the same folder, fsync, rename: a reader sees the old file or the new one."""
    staging = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(staging, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(staging, path)



def finalize_adapter_dir(staging: Path, destination: Path) -> dict[str, str]:
    """Fsync the staged files, record their sha256, and swap the folder into place with renames.

    The destination is never half-written: it is absent, the previous complete adapter, or the new one.
    """
    files = {}
    for entry in sorted(staging.iterdir()):
        if entry.is_file():
            _fsync_file(entry)
            files[entry.name] = sha256_of(entry)
    if ADAPTER_WEIGHTS not in files:
        raise RuntimeError(f"{staging} has no {ADAPTER_WEIGHTS}")
    write_json_durably(staging / SHA256_MANIFEST, files)
    _fsync_dir(staging)
    parent = destination.parent
    retired = parent / f".{destination.name}.old-{os.getpid()}"
    if destination.exists():
        os.rename(destination, retired)
    os.rename(staging, destination)
    _fsync_dir(parent)
    if retired.exists():
        shutil.rmtree(retired, ignore_errors=True)
    return files


# Optimizer, scheduler and RNG state as safetensors + JSON, so resuming never unpickles anything.


def save_optimizer_state(optimizer: Any, path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    state_dict = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for param_id, param_state in state_dict["state"].items():
        for key, value in param_state.items():
            name = f"{param_id}.{key}"
            if isinstance(value, torch.Tensor):
                tensors[name] = value.detach().to("cpu").contiguous()
            else:
                scalars[name] = value
    metadata = {"param_groups": json.dumps(state_dict["param_groups"]), "scalars": json.dumps(scalars)}
    save_file(tensors, str(path), metadata=metadata)


def load_optimizer_state(optimizer: Any, path: Path) -> None:
    from safetensors import safe_open

    state: dict[int, dict[str, Any]] = {}
    with safe_open(str(path), framework="pt", device="cpu") as handle:
        metadata = handle.metadata()
        for name in handle.keys():
            param_id, key = name.split(".", 1)
            state.setdefault(int(param_id), {})[key] = handle.get_tensor(name)
    for name, value in json.loads(metadata["scalars"]).items():
        param_id, key = name.split(".", 1)
        state.setdefault(int(param_id), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": json.loads(metadata["param_groups"])})


def save_rng_state(path: Path) -> None:
    import random

    import numpy as np
    import torch
    from safetensors.torch import save_file

    numpy_state = np.random.get_state()
    tensors = {"torch_cpu": torch.random.get_rng_state(), "numpy_keys": torch.from_numpy(numpy_state[1].astype("int64"))}
    if torch.cuda.is_available():
        for index, cuda_state in enumerate(torch.cuda.random.get_rng_state_all()):
            tensors[f"torch_cuda_{index}"] = cuda_state
    metadata = {
        "python": json.dumps(random.getstate()),
        "numpy": json.dumps([numpy_state[0], int(numpy_state[2]), int(numpy_state[3]), float(numpy_state[4])]),
    }
    save_file(tensors, str(path), metadata=metadata)


def load_rng_state(path: Path) -> None:
    import random

    import numpy as np
    import torch
    from safetensors import safe_open

    with safe_open(str(path), framework="pt", device="cpu") as handle:
        metadata = handle.metadata()
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    version, internal, gauss = json.loads(metadata["python"])
    random.setstate((version, tuple(internal), gauss))
    kind, position, has_gauss, cached = json.loads(metadata["numpy"])
    np.random.set_state((kind, tensors["numpy_keys"].numpy().astype("uint32"), position, has_gauss, cached))
    torch.random.set_rng_state(tensors["torch_cpu"])
    if torch.cuda.is_available():
        states = [tensors[f"torch_cuda_{index}"] for index in range(torch.cuda.device_count()) if f"torch_cuda_{index}" in tensors]
        if len(states) == torch.cuda.device_count():
            torch.cuda.random.set_rng_state_all(states)
