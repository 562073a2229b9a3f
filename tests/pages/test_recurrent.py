"""pages/recurrent.py with AppTest: link in, controls, two tiny recurrent runs trained through the service."""

from __future__ import annotations

import time

from streamlit.testing.v1 import AppTest

from tests.pages.apptest import open_page
from vgrad.presets import preset
from vgrad.ui.recurrent_view import Choice, parse_query

TINY = {"scenario": "long", "cells": "simple_rnn,lstm", "seq_len": "5", "units": "4", "epochs": "1"}




def page(**query) -> AppTest:
    return open_page("recurrent", **query)


def test_parse_query_and_runs():
    choice, problems = parse_query({"scenario": "exploding", "gain": "2.5", "seq_len": "7", "epochs": "oops"})
    assert len(problems) == 1 and "epochs" in problems[0] and "oops" in problems[0]
    assert choice == Choice("exploding", seq_len=7, gain=2.5)
    (l1, c1), (l2, c2) = choice.runs()
    assert c1.recurrent_scale == c2.recurrent_scale == 2.5 and c1.global_clipnorm == 0 and c2.global_clipnorm == 1
    assert c1.seq_len == 7 and "no clipping" in l1
    long, problems = parse_query({"cells": "gru,nope", "clip": "on"})
    assert [c.cell for _, c in long.runs()] == ["gru"] and long.runs()[0][1].global_clipnorm == 1.0
    assert any("nope" in p for p in problems)
    assert parse_query({"seq_len": "99"})[1] == []
    assert parse_query({"seq_len": "150"})[1] == ["ignored seq_len=150: this page accepts 5 to 100"]
    [problem] = parse_query({"seq_len": "1000"})[1]  # beyond what any run accepts
    assert "seq_len" in problem and "1000" in problem
    tuned, problems = parse_query({"lr": "0.02", "samples": "400"})
    assert not problems and tuned.query()["learning_rate"] == "0.02" and tuned.query()["n_samples"] == "400"
    assert all(c.learning_rate == 0.02 and c.n_samples == 400 for _, c in tuned.runs())
    assert choice.runs()[0][1].learning_rate == preset("rnn-exploding").learning_rate  # the presets' own
    assert parse_query({"lr": "7"})[1] == ["ignored learning_rate=7: this page accepts 0.0001 to 1"]
    # today's links are the group format, and they come back unchanged
    again, problems = parse_query(tuned.query())
    assert again == tuned and not problems


def test_renders_with_defaults(backend):
    at = page()
    assert at.title[0].value == "Recurrent networks"
    assert at.multiselect(key="rnn.cells").value == ["simple_rnn", "lstm", "gru"]
    assert at.slider(key="rnn.seq_len").value == 40
    assert "Hochreiter" in at.markdown[0].value
    assert at.query_params["seq_len"] in ("40", ["40"])


def test_link_and_controls(backend):
    at = page(**TINY)
    assert at.slider(key="rnn.seq_len").value == 5 and at.multiselect(key="rnn.cells").value == ["simple_rnn", "lstm"]
    at.toggle(key="rnn.clip").set_value(True).run()
    assert at.query_params["global_clipnorm"] in ("1", ["1"])
    at.number_input(key="rnn.lr.long").set_value(0.01).run()
    at.slider(key="rnn.samples").set_value(600).run()
    assert at.query_params["learning_rate"] in ("0.01", ["0.01"]) and at.query_params["n_samples"] in ("600", ["600"])
    at.radio(key="rnn.scenario").set_value("exploding").run()
    assert not at.exception
    assert at.slider(key="rnn.gain").value == 3.0 and "Pascanu" in at.markdown[0].value
    assert at.query_params["comparison"] in ("clipping", ["clipping"])
    bad = page(scenario="nope", units="x")
    assert len(bad.warning) == 2


def test_trains_to_completion(backend):
    at = page(**TINY)
    at.button(key="rnn.train").click().run()
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, at.exception
        jobs = [at.session_state[f"vgrad.rnn.{i}"] for i in range(2)]
        if not any(j.active for j in jobs):
            break
        time.sleep(0.3)
    at.run()
    assert [j.run.status for j in jobs] == ["finished", "finished"]
    assert all(len(j.run.steps[-1].input_grad_by_time) == 5 for j in jobs)
    text = "\n".join(m.value for m in at.markdown)
    assert "time step 0" in text and "Automatic reading" in text
    assert len(at.get("plotly_chart")) == 5


def test_a_new_link_in_the_same_session_is_followed(backend):
    at = page(**TINY)
    at.query_params.clear()
    at.query_params["scenario"] = "exploding"
    at.query_params["gain"] = "2"
    at.run()
    assert at.radio(key="rnn.scenario").value == "exploding" and at.slider(key="rnn.gain").value == 2.0


def test_switching_scenario_with_the_radio_then_any_control(backend):
    at = page()
    at.radio(key="rnn.scenario").set_value("exploding").run()
    at.slider(key="rnn.seq_len").set_value(12).run()  # once raised KeyError: no key "rnn.cells"
    assert not at.exception, at.exception
    at.radio(key="rnn.scenario").set_value("long").run()
    assert not at.exception and at.multiselect(key="rnn.cells").value == ["simple_rnn", "lstm", "gru"]
