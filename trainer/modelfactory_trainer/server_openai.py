"""The OpenAI-compatible HTTP API of the job server (`serve --openai`): `/v1/models` and `/v1/chat/completions`.

Built on aiohttp. Generation goes to the same `chat-worker` child as the WebSocket chat (`server_chat.py`): one
warm base model, adapters attached once and switched per request (peft `load_adapter` / `set_adapter`), so this
process still never imports torch. The models are the base models and every adapter the server has: each
finished job (model id = the job id) and each `--adapter NAME=DIR`.

Limits are the WebSocket side's: the Bearer token (constant-time compare; 401), an `Origin` header refused
unless allowed (403), the request body capped at `--max-message-bytes` (413), `max_tokens` at most 32768 as the
protocol's chatParams, and at most `--max-concurrent-chats` generations queued or running (429).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from aiohttp import web

if TYPE_CHECKING:
    from .server import ServerState

MAX_NEW_TOKENS = 32768
MAX_STOPS = 16
MAX_MESSAGES = 1000
ADAPTER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.code, self.param = status, message, kind, code, param

    def response(self) -> web.Response:
        body = {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}
        headers = {"WWW-Authenticate": 'Bearer realm="modelfactory-trainer"'} if self.status == 401 else None
        return web.json_response(body, status=self.status, headers=headers)


@dataclass(frozen=True)
class ServedModel:
    model_id: str
    base: str
    adapter: str | None  # the adapter folder, None for the base alone
    owned_by: str


def parse_adapter_option(text: str) -> tuple[str, Path]:
    """`--adapter NAME=DIR`."""
    name, sep, folder = text.partition("=")
    if not sep or not ADAPTER_NAME.match(name) or not folder:
        raise ValueError(f"--adapter takes NAME=DIR with a NAME of letters, digits and ._:/- (got {text!r})")
    return name, Path(folder).expanduser().resolve()


def adapter_base(folder: Path) -> str:
    """The base model an adapter folder names (the built-in tiny model under its `builtin:` id)."""
    from .tiny import TINY_LLAMA_ID, tiny_llama_dir

    config = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    base = str(config.get("base_model_name_or_path") or "") if isinstance(config, dict) else ""
    if not base:
        raise ValueError(f"{folder}/adapter_config.json names no base model")
    if Path(base).is_dir() and Path(base).resolve() == tiny_llama_dir().resolve():
        return TINY_LLAMA_ID
    return base


class OpenAIService:
    def __init__(self, state: "ServerState", token: str | None, extra: dict[str, Path], bases: list[str],
                 max_concurrent: int) -> None:
        self.state = state
        self.expected = f"Bearer {token}".encode() if token else None
        self.allowed_origins = list(state.args.allow_origin)
        self.extra = {name: (folder, adapter_base(folder)) for name, folder in extra.items()}
        self.bases = list(bases)
        self.max_concurrent = max_concurrent
        self.active = 0

    # ---- models --------------------------------------------------------------------------------------------

    def models(self) -> dict[str, ServedModel]:
        served: dict[str, ServedModel] = {}
        adapters: list[ServedModel] = []
        for job in self.state.jobs.list():
            folder = job.adapter_dir()
            if folder is not None and job.base_model:
                adapters.append(ServedModel(job.job_id, job.base_model, str(folder), "modelfactory-job"))
        for name, (folder, base) in self.extra.items():
            adapters.append(ServedModel(name, base, str(folder), "modelfactory-adapter"))
        for base in [*self.bases, *(model.base for model in adapters)]:
            served.setdefault(base, ServedModel(base, base, None, "modelfactory-base"))
        for model in adapters:
            served.setdefault(model.model_id, model)
        return served

    # ---- requests ------------------------------------------------------------------------------------------

    @web.middleware
    async def guard(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        try:
            if len(request.headers.getall("Authorization", [])) > 1 or len(request.headers.getall("Origin", [])) > 1:
                raise ApiError(400, "Authorization and Origin may be sent once")
            origin = request.headers.get("Origin")
            if origin is not None and origin not in self.allowed_origins:
                raise ApiError(403, "This Origin may not call the API", "permission_error")
            if self.expected is not None:
                offered = request.headers.get("Authorization", "").encode("utf-8", errors="replace")
                if not hmac.compare_digest(offered, self.expected):
                    raise ApiError(401, "A valid bearer token is required (Authorization: Bearer <token>)",
                                   "authentication_error", "invalid_api_key")
            response: web.StreamResponse = await handler(request)
            return response
        except ApiError as error:
            return error.response()
        except web.HTTPRequestEntityTooLarge:
            return ApiError(413, f"the request body is over {self.state.args.max_message_bytes} bytes").response()
        except web.HTTPException as exc:
            return ApiError(exc.status, exc.reason or "request refused").response()

    async def list_models(self, request: web.Request) -> web.Response:
        created = int(time.time())
        data = [
            {"id": model.model_id, "object": "model", "created": created, "owned_by": model.owned_by,
             "root": model.base, "parent": model.base if model.adapter else None}
            for model in self.models().values()
        ]
        return web.json_response({"object": "list", "data": data})

    async def get_model(self, request: web.Request) -> web.Response:
        model = self.models().get(request.match_info["model"])
        if model is None:
            raise ApiError(404, f"The model {request.match_info['model']!r} does not exist", code="model_not_found")
        return web.json_response({"id": model.model_id, "object": "model", "created": int(time.time()),
                                  "owned_by": model.owned_by, "root": model.base})

    async def _body(self, request: web.Request) -> dict[str, Any]:
        if request.content_length is not None and request.content_length > self.state.args.max_message_bytes:
            raise ApiError(413, f"the request body is over {self.state.args.max_message_bytes} bytes")
        try:
            body = json.loads(await request.read())
        except (ValueError, RecursionError):
            raise ApiError(400, "the body is not JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, "the body must be a JSON object")
        return body

    def _worker_request(self, body: dict[str, Any]) -> tuple[ServedModel, dict[str, Any]]:
        model_id = body.get("model")
        if not isinstance(model_id, str) or not model_id:
            raise ApiError(400, "model is required", param="model")
        model = self.models().get(model_id)
        if model is None:
            raise ApiError(404, f"The model {model_id!r} does not exist", code="model_not_found", param="model")
        return model, {"base": model.base, "adapter": model.adapter, "messages": parse_messages(body.get("messages")),
                       "system": None, "params": parse_params(body)}

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        model, worker_request = self._worker_request(body)
        stream = body.get("stream", False)
        if not isinstance(stream, bool):
            raise ApiError(400, "stream must be a boolean", param="stream")
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        if self.active >= self.max_concurrent:
            raise ApiError(429, f"{self.max_concurrent} generations are already queued or running; retry shortly",
                           "rate_limit_error", "too_many_requests")
        self.active += 1
        frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        internal_id: str | None = None
        finished = False
        try:
            internal_id = await self.state.chat.generate(worker_request, frames.put_nowait)
            completion_id = f"chatcmpl-{uuid.uuid4().hex}"
            created = int(time.time())
            if stream:
                response = await self._stream(request, frames, model, completion_id, created, include_usage)
            else:
                response = await self._collect(frames, model, completion_id, created)
            finished = True
            return response
        finally:
            self.active -= 1
            if not finished and internal_id is not None:
                self.state.chat.forget(internal_id)  # the client left (or a write failed): stop generating

    async def _collect(self, frames: asyncio.Queue[dict[str, Any]], model: ServedModel, completion_id: str,
                       created: int) -> web.Response:
        pieces: list[str] = []
        while True:
            frame = await frames.get()
            if frame["type"] == "chat_token":
                pieces.append(str(frame.get("text", "")))
                continue
            if frame["type"] == "chat_error":
                raise worker_error(frame)
            return web.json_response({
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model.model_id,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(pieces)},
                             "finish_reason": finish_reason(frame), "logprobs": None}],
                "usage": usage(frame),
            })

    async def _stream(self, request: web.Request, frames: asyncio.Queue[dict[str, Any]], model: ServedModel,
                      completion_id: str, created: int, include_usage: bool) -> web.StreamResponse:
        first = await frames.get()
        if first["type"] == "chat_error":
            raise worker_error(first)  # nothing sent yet: an ordinary HTTP error
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)

        def chunk(delta: dict[str, Any], reason: str | None, extra: dict[str, Any] | None = None) -> bytes:
            payload = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                       "model": model.model_id, "choices": [{"index": 0, "delta": delta, "finish_reason": reason}],
                       **(extra or {})}
            return b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n"

        await response.write(chunk({"role": "assistant", "content": ""}, None))
        frame = first
        while True:
            if frame["type"] == "chat_token":
                await response.write(chunk({"content": str(frame.get("text", ""))}, None))
            elif frame["type"] == "chat_error":
                error = worker_error(frame)
                payload = {"error": {"message": error.message, "type": error.kind, "code": error.code}}
                await response.write(b"data: " + json.dumps(payload).encode() + b"\n\n")
                break
            else:
                await response.write(chunk({}, finish_reason(frame)))
                if include_usage:
                    payload = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                               "model": model.model_id, "choices": [], "usage": usage(frame)}
                    await response.write(b"data: " + json.dumps(payload).encode() + b"\n\n")
                break
            frame = await frames.get()
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


def finish_reason(frame: dict[str, Any]) -> str:
    return "length" if frame.get("finish_reason") == "length" else "stop"


def usage(frame: dict[str, Any]) -> dict[str, int]:
    prompt = int(frame.get("prompt_tokens") or 0)
    completion = int(frame.get("tokens") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def worker_error(frame: dict[str, Any]) -> ApiError:
    code = str(frame.get("code", "internal"))
    message = str(frame.get("message", "generation failed"))
    if code in ("bad-request", "model"):
        return ApiError(400, message, code=code)
    if code == "oom":
        return ApiError(503, message, "server_error", code)
    return ApiError(500, message, "server_error", code)


def parse_messages(raw: Any) -> list[dict[str, str]]:
    if not isinstance(raw, list) or not raw or len(raw) > MAX_MESSAGES:
        raise ApiError(400, f"messages must be a list of 1 to {MAX_MESSAGES} messages", param="messages")
    messages: list[dict[str, str]] = []
    for index, item in enumerate(raw):
        where = f"messages[{index}]"
        if not isinstance(item, dict):
            raise ApiError(400, f"{where} must be an object", param=where)
        role = item.get("role")
        if role == "developer":
            role = "system"  # OpenAI's newer name for the system turn
        if role not in ("system", "user", "assistant"):
            raise ApiError(400, f"{where}.role must be system, user or assistant (got {role!r})", param=where)
        content = item.get("content")
        if isinstance(content, list):
            texts = []
            for part in content:
                if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                    raise ApiError(400, f"{where}.content: only text parts are supported", param=where)
                texts.append(part["text"])
            content = "".join(texts)
        if content is None and role == "assistant":
            content = ""
        if not isinstance(content, str):
            raise ApiError(400, f"{where}.content must be a string or a list of text parts", param=where)
        messages.append({"role": role, "content": content})
    return messages


def parse_params(body: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}

    def number(key: str, low: float, high: float, integer: bool = False) -> Any:
        value = body.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high or (
            integer and value != int(value)
        ):
            kind = "an integer" if integer else "a number"
            raise ApiError(400, f"{key} must be {kind} in [{low:g}, {high:g}]", param=key)
        return int(value) if integer else float(value)

    if body.get("n") not in (None, 1):
        raise ApiError(400, "only n = 1 is supported", param="n")
    tokens = number("max_completion_tokens", 1, MAX_NEW_TOKENS, True)
    if tokens is None:
        tokens = number("max_tokens", 1, MAX_NEW_TOKENS, True)
    if tokens is not None:
        params["max_new_tokens"] = tokens
    temperature = number("temperature", 0, 10)
    if temperature is not None:
        params["temperature"] = temperature
    top_p = number("top_p", 0, 1)
    if top_p is not None:
        if top_p == 0:
            raise ApiError(400, "top_p must be above 0", param="top_p")
        params["top_p"] = top_p
    seed = body.get("seed")
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ApiError(400, "seed must be an integer", param="seed")
        params["seed"] = seed
    penalty = number("repetition_penalty", 0.01, 100)
    if penalty is not None:
        params["repetition_penalty"] = penalty
    stop = body.get("stop")
    if stop is not None:
        stops = [stop] if isinstance(stop, str) else stop
        if not isinstance(stops, list) or len(stops) > MAX_STOPS or not all(isinstance(s, str) and s for s in stops):
            raise ApiError(400, f"stop must be a string or a list of at most {MAX_STOPS} non-empty strings", param="stop")
        params["stop"] = stops
    return params


async def start_openai(state: "ServerState", token: str | None, ssl_context: Any) -> tuple[web.AppRunner, int]:
    """Starts the API on `--host`/`--openai-port`; returns the runner (to clean up) and the bound port."""
    args = state.args
    extra = dict(parse_adapter_option(text) for text in args.adapter)
    from .models import check_adapter_dir

    for folder in extra.values():
        check_adapter_dir(folder)
    service = OpenAIService(state, token, extra, list(args.openai_base), args.max_concurrent_chats)
    app = web.Application(client_max_size=args.max_message_bytes, middlewares=[service.guard])
    app.router.add_get("/v1/models", service.list_models)
    app.router.add_get("/v1/models/{model:.+}", service.get_model)
    app.router.add_post("/v1/chat/completions", service.chat_completions)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.openai_port, ssl_context=ssl_context)
    await site.start()
    server = site._server  # aiohttp exposes the bound sockets only here
    port = int(server.sockets[0].getsockname()[1]) if server is not None and server.sockets else args.openai_port
    return runner, port
