"""Start the training service from the Streamlit process, or start both together.

    url = ensure_backend()        # VGRAD_BACKEND_URL, or a child `python -m vgrad.service` (never waits)
    backend_ready(url)            # True once its /health says TensorFlow is warm
    serve_all(port=8501)          # backend + `streamlit run app.py` (what `python -m vgrad serve` runs)

The child is one per process (a module-level singleton behind a lock), so Streamlit reruns
reuse it; a child that died is restarted on the same port by the next ensure_backend() call.
No TensorFlow import here.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

# A child that died is restarted at most this often.
RESTART_SECONDS = 3.0
ROOT = Path(__file__).resolve().parents[2]

_lock = threading.Lock()
_child: subprocess.Popen | None = None
_port: int | None = None
_started = 0.0
_restarts = 0
_last_exit: int | None = None


def ensure_backend() -> str:
    """Base URL of the training service; starts or restarts the child process if needed."""
    url = os.environ.get("VGRAD_BACKEND_URL", "").strip()
    if url:
        return url.rstrip("/")
    global _child, _port, _started, _restarts, _last_exit
    with _lock:
        if _port is None:
            _port = free_port()
        alive = _child is not None and _child.poll() is None
        if not alive and time.monotonic() - _started >= RESTART_SECONDS:
            if _child is not None:
                _last_exit, _restarts = _child.returncode, _restarts + 1
            _child = start_backend(_port, exit_with_parent=True)
            _started = time.monotonic()
        return f"http://127.0.0.1:{_port}"


def backend_state() -> dict:
    """About the child this process started: {"pid", "alive", "restarts", "last_exit"} (for messages)."""
    with _lock:
        return {"pid": _child.pid if _child else None, "alive": _child is not None and _child.poll() is None,
                "restarts": _restarts, "last_exit": _last_exit}


def backend_ready(url: str, timeout: float = 0.5) -> bool:
    """True when the service at `url` answers /health with ready; never raises."""
    try:
        resp = requests.get(url.rstrip("/") + "/health", timeout=timeout)
        return resp.status_code == 200 and resp.json().get("ready") is True
    except (requests.RequestException, ValueError, AttributeError):
        return False


def wait_ready(url: str, timeout: float = 120.0) -> bool:
    """Poll backend_ready until it is true or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if backend_ready(url):
            return True
        time.sleep(0.25)
    return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_backend(port: int, host: str = "127.0.0.1", exit_with_parent: bool = False,
                  env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start `python -m vgrad.service --port PORT` (its output goes to this process's)."""
    cmd = [sys.executable, "-m", "vgrad.service", "--host", host, "--port", str(port)]
    if exit_with_parent:
        cmd.append("--exit-with-parent")
    child_env = dict(os.environ if env is None else env)
    child_env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    child_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), child_env.get("PYTHONPATH", "")) if p)
    proc = subprocess.Popen(cmd, cwd=str(ROOT), env=child_env)
    atexit.register(_stop, proc)
    return proc


def _stop(proc: subprocess.Popen, grace: float = 5.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def serve_all(port: int = 8501, backend_port: int | None = None, address: str | None = None,
              app: str | Path | None = None) -> int:
    """Run the backend and `streamlit run app.py` until Streamlit exits; returns its exit code.

    port: Streamlit's port. backend_port: the service's (default: a free one). address: Streamlit's
    --server.address (default: Streamlit's own, all interfaces). SIGINT/SIGTERM are passed to Streamlit;
    a backend that dies meanwhile is restarted on the same port.
    """
    backend_port = backend_port or free_port()
    backend = start_backend(backend_port)
    env = dict(os.environ, VGRAD_BACKEND_URL=f"http://127.0.0.1:{backend_port}")
    # No forced full garbage collection after every script run (Streamlit's default): with a class
    # of sessions each polling twice a second it held the GIL for most of every interaction's time
    # (load test p95 2 s -> 0.4 s). Python's own generational collection still runs.
    cmd = [sys.executable, "-m", "streamlit", "run", str(app or ROOT / "app.py"), "--server.port", str(port),
           "--server.headless", "true", "--runner.postScriptGC", "false"]
    if address:
        cmd += ["--server.address", address]
    ui = subprocess.Popen(cmd, cwd=str(ROOT), env=env)

    def forward(signum, frame) -> None:
        if ui.poll() is None:
            ui.send_signal(signum)

    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while ui.poll() is None:
            if backend.poll() is not None:
                print(f"vgrad: the training service exited ({backend.returncode}); restarting it", file=sys.stderr)
                time.sleep(1.0)
                backend = start_backend(backend_port)
            time.sleep(0.5)
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        _stop(ui)
        _stop(backend)
    return ui.returncode
