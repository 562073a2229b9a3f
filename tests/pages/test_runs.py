"""pages/runs.py with AppTest: list, escape, open, compare, rename, delete, import."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from tests.pages.apptest import open_page
from tests.run_factory import make_run
from vgrad.store import RunStore

HOSTILE = "<script>alert(1)</script> **bold** [x](javascript:alert(1))"


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("VGRAD_DATA_DIR", str(tmp_path / "data"))
    return RunStore()


def _run_page(**query) -> AppTest:
    return open_page("runs", **query)


def _texts(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown] + [h.value for h in at.subheader] + [c.value for c in at.caption]


def test_empty_store_renders(store):
    at = _run_page()
    assert at.title[0].value == "Saved runs"
    assert "No saved runs yet" in at.info[0].value


def test_lists_and_opens_a_saved_run(store):
    rid = store.save(make_run(), "deep sigmoid")
    at = _run_page()
    table = at.dataframe[0].value
    assert list(table["name"]) == ["deep sigmoid"] and list(table["id"]) == [rid]
    assert any("deep sigmoid" in t for t in _texts(at))
    assert at.metric[0].value == "finished"
    assert at.query_params["run"] in (str(rid), [str(rid)])


def test_a_shown_run_is_read_once_per_session_and_again_when_another_is_picked(store, monkeypatch):
    first, second = store.save(make_run(seed=1), "first"), store.save(make_run(seed=2), "second")
    reads = []
    load = RunStore.load
    monkeypatch.setattr(RunStore, "load", lambda self, run_id: reads.append(run_id) or load(self, run_id))
    at = _run_page()
    at.run()
    at.run()
    assert reads == [second]  # the newest, read once over three runs of the page
    at.selectbox(key="open_run").set_value(first).run()
    assert reads == [second, first] and at.subheader[0].value.startswith(f"#{first}")


def test_hostile_name_is_shown_escaped(store):
    rid = store.save(make_run(), HOSTILE)
    at = _run_page()
    assert list(at.dataframe[0].value["name"]) == [HOSTILE]  # a plain table cell
    heading = at.subheader[0].value
    assert "&lt;script&gt;" in heading and "<script>" not in heading
    assert "\\*\\*bold\\*\\*" in heading and "](javascript" not in heading
    assert not any(m.proto.allow_html for m in at.markdown)
    assert not any(getattr(m.proto, "allow_html", False) for m in at.subheader)
    assert at.selectbox(key="open_run").value == rid


def test_reopen_from_the_url(store):
    first = store.save(make_run(seed=1), "first")
    store.save(make_run(seed=2), "second")
    at = _run_page(run=str(first))
    assert at.selectbox(key="open_run").value == first
    assert "first" in at.subheader[0].value


def test_compare_two_runs_and_save_the_comparison(store):
    a = store.save(make_run(seed=1), "sigmoid")
    b = store.save(make_run(seed=2, activation="relu"), "relu")
    at = _run_page()
    at.multiselect[0].set_value([a, b]).run()
    assert not at.exception, at.exception
    form_name = [t for t in at.text_input if t.label == "Save this comparison as"][0]
    form_name.input("sigmoid vs relu")
    [b for b in at.button if b.label == "Save comparison"][0].click().run()
    assert not at.exception, at.exception
    [comp] = store.list_comparisons()
    assert comp.name == "sigmoid vs relu" and set(comp.run_ids) == {a, b}


def test_rename_and_delete(store):
    rid = store.save(make_run(), "old name")
    at = _run_page()
    at.text_input(key=f"rename_{rid}").input("new name")
    at.button(key=f"rename_go_{rid}").click().run()
    assert store.get(rid).name == "new name"
    at.checkbox(key=f"delete_sure_{rid}").check().run()
    at.button(key=f"delete_go_{rid}").click().run()
    assert not at.exception, at.exception
    assert store.list() == []


@pytest.mark.parametrize("content, message", [
    (b"{not json", "not valid JSON"),
    (b"", "empty"),
    (json.dumps({"config": {"hidden_layers": 999}, "layers": [], "steps": [], "epochs": [],
                 "status": "finished"}).encode(), "hidden_layers"),
    (b"[" * 50_000, "not a vgrad run file"),
])
def test_import_of_a_broken_file_shows_a_message(store, content, message):
    at = _run_page()
    at.file_uploader(key="import_file").set_value(("broken <b>.json", content, "application/json")).run()
    at.button(key="import_go").click().run()
    assert not at.exception, at.exception
    assert at.error and message in at.error[0].value.replace("\\", "")
    assert "<b>" not in at.error[0].value
    assert store.list() == []


def test_import_of_an_exported_run(store):
    text = make_run().to_json().encode()
    at = _run_page()
    at.file_uploader(key="import_file").set_value(("run.json", text, "application/json")).run()
    at.text_input(key="import_name").input("from a file")
    at.button(key="import_go").click().run()
    assert not at.exception, at.exception
    assert "Imported as run" in at.success[0].value
    assert [r.name for r in store.list()] == ["from a file"]


def test_an_imported_run_is_the_one_shown(store):
    first = store.save(make_run(seed=1), "already here")
    at = _run_page()
    assert at.selectbox(key="open_run").value == first
    at.file_uploader(key="import_file").set_value(("run.json", make_run(seed=2).to_json().encode(),
                                                   "application/json")).run()
    at.text_input(key="import_name").input("from a file")
    at.button(key="import_go").click().run()
    new = [r.id for r in store.list() if r.name == "from a file"][0]
    assert f"Imported as run #{new}." in at.success[0].value
    assert at.selectbox(key="open_run").value == new and at.subheader[0].value.startswith(f"#{new} ")
    assert at.query_params["run"] in (str(new), [str(new)])


def _notebook_run(model_name: str):
    """A real GradientMonitor run of a small Keras model (imports TensorFlow in the test process only)."""
    import keras
    import numpy as np

    from vgrad import GradientMonitor

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="tanh"),
                              keras.layers.Dropout(0.1), keras.layers.Dense(1, activation="sigmoid")],
                             name=model_name)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    monitor = GradientMonitor(x[:16], y[:16])
    model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[monitor], validation_data=(x[:16], y[:16]))
    return monitor.to_run()


def test_a_notebook_run_is_labelled_and_compares_with_a_vgrad_run(store):
    run = _notebook_run("my_net")
    assert run.origin["kind"] == "notebook" and run.origin["model"] == "my_net"
    run.origin["model"] = "my_net **x** <b>"  # a run file can say anything: shown escaped
    notebook = store.save(run, "from my notebook")
    engine = store.save(make_run(seed=1), "deep sigmoid")
    at = _run_page(run=str(notebook))
    caption = next(c.value for c in at.caption if "notebook run" in c.value)
    assert "external Keras model" in caption and "only approximates" in caption
    assert "my\\_net \\*\\*x\\*\\* &lt;b&gt;" in caption and "<b>" not in caption
    assert len(at.get("plotly_chart")) >= 2  # its heatmap and loss charts
    at = _run_page(run=str(engine))
    assert not any("notebook run" in c.value for c in at.caption)
    at.multiselect[0].set_value([notebook, engine]).run()
    assert not at.exception, at.exception
    assert len(at.get("plotly_chart")) >= 2 + 3  # the open run: 2; the comparison: heatmaps, profile, loss


def test_saved_sweeps_are_listed_with_a_link_to_reopen_them(store):
    from vgrad import RunConfig
    from vgrad.sweep import SweepResult, make_spec

    spec = make_spec(RunConfig(), ["hidden_layers=2,4"], mode="init")
    sid = store.save_sweep(HOSTILE, SweepResult(spec, []).to_json(), {"axis1": "hidden_layers=2,4"},
                           {"cells": 0, "total": 2})
    at = _run_page()
    assert not at.exception
    assert "Saved sweeps (1)" in [e.label for e in at.expander]
    [line] = [t for t in _texts(at) if f"/sweep?saved={sid}" in t]
    assert "0 of 2 cells" in line and "<script>" not in line and "&lt;script&gt;" in line  # the name shown, escaped
