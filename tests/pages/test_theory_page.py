"""pages/theory.py with AppTest: the phase diagram from a link, hostile links, and real measurements."""

from __future__ import annotations

import time

import pytest

from tests.pages.apptest import open_page
from vgrad.ui.theory_view import Point, measured_chi, parse_query


def test_parse_query_keeps_what_it_can():
    point, problems = parse_query({"activation": "relu", "sigma_w2": "2", "sigma_b2": "inf", "depth": "٣"})
    assert point == Point("relu", 2.0, Point().sigma_b2, Point().depth) and len(problems) == 2
    assert parse_query({"depth": "1e400", "activation": "<b>x</b>"})[0] == Point()


def test_renders_the_phase_diagram_from_a_link(backend):
    at = open_page("theory", activation="relu", sigma_w2="2", sigma_b2="0", depth="20")
    assert at.selectbox(key="theory.activation").value == "relu"
    assert at.slider(key="theory.sigma_w2").value == 2.0
    text = " ".join(m.value for m in at.markdown)
    assert "critical phase" in text and "χ₁ 1 per layer" in text
    charts = at.get("plotly_chart")
    assert charts and not at.exception
    bad = open_page("theory", sigma_w2="nan", depth="5000")
    assert len(bad.warning) == 2 and bad.slider(key="theory.depth").value == Point().depth


def test_measure_puts_wide_nets_beside_the_prediction(backend):
    at = open_page("theory", activation="tanh", sigma_w2="1.5", sigma_b2="0.05")
    at.button(key="theory.measure").click().run()
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, at.exception
        jobs = [at.session_state[f"vgrad.theory.chi.{i}"] for i in range(3)]
        if not any(j.active for j in jobs):
            break
        time.sleep(0.5)
    assert [str(j.run.status) for j in jobs] == ["finished"] * 3
    for job in jobs:
        measured, predicted = measured_chi(job.run)
        assert measured == pytest.approx(predicted, rel=0.25)  # width 128: one net scatters a little
    assert any("Largest difference" in c.value for c in at.caption)
