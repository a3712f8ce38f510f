"""A real Ray head on loopback for the ray executor's tests: CPU only, small object store, its own ports.

Every port Ray would otherwise take at a fixed number (client server 10001, the agent's 52365, the worker
range 10002-19999) is picked free here, so heads of parallel test runs on one machine do not collide; the
head runs with `--block` in its own process group, which teardown kills (never `ray stop`, which would stop
every Ray on the machine).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class RayHead:
    def __init__(self, temp_dir: Path, num_cpus: int = 2) -> None:
        self.temp_dir = temp_dir
        self.num_cpus = num_cpus
        self.process: subprocess.Popen[bytes] | None = None
        self.dashboard_port = 0
        self.log_path = temp_dir / "ray-head.log"

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    def start(self, timeout: float = 240) -> RayHead:
        ray = Path(sys.executable).with_name("ray")
        if not ray.exists():
            raise RuntimeError(f"{ray} is missing: run `npm run setup` (installs modelfactory-trainer[ray])")
        # Ray's longest socket path is <temp-dir>/session_<date>_<time>_<usec>_<pid>/sockets/plasma_store
        # (about 65 bytes past the folder), and a Unix socket's path is capped at 107 bytes.
        if len(os.fsencode(self.temp_dir)) + 66 > 107:
            raise RuntimeError(f"{self.temp_dir} is too long a --temp-dir for Ray's sockets: use a shorter folder")
        ports = free_ports(14)
        gcs, dashboard, client, agent_http, agent_grpc, runtime_env, metrics, node_manager, object_manager = ports[:9]
        self.dashboard_port = dashboard
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            str(ray), "start", "--head", "--block", "--disable-usage-stats",
            "--node-ip-address=127.0.0.1", f"--port={gcs}",
            "--include-dashboard=true", "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard}",
            f"--ray-client-server-port={client}", f"--dashboard-agent-listen-port={agent_http}",
            f"--dashboard-agent-grpc-port={agent_grpc}", f"--runtime-env-agent-port={runtime_env}",
            f"--metrics-export-port={metrics}", f"--node-manager-port={node_manager}",
            f"--object-manager-port={object_manager}",
            "--worker-port-list=" + ",".join(str(port) for port in ports[9:]),
            f"--num-cpus={self.num_cpus}", "--num-gpus=0", "--object-store-memory=80000000",
            f"--temp-dir={self.temp_dir}",
        ]  # fmt: skip
        env = {**os.environ, "RAY_JOB_STOP_WAIT_TIME_S": "20"}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=log, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the Ray head exited:\n{self.log_text()}")
            try:
                with urllib.request.urlopen(f"{self.address}/api/version", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(1)
        self.stop()
        raise RuntimeError(f"the Ray head's dashboard did not answer within {timeout:g} s:\n{self.log_text()}")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is None:
            return
        for signum, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.process.pid, signum)
            except ProcessLookupError:
                break
            try:
                self.process.wait(wait)
                # the raylet, GCS and workers share the group; give them the same signal
                time.sleep(0.5)
            except subprocess.TimeoutExpired:
                continue
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # anything of the group still alive
        except ProcessLookupError:
            pass
        self.process = None
