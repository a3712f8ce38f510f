"""The built-in tiny model: built offline with the catalog's numbers, cached, deterministic."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from modelfactory_trainer import tiny
from modelfactory_trainer.checkpoints import sha256_of
from modelfactory_trainer.tiny import SPECIAL_TOKENS, TINY_LLAMA_SHAPE, ensure_tiny_llama


def test_config_has_the_catalog_numbers(tiny_model_dir: Path) -> None:
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"]
    for key, value in TINY_LLAMA_SHAPE.items():
        assert config[key] == value, key
    assert (tiny_model_dir / "model.safetensors").is_file()
    assert not list(tiny_model_dir.glob("*.bin"))


def test_tokenizer_has_full_vocab_specials_and_template(tiny_tokenizer: Any) -> None:
    assert len(tiny_tokenizer) == 1024
    for token in SPECIAL_TOKENS:
        token_id = tiny_tokenizer.convert_tokens_to_ids(token)
        assert token_id is not None and token_id != tiny_tokenizer.unk_token_id
        assert tiny_tokenizer.decode([token_id]) == token
    text = "The model reads the report every morning."
    assert tiny_tokenizer.decode(tiny_tokenizer(text, add_special_tokens=False)["input_ids"]) == text
    prompt = tiny_tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True)
    assert prompt == "<s><|user|>\nHi<|end|>\n<|assistant|>\n"


def test_second_call_reuses_the_cache(tiny_model_dir: Path) -> None:
    weights = tiny_model_dir / "model.safetensors"
    before = weights.stat().st_mtime_ns
    assert ensure_tiny_llama() == tiny_model_dir
    assert weights.stat().st_mtime_ns == before
    assert not [p for p in tiny_model_dir.parent.iterdir() if p.name.startswith(".")]


def test_build_is_deterministic(tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELFACTORY_CACHE", str(tmp_path))
    rebuilt = ensure_tiny_llama()
    assert rebuilt == tmp_path / "builtin" / tiny.TINY_LLAMA_DIRNAME and rebuilt != tiny_model_dir
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        assert sha256_of(rebuilt / name) == sha256_of(tiny_model_dir / name), name
    assert oct(os.stat(rebuilt).st_mode & 0o777) == "0o755"


def test_an_incomplete_cache_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELFACTORY_CACHE", str(tmp_path))
    broken = tmp_path / "builtin" / tiny.TINY_LLAMA_DIRNAME
    broken.mkdir(parents=True)
    (broken / "config.json").write_text("{}")
    assert ensure_tiny_llama() == broken
    assert (broken / "model.safetensors").is_file() and (broken / "tokenizer.json").is_file()
