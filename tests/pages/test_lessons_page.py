"""pages/lessons.py with AppTest: static lessons, the real notebook run and the init measurement."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from vgrad.config import ACTIVATIONS
from vgrad.ui.lessons_view import REMEDIES, init_sentence

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "lessons.py")




def texts(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def wait_for(at: AppTest, done, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, at.exception
        if done(at):
            return
        time.sleep(0.3)
    pytest.fail("the lesson's runs did not finish in time")


def _both_done(at: AppTest) -> bool:
    jobs = [at.session_state[k] for k in ("vgrad.lesson.nb.0", "vgrad.lesson.init.0") if k in at.session_state]
    return len(jobs) == 2 and not any(j.needs_poll for j in jobs)  # ended, and every record read


def test_lessons_render_and_use_real_runs(backend):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Lessons"
    assert len(at.header) == 6
    assert at.multiselect(key="lesson.acts").value == list(ACTIVATIONS)
    wait_for(at, _both_done)
    # 5. the notebook's estimate against the true gradient, from the real run
    metrics = {m.label: m.value for m in at.metric}
    assert float(metrics["estimate / gradient"].rstrip("x")) > 1e3
    assert "Replaying adam" in texts(at).replace("\\", "")
    # 1. chain rule and 4. spread at initialisation
    assert "factors make" in texts(at) and "activation std goes from" in texts(at).replace("\\", "")
    job = at.session_state["vgrad.lesson.init.0"]
    assert job.config.steps == 1 and len(job.run.steps) == 1
    # 6. every remedy opens the Explorer already configured
    links = texts(at) + " ".join(str(p.proto) for p in at.get("page_link"))
    for name, _ in REMEDIES:
        assert f"preset={name}" in links or f'"{name}"' in links
    assert "comparison=remedies" in links or '"remedies"' in links


def test_controls_change_the_lessons(backend):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    n_before = len(at.get("plotly_chart"))
    at.multiselect(key="lesson.acts").set_value(["sigmoid", "tanh"]).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["activation"]) == ["sigmoid", "tanh"] and list(table["bound sup|f'|"]) == [0.25, 1.0]
    at.selectbox(key="lesson.init_name").set_value("he_normal").run()
    wait_for(at, lambda a: not a.session_state["vgrad.lesson.init.0"].active)
    assert at.session_state["vgrad.lesson.init.0"].config.initializer == "he_normal"
    assert len(at.get("plotly_chart")) >= n_before - 1


def test_init_sentence():
    s = init_sentence({"act_std": [0.5, 0.05, 0.005, None], "act_grad_rms": [1e-6, 1e-4, 1e-2, None]})
    assert "0.5 at the first hidden layer to 0.005 at the last" in s and "shrinking" in s
    assert init_sentence({}) == "No finite values at initialisation."
