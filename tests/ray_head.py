"""A real local Ray head for the tests: `ray start --head` on free ports, reached by its address, and
stopped by process id (`ray stop` would stop every Ray process on the machine, other people's too).

    with RayHead(num_cpus=2) as head:
        ray.init(address=head.address)           # "127.0.0.1:PORT"
        head.workers("vgrad_train_job")          # the worker processes running that function now
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RayHead:
    """`ray start --head --port P --num-cpus N` on 127.0.0.1 with its own temp dir; `.address`, `.stop()`."""

    def __init__(self, num_cpus: int = 2):
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.temp_dir = tempfile.mkdtemp(prefix="vr", dir="/tmp")
        ray_cli = str(Path(sys.executable).parent / "ray")
        cmd = [ray_cli, "start", "--head", "--port", str(self.port), "--num-cpus", str(num_cpus),
               "--include-dashboard=false", "--disable-usage-stats", "--node-ip-address", "127.0.0.1",
               "--temp-dir", self.temp_dir, "--ray-client-server-port", str(free_port()),
               "--dashboard-port", str(free_port())]
        started = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if started.returncode != 0:
            self.stop()
            raise RuntimeError(f"ray start --head failed:\n{started.stderr[-2000:]}")

    def __enter__(self) -> RayHead:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def processes(self) -> list[psutil.Process]:
        """The head's processes (their command lines name its temp dir or port) and everything they started."""
        found = {}
        for proc in psutil.process_iter(["cmdline"]):
            line = " ".join(proc.info["cmdline"] or [])
            if self.temp_dir in line or f":{self.port} " in f"{line} " or f"--port={self.port}" in line:
                found[proc.pid] = proc
                try:
                    found.update({c.pid: c for c in proc.children(recursive=True)})
                except psutil.Error:
                    pass
        return list(found.values())

    def workers(self, function: str) -> list[psutil.Process]:
        """This head's worker processes running `function` now (Ray titles them ray::FUNCTION)."""
        out = []
        for proc in self.processes():
            try:
                title = (proc.cmdline() or [""])[0]
            except psutil.Error:
                continue
            if title.startswith(f"ray::{function}"):
                out.append(proc)
        return out

    def stop(self) -> None:
        procs = self.processes()
        for p in procs:
            try:
                p.send_signal(signal.SIGTERM)
            except psutil.Error:
                pass
        _, alive = psutil.wait_procs(procs, timeout=2)
        for p in alive:
            try:
                p.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(alive, timeout=5)
        shutil.rmtree(self.temp_dir, ignore_errors=True)
