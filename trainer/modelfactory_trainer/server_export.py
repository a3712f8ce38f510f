"""The `export` protocol message: a finished job's adapter exported by an `export` child process.

The server never imports torch, so the export runs as `python -m modelfactory_trainer export --events` and its
JSON lines become `export_progress` frames, then `export_done`. The output goes only to
`<state_dir>/exports/<name>` (a name the schema restricts to letters, digits, `_` and `-`, never an existing
folder); one export runs at a time (they load a whole model), others wait their turn.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any, Awaitable, Callable

from .jobs import Job
from .protocol import ProtocolError

EXPORT_TIMEOUT_S = 6 * 3600


class Exporter:
    def __init__(self, state_dir: Path, llama_cpp: str | None, log: Callable[..., None]) -> None:
        self.root = state_dir / "exports"
        self.llama_cpp = llama_cpp
        self._log = log
        self._turn = asyncio.Lock()
        self._reserved: set[str] = set()

    def check(self, job: Job, body: dict[str, Any]) -> tuple[Path, Path]:
        """The job's adapter and the export's folder, or a refusal (before anything runs)."""
        if job.state != "done":
            raise ProtocolError("job-not-done", f"job {job.job_id} is {job.state}; only a done job has an adapter")
        adapter = job.adapter_dir()
        if adapter is None or not (adapter / "adapter_model.safetensors").is_file():
            raise ProtocolError("adapter-missing", f"job {job.job_id} has no adapter_model.safetensors")
        name = str(body["name"])
        out = self.root / name
        if out.exists() or name in self._reserved:
            raise ProtocolError("export-exists", f"an export named {name!r} already exists on the server")
        if body.get("gguf") and not self.llama_cpp:
            raise ProtocolError(
                "gguf-unavailable",
                "this server has no llama.cpp converter: start it with --llama-cpp <a llama.cpp checkout> to export GGUF",
            )
        return adapter, out

    async def run(
        self, job: Job, body: dict[str, Any], send: Callable[[dict[str, Any]], Awaitable[None]]
    ) -> dict[str, Any]:
        """Runs the export; sends progress through `send`; returns the child's `export_done` line."""
        adapter, out = self.check(job, body)
        self._reserved.add(out.name)
        try:
            async with self._turn:
                self.root.mkdir(parents=True, exist_ok=True)
                return await self._run(job, adapter, out, body, send)
        finally:
            self._reserved.discard(out.name)

    async def _run(
        self, job: Job, adapter: Path, out: Path, body: dict[str, Any], send: Callable[[dict[str, Any]], Awaitable[None]]
    ) -> dict[str, Any]:
        argv = [sys.executable, "-m", "modelfactory_trainer", "export", "--adapter", str(adapter), "--out", str(out),
                "--events", "--exit-with-parent", "--base", job.base_model]
        if job.config_path.is_file():
            argv += ["--config", str(job.config_path)]
        for flag in ("merge", "ollama", "gguf"):
            if body.get(flag):
                argv.append(f"--{flag}")
        if body.get("gguf"):
            argv += ["--llama-cpp", str(self.llama_cpp)]
        if isinstance(body.get("system"), str):
            argv += ["--system", body["system"]]
        env = {key: value for key, value in os.environ.items() if key != "MODELFACTORY_TOKEN"}
        log_path = self.root / f".{out.name}.log"
        # An empty working folder, as the chat worker's: a Hugging Face id must never name a folder beside it.
        workdir = self.root / ".cwd"
        workdir.mkdir(exist_ok=True)
        with open(log_path, "ab") as stderr:
            process = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=stderr, env=env,
                cwd=str(workdir), start_new_session=True, limit=1 << 20,
            )
        self._log("export started", job_id=job.job_id, name=out.name, pid=process.pid)
        result: dict[str, Any] | None = None
        failure: dict[str, Any] | None = None
        async def pump() -> int:
            nonlocal result, failure
            assert process.stdout is not None
            while line := await process.stdout.readline():
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                kind = event.get("type") if isinstance(event, dict) else None
                if kind == "export_progress":
                    fraction = min(max(float(event.get("fraction", 0.0)), 0.0), 1.0)
                    await send({"stage": str(event.get("stage", "")), "fraction": fraction,
                                "message": str(event.get("message", ""))})
                elif kind == "export_done":
                    result = event
                elif kind == "export_error":
                    failure = event
            return await process.wait()

        try:
            code = await asyncio.wait_for(pump(), EXPORT_TIMEOUT_S)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()
            raise ProtocolError("export-failed", f"the export took longer than {EXPORT_TIMEOUT_S} s") from None
        self._log("export ended", job_id=job.job_id, name=out.name, exit_code=code)
        if result is None or code != 0:
            message = str((failure or {}).get("message") or f"the export exited with code {code}")
            kind = str((failure or {}).get("code") or "")
            raise ProtocolError("export-failed", (f"({kind}) " if kind else "") + message[:2000])
        log_path.unlink(missing_ok=True)
        return result
