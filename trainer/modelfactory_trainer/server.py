"""The trainer's WebSocket job server: `python -m modelfactory_trainer serve --host 127.0.0.1 --port 0`.

Prints the bound port as its first stdout line; logs are JSON lines on stderr. The frames are described in
`schemas/trainer-protocol.schema.json` and checked on receipt; jobs, their queue and their logs are in `jobs.py`.

Upgrade checks (in `process_request`, all answered before any `101`, in this order):
- a query string -> 400: the protocol never uses one, and a token must never travel in a URL (the request
  line is never logged);
- an `Origin` header -> 403, unless it equals one given with `--allow-origin`: the extension host (Node) sends
  none, while every browser page (a web page reaching for loopback) sends one; webviews talk to the trainer
  through the extension host, never directly;
- `Authorization` or `Origin` sent more than once -> 400;
- no `Authorization: Bearer <token>` or a wrong one -> 401 (compared in constant time).
The token comes from `MODELFACTORY_TOKEN` or `--token-file`, never from argv. Without a token, or on a
non-loopback address without TLS, the server refuses to start unless `--allow-insecure-remote` is given.

Per connection: messages over `--max-message-bytes` close it with 1009; frames to the client wait in a buffer
bounded by `--client-buffer-bytes`: replies, replays and downloads wait for room (back-pressure), while live
events and chat tokens that find it full close the connection with 1008 (slow consumer) instead of growing it.
Pings every `--ping-interval` seconds with the same timeout find a half-open connection within two intervals.
A submitted config is parsed with limits (`server_yaml.py`) in a thread, so other clients are answered
meanwhile; base models come only from `builtin:`, Hugging Face ids, job folders and `--model-root` folders.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hmac
import http
import ipaddress
import json
import logging
import os
import signal
import sys
import time
from collections import deque
from importlib import metadata
from pathlib import Path
from typing import Any

from .jobs import EventListener, Job, JobManager, is_inside
from .digest import sha256_of
from .protocol import PROTOCOL_VERSION, ProtocolError, Request, encode, error_frame, parse_client_frame
from .server_chat import ChatWorker
from .server_export import Exporter
from .server_uploads import UploadStore

TOKEN_ENV = "MODELFACTORY_TOKEN"
MIN_TOKEN_CHARS = 16
ADAPTER_CHUNK_BYTES = 256 * 1024
HEALTH_CACHE_S = 10.0
CONFIG_PARSE_TIMEOUT_S = 10.0
CONFIG_PARSE_THREADS = 2

CUDA_PROBE = r"""
import json
result = {"cuda": {"available": False, "version": None}, "gpus": []}
import torch
result["cuda"]["version"] = torch.version.cuda
if torch.cuda.is_available():
    result["cuda"]["available"] = True
    for index in range(torch.cuda.device_count()):
        free, total = torch.cuda.mem_get_info(index)
        result["gpus"].append({"index": index, "name": torch.cuda.get_device_name(index),
                               "free_gb": round(free / 2**30, 3), "total_gb": round(total / 2**30, 3)})
print(json.dumps(result))
"""


def log(message: str, **fields: Any) -> None:
    record = {"time": round(time.time(), 3), "msg": message, **fields}
    sys.stderr.write(json.dumps(record, default=str) + "\n")
    sys.stderr.flush()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def package_versions() -> dict[str, str | None]:
    """Installed versions read from package metadata: nothing is imported."""
    versions: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in ("torch", "transformers", "peft", "bitsandbytes", "accelerate", "modelfactory_trainer"):
        try:
            versions[name] = metadata.version(name.replace("_", "-"))
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


class HealthProbe:
    """CUDA and GPU memory, probed in a subprocess (the server never imports torch), cached briefly."""

    def __init__(self) -> None:
        self._cached: tuple[float, dict[str, Any]] | None = None
        self._lock = asyncio.Lock()

    async def cuda(self) -> dict[str, Any]:
        async with self._lock:
            if self._cached is not None and time.monotonic() - self._cached[0] < HEALTH_CACHE_S:
                return self._cached[1]
            result: dict[str, Any] = {"cuda": {"available": False, "version": None}, "gpus": [], "probe_error": None}
            env = {key: value for key, value in os.environ.items() if key != TOKEN_ENV}
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                CUDA_PROBE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
            )
            try:
                stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
                if process.returncode == 0:
                    result.update(json.loads(stdout))
                else:
                    result["probe_error"] = stderr.decode(errors="replace")[-500:]
            except (asyncio.TimeoutError, ValueError) as exc:
                process.kill()
                result["probe_error"] = f"CUDA probe failed: {exc!r}"
            self._cached = (time.monotonic(), result)
            return result


class ServerState:
    def __init__(self, args: argparse.Namespace) -> None:
        state_dir = Path(args.state_dir).expanduser().resolve()
        self.args = args
        executor = None
        if args.executor == "ray":
            from .executors import RayExecutor

            executor = RayExecutor(
                args.ray_address, max_running=args.max_running, default_gpus=args.ray_default_gpus, log=log
            )
        self.jobs = JobManager(
            state_dir,
            data_roots=[Path(root) for root in args.data_root],
            model_roots=[Path(root) for root in args.model_root],
            cancel_grace_s=args.cancel_grace,
            allow_remote_code=args.allow_remote_code,
            allow_download=args.allow_download,
            log=log,
            executor=executor,
        )
        self.uploads = UploadStore(state_dir / "uploads", args.max_upload_bytes)
        self.chat = ChatWorker(state_dir / "chat-worker.log", log)
        self.exporter = Exporter(state_dir, args.llama_cpp, log)
        self.health = HealthProbe()
        self.config_slots = asyncio.Semaphore(CONFIG_PARSE_THREADS)
        self.upload_chunk_bytes = max(1024, min(512 * 1024, (args.max_message_bytes - 1024) * 3 // 4 // 4 * 4))


class ClientSession:
    """One connection: requests handled in order, replies through one bounded outgoing buffer."""

    def __init__(self, state: ServerState, connection: Any) -> None:
        self.state = state
        self.connection = connection
        self.limit = state.args.client_buffer_bytes
        self._outbox: deque[str] = deque()
        self._outbox_bytes = 0
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._closing = False
        self._watches: dict[str, tuple[Job, EventListener]] = {}
        self._replays: dict[str, asyncio.Task[None]] = {}
        self._chats: dict[str, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # ---- outgoing ------------------------------------------------------------------------------------------

    def _enqueue(self, text: str) -> None:
        self._outbox.append(text)
        self._outbox_bytes += len(text)
        self._ready.set()
        if self._outbox_bytes >= self.limit // 2:
            self._room.clear()

    async def send(self, frame: dict[str, Any]) -> None:
        """A frame the producer can wait for: waits while the buffer is half full."""
        await self.send_text(encode(frame))

    async def send_text(self, text: str) -> None:
        while not self._room.is_set() and not self._closing:
            await self._room.wait()
        if not self._closing:
            self._enqueue(text)

    def push(self, frame: dict[str, Any]) -> None:
        self.push_text(encode(frame))

    def push_text(self, text: str) -> None:
        """A frame that cannot wait (a live event, a chat token): a full buffer means a slow consumer."""
        if self._closing:
            return
        if self._outbox_bytes + len(text) > self.limit:
            self._closing = True
            self._outbox.clear()
            self._outbox_bytes = 0
            self._room.set()
            log("slow consumer disconnected", remote=str(self.connection.remote_address))
            self._spawn(self.connection.close(1008, "slow consumer: outgoing buffer full"))
            return
        self._enqueue(text)

    async def _write(self) -> None:
        from websockets.exceptions import ConnectionClosed

        while True:
            while not self._outbox:
                self._ready.clear()
                await self._ready.wait()
            text = self._outbox.popleft()
            self._outbox_bytes -= len(text)
            if self._outbox_bytes < self.limit // 2:
                self._room.set()
            try:
                await self.connection.send(text)
            except ConnectionClosed:
                self._closing = True
                self._room.set()
                return

    def _spawn(self, coroutine: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ---- the connection ------------------------------------------------------------------------------------

    async def run(self) -> None:
        from websockets.exceptions import ConnectionClosed

        writer = asyncio.get_running_loop().create_task(self._write())
        try:
            async for message in self.connection:
                await self._handle(message)
        except ConnectionClosed:
            pass
        finally:
            self._closing = True
            writer.cancel()
            self._cleanup()

    def _cleanup(self) -> None:
        for job, listener in self._watches.values():
            if listener in job.listeners:
                job.listeners.remove(listener)
        self._watches.clear()
        for task in list(self._tasks):
            task.cancel()
        for internal_id in self._chats.values():
            self.state.chat.forget(internal_id)
        self._chats.clear()
        self.state.uploads.release(self)

    async def _handle(self, message: str | bytes) -> None:
        request_id: str | None = None
        try:
            request = parse_client_frame(message)
            request_id = request.id
            handler = getattr(self, f"_on_{request.type}")
            await handler(request)
        except ProtocolError as refusal:
            await self.send(error_frame(refusal.code, refusal.message, refusal.request_id or request_id))
        except Exception as exc:  # a bug in one request must not take the connection or server down
            log("request failed", error=repr(exc))
            await self.send(error_frame("internal", f"internal error: {type(exc).__name__}", request_id))

    # ---- requests ------------------------------------------------------------------------------------------

    async def _on_hello(self, request: Request) -> None:
        args = self.state.args
        await self.send(
            {
                "type": "welcome",
                "id": request.id,
                "server": "modelfactory-trainer",
                "server_version": package_versions()["modelfactory_trainer"] or "0",
                "protocol": PROTOCOL_VERSION,
                "limits": {
                    "max_message_bytes": args.max_message_bytes,
                    "max_upload_bytes": args.max_upload_bytes,
                    "upload_chunk_bytes": self.state.upload_chunk_bytes,
                    "adapter_chunk_bytes": ADAPTER_CHUNK_BYTES,
                },
            }
        )

    async def _on_health(self, request: Request) -> None:
        probe = await self.state.health.cuda()
        running = self.state.jobs.running_job
        await self.send(
            {
                "type": "health_report",
                "id": request.id,
                "versions": package_versions(),
                "cuda": probe["cuda"],
                "gpus": probe["gpus"],
                "probe_error": probe.get("probe_error"),
                "jobs": {"queued": self.state.jobs.queued_count(), "running": running.job_id if running else None},
            }
        )

    async def _on_upload_begin(self, request: Request) -> None:
        body = request.body
        upload = self.state.uploads.begin(body["name"], body["size"], body["sha256"], owner=self)
        await self.send(
            {
                "type": "upload_ready",
                "id": request.id,
                "upload_id": upload.upload_id,
                "chunk_bytes": self.state.upload_chunk_bytes,
            }
        )

    async def _on_upload_chunk(self, request: Request) -> None:
        body = request.body
        received = self.state.uploads.chunk(body["upload_id"], body["offset"], body["data"], owner=self)
        await self.send({"type": "upload_ack", "id": request.id, "upload_id": body["upload_id"], "received": received})

    async def _on_upload_end(self, request: Request) -> None:
        upload = self.state.uploads.end(request.body["upload_id"], owner=self)
        await self.send(
            {
                "type": "upload_done",
                "id": request.id,
                "upload_id": upload.upload_id,
                "name": upload.name,
                "size": upload.size,
                "sha256": upload.sha256,
            }
        )

    async def _on_submit(self, request: Request) -> None:
        body = request.body
        jobs = self.state.jobs
        dataset = body["dataset"]
        name = body.get("name", "")
        if "upload_id" in dataset:
            upload = self.state.uploads.peek_finished(dataset["upload_id"])
            config = await self._prepare_config(body["config_yaml"], f"data/{upload.name}")
            staged = self.state.uploads.take(upload.upload_id)
            job = jobs.create(config, staged, move_dataset=True, name=name)
            staged.parent.rmdir()
        elif dataset.get("hub") is True:
            config = await self._prepare_config(body["config_yaml"], None)
            job = jobs.create(config, None, move_dataset=False, name=name)
        else:
            path = jobs.resolve_server_path(dataset["path"])
            config = await self._prepare_config(body["config_yaml"], str(path))
            job = jobs.create(config, path, move_dataset=False, name=name)
        await self.send({"type": "submitted", "id": request.id, "job": job.summary()})

    async def _prepare_config(self, config_yaml: str, dataset_path: str | None) -> dict[str, Any]:
        """Parse and check a client's config in a thread, so other clients are answered meanwhile; the YAML
        limits (`server_yaml.py`) bound the work, the timeout is a backstop."""
        async with self.state.config_slots:
            work = asyncio.to_thread(self.state.jobs.prepare_config, config_yaml, dataset_path)
            try:
                return await asyncio.wait_for(work, CONFIG_PARSE_TIMEOUT_S)
            except asyncio.TimeoutError:
                raise ProtocolError(
                    "bad-config", f"the config took longer than {CONFIG_PARSE_TIMEOUT_S:g} s to check"
                ) from None

    async def _on_evaluate(self, request: Request) -> None:
        """An evaluation of a done job's adapter, queued as a job: the client watches it like any other."""
        body = request.body
        jobs = self.state.jobs
        source = jobs.get(body["job_id"])
        if source.state != "done":
            raise ProtocolError("job-not-done", f"job {source.job_id} is {source.state}; only a done job has an adapter to evaluate")
        data = body.get("data")
        max_new_tokens = int(body.get("max_new_tokens", 128))
        name = body.get("name", "")
        if data is not None and "upload_id" in data:
            upload = self.state.uploads.peek_finished(data["upload_id"])
            staged = self.state.uploads.take(upload.upload_id)
            job = jobs.create_evaluation(source, staged, move_data=True, max_new_tokens=max_new_tokens, name=name)
            staged.parent.rmdir()
        else:
            path = jobs.resolve_server_path(data["path"]) if data is not None else None
            job = jobs.create_evaluation(source, path, move_data=False, max_new_tokens=max_new_tokens, name=name)
        await self.send({"type": "submitted", "id": request.id, "job": job.summary()})

    async def _on_list_jobs(self, request: Request) -> None:
        jobs = [job.summary() for job in self.state.jobs.list()]
        await self.send({"type": "job_list", "id": request.id, "jobs": jobs})

    def _stop_watching(self, job_id: str) -> None:
        watch = self._watches.pop(job_id, None)
        if watch is not None and watch[1] in watch[0].listeners:
            watch[0].listeners.remove(watch[1])
        replay = self._replays.pop(job_id, None)
        if replay is not None:
            replay.cancel()

    async def _on_watch(self, request: Request) -> None:
        job = self.state.jobs.get(request.body["job_id"])
        from_seq: int = request.body["from_seq"]
        self._stop_watching(job.job_id)
        prefix = f'{{"type":"event","job_id":"{job.job_id}","seq":'

        def live(seq: int, event_text: str) -> None:
            if seq >= from_seq:
                self.push_text(f'{prefix}{seq},"event":{event_text}}}')

        async def replayed(seq: int, event_text: str) -> None:
            await self.send_text(f'{prefix}{seq},"event":{event_text}}}')

        self._watches[job.job_id] = (job, live)
        await self.send({"type": "watching", "id": request.id, "job": job.summary(), "from_seq": from_seq})

        async def replay() -> None:
            await self.state.jobs.follow(job, from_seq, replayed, live)
            self._replays.pop(job.job_id, None)

        self._replays[job.job_id] = self._spawn(replay())

    async def _on_unwatch(self, request: Request) -> None:
        self._stop_watching(request.body["job_id"])
        await self.send({"type": "ack", "id": request.id, "job_id": request.body["job_id"]})

    async def _on_cancel(self, request: Request) -> None:
        job = self.state.jobs.get(request.body["job_id"])
        self.state.jobs.cancel(job)
        await self.send({"type": "ack", "id": request.id, "job_id": job.job_id, "state": job.state})

    async def _on_move_job(self, request: Request) -> None:
        job = self.state.jobs.get(request.body["job_id"])
        self.state.jobs.move(job, request.body["position"])
        await self.send({"type": "ack", "id": request.id, "job_id": job.job_id, "state": job.state})

    async def _on_resume(self, request: Request) -> None:
        job = self.state.jobs.get(request.body["job_id"])
        self.state.jobs.resume(job)
        await self.send({"type": "ack", "id": request.id, "job_id": job.job_id, "state": job.state})

    async def _on_download_adapter(self, request: Request) -> None:
        job = self.state.jobs.get(request.body["job_id"])
        if request.body.get("what") == "eval":
            await self._send_eval_results(request, job)
            return
        if job.state != "done":
            raise ProtocolError("job-not-done", f"job {job.job_id} is {job.state}; only a done job has an adapter")
        adapter_dir = job.adapter_dir()
        if adapter_dir is None or not (adapter_dir / "adapter_model.safetensors").is_file():
            raise ProtocolError("adapter-missing", f"job {job.job_id} has no adapter_model.safetensors")
        files = sorted(path for path in adapter_dir.iterdir() if path.is_file() and not path.is_symlink())
        digests = {path.name: await asyncio.to_thread(sha256_of, path) for path in files}
        reported = (job.done_event or {}).get("sha256")
        if digests["adapter_model.safetensors"] != reported:
            raise ProtocolError(
                "adapter-corrupt", "adapter_model.safetensors differs from the sha256 the trainer reported"
            )
        self._spawn(self._stream_adapter(request.id, job.job_id, files, digests))

    async def _send_eval_results(self, request: Request, job: Job) -> None:
        """A done evaluation job's results (output/eval: results.jsonl, summary.json), in adapter frames."""
        if job.method != "eval":
            raise ProtocolError("not-an-evaluation", f"job {job.job_id} is a {job.method} job, not an evaluation")
        if job.state != "done":
            raise ProtocolError("job-not-done", f"job {job.job_id} is {job.state}; only a done evaluation has results")
        eval_dir = (job.folder / "output" / "eval").resolve()
        if not is_inside(eval_dir, [job.folder.resolve()]) or not (eval_dir / "results.jsonl").is_file():
            raise ProtocolError("results-missing", f"evaluation {job.job_id} wrote no results.jsonl")
        files = sorted(
            path for path in eval_dir.iterdir() if path.suffix in (".jsonl", ".json") and path.is_file() and not path.is_symlink()
        )
        digests = {path.name: await asyncio.to_thread(sha256_of, path) for path in files}
        self._spawn(self._stream_adapter(request.id, job.job_id, files, digests, main="results.jsonl"))

    async def _stream_adapter(
        self, request_id: str, job_id: str, files: list[Path], digests: dict[str, str], main: str = "adapter_model.safetensors"
    ) -> None:
        for path in files:
            size = path.stat().st_size
            await self.send(
                {
                    "type": "adapter_file",
                    "id": request_id,
                    "job_id": job_id,
                    "name": path.name,
                    "size": size,
                    "sha256": digests[path.name],
                }
            )
            with open(path, "rb") as handle:
                offset = 0
                while chunk := handle.read(ADAPTER_CHUNK_BYTES):
                    data = base64.b64encode(chunk).decode("ascii")
                    await self.send(
                        {"type": "adapter_chunk", "id": request_id, "name": path.name, "offset": offset, "data": data}
                    )
                    offset += len(chunk)
        await self.send(
            {
                "type": "adapter_end",
                "id": request_id,
                "job_id": job_id,
                "files": digests,
                "sha256": digests[main],
            }
        )

    async def _on_chat(self, request: Request) -> None:
        body = request.body
        base: str | None = body.get("base")
        adapter: str | None = None
        if body.get("adapter_job_id") is not None:
            job = self.state.jobs.get(body["adapter_job_id"])
            adapter_dir = job.adapter_dir()
            if adapter_dir is None:
                raise ProtocolError("job-not-done", f"job {job.job_id} has no finished adapter")
            adapter = str(adapter_dir)
            base = base or job.base_model
        if not base:
            raise ProtocolError("bad-message", "chat needs a base model, or an adapter_job_id to take it from")
        base = self.state.jobs.check_base_model(base)
        if request.id in self._chats:
            raise ProtocolError("bad-message", f"a chat with id {request.id!r} is still running")
        chat_id = request.id

        def deliver(frame: dict[str, Any]) -> None:
            kind = frame["type"]
            if kind == "chat_token":
                self.push({"type": "chat_token", "id": chat_id, "text": str(frame.get("text", ""))})
                return
            self._chats.pop(chat_id, None)
            if kind == "chat_done":
                keys = ("tokens", "time_to_first_token_ms", "tokens_per_second", "finish_reason")
                self.push({"type": "chat_done", "id": chat_id, **{key: frame.get(key) for key in keys}})
            else:
                code, message = str(frame.get("code", "internal")), str(frame.get("message", ""))
                self.push({"type": "chat_error", "id": chat_id, "code": code, "message": message})

        worker_request = {
            "base": base,
            "adapter": adapter,
            "messages": body["messages"],
            "system": body.get("system"),
            "params": body.get("params", {}),
        }
        self._chats[chat_id] = ""
        internal_id = await self.state.chat.generate(worker_request, deliver)
        if chat_id in self._chats:
            self._chats[chat_id] = internal_id

    async def _on_export(self, request: Request) -> None:
        job = self.state.jobs.get(request.body["job_id"])
        self.state.exporter.check(job, request.body)  # refusals answer at once, before the task starts

        async def export() -> None:
            async def progress(fields: dict[str, Any]) -> None:
                await self.send({"type": "export_progress", "id": request.id, **fields})

            try:
                # Shielded: a client that leaves does not stop the export (its frames are dropped).
                done = await asyncio.shield(self.state.exporter.run(job, request.body, progress))
            except ProtocolError as refusal:
                await self.send(error_frame(refusal.code, refusal.message, request.id))
                return
            keys = ("merged", "files", "template_converted", "template_note")
            await self.send({"type": "export_done", "id": request.id, "job_id": job.job_id,
                             "name": request.body["name"], "path": str(done.get("out", "")),
                             **{key: done.get(key) for key in keys}})

        self._spawn(export())

    async def _on_chat_cancel(self, request: Request) -> None:
        internal_id = self._chats.get(request.body["chat_id"])
        if internal_id:
            await self.state.chat.cancel(internal_id)
        await self.send({"type": "ack", "id": request.id})



def make_process_request(token: str | None, allowed_origins: list[str]) -> Any:
    expected = f"Bearer {token}".encode() if token else None

    def process_request(connection: Any, request: Any) -> Any:
        if "?" in request.path:
            log("upgrade refused: query string", status=400)
            return connection.respond(
                http.HTTPStatus.BAD_REQUEST,
                "Query strings are not accepted; send the token in the Authorization header.\n",
            )
        for name in ("Authorization", "Origin"):
            if len(request.headers.get_all(name)) > 1:
                log("upgrade refused: repeated header", status=400, header=name)
                return connection.respond(http.HTTPStatus.BAD_REQUEST, f"{name} may be sent once.\n")
        origin = request.headers.get("Origin")
        if origin is not None and origin not in allowed_origins:
            log("upgrade refused: origin", status=403, origin=origin[:200])
            return connection.respond(http.HTTPStatus.FORBIDDEN, "This Origin may not connect.\n")
        if expected is not None:
            offered = request.headers.get("Authorization", "").encode("utf-8", errors="replace")
            if not hmac.compare_digest(offered, expected):
                log("upgrade refused: token", status=401)
                response = connection.respond(http.HTTPStatus.UNAUTHORIZED, "A valid bearer token is required.\n")
                response.headers["WWW-Authenticate"] = 'Bearer realm="modelfactory-trainer"'
                return response
        return None

    return process_request


def read_token(args: argparse.Namespace) -> str | None:
    if args.token_file:
        token = Path(args.token_file).read_text(encoding="utf-8").strip()
    else:
        token = os.environ.get(TOKEN_ENV, "").strip()
    return token or None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelfactory_trainer serve",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="The token comes from $MODELFACTORY_TOKEN or --token-file, never from the command line.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed as the first stdout line)")
    parser.add_argument(
        "--state-dir", default=os.path.join(os.path.expanduser("~"), ".cache", "modelfactory", "server")
    )
    parser.add_argument("--token-file", help="a file holding the bearer token")
    parser.add_argument("--tls-cert", help="PEM certificate chain (serves wss://)")
    parser.add_argument("--tls-key", help="PEM private key for --tls-cert")
    parser.add_argument(
        "--allow-insecure-remote", action="store_true", help="start without a token, or off loopback without TLS"
    )
    parser.add_argument(
        "--allow-origin", action="append", default=[], help="an Origin header value to accept (repeatable)"
    )
    parser.add_argument(
        "--data-root",
        action="append",
        default=[],
        help="a folder whose files may be named as datasets (repeatable; default: uploads only)",
    )
    parser.add_argument(
        "--model-root",
        action="append",
        default=[],
        help="a folder whose subfolders may be named as base models (repeatable; default: builtin: models, "
        "Hugging Face ids and job folders only)",
    )
    parser.add_argument("--allow-remote-code", action="store_true", help="accept configs with trust_remote_code: true")
    parser.add_argument(
        "--allow-download",
        action="store_true",
        help="let jobs fetch a base model or dataset missing from the Hugging Face cache from the Hub "
        "(HF_ENDPOINT; a token from HF_TOKEN in this server's environment)",
    )
    parser.add_argument("--max-message-bytes", type=int, default=1 << 20, help="larger client messages close with 1009")
    parser.add_argument(
        "--max-upload-bytes", type=int, default=4 << 30, help="per upload, and for all staged uploads together"
    )
    parser.add_argument(
        "--client-buffer-bytes",
        type=int,
        default=16 << 20,
        help="outgoing buffer per connection (counted in characters of JSON)",
    )
    parser.add_argument(
        "--ping-interval", type=float, default=20.0, help="seconds between pings; also the pong timeout"
    )
    parser.add_argument(
        "--cancel-grace", type=float, default=30.0, help="seconds between SIGTERM and SIGKILL on cancel"
    )
    parser.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="local: jobs run one at a time as child processes; ray: each job is a Ray job on the cluster of "
        "--ray-address, several at once (needs modelfactory-trainer[ray]; see executors.py)",
    )
    parser.add_argument(
        "--ray-address", default="http://127.0.0.1:8265", help="the Ray dashboard address, as `ray job submit` takes it"
    )
    parser.add_argument(
        "--max-running", type=int, default=8, help="ray: jobs handed to the cluster at once (the rest wait here)"
    )
    parser.add_argument(
        "--ray-default-gpus", type=int, default=1, help="ray: GPUs for a job whose config has no resources.gpus"
    )
    parser.add_argument("--llama-cpp", default=None, help="a llama.cpp checkout, for GGUF exports (the export message)")
    openai = parser.add_argument_group("OpenAI-compatible API (server_openai.py)")
    openai.add_argument("--openai", action="store_true", help="also serve /v1/models and /v1/chat/completions over HTTP")
    openai.add_argument("--openai-port", type=int, default=0, help="its port (0 picks one; printed as 'openai PORT')")
    openai.add_argument("--no-websocket", action="store_true", help="with --openai: serve the OpenAI API alone")
    openai.add_argument("--adapter", action="append", default=[], metavar="NAME=DIR", help="serve an adapter folder as model NAME (repeatable)")
    openai.add_argument("--openai-base", action="append", default=[], metavar="MODEL", help="list a base model even with no adapter on it (repeatable)")
    openai.add_argument("--max-concurrent-chats", type=int, default=64, help="generations queued or running at once (429 past it)")
    return parser


def startup_refusal(args: argparse.Namespace, token: str | None) -> str | None:
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        return f"the token must have at least {MIN_TOKEN_CHARS} characters"
    if args.max_running < 1 or args.ray_default_gpus < 0:
        return "--max-running must be at least 1 and --ray-default-gpus at least 0"
    if bool(args.tls_cert) != bool(args.tls_key):
        return "--tls-cert and --tls-key go together"
    if (args.no_websocket or args.adapter or args.openai_base) and not args.openai:
        return "--no-websocket, --adapter and --openai-base go with --openai"
    if args.allow_insecure_remote:
        return None
    if token is None:
        return f"no token: set {TOKEN_ENV} or pass --token-file (or --allow-insecure-remote to accept anyone)"
    if not is_loopback(args.host) and not args.tls_cert:
        return f"refusing to serve {args.host} without TLS: pass --tls-cert/--tls-key (or --allow-insecure-remote)"
    return None


async def serve(args: argparse.Namespace, token: str | None) -> int:
    from websockets.asyncio.server import serve as websocket_serve

    try:
        state = ServerState(args)
    except (RuntimeError, ConnectionError, OSError, ValueError) as exc:
        log("refusing to start", reason=f"the {args.executor} executor cannot start: {exc}"[:1000])
        return 2
    state.jobs.load_history()
    ssl_context = None
    if args.tls_cert:
        import ssl

        ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ssl_context.minimum_version = ssl.TLSVersion.TLSv1_2
        ssl_context.load_cert_chain(args.tls_cert, args.tls_key)

    async def handler(connection: Any) -> None:
        log("client connected", remote=str(connection.remote_address))
        await ClientSession(state, connection).run()
        log("client disconnected", remote=str(connection.remote_address), code=connection.close_code)

    quiet = logging.getLogger("modelfactory.websockets")
    quiet.setLevel(logging.CRITICAL)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    openai_runner, openai_port = None, 0
    if args.openai:
        from .server_openai import start_openai

        try:
            openai_runner, openai_port = await start_openai(state, token, ssl_context)
        except (ValueError, OSError) as exc:
            log("refusing to start", reason=f"OpenAI API: {exc}")
            return 2
        log("serving the OpenAI API", host=args.host, port=openai_port, tls=ssl_context is not None)
        if args.no_websocket:
            sys.stdout.write(f"{openai_port}\nopenai {openai_port}\n")
            sys.stdout.flush()
            state.jobs.start()
            await stop.wait()
            log("shutting down")
            await openai_runner.cleanup()
            await state.jobs.shutdown()
            await state.chat.close()
            return 0
    async with websocket_serve(
        handler,
        args.host,
        args.port,
        process_request=make_process_request(token, args.allow_origin),
        max_size=args.max_message_bytes,
        ping_interval=args.ping_interval,
        ping_timeout=args.ping_interval,
        close_timeout=min(10.0, args.ping_interval),
        ssl=ssl_context,
        logger=quiet,
        server_header=None,
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        sys.stdout.write(f"{port}\n" + (f"openai {openai_port}\n" if openai_runner is not None else ""))
        sys.stdout.flush()
        log("serving", host=args.host, port=port, tls=ssl_context is not None, state_dir=args.state_dir)
        state.jobs.start()
        await stop.wait()
        log("shutting down")
        if openai_runner is not None:
            await openai_runner.cleanup()
        await state.jobs.shutdown()
        await state.chat.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        token = read_token(args)
    except OSError as exc:
        log("cannot read the token file", error=str(exc))
        return 2
    refusal = startup_refusal(args, token)
    if refusal is not None:
        log("refusing to start", reason=refusal)
        return 2
    return asyncio.run(serve(args, token))


if __name__ == "__main__":
    sys.exit(main())
