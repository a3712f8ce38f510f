"""Helpers for the job server tests: a real server process on 127.0.0.1:0 and a real websockets client.

Holds no tests itself; the test_server_* modules import it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from modelfactory_trainer.protocol import server_frame_problem
from websockets.asyncio.client import ClientConnection, connect

TOKEN = "test-token-" + "0123456789abcdef" * 2
TRAINER_ROOT = Path(__file__).resolve().parents[1]

TINY_CONFIG = """\
base_model: builtin:tiny-llama
method: lora
dataset:
  path: ignored-the-server-rewrites-it.jsonl
  eval_split: 0.1
lora:
  r: 4
  alpha: 8
training:
  max_steps: {steps}
  batch_size: 2
  gradient_accumulation_steps: 1
  max_seq_length: 64
  precision: fp32
  logging_steps: 1
  save_steps: {save_steps}
"""


def tiny_config(steps: int = 4, save_steps: int = 1000) -> str:
    return TINY_CONFIG.format(steps=steps, save_steps=save_steps)


def messages_dataset(records: int = 24) -> bytes:
    lines = []
    for index in range(records):
        record = {
            "messages": [
                {"role": "user", "content": f"What is {index} plus {index}?"},
                {"role": "assistant", "content": f"{index} plus {index} is {2 * index}."},
            ]
        }
        lines.append(json.dumps(record))
    return ("\n".join(lines) + "\n").encode()


class ServerProcess:
    """`python -m modelfactory_trainer serve` as a child; the port is its first stdout line."""

    def __init__(
        self, state_dir: Path, *extra_args: str, env: dict[str, str] | None = None, token: str | None = TOKEN
    ) -> None:
        self.state_dir = state_dir
        self.extra_args = list(extra_args)
        self.env = dict(os.environ)
        self.env.pop("MODELFACTORY_TOKEN", None)
        if token is not None:
            self.env["MODELFACTORY_TOKEN"] = token
        self.env.update(env or {})
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.stderr_path = state_dir.parent / f"{state_dir.name}-server-{time.monotonic_ns()}.log"

    def argv(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "modelfactory_trainer",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--state-dir",
            str(self.state_dir),
            *self.extra_args,
        ]

    def start(self) -> ServerProcess:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.stderr_path, "ab") as stderr:
            self.process = subprocess.Popen(
                self.argv(), stdout=subprocess.PIPE, stderr=stderr, env=self.env, cwd=TRAINER_ROOT
            )
        assert self.process.stdout is not None
        first_line = self.process.stdout.readline().decode().strip()
        if not first_line.isdigit():
            self.stop()
            raise RuntimeError(f"server did not print its port: {first_line!r}\n{self.stderr_text()}")
        self.port = int(first_line)
        return self

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    def stderr_text(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 60) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


class Client:
    """A protocol client that checks every server frame against the schema."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self._next_id = 0
        self.frames: list[dict[str, Any]] = []

    def new_id(self) -> str:
        self._next_id += 1
        return f"q{self._next_id}"

    async def send(self, frame: dict[str, Any]) -> str:
        if "id" not in frame:
            frame = {**frame, "id": self.new_id()}
        await self.connection.send(json.dumps(frame))
        return str(frame["id"])

    async def recv(self, timeout: float = 60) -> dict[str, Any]:
        text = await asyncio.wait_for(self.connection.recv(), timeout)
        frame: dict[str, Any] = json.loads(text)
        problem = server_frame_problem(frame)
        assert problem is None, f"server frame breaks the schema: {problem}: {frame}"
        self.frames.append(frame)
        return frame

    async def reply(self, request_id: str, timeout: float = 60) -> dict[str, Any]:
        """The next frame answering request_id; frames for other ids (events, chat) are kept in self.frames."""
        deadline = time.monotonic() + timeout
        while True:
            frame = await self.recv(max(deadline - time.monotonic(), 0.01))
            if frame.get("id") == request_id:
                return frame

    async def request(self, frame: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
        request_id = await self.send(frame)
        return await self.reply(request_id, timeout)

    async def upload(self, name: str, data: bytes, chunk_bytes: int = 4096) -> str:
        begin = await self.request(
            {"type": "upload_begin", "name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        )
        assert begin["type"] == "upload_ready", begin
        upload_id = str(begin["upload_id"])
        for offset in range(0, len(data), chunk_bytes):
            piece = base64.b64encode(data[offset : offset + chunk_bytes]).decode()
            ack = await self.request({"type": "upload_chunk", "upload_id": upload_id, "offset": offset, "data": piece})
            assert ack["type"] == "upload_ack", ack
        end = await self.request({"type": "upload_end", "upload_id": upload_id})
        assert end["type"] == "upload_done", end
        return upload_id

    async def submit_upload(self, config_yaml: str, data: bytes, name: str = "train.jsonl") -> dict[str, Any]:
        upload_id = await self.upload(name, data)
        reply = await self.request({"type": "submit", "config_yaml": config_yaml, "dataset": {"upload_id": upload_id}})
        assert reply["type"] == "submitted", reply
        return dict(reply["job"])

    async def watch_to_end(self, job_id: str, from_seq: int = 0, timeout: float = 120) -> list[dict[str, Any]]:
        """Event frames from from_seq up to and including `ended`."""
        request_id = await self.send({"type": "watch", "job_id": job_id, "from_seq": from_seq})
        events: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while True:
            frame = await self.recv(max(deadline - time.monotonic(), 0.01))
            if frame["type"] == "error" and frame.get("id") == request_id:
                raise AssertionError(f"watch refused: {frame}")
            if frame["type"] == "event" and frame["job_id"] == job_id:
                events.append(frame)
                if frame["event"]["type"] == "ended":
                    return events

    async def list_jobs(self) -> dict[str, dict[str, Any]]:
        reply = await self.request({"type": "list_jobs"})
        return {job["job_id"]: job for job in reply["jobs"]}


def open_client(server: ServerProcess, token: str = TOKEN, **kwargs: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    return connect(server.url, additional_headers=headers, open_timeout=30, **kwargs)


async def connected(server: ServerProcess, **kwargs: Any) -> Client:
    return Client(await open_client(server, **kwargs))


FAKE_TRAINER = r"""
import json, os, signal, sys, time
count = int(sys.argv[1]); pause = float(sys.argv[2]); padding = int(sys.argv[3])
step = 0
def stop(*_):
    print(json.dumps({"type": "cancelled", "time": time.time(), "step": step, "adapter_dir": None}), flush=True)
    sys.exit(130)
signal.signal(signal.SIGTERM, signal.SIG_IGN if "--ignore-term" in sys.argv else stop)
print(json.dumps({"type": "start", "time": time.time(), "model": "fake", "method": "lora", "device": "cpu",
                  "precision": "fp32", "total_steps": count, "epochs": 1.0, "train_records": 1, "eval_records": 0,
                  "trainable_params": 1, "total_params": 2, "output_dir": "output", "resumed_from": None,
                  "token_in_env": "MODELFACTORY_TOKEN" in os.environ}), flush=True)
print("a stray line that is not JSON", flush=True)
for step in range(1, count + 1):
    event = {"type": "log", "time": time.time(), "step": step, "total_steps": count, "epoch": step / count,
             "loss": 1.0 / step, "learning_rate": 1e-4, "grad_norm": None, "tokens_per_second": 1.0,
             "samples_per_second": 1.0, "gpu_memory_gb": None, "eta_seconds": 0.0, "pad": "x" * padding}
    print(json.dumps(event), flush=True)
    if pause:
        time.sleep(pause)
if "--oom" in sys.argv:
    event = {"type": "oom", "time": time.time(), "step": count, "message": "CUDA out of memory",
             "allocated_gb": 70.0, "reserved_gb": 75.0, "total_gb": 79.6, "batch_size": 4, "max_seq_length": 2048,
             "advice": ["halve batch_size"]}
    print(json.dumps(event), flush=True)
    sys.exit(1)
if "--fail" in sys.argv:
    print(json.dumps({"type": "error", "time": time.time(), "code": "dataset", "message": "fake failure"}), flush=True)
    sys.exit(1)
print(json.dumps({"type": "done", "time": time.time(), "adapter_dir": "output/adapter", "sha256": "0" * 64, "files": {},
                  "train_loss": 1.0, "eval_loss": None, "runtime_seconds": 0.1, "steps": count}), flush=True)
"""


def fake_trainer_env(folder: Path, count: int, pause: float, padding: int = 0, *flags: str) -> dict[str, str]:
    """Point the server at a fake trainer (only the queueing tests do this)."""
    script = folder / "fake_trainer.py"
    script.write_text(FAKE_TRAINER)
    argv = [sys.executable, str(script), str(count), str(pause), str(padding), *flags]
    return {"MODELFACTORY_TRAIN_ARGV": json.dumps(argv)}


def disk_records(state_dir: Path, job_id: str) -> list[dict[str, Any]]:
    """A job's event log on disk, each line `{seq, event}`; the seqs run 0, 1, 2… with nothing missing."""
    lines = (state_dir / "jobs" / job_id / "events.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [record["seq"] for record in records] == list(range(len(records)))
    return records


def event_seqs(frames: list[dict[str, Any]]) -> list[int]:
    return [int(frame["seq"]) for frame in frames]


class RawWebSocket:
    """A hand-made client over a plain socket, for peers the websockets library will not imitate: one that
    stops reading (slow consumer) or never answers pings (half-open)."""

    def __init__(self, port: int, receive_buffer: int | None = None, token: str = TOKEN) -> None:
        import socket

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(30)
        self.sock.connect(("127.0.0.1", port))
        request = (
            "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Bearer {token}\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            piece = self.sock.recv(4096)
            if not piece:
                raise ConnectionError("closed during the handshake")
            self.buffer += piece
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        self.status_line = head.split(b"\r\n", 1)[0].decode()

    def send_text(self, text: str) -> None:
        payload = text.encode()
        mask = os.urandom(4)
        header = bytes([0x81])
        if len(payload) < 126:
            header += bytes([0x80 | len(payload)])
        elif len(payload) < 65536:
            header += bytes([0x80 | 126]) + len(payload).to_bytes(2, "big")
        else:
            header += bytes([0x80 | 127]) + len(payload).to_bytes(8, "big")
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def read_until_close(self) -> tuple[list[int], int | None]:
        """Read frames until a close frame or EOF: (opcodes seen, close code)."""
        opcodes: list[int] = []
        data = self.buffer
        while True:
            while True:
                frame = _split_frame(data)
                if frame is None:
                    break
                opcode, payload, data = frame
                opcodes.append(opcode)
                if opcode == 0x8:
                    return opcodes, int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
            piece = self.sock.recv(1 << 20)
            if not piece:
                return opcodes, None
            data += piece

    def close(self) -> None:
        self.sock.close()


def _split_frame(data: bytes) -> tuple[int, bytes, bytes] | None:
    if len(data) < 2:
        return None
    opcode, length, position = data[0] & 0x0F, data[1] & 0x7F, 2
    if length == 126:
        if len(data) < 4:
            return None
        length, position = int.from_bytes(data[2:4], "big"), 4
    elif length == 127:
        if len(data) < 10:
            return None
        length, position = int.from_bytes(data[2:10], "big"), 10
    if len(data) < position + length:
        return None
    return opcode, data[position : position + length], data[position + length :]


def process_running(pid: int) -> bool:
    """Whether pid is a live process (a zombie, dead and waiting to be reaped by whoever adopted it, is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] != b"Z"


def wait_until_gone(pid: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while process_running(pid):
        if time.monotonic() > deadline:
            raise AssertionError(f"process {pid} is still running after {timeout} s")
        time.sleep(0.05)
