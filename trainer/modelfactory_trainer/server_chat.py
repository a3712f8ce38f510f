"""Chat requests proxied to one long-lived `python -m modelfactory_trainer chat-worker` child.

The server never imports torch: the worker holds the models, stays warm between requests, is started on the
first chat and started again on the next chat after it dies. Requests of every client are multiplexed over its
stdin/stdout under ids of the server's own (`r1`, `r2`, ...), so two clients may both use the id "1".
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ChatSink = Callable[[dict[str, Any]], None]
"""Receives the worker's frames for one request, renamed to protocol frames (chat_token, chat_done, chat_error)."""

WORKER_FRAME_TYPES = {"token": "chat_token", "done": "chat_done", "error": "chat_error"}


class ChatWorker:
    def __init__(self, log_path: Path, log: Callable[..., None]) -> None:
        self.argv = [sys.executable, "-m", "modelfactory_trainer", "chat-worker"]
        self.log_path = log_path
        self._log = log
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._start_lock = asyncio.Lock()
        self._pending: dict[str, ChatSink] = {}
        self._ids = itertools.count(1)
        self.starts = 0

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None and self._process.returncode is None else None

    async def _ensure_started(self) -> asyncio.subprocess.Process:
        async with self._start_lock:
            if self._process is not None and self._process.returncode is None:
                return self._process
            env = {key: value for key, value in os.environ.items() if key != "MODELFACTORY_TOKEN"}
            env["PYTHONUNBUFFERED"] = "1"
            # An empty working folder: a Hugging Face id such as `etc` must never name a folder beside the worker.
            workdir = self.log_path.parent / "chat-worker-cwd"
            workdir.mkdir(exist_ok=True)
            with open(self.log_path, "ab") as stderr_file:
                self._process = await asyncio.create_subprocess_exec(
                    *self.argv,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=stderr_file,
                    env=env,
                    cwd=str(workdir),
                    start_new_session=True,
                    limit=1 << 20,
                )
            self.starts += 1
            self._log("chat worker started", pid=self._process.pid)
            self._reader = asyncio.get_running_loop().create_task(self._read(self._process))
            return self._process

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        while True:
            try:
                line = await process.stdout.readline()
            except ValueError:
                continue
            if not line:
                break
            try:
                frame = json.loads(line)
            except ValueError:
                continue
            if not isinstance(frame, dict):
                continue
            internal_id = str(frame.get("id"))
            sink = self._pending.get(internal_id)
            kind = WORKER_FRAME_TYPES.get(str(frame.get("type")))
            if sink is None or kind is None:
                continue
            if kind != "chat_token":
                del self._pending[internal_id]
            sink({**frame, "type": kind})
        code = await process.wait()
        self._log("chat worker exited", pid=process.pid, exit_code=code)
        orphans, self._pending = self._pending, {}
        for sink in orphans.values():
            sink(
                {"type": "chat_error", "code": "worker-crashed", "message": f"the chat worker exited with code {code}"}
            )

    async def generate(self, request: dict[str, Any], sink: ChatSink) -> str:
        """Send one generate request (the chat-worker's shape, without id); returns the id it runs under."""
        process = await self._ensure_started()
        internal_id = f"r{next(self._ids)}"
        self._pending[internal_id] = sink
        assert process.stdin is not None
        try:
            process.stdin.write((json.dumps({**request, "id": internal_id, "type": "generate"}) + "\n").encode())
            await process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            self._pending.pop(internal_id, None)
            sink(
                {"type": "chat_error", "code": "worker-crashed", "message": "the chat worker is not accepting requests"}
            )
        return internal_id

    async def cancel(self, internal_id: str) -> None:
        process = self._process
        if internal_id not in self._pending or process is None or process.stdin is None:
            return
        try:
            process.stdin.write((json.dumps({"id": internal_id, "type": "cancel"}) + "\n").encode())
            await process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def forget(self, internal_id: str) -> None:
        """Drop a request's frames (its client is gone) and ask the worker to stop it."""
        if internal_id in self._pending:
            self._pending[internal_id] = lambda _frame: None
            asyncio.get_running_loop().create_task(self.cancel(internal_id))

    async def close(self) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 5)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()
