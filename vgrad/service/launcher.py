"""Start the training service from the Streamlit process, or start both together.

    url = ensure_backend()        # VGRAD_BACKEND_URL, or a child `python -m vgrad.service` (never waits)
    token = service_token()       # the token every request but /health carries
    backend_ready(url, token=token)   # True once its /health says TensorFlow is warm (and the token is right)
    serve_all(port=8501)          # backend + Streamlit (what `python -m vgrad serve` runs)

Whoever starts the service restarts it when it dies: the child of `streamlit run app.py` is one per
process (a module-level singleton behind a lock) watched by a thread that restarts it on the same
port within a second or so, page reloads or not; `serve_all` does the same for its own child.
The token is VGRAD_SERVICE_TOKEN, else one random token per process, handed to the children in
their environment (so a restarted child accepts the clients already made). No TensorFlow import here.
"""

from __future__ import annotations

import atexit
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from vgrad import settings

# A child that died is restarted at most this often; the watchdog looks this often.
RESTART_SECONDS = 3.0
WATCH_SECONDS = 0.5
ROOT = Path(__file__).resolve().parents[2]

_lock = threading.Lock()
_child: subprocess.Popen | None = None
_port: int | None = None
_started = 0.0
_restarts = 0
_last_exit: int | None = None
_token = ""
_watching = False  # the watchdog thread runs (it is started once)
_wanted = False  # the child should be kept alive (stop_backend clears it)


def service_token() -> str:
    """VGRAD_SERVICE_TOKEN, else a random token made once for this process."""
    global _token
    given = os.environ.get("VGRAD_SERVICE_TOKEN", "").strip()
    if given:
        return given
    with _lock:
        if not _token:
            _token = secrets.token_urlsafe(32)
        return _token


def ensure_backend() -> str:
    """Base URL of the training service; starts the child process (and its watchdog) if needed."""
    url = os.environ.get("VGRAD_BACKEND_URL", "").strip()
    if url:
        return url.rstrip("/")
    token = service_token()
    global _port, _wanted, _watching
    with _lock:
        if _port is None:
            _port = free_port()
        _wanted = True
        _restart_if_dead(token)
        if not _watching:
            threading.Thread(target=_watch, args=(token,), name="vgrad-service-watchdog", daemon=True).start()
            _watching = True
        return f"http://127.0.0.1:{_port}"


def stop_backend() -> None:
    """Stop the child and keep it stopped (tests; the process's exit does it too)."""
    global _wanted
    with _lock:
        _wanted = False
        child = _child
    if child is not None:
        _stop(child)


def _restart_if_dead(token: str) -> None:
    """Under _lock: start the child when there is none or it died (at most every RESTART_SECONDS)."""
    global _child, _started, _restarts, _last_exit
    alive = _child is not None and _child.poll() is None
    if alive or time.monotonic() - _started < RESTART_SECONDS:
        return
    if _child is not None:
        _last_exit, _restarts = _child.returncode, _restarts + 1
        print(f"vgrad: the training service exited ({_last_exit}); restarting it", file=sys.stderr)
    env = dict(os.environ, VGRAD_SERVICE_TOKEN=token)
    _child = start_backend(_port, exit_with_parent=True, env=env)
    _started = time.monotonic()


def _watch(token: str) -> None:
    """The watchdog: restarts a child that died, whether or not a page is being drawn."""
    while True:
        time.sleep(WATCH_SECONDS)
        with _lock:
            if _wanted and _port is not None:
                _restart_if_dead(token)


def backend_state() -> dict:
    """About the child this process started: {"pid", "alive", "restarts", "last_exit"} (for messages)."""
    with _lock:
        return {"pid": _child.pid if _child else None, "alive": _child is not None and _child.poll() is None,
                "restarts": _restarts, "last_exit": _last_exit}


def backend_status(url: str, timeout: float = 0.5, token: str | None = None) -> str:
    """'ready', 'starting' (answers, TensorFlow not warm yet), 'unauthorized' (`token` is not the
    service's), 'busy' (it took the connection but did not answer within `timeout`) or 'down'.
    Never raises."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        resp = requests.get(url.rstrip("/") + "/health", timeout=timeout, headers=headers)
        health = resp.json() if resp.status_code == 200 else {}
    except requests.ConnectTimeout:
        return "down"
    except requests.Timeout:
        return "busy"
    except (requests.RequestException, ValueError):
        return "down"
    if not isinstance(health, dict) or health.get("ok") is not True:
        return "down"
    if token and health.get("authenticated") is False:
        return "unauthorized"
    return "ready" if health.get("ready") is True else "starting"


def backend_ready(url: str, timeout: float = 0.5, token: str | None = None) -> bool:
    """True when the service at `url` answers /health with ready (and accepts `token`); never raises."""
    return backend_status(url, timeout, token) == "ready"


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


def upload_mb() -> int:
    """Streamlit's server.maxUploadSize: the larger of VGRAD_MAX_UPLOAD_MB (CSV) and VGRAD_MAX_RUN_MB (run
    JSON), so Streamlit refuses a larger file before holding it in memory."""
    return max(settings.get_int("VGRAD_MAX_UPLOAD_MB", low=1), settings.get_int("VGRAD_MAX_RUN_MB", low=1))


def streamlit_command(app: str | Path, port: int, address: str | None = None) -> list[str]:
    """`streamlit run APP` with vgrad's flags, through vgrad.ui.webserver (a page for links too long)."""
    # No forced full garbage collection after every script run (Streamlit's default): with a class
    # of sessions each polling twice a second it held the GIL for most of every interaction's time
    # (load test p95 2 s -> 0.4 s). Python's own generational collection still runs.
    cmd = [sys.executable, "-m", "vgrad.ui.webserver", "run", str(app), "--server.port", str(port),
           "--server.headless", "true", "--runner.postScriptGC", "false",
           "--server.maxUploadSize", str(upload_mb())]
    if address:
        cmd += ["--server.address", address]
    return cmd


def serve_all(port: int = 8501, backend_port: int | None = None, address: str | None = None,
              app: str | Path | None = None) -> int:
    """Run the backend and Streamlit until Streamlit exits; returns its exit code.

    port: Streamlit's port. backend_port: the service's (default: a free one). address: Streamlit's
    --server.address (default: Streamlit's own, all interfaces). SIGINT/SIGTERM are passed to Streamlit;
    a backend that dies meanwhile is restarted on the same port (with the same token) within a second.
    """
    backend_port = backend_port or free_port()
    env = dict(os.environ, VGRAD_SERVICE_TOKEN=service_token())
    backend = start_backend(backend_port, env=env)
    ui = subprocess.Popen(streamlit_command(app or ROOT / "app.py", port, address), cwd=str(ROOT),
                          env=dict(env, VGRAD_BACKEND_URL=f"http://127.0.0.1:{backend_port}"))

    def forward(signum, frame) -> None:
        if ui.poll() is None:
            ui.send_signal(signum)

    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    started = time.monotonic()
    try:
        while ui.poll() is None:
            if backend.poll() is not None and time.monotonic() - started >= RESTART_SECONDS:
                print(f"vgrad: the training service exited ({backend.returncode}); restarting it", file=sys.stderr)
                backend = start_backend(backend_port, env=env)
                started = time.monotonic()
            time.sleep(WATCH_SECONDS)
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        _stop(ui)
        _stop(backend)
    return ui.returncode
