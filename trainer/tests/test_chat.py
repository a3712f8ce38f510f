"""Chat: the engine (stop strings, cancel, adapters change output), the chat CLI, the chat-worker protocol."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import TRAINER_ROOT, run_trainer, trainer_command

from modelfactory_trainer.chat import ChatEngine, GenerationParams
from modelfactory_trainer.errors import ModelError

PROMPT = [("user", "What is 3 plus 4?")]
GREEDY = GenerationParams(max_new_tokens=60, temperature=0.0)


def _generate(engine: ChatEngine, adapter: str | None, params: GenerationParams, cancel_after: int | None = None) -> tuple[str, Any]:
    cancel = threading.Event()
    pieces: list[str] = []

    def collect(text: str) -> None:
        pieces.append(text)
        if cancel_after is not None and len(pieces) >= cancel_after:
            cancel.set()

    result = engine.generate(PROMPT, adapter, params, cancel, collect)
    return "".join(pieces), result


@pytest.fixture(scope="module")
def engine(trained_run: dict[str, Any]) -> ChatEngine:
    assert trained_run["returncode"] == 0, trained_run["stderr"][-2000:]
    chat_engine = ChatEngine()
    chat_engine.prepare("builtin:tiny-llama", None)
    return chat_engine


def _adapter(trained_run: dict[str, Any]) -> str:
    return str(trained_run["dir"] / "out" / "adapter")


def test_adapter_changes_greedy_generations(engine: ChatEngine, trained_run: dict[str, Any]) -> None:
    base_text, base_result = _generate(engine, None, GREEDY)
    adapter = _adapter(trained_run)
    engine.prepare("builtin:tiny-llama", adapter)
    tuned_text, tuned_result = _generate(engine, adapter, GREEDY)
    base_again, _ = _generate(engine, None, GREEDY)
    assert base_text and tuned_text
    assert tuned_text != base_text
    assert base_again == base_text  # adapter: null really means the base alone
    assert tuned_result.tokens >= 1 and base_result.tokens >= 1


def test_stop_strings_end_the_reply_before_them(engine: ChatEngine) -> None:
    full, result = _generate(engine, None, GREEDY)
    assert result.finish_reason == "length" and len(full) > 12
    stop = full[8:11]
    cut, stopped = _generate(engine, None, GenerationParams(max_new_tokens=60, temperature=0.0, stop=(stop,)))
    assert stopped.finish_reason == "stop"
    assert cut == full[: full.index(stop)]


def test_cancel_stops_mid_stream(engine: ChatEngine) -> None:
    long_greedy = GenerationParams(max_new_tokens=400, temperature=0.0)
    _, uncancelled = _generate(engine, None, long_greedy)
    assert uncancelled.finish_reason == "length"  # greedy on fixed weights: no early end of sequence
    _, cancelled = _generate(engine, None, long_greedy, cancel_after=1)
    assert cancelled.finish_reason == "cancelled"
    assert cancelled.tokens < 400


def test_sampling_is_reproducible_with_a_seed(engine: ChatEngine) -> None:
    params = GenerationParams(max_new_tokens=20, temperature=1.0, top_p=0.9, seed=3)
    first, _ = _generate(engine, None, params)
    second, _ = _generate(engine, None, params)
    assert first == second


def test_adapters_without_safetensors_are_refused(engine: ChatEngine, tmp_path: Path) -> None:
    (tmp_path / "adapter_config.json").write_text("{}")
    (tmp_path / "adapter_model.bin").write_bytes(b"\x80\x04pickle")
    with pytest.raises(ModelError, match="adapter_model.safetensors"):
        engine.prepare("builtin:tiny-llama", str(tmp_path))


def test_uncached_hub_models_are_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with pytest.raises(ModelError, match="not in the local Hugging Face cache"):
        ChatEngine().prepare("someone/not-a-cached-model", None)


def test_chat_cli_prints_the_reply(trained_run: dict[str, Any]) -> None:
    completed = run_trainer(
        "chat", "--base", "builtin:tiny-llama", "--adapter", _adapter(trained_run),
        "--prompt", "What is 3 plus 4?", "--temperature", "0", "--max-new-tokens", "12",
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.strip()
    assert "tokens/s" in completed.stderr


def test_chat_cli_reports_a_missing_adapter(tmp_path: Path, tiny_model_dir: Path) -> None:
    completed = run_trainer("chat", "--base", "builtin:tiny-llama", "--adapter", str(tmp_path), "--prompt", "hi")
    assert completed.returncode == 1 and "error (model)" in completed.stderr and completed.stdout == ""


class Worker:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            trainer_command("chat-worker"), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, cwd=TRAINER_ROOT, env=dict(os.environ),
        )

    def send(self, frame: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(frame) + "\n")
        self.process.stdin.flush()

    def read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, "the worker closed its output"
        return json.loads(line)  # type: ignore[no-any-return]

    def until_done(self, request_id: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        tokens = []
        while True:
            frame = self.read()
            assert frame["id"] == request_id, frame
            if frame["type"] != "token":
                return tokens, frame
            tokens.append(frame)

    def close(self) -> int:
        assert self.process.stdin is not None
        self.process.stdin.close()
        return self.process.wait(timeout=60)


def _generate_frame(request_id: str, adapter: str | None, max_new_tokens: int) -> dict[str, Any]:
    return {
        "id": request_id, "type": "generate", "base": "builtin:tiny-llama", "adapter": adapter,
        "messages": [{"role": "user", "content": "What is 3 plus 4?"}], "system": None,
        "params": {"max_new_tokens": max_new_tokens, "temperature": 0, "top_p": 1.0, "top_k": 0,
                   "repetition_penalty": 1.0, "seed": None, "stop": []},
    }


def test_chat_worker_streams_base_and_adapter_and_honours_cancel(trained_run: dict[str, Any]) -> None:
    worker = Worker()
    try:
        worker.send(_generate_frame("base", None, 30))
        base_tokens, base_done = worker.until_done("base")
        worker.send(_generate_frame("tuned", _adapter(trained_run), 30))
        tuned_tokens, tuned_done = worker.until_done("tuned")
        for tokens, done in ((base_tokens, base_done), (tuned_tokens, tuned_done)):
            assert tokens and all(isinstance(token["text"], str) and token["text"] for token in tokens)
            assert done["type"] == "done" and done["tokens"] >= 1
            assert done["time_to_first_token_ms"] >= 0 and done["tokens_per_second"] > 0
        assert "".join(t["text"] for t in base_tokens) != "".join(t["text"] for t in tuned_tokens)

        worker.send(_generate_frame("long", None, 400))
        first = worker.read()
        assert first["id"] == "long" and first["type"] == "token"
        worker.send({"id": "long", "type": "cancel"})
        _, cancelled = worker.until_done("long")
        assert cancelled["finish_reason"] == "cancelled" and cancelled["tokens"] < 400

        # A request cancelled while it waits behind another is answered without generating.
        worker.send(_generate_frame("running", None, 400))
        worker.send(_generate_frame("queued", None, 400))
        worker.send({"id": "queued", "type": "cancel"})
        worker.send({"id": "running", "type": "cancel"})
        _, running = worker.until_done("running")
        queued_tokens, queued = worker.until_done("queued")
        assert running["finish_reason"] == "cancelled"
        assert queued_tokens == [] and queued["finish_reason"] == "cancelled" and queued["tokens"] == 0

        worker.send({"id": "bad", "type": "generate", "base": "builtin:tiny-llama", "messages": []})
        assert worker.read() == {"id": "bad", "type": "error", "code": "bad-request", "message": "messages must be a non-empty list"}
        worker.send({"id": "gone", "type": "generate", "base": "builtin:tiny-llama", "adapter": "/nonexistent/adapter",
                     "messages": [{"role": "user", "content": "hi"}]})
        error = worker.read()
        assert error["id"] == "gone" and error["type"] == "error" and error["code"] == "model"
    finally:
        assert worker.close() == 0


def _adapter_with_template(trained_run: dict[str, Any], directory: Path, template: str) -> Path:
    """A copy of the trained adapter as if it had been trained with `template` (file and manifest)."""
    import hashlib
    import shutil

    copy = directory / "adapter"
    shutil.copytree(_adapter(trained_run), copy)
    (copy / "chat_template.jinja").write_text(template, encoding="utf-8")
    manifest = json.loads((copy / "adapter.sha256.json").read_text())
    manifest["chat_template.jinja"] = hashlib.sha256(template.encode()).hexdigest()
    (copy / "adapter.sha256.json").write_text(json.dumps(manifest))
    return copy


def test_each_side_renders_with_its_own_template(engine: ChatEngine, trained_run: dict[str, Any], tmp_path: Path) -> None:
    marker = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}[assistant] "
    adapter = str(_adapter_with_template(trained_run, tmp_path, marker))
    engine.prepare("builtin:tiny-llama", adapter)
    assert engine.chat_template(adapter) == marker
    assert engine.chat_template(None) is None  # the base model chats with its own template
    # The trained adapter (the model's own template) renders as the base does: the saved template is that one.
    own = _adapter(trained_run)
    engine.prepare("builtin:tiny-llama", own)
    saved = Path(own, "chat_template.jinja")
    assert engine.chat_template(own) == (saved.read_text(encoding="utf-8") if saved.is_file() else None)
    from modelfactory_trainer.data import render_chat

    assert render_chat(engine.tokenizer, PROMPT, True, chat_template=engine.chat_template(adapter)) == "[user] What is 3 plus 4?\n[assistant] "
    assert render_chat(engine.tokenizer, PROMPT, True, chat_template=engine.chat_template(own)) == render_chat(engine.tokenizer, PROMPT, True)


def test_a_template_changed_after_training_is_refused(engine: ChatEngine, trained_run: dict[str, Any], tmp_path: Path) -> None:
    adapter = _adapter_with_template(trained_run, tmp_path, "{{ messages[0]['content'] }}")
    (adapter / "chat_template.jinja").write_text("{{ 'tampered' }}", encoding="utf-8")
    with pytest.raises(ModelError, match="changed after training"):
        engine.prepare("builtin:tiny-llama", str(adapter))
