"""Shared fixtures. `backend_url`: a real training service process on a free port (session-wide).

Every service these tests start (and every BackendClient they make, and the pages' clients) uses
one token: VGRAD_SERVICE_TOKEN is set here for the whole test session, as the launcher does for its
children.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
TOKEN = os.environ.setdefault("VGRAD_SERVICE_TOKEN", "test-" + secrets.token_urlsafe(24))


class ServiceProcess:
    """`python -m vgrad.service --port P` with extra environment variables; `.url`, `.pid`, `.token`,
    `.client()`, `.stop()`. The port may be given (a restart on the same address); `cpus` pins it to
    those CPUs (its default VGRAD_WORKERS counts them)."""

    def __init__(self, env: dict[str, str] | None = None, port: int | None = None, cpus: set[int] | None = None):
        from vgrad.service.launcher import free_port

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        child_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT), **(env or {})}
        self.token = child_env["VGRAD_SERVICE_TOKEN"]
        self.log = tempfile.TemporaryFile(mode="w+")  # TensorFlow's start-up chatter goes here
        pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None  # the CPUs it may use (and counts)
        self.proc = subprocess.Popen([sys.executable, "-m", "vgrad.service", "--port", str(self.port)],
                                     cwd=str(ROOT), env=child_env, stdout=self.log, stderr=subprocess.STDOUT,
                                     preexec_fn=pin)
        self.pid = self.proc.pid

    def wait_ready(self, timeout: float = 180.0) -> ServiceProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"the service exited with code {self.proc.returncode} before it was ready:\n"
                                   + self.log.read()[-3000:])
            try:
                if requests.get(self.url + "/health", timeout=1).json().get("ready"):
                    return self
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the service at {self.url} was not ready within {timeout:g} s")

    def client(self, **kwargs):
        from vgrad.service.client import BackendClient

        return BackendClient(self.url, token=self.token, **kwargs)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="session")
def backend_service():
    """The session's service process (two workers, default limits)."""
    service = ServiceProcess({"VGRAD_WORKERS": "2"}).wait_ready()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def backend_url(backend_service) -> str:
    """Base URL of a real, warm training service on localhost."""
    return backend_service.url


@pytest.fixture(autouse=True)
def _main_module_kept():
    """Streamlit's script runner (AppTest too) installs each script it runs as sys.modules["__main__"];
    a process pool started later (spawn) would run that script again in every worker, and a function
    script (AppTest.from_function) cannot run there at all: each worker dies and the pool waits for
    ever. Every test gets the __main__ it started with back."""
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main
