"""The probe's D5 through the Explorer: in `streamlit run app.py` mode (the app starts the service as
its child), kill -9 the service during a run. The launcher's watchdog brings it back without any
page being drawn, and the page then says once, plainly, that the run was lost in a crash, and
Train runs it again."""

from __future__ import annotations

import os
import signal

import pytest
from streamlit.testing.v1 import AppTest

from tests.pages.apptest import messages, rerun_until
from tests.pages.test_explorer import PAGE
from tests.service.helpers import wait_for
from vgrad.service import launcher


@pytest.fixture
def child_mode(monkeypatch):
    """No VGRAD_BACKEND_URL: the page's launcher starts (and watches) its own service."""
    monkeypatch.delenv("VGRAD_BACKEND_URL", raising=False)
    monkeypatch.setenv("VGRAD_WARM", "0")
    monkeypatch.setattr(launcher, "_child", None)
    monkeypatch.setattr(launcher, "_port", None)
    monkeypatch.setattr(launcher, "_started", 0.0)
    monkeypatch.setattr(launcher, "RESTART_SECONDS", 0.0)
    yield
    launcher.stop_backend()


def test_a_killed_service_restarts_and_the_page_says_the_run_was_lost(child_mode):
    at = AppTest.from_file(PAGE, default_timeout=30)
    at.query_params.update({"preset": "deep-sigmoid", "epochs": "2000"})
    at.run()
    url = launcher.ensure_backend()
    assert launcher.wait_ready(url, timeout=90)
    rerun_until(at, lambda: not at.button(key="ctl_train").disabled, 30, "the Train button")
    at.button(key="ctl_train").click().run()
    rerun_until(at, lambda: at.session_state["vgrad.job"].run.steps, 60, "the first steps")
    job_id = at.session_state["vgrad.job"].job_id

    pid = launcher.backend_state()["pid"]
    os.kill(pid, signal.SIGKILL)
    # no page reload: the watchdog restarts the service by itself
    wait_for(lambda: launcher.backend_state()["alive"] and launcher.backend_state()["pid"] != pid, 10,
             every=0.1, what="the watchdog's restart")
    rerun_until(at, lambda: at.session_state["vgrad.job"].lost, 90, "the page to notice the lost run")

    said = messages(at)
    lost = [m for m in said if "lost" in m]
    assert len(lost) == 1, said
    assert "crashed" in lost[0] and "Press Train to run it again" in lost[0]
    assert not any("forgotten" in m or "retrying" in m for m in said), said
    assert {m.label: m.value for m in at.metric}["Status"] == "failed"
    assert at.button(key="ctl_stop").disabled
    # Train comes back once the new service has TensorFlow warm (until then the page says it is loading)
    rerun_until(at, lambda: not at.button(key="ctl_train").disabled, 90, "the Train button after the restart")

    at.button(key="ctl_train").click().run()  # run it again
    assert not at.exception, at.exception
    again = at.session_state["vgrad.job"]
    assert again.job_id != job_id and again.active
    assert not at.button(key="ctl_stop").disabled, messages(at)
    at.button(key="ctl_stop").click().run()
