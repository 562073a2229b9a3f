"""The launcher: an explicit URL wins; otherwise one child service, reused, restarted when it dies."""

from __future__ import annotations

import time

import pytest

from tests.service.helpers import wait_for
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


def test_child_is_started_without_waiting_reused_and_restarted(monkeypatch):
    monkeypatch.delenv("VGRAD_BACKEND_URL", raising=False)
    monkeypatch.setenv("VGRAD_WARM", "0")  # no TensorFlow import: ready at once
    monkeypatch.setattr(launcher, "_child", None)
    monkeypatch.setattr(launcher, "_port", None)
    monkeypatch.setattr(launcher, "_started", 0.0)
    monkeypatch.setattr(launcher, "RESTART_SECONDS", 0.0)
    t0 = time.monotonic()
    url = launcher.ensure_backend()
    assert time.monotonic() - t0 < 1.0  # never blocks the page
    try:
        assert launcher.ensure_backend() == url and launcher.backend_state()["restarts"] == 0
        assert launcher.wait_ready(url, timeout=60)
        first = launcher.backend_state()["pid"]
        launcher._child.kill()
        launcher._child.wait()
        assert launcher.ensure_backend() == url  # same URL, new process
        state = launcher.backend_state()
        assert state["restarts"] == 1 and state["pid"] != first and state["alive"]
        wait_for(lambda: launcher.backend_ready(url), 60, what="the restarted service")
    finally:
        if launcher._child is not None:
            launcher._stop(launcher._child)
