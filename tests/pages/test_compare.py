"""pages/compare.py with AppTest: link in, controls, a comparison trained to completion through the service."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from tests.pages.apptest import open_page
from vgrad.presets import COMPARISONS


def page(**query) -> AppTest:
    return open_page("compare", **query)


def presets(at: AppTest) -> list[str]:
    return [s.value for s in at.selectbox if s.label.startswith("Run ")]


def texts(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def run_until_done(at: AppTest, timeout: float = 120.0) -> None:
    """AppTest does not advance run_every fragments: rerun until every run reports a final status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, at.exception
        jobs = [at.session_state[f"vgrad.cmp.{i}"] for i in range(len(at.session_state["vgrad.cmp.labels"]))]
        if jobs and not any(j.active for j in jobs):
            at.run()
            return
        time.sleep(0.3)
    pytest.fail("the comparison did not finish in time")


def test_renders_the_notebook_comparison_by_default(backend):
    at = page()
    assert at.title[0].value == "Compare"
    assert presets(at) == list(COMPARISONS["notebook"].presets)
    assert COMPARISONS["notebook"].expect in texts(at)
    assert at.query_params["comparison"] in ("notebook", ["notebook"])
    assert "comparison=notebook" in at.code[0].value


def test_shared_link_restores_the_comparison(backend):
    at = page(comparison="he-init", epochs="2", **{"r2.seed": "4"})
    assert presets(at) == list(COMPARISONS["he-init"].presets)
    assert at.text_input(key="cmp.shared.0").value == "epochs=2"
    assert at.text_input(key="cmp.own.0.1").value == "seed=4"
    assert "r2.seed=4" in at.code[0].value and not at.warning


def test_hostile_link_warns_and_keeps_working(backend):
    at = page(comparison="<b>x</b>", epochs="-1", **{"r7.seed": "1"})
    warnings = " ".join(w.value for w in at.warning)
    assert "unknown comparison" in warnings and "epochs" in warnings and "no run 7" in warnings
    assert presets(at) == list(COMPARISONS["notebook"].presets)


def test_controls_change_runs_and_link(backend):
    at = page()
    at.selectbox(key="cmp.name.0").set_value("rnn").run()
    assert presets(at) == list(COMPARISONS["rnn"].presets)
    assert at.query_params["comparison"] in ("rnn", ["rnn"])
    gen = at.session_state["vgrad.cmp.gen"]
    at.button(key=f"cmp.add.{gen}").click().run()
    assert len(presets(at)) == 4
    gen = at.session_state["vgrad.cmp.gen"]
    at.text_input(key=f"cmp.own.{gen}.3").input("units=4").run()
    assert at.query_params["r4.units"] in ("4", ["4"])
    at.button(key=f"cmp.rm.{gen}.0").click().run()
    assert presets(at)[0] == "rnn-lstm" and len(presets(at)) == 3
    assert not at.exception


def test_a_comparison_trains_to_completion(backend, tmp_path, monkeypatch):
    monkeypatch.setenv("VGRAD_DATA_DIR", str(tmp_path))
    at = page(comparison="notebook")
    at.text_input(key="cmp.own.0.2").input("seed=2")  # edited and trained in the same rerun
    at.button(key="cmp.train").click().run()
    run_until_done(at)
    jobs = [at.session_state[f"vgrad.cmp.{i}"] for i in range(3)]
    assert [j.config.seed for j in jobs] == [0, 0, 2]
    assert [j.run.status for j in jobs] == ["finished"] * 3
    assert all(len(j.run.steps) == 3 for j in jobs)
    assert "**Automatic reading** :green[:material/check_circle: as expected]" in texts(at)  # the notebook's pattern, read from the records
    assert len(at.get("plotly_chart")) == 4
    table = at.dataframe[0].value
    assert list(table["status"]) == ["finished"] * 3 and "attenuation (orders)" in table.columns
    assert len(at.get("download_button")) == 2
    # the finished comparison can be saved for the Runs page
    at.button(key="cmp.save").click().run()
    assert not at.exception and any("with 3 runs" in s.value for s in at.success)
    from vgrad.store import RunStore

    assert len(RunStore(tmp_path).list_comparisons()) == 1 and len(RunStore(tmp_path).list()) == 3


def test_a_new_link_in_the_same_session_replaces_the_comparison(backend):
    at = page(comparison="notebook")
    at.text_input(key="cmp.shared.0").input("seed=3").run()
    at.query_params.clear()
    at.query_params["runs"] = "deep-sigmoid,remedy-relu"  # e.g. a remedy button on the Lessons page
    at.run()
    assert presets(at) == ["deep-sigmoid", "remedy-relu"]
    at.query_params.clear()  # plain navigation (no parameters) keeps the page's own state
    at.run()
    assert presets(at) == ["deep-sigmoid", "remedy-relu"] and not at.exception


def test_each_run_opens_in_the_explorer(backend):
    at = page(cmp="notebook")
    links = [m.value for m in at.markdown if "Open in Explorer" in m.value]
    links += [f"{p.proto.page}?{p.proto.query_string}" for p in at.get("page_link")]
    assert len(links) == 3, links  # the notebook comparison: three runs (only non-default fields in links)
    assert "epochs=1" in links[0] and "hidden_layers=2" in links[1], links
    assert "hidden_layers=7" in links[2] and "activation=relu" in links[2], links


def test_a_hand_made_link_says_so_in_the_picker(backend):
    at = page(runs="deep-sigmoid,remedy-prelu")  # the Lessons page's "Compare with deep-sigmoid"
    assert at.selectbox(key="cmp.name.0").value == ""  # "A hand-made set of runs", not the notebook
    assert presets(at) == ["deep-sigmoid", "remedy-prelu"] and not at.exception
