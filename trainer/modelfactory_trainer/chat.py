"""Chat generation: the `chat` command and the `chat-worker` JSON-lines process.

The worker keeps one base model loaded, with any number of adapters attached to it by PEFT
(`load_adapter` / `set_adapter`); `adapter: null` generates with the adapters disabled. A streamer
hands each decoded piece to the caller from inside `generate`; a stopping criterion checks the stop
strings' flag and the cancel event (set from another thread) after every token.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import queue
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from .data import ROLES, render_chat
from .errors import TrainerError
from .events import JsonLineWriter, note


class BadRequest(TrainerError):
    code = "bad-request"


@dataclass(frozen=True)
class GenerationParams:
    max_new_tokens: int = 256
    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 50
    repetition_penalty: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()

    @staticmethod
    def from_json(raw: Any) -> "GenerationParams":
        if raw is None:
            return GenerationParams()
        if not isinstance(raw, dict):
            raise BadRequest("params must be an object")
        defaults = GenerationParams()

        def number(key: str, kind: type, low: float, high: float) -> Any:
            value = raw.get(key, getattr(defaults, key))
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise BadRequest(f"params.{key} must be a number in [{low}, {high}]")
            if kind is int and value != int(value):
                raise BadRequest(f"params.{key} must be an integer")
            return kind(value)

        seed = raw.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise BadRequest("params.seed must be an integer or null")
        stop = raw.get("stop", [])
        if not isinstance(stop, list) or not all(isinstance(item, str) and item for item in stop):
            raise BadRequest("params.stop must be a list of non-empty strings")
        return GenerationParams(
            max_new_tokens=number("max_new_tokens", int, 1, 1 << 20),
            temperature=number("temperature", float, 0.0, 100.0),
            top_p=number("top_p", float, 0.0, 1.0),
            top_k=number("top_k", int, 0, 1 << 20),
            repetition_penalty=number("repetition_penalty", float, 0.01, 100.0),
            seed=seed,
            stop=tuple(stop),
        )


@dataclass
class GenerationResult:
    tokens: int
    time_to_first_token_ms: float
    tokens_per_second: float
    finish_reason: str
    prompt_tokens: int = 0


def parse_messages(raw: Any, system: Any) -> list[tuple[str, str]]:
    if not isinstance(raw, list) or not raw:
        raise BadRequest("messages must be a non-empty list")
    messages: list[tuple[str, str]] = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or item.get("role") not in ROLES or not isinstance(item.get("content"), str):
            raise BadRequest(f"messages[{index}] needs a role ({', '.join(ROLES)}) and a string content")
        messages.append((item["role"], item["content"]))
    if system is not None:
        if not isinstance(system, str):
            raise BadRequest("system must be a string or null")
        if system and messages[0][0] != "system":
            messages.insert(0, ("system", system))
    return messages


def _held_back(text: str, stops: tuple[str, ...]) -> int:
    """How many trailing characters might be the start of a stop string and must wait for more text."""
    longest = 0
    for stop in stops:
        for length in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:length]):
                longest = length
                break
    return longest


class IncrementalTextStream:
    """A generate() streamer that hands each new piece of text to a callback, in the generating thread.

    Handing pieces to another thread through a queue cost about 35% of generation time on a small model
    (a GIL hand-off per token); a direct call costs about 1%. transformers' TextIteratorStreamer also
    re-decodes every token since the last newline on each step; this one decodes a short window from the
    previous emission point and emits what the new token added, holding a piece back while it ends in an
    incomplete UTF-8 sequence (decoded as U+FFFD).
    """

    def __init__(self, tokenizer: Any, on_piece: Callable[[str], None]) -> None:
        self.tokenizer = tokenizer
        self.on_piece = on_piece
        self.tokens: list[int] = []
        self.window_start = 0
        self.emitted_upto = 0
        self.prompt_skipped = False

    def _decode(self, start: int, end: int | None = None) -> str:
        return str(self.tokenizer.decode(self.tokens[start:end], skip_special_tokens=True))

    def put(self, value: Any) -> None:
        if not self.prompt_skipped:
            self.prompt_skipped = True  # generate() hands over the prompt first
            return
        for token in value.reshape(-1).tolist():
            self.tokens.append(int(token))
            before = self._decode(self.window_start, self.emitted_upto)
            after = self._decode(self.window_start)
            if len(after) > len(before) and not after.endswith("\ufffd"):
                self.window_start, self.emitted_upto = self.emitted_upto, len(self.tokens)
                self.on_piece(after[len(before) :])

    def end(self) -> None:
        before = self._decode(self.window_start, self.emitted_upto)
        after = self._decode(self.window_start)
        self.emitted_upto = len(self.tokens)
        if len(after) > len(before):
            self.on_piece(after[len(before) :])


class ChatEngine:
    """One warm base model plus the adapters attached to it."""

    def __init__(self) -> None:
        self.base_spec: str | None = None
        self.model: Any = None
        self.tokenizer: Any = None
        self.adapters: dict[str, tuple[str, int]] = {}
        # Per adapter folder: the chat template it was trained with, None for the model's own.
        self.templates: dict[str, str | None] = {}

    def _load_base(self, base: str, trust_remote_code: bool) -> None:
        import torch

        from .models import load_causal_lm, load_tokenizer, resolve_model_source

        self.model = self.tokenizer = None
        self.adapters = {}
        self.templates = {}
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        source = resolve_model_source(base)
        tokenizer = load_tokenizer(source, trust_remote_code)
        if torch.cuda.is_available():
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
            model = load_causal_lm(source, trust_remote_code, dtype=dtype).to("cuda")
        else:
            model = load_causal_lm(source, trust_remote_code, dtype=torch.float32)
        model.eval()
        self.model, self.tokenizer, self.base_spec = model, tokenizer, base

    def _attach_adapter(self, adapter: str) -> None:
        from peft import PeftModel

        from .models import adapter_chat_template, check_adapter_dir

        path = check_adapter_dir(adapter)
        key = str(path)
        version = (path / "adapter_model.safetensors").stat().st_mtime_ns
        self.templates[key] = adapter_chat_template(path)
        known = self.adapters.get(key)
        if known is not None and known[1] == version:
            self.model.set_adapter(known[0])
            return
        name = f"adapter_{len(self.adapters)}_{version}"
        if isinstance(self.model, PeftModel):
            self.model.load_adapter(str(path), adapter_name=name, is_trainable=False, use_safetensors=True)
            if known is not None:
                self.model.delete_adapter(known[0])
        else:
            self.model = PeftModel.from_pretrained(
                self.model, str(path), adapter_name=name, is_trainable=False, use_safetensors=True
            )
        self.model.set_adapter(name)
        self.model.eval()
        self.adapters[key] = (name, version)

    def prepare(self, base: str, adapter: str | None, trust_remote_code: bool = False) -> None:
        if base != self.base_spec or self.model is None:
            self._load_base(base, trust_remote_code)
        if adapter is not None:
            self._attach_adapter(adapter)

    def chat_template(self, adapter: str | None) -> str | None:
        """The template prompts are rendered with: the adapter's own (saved when it was trained), else the
        model's; None (the model's own) without an adapter, so base and adapter each chat as they should."""
        if adapter is None:
            return None
        from .models import check_adapter_dir

        return self.templates.get(str(check_adapter_dir(adapter)))

    def _adapter_context(self, adapter: str | None) -> Any:
        from peft import PeftModel

        if adapter is None and isinstance(self.model, PeftModel):
            return self.model.disable_adapter()
        return contextlib.nullcontext()

    def generate(
        self,
        messages: list[tuple[str, str]],
        adapter: str | None,
        params: GenerationParams,
        cancel: threading.Event,
        on_text: Callable[[str], None],
    ) -> GenerationResult:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        tokenizer, model = self.tokenizer, self.model
        prompt = render_chat(tokenizer, messages, add_generation_prompt=True, chat_template=self.chat_template(adapter))
        inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
        prompt_length = int(inputs["input_ids"].shape[1])
        halt = threading.Event()
        started = time.perf_counter()
        first_token_at: list[float] = []

        class HaltWhenAsked(StoppingCriteria):  # type: ignore[misc]
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                if not first_token_at:
                    first_token_at.append(time.perf_counter())
                stop_now = halt.is_set() or cancel.is_set()
                return torch.full((input_ids.shape[0],), stop_now, dtype=torch.bool, device=input_ids.device)

        sampling = params.temperature > 0
        options: dict[str, Any] = {
            **inputs,
            "max_new_tokens": params.max_new_tokens,
            "do_sample": sampling,
            "repetition_penalty": params.repetition_penalty,
            "stopping_criteria": StoppingCriteriaList([HaltWhenAsked()]),
            "pad_token_id": tokenizer.pad_token_id,
        }
        if sampling:
            options.update(temperature=params.temperature, top_p=params.top_p, top_k=params.top_k)
        else:
            # Greedy decoding: clear sampling knobs a model's generation_config may carry.
            options.update(temperature=None, top_p=None, top_k=None)
        if params.seed is not None:
            torch.manual_seed(params.seed)

        finish_reason: str | None = None
        text, emitted = "", 0

        def on_piece(piece: str) -> None:
            nonlocal finish_reason, text, emitted
            if finish_reason is not None or cancel.is_set():
                return
            text += piece
            hits = [index for index in (text.find(stop, max(0, emitted - len(stop))) for stop in params.stop) if index >= 0]
            if hits:
                end = min(hits)
                if end > emitted:
                    on_text(text[emitted:end])
                emitted = end
                finish_reason = "stop"
                halt.set()
                return
            safe_end = len(text) - _held_back(text, params.stop)
            if safe_end > emitted:
                on_text(text[emitted:safe_end])
                emitted = safe_end

        options["streamer"] = IncrementalTextStream(tokenizer, on_piece)
        with torch.inference_mode(), self._adapter_context(adapter):
            sequences = model.generate(**options)
        if cancel.is_set():
            finish_reason = "cancelled"
        if finish_reason is None and len(text) > emitted:
            on_text(text[emitted:])
        ended = time.perf_counter()
        tokens = int(sequences.shape[1]) - prompt_length
        if finish_reason is None:
            finish_reason = "length" if tokens >= params.max_new_tokens else "stop"
        first = first_token_at[0] if first_token_at else ended
        return GenerationResult(
            tokens=tokens,
            time_to_first_token_ms=(first - started) * 1000.0,
            tokens_per_second=tokens / max(ended - started, 1e-9),
            finish_reason=finish_reason,
            prompt_tokens=prompt_length,
        )


def chat_command(args: argparse.Namespace) -> int:
    """`chat`: one reply streamed to stdout; statistics and errors on stderr."""
    cancel = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: cancel.set())
    engine = ChatEngine()
    try:
        params = GenerationParams(
            max_new_tokens=args.max_new_tokens,
            temperature=args.temperature,
            top_p=args.top_p,
            top_k=args.top_k,
            repetition_penalty=args.repetition_penalty,
            seed=args.seed,
            stop=tuple(args.stop),
        )
        messages = parse_messages([{"role": "user", "content": args.prompt}], args.system)
        engine.prepare(args.base, args.adapter, trust_remote_code=args.trust_remote_code)

        def show(text: str) -> None:
            sys.stdout.write(text)
            sys.stdout.flush()

        result = engine.generate(messages, args.adapter, params, cancel, show)
    except TrainerError as exc:
        print(f"error ({exc.code}): {exc.message}", file=sys.stderr)
        return 1
    sys.stdout.write("\n")
    sys.stdout.flush()
    note(
        f"{result.tokens} tokens, first after {result.time_to_first_token_ms:.0f} ms, "
        f"{result.tokens_per_second:.1f} tokens/s, finish: {result.finish_reason}"
    )
    return 130 if result.finish_reason == "cancelled" else 0


@dataclass
class _Request:
    request_id: str
    base: str
    adapter: str | None
    messages: list[tuple[str, str]]
    params: GenerationParams
    trust_remote_code: bool
    cancel: threading.Event = field(default_factory=threading.Event)


def _parse_generate(frame: dict[str, Any], request_id: str) -> _Request:
    base = frame.get("base")
    if not isinstance(base, str) or not base:
        raise BadRequest("base must be a non-empty string")
    adapter = frame.get("adapter")
    if adapter is not None and (not isinstance(adapter, str) or not adapter):
        raise BadRequest("adapter must be a folder path or null")
    return _Request(
        request_id=request_id,
        base=base,
        adapter=str(Path(adapter).expanduser()) if adapter else None,
        messages=parse_messages(frame.get("messages"), frame.get("system")),
        params=GenerationParams.from_json(frame.get("params")),
        trust_remote_code=frame.get("trust_remote_code") is True,
    )


class ChatWorker:
    """Reads requests on stdin; one generation at a time on a worker thread, so cancels are read meanwhile."""

    def __init__(self, output: JsonLineWriter) -> None:
        self.output = output
        self.engine = ChatEngine()
        self.pending: queue.Queue[_Request | None] = queue.Queue()
        self.live: dict[str, _Request] = {}
        self.lock = threading.Lock()

    def _error(self, request_id: str, code: str, message: str) -> None:
        self.output.write({"id": request_id, "type": "error", "code": code, "message": message})

    def _serve(self, request: _Request) -> None:
        if request.cancel.is_set():
            self.output.write(
                {"id": request.request_id, "type": "done", "tokens": 0, "time_to_first_token_ms": 0.0,
                 "tokens_per_second": 0.0, "finish_reason": "cancelled"}
            )
            return
        self.engine.prepare(request.base, request.adapter, request.trust_remote_code)

        def token(text: str) -> None:
            self.output.write({"id": request.request_id, "type": "token", "text": text})

        result = self.engine.generate(request.messages, request.adapter, request.params, request.cancel, token)
        self.output.write(
            {
                "id": request.request_id,
                "type": "done",
                "tokens": result.tokens,
                "time_to_first_token_ms": result.time_to_first_token_ms,
                "tokens_per_second": result.tokens_per_second,
                "finish_reason": result.finish_reason,
                "prompt_tokens": result.prompt_tokens,
            }
        )

    def _loop(self) -> None:
        import torch

        while True:
            request = self.pending.get()
            if request is None:
                return
            try:
                self._serve(request)
            except TrainerError as exc:
                self._error(request.request_id, exc.code, exc.message)
            except torch.OutOfMemoryError as exc:
                self._error(request.request_id, "oom", str(exc).splitlines()[0] if str(exc) else "out of memory")
            except Exception as exc:  # one bad request must not take the warm model down
                traceback.print_exc(file=sys.stderr)
                self._error(request.request_id, "internal", f"{type(exc).__name__}: {exc}")
            finally:
                with self.lock:
                    self.live.pop(request.request_id, None)

    def handle_line(self, line: str) -> None:
        try:
            frame = json.loads(line)
        except json.JSONDecodeError as exc:
            self._error("", "bad-request", f"not JSON: {exc.msg}")
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("id"), str):
            self._error("", "bad-request", "a request is an object with a string id")
            return
        request_id, kind = frame["id"], frame.get("type")
        if kind == "cancel":
            with self.lock:
                target = self.live.get(request_id)
            if target is not None:
                target.cancel.set()
            return
        if kind != "generate":
            self._error(request_id, "bad-request", f"unknown request type {kind!r}")
            return
        try:
            request = _parse_generate(frame, request_id)
        except TrainerError as exc:
            self._error(request_id, exc.code, exc.message)
            return
        with self.lock:
            if request_id in self.live:
                self._error(request_id, "bad-request", f"request id {request_id!r} is already running")
                return
            self.live[request_id] = request
        self.pending.put(request)

    def run(self, lines: Iterator[str]) -> None:
        thread = threading.Thread(target=self._loop, name="chat-worker", daemon=True)
        thread.start()
        for line in lines:
            if line.strip():
                self.handle_line(line)
        # End of input: finish what was asked, then leave (SIGTERM stops at once).
        self.pending.put(None)
        thread.join()


def worker_main() -> int:
    output = JsonLineWriter(stream=sys.stdout)
    sys.stdout = sys.stderr  # stray library prints must not corrupt the protocol stream
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent ends the worker by closing stdin or SIGTERM
    ChatWorker(output).run(iter(sys.stdin.readline, ""))
    return 0
