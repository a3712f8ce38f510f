"""Checkpoint completeness, pickle-free optimizer/RNG state, and the atomic adapter swap."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from modelfactory_trainer.checkpoints import (
    finalize_adapter_dir,
    load_optimizer_state,
    load_rng_state,
    newest_complete_checkpoint,
    safetensors_is_readable,
    save_optimizer_state,
    save_rng_state,
    sha256_of,
)


def _write_checkpoint(root: Path, step: int) -> Path:
    import torch
    from safetensors.torch import save_file

    directory = root / f"checkpoint-{step}"
    directory.mkdir(parents=True)
    save_file({"lora_A": torch.ones(4, 2) * step}, str(directory / "adapter_model.safetensors"))
    save_file({"0.exp_avg": torch.zeros(4, 2)}, str(directory / "optimizer.safetensors"))
    for name in ("adapter_config.json", "scheduler.json"):
        (directory / name).write_text("{}")
    (directory / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    return directory


def test_newest_complete_checkpoint_skips_broken_ones(tmp_path: Path) -> None:
    for step in (5, 10, 15, 20, 25):
        _write_checkpoint(tmp_path, step)
    (tmp_path / "checkpoint-oops").mkdir()
    assert newest_complete_checkpoint(tmp_path) == tmp_path / "checkpoint-25"

    weights = tmp_path / "checkpoint-25" / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-3])
    (tmp_path / "checkpoint-20" / "trainer_state.json").write_text('{"global_step": 2')
    (tmp_path / "checkpoint-15" / "optimizer.safetensors").unlink()
    assert newest_complete_checkpoint(tmp_path) == tmp_path / "checkpoint-10"


def test_no_checkpoint_means_none(tmp_path: Path) -> None:
    assert newest_complete_checkpoint(tmp_path / "absent") is None
    _write_checkpoint(tmp_path, 3)
    (tmp_path / "checkpoint-3" / "scheduler.json").write_text("not json")
    assert newest_complete_checkpoint(tmp_path) is None


def test_safetensors_reader_rejects_garbage(tmp_path: Path) -> None:
    path = tmp_path / "x.safetensors"
    for content in (b"", b"\x01\x00", (10**9).to_bytes(8, "little") + b"{}", (2).to_bytes(8, "little") + b"[]"):
        path.write_bytes(content)
        assert not safetensors_is_readable(path)


def test_optimizer_state_round_trips_without_pickle(tmp_path: Path) -> None:
    import torch

    torch.manual_seed(0)
    weights = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(weights.parameters(), lr=0.01, betas=(0.8, 0.9))
    for _ in range(3):
        weights(torch.randn(4, 3)).pow(2).sum().backward()
        optimizer.step()
        optimizer.zero_grad()
    path = tmp_path / "optimizer.safetensors"
    save_optimizer_state(optimizer, path)
    assert path.read_bytes()[:1] != b"\x80"  # not a pickle stream

    restored = torch.optim.AdamW(torch.nn.Linear(3, 2).parameters(), lr=0.5)
    load_optimizer_state(restored, path)
    original, loaded = optimizer.state_dict(), restored.state_dict()
    assert loaded["param_groups"][0]["lr"] == 0.01 and tuple(loaded["param_groups"][0]["betas"]) == (0.8, 0.9)
    for index, state in original["state"].items():
        for key, value in state.items():
            assert torch.equal(torch.as_tensor(loaded["state"][index][key]), torch.as_tensor(value)), key


def test_rng_state_round_trips(tmp_path: Path) -> None:
    import numpy as np
    import torch

    path = tmp_path / "rng.safetensors"
    save_rng_state(path)
    expected = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    load_rng_state(path)
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) == expected


def test_finalize_replaces_the_adapter_in_one_swap(tmp_path: Path) -> None:
    destination = tmp_path / "adapter"
    for generation in ("old", "new"):
        staging = tmp_path / f".adapter.tmp-{generation}"
        staging.mkdir()
        (staging / "adapter_model.safetensors").write_bytes(generation.encode())
        (staging / "adapter_config.json").write_text("{}")
        files = finalize_adapter_dir(staging, destination)
        assert not staging.exists()
    assert (destination / "adapter_model.safetensors").read_bytes() == b"new"
    assert files["adapter_model.safetensors"] == sha256_of(destination / "adapter_model.safetensors")
    assert json.loads((destination / "adapter.sha256.json").read_text()) == files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adapter"]


def test_finalize_refuses_a_folder_without_weights(tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    staging.mkdir()
    (staging / "adapter_config.json").write_text("{}")
    with pytest.raises(RuntimeError, match="adapter_model.safetensors"):
        finalize_adapter_dir(staging, tmp_path / "adapter")
    assert not (tmp_path / "adapter").exists()
