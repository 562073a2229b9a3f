"""The launcher: an explicit URL wins; otherwise one child service, reused, restarted when it dies."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.service.helpers import LONG, wait_for
from vgrad.service import launcher
from vgrad.service.client import BackendClient, BackendError


def test_configured_url_is_used_as_is(monkeypatch):
    monkeypatch.setenv("VGRAD_BACKEND_URL", "http://127.0.0.1:1/")
    assert launcher.ensure_backend() == "http://127.0.0.1:1"
    assert launcher.backend_ready("http://127.0.0.1:1") is False  # nothing there: False, no exception


def test_unreachable_service_raises_backend_error_with_status_none():
    with pytest.raises(BackendError) as err:
        BackendClient(f"http://127.0.0.1:{launcher.free_port()}", timeout=2).health()
    assert err.value.status is None and "not reachable" in str(err.value)


def test_child_is_started_without_waiting_reused_and_restarted_by_its_watchdog(monkeypatch):
    """The probe's D5: kill -9 the child during a run; it comes back without any page asking for it,
    and the run it had is reported as lost in a restart, not as forgotten."""
    monkeypatch.delenv("VGRAD_BACKEND_URL", raising=False)
    monkeypatch.setenv("VGRAD_WARM", "0")  # no warm-up run: ready as soon as TensorFlow is imported
    monkeypatch.setattr(launcher, "_child", None)
    monkeypatch.setattr(launcher, "_port", None)
    monkeypatch.setattr(launcher, "_started", 0.0)
    monkeypatch.setattr(launcher, "_restarts", 0)  # another test of this process may have restarted one
    monkeypatch.setattr(launcher, "_last_exit", None)
    monkeypatch.setattr(launcher, "RESTART_SECONDS", 0.0)
    t0 = time.monotonic()
    url = launcher.ensure_backend()
    assert time.monotonic() - t0 < 1.0  # never blocks the page
    try:
        assert launcher.ensure_backend() == url and launcher.backend_state()["restarts"] == 0
        assert launcher.wait_ready(url, timeout=60)
        client = BackendClient(url, token=launcher.service_token())
        job = client.submit(LONG, "crash")["id"]
        wait_for(lambda: client.job(job)["status"] == "running", 30, what="the job to run")
        first = launcher.backend_state()["pid"]
        os.kill(first, signal.SIGKILL)
        killed = time.monotonic()
        # nobody calls ensure_backend(): the watchdog restarts it
        wait_for(lambda: launcher.backend_state()["alive"] and launcher.backend_state()["pid"] != first, 10,
                 every=0.05, what="the watchdog to restart the service")
        assert time.monotonic() - killed < 2.0
        state = launcher.backend_state()
        assert state["restarts"] == 1 and state["last_exit"] == -signal.SIGKILL
        assert launcher.ensure_backend() == url  # same URL, new process, same token
        wait_for(lambda: launcher.backend_ready(url, token=launcher.service_token()), 60,
                 what="the restarted service")
        with pytest.raises(BackendError) as err:
            client.records(job)
        assert err.value.status == 404 and err.value.reason == "restarted"
        assert "forgotten" not in str(err.value)
    finally:
        launcher.stop_backend()
    time.sleep(3 * launcher.WATCH_SECONDS)
    assert not launcher.backend_state()["alive"]  # stopped on purpose: not restarted


def test_backend_status_tells_a_wrong_token(backend_url):
    assert launcher.backend_status(backend_url, token=launcher.service_token()) == "ready"
    assert launcher.backend_status(backend_url, token="not-the-token-at-all") == "unauthorized"
    assert launcher.backend_status(f"http://127.0.0.1:{launcher.free_port()}") == "down"


def test_backend_status_tells_a_service_that_is_there_but_slow_from_one_that_is_down():
    import socket

    with socket.socket() as listening:  # takes connections (the kernel's backlog), never answers
        listening.bind(("127.0.0.1", 0))
        listening.listen(4)
        port = listening.getsockname()[1]
        assert launcher.backend_status(f"http://127.0.0.1:{port}", timeout=0.3) == "busy"
        assert not launcher.backend_ready(f"http://127.0.0.1:{port}", timeout=0.3)


def test_streamlit_gets_vgrad_upload_limit_and_the_long_link_page(monkeypatch):
    monkeypatch.setenv("VGRAD_MAX_RUN_MB", "64")
    monkeypatch.setenv("VGRAD_MAX_UPLOAD_MB", "20")
    cmd = launcher.streamlit_command("app.py", 8501)
    assert cmd[1:4] == ["-m", "vgrad.ui.webserver", "run"]
    assert cmd[cmd.index("--server.maxUploadSize") + 1] == "64"
    monkeypatch.setenv("VGRAD_MAX_UPLOAD_MB", "100")
    assert launcher.upload_mb() == 100
