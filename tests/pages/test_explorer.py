"""The Explorer page through Streamlit's AppTest, against a real training service."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.pages.apptest import unfold
from vgrad.presets import PRESETS

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "explorer.py")


def explorer(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=30)
    if query:
        at.query_params.update(query)
    return at.run()


def run_until_done(at: AppTest, timeout: float = 60.0) -> None:
    """Rerun until the job ended and the playback reached its end."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()  # AppTest does not advance run_every fragments: rerun by hand
        assert not at.exception, at.exception
        job = at.session_state["vgrad.job"]
        if not job.needs_poll and not job.playing:
            return
        time.sleep(0.2)
    pytest.fail("the run did not finish in time")


def test_renders_with_defaults(backend):
    at = explorer()
    assert not at.exception
    assert at.title[0].value == "Explorer"
    assert at.sidebar.selectbox(key="cfg.__preset__").value == "(custom)"
    assert at.number_input(key="cfg.hidden_layers").value == 8
    assert not at.button(key="ctl_train").disabled
    assert dict(at.query_params) == {}


def _drawn(at) -> set[str]:
    return {w.key.removeprefix("cfg.") for kind in ("selectbox", "number_input", "checkbox", "text_input")
            for w in at.sidebar.get(kind) if w.key and w.key.startswith("cfg.") and w.key != "cfg.__preset__"}


def test_the_sidebar_draws_the_fields_that_apply(backend):
    from vgrad.config import FIELDS
    from vgrad.ui.config_form import CSV_FIELDS, applies, display_group

    at = explorer()
    values = {name: at.session_state[f"cfg.{name}"] for name in FIELDS}
    applying = {n for n in FIELDS if applies(n, values) and n not in CSV_FIELDS}
    folded = {n for n in applying if display_group(n) in ("Data", "Remedies")}  # folded at first: not drawn
    assert folded and _drawn(at) == applying - folded
    unfold(at, "Data", "Remedies")
    assert _drawn(at) == applying
    at.session_state["cfg.open.Remedies"] = False  # folded again
    at.run()
    assert _drawn(at) == applying - {n for n in applying if display_group(n) == "Remedies"}
    assert at.session_state["cfg.dropout"] == values["dropout"]  # a folded field keeps its value
    assert "hidden_layers" in _drawn(at) and "seq_len" not in _drawn(at) and "leaky_alpha" not in _drawn(at)
    at.selectbox(key="cfg.activation").set_value("leaky_relu").run()
    assert "leaky_alpha" in _drawn(at)
    at.selectbox(key="cfg.family").set_value("rnn").run()
    assert {"cell", "seq_len", "recurrent_scale"} <= _drawn(at) and "hidden_layers" not in _drawn(at)
    assert at.session_state["cfg.hidden_layers"] == 8  # kept while not drawn
    at.selectbox(key="cfg.family").set_value("mlp").run()
    assert at.number_input(key="cfg.hidden_layers").value == 8 and not at.exception


def test_an_invalid_number_is_explained_at_once(backend):
    at = explorer()
    at.number_input(key="cfg.hidden_layers").set_value(-5).run()
    assert not at.exception
    errors = " ".join(e.value for e in at.sidebar.error)
    assert "hidden_layers" in errors and "1 to 64" in errors and "-5" in errors
    assert at.button(key="ctl_train").disabled


def test_the_run_size_is_shown_before_train_and_a_too_big_one_refused(backend):
    at = explorer()
    assert any("parameters (at most 500k)" in c.value for c in at.sidebar.caption)
    at.number_input(key="cfg.units").set_value(256).run()
    at.number_input(key="cfg.hidden_layers").set_value(16).run()
    assert any("Too big for this server" in e.value for e in at.sidebar.error)
    assert at.button(key="ctl_train").disabled


def test_shared_link_restores_the_experiment(backend):
    at = explorer({"preset": "deep-sigmoid", "epochs": "200", "learning_rate": "0.005"})
    assert not at.exception and not at.warning
    assert at.sidebar.selectbox(key="cfg.__preset__").value == "deep-sigmoid"
    assert at.number_input(key="cfg.epochs").value == 200
    assert at.number_input(key="cfg.learning_rate").value == pytest.approx(0.005)
    assert at.selectbox(key="cfg.activation").value == "sigmoid"
    assert dict(at.query_params) == {"preset": "deep-sigmoid", "epochs": "200", "learning_rate": "0.005"}
    link = at.sidebar.code[0].value
    assert link.endswith("/explorer?preset=deep-sigmoid&learning_rate=0.005&epochs=200")  # FIELDS order


@pytest.mark.parametrize("query", [
    {"epochs": "abc"},
    {"preset": "no-such-preset", "units": "-5"},
    {"activation": "![x](http://evil.example/x.png)", "<script>": "alert(1)"},
    {"learning_rate": "nan", "dataset": "moons", "n_features": "9"},
    {"x" * 5000: "y" * 5000},
])
def test_hostile_link_gives_a_warning_and_defaults(backend, query):
    at = explorer(query)
    assert not at.exception
    assert at.warning, "a bad link should be explained"
    text = at.warning[0].value
    assert "evil.example/x.png)" not in text.replace("\\", "") or "\\(" in text  # markdown escaped
    assert "](" not in text
    assert at.number_input(key="cfg.units").value >= 1
    assert not at.button(key="ctl_train").disabled


def test_changing_controls_changes_config_and_url(backend):
    at = explorer()
    at.selectbox(key="cfg.activation").set_value("relu").run()
    at.number_input(key="cfg.hidden_layers").set_value(12).run()
    assert dict(at.query_params) == {"activation": "relu", "hidden_layers": "12"}
    at.sidebar.selectbox(key="cfg.__preset__").set_value("remedy-residual").run()
    unfold(at, "Remedies")
    assert at.number_input(key="cfg.residual_every").value == 2
    assert dict(at.query_params) == {"preset": "remedy-residual"}
    at.number_input(key="cfg.epochs").set_value(5).run()
    assert dict(at.query_params) == {"preset": "remedy-residual", "epochs": "5"}
    cfg, preset = at.session_state["vgrad.config"]
    assert preset == "remedy-residual" and cfg.epochs == 5 and cfg.residual_every == 2


def test_invalid_combination_is_explained_inline(backend):
    at = unfold(explorer(), "Remedies")
    at.number_input(key="cfg.clipvalue").set_value(1.0).run()
    at.number_input(key="cfg.clipnorm").set_value(1.0).run()
    assert not at.exception
    errors = " ".join(e.value for e in at.sidebar.error)
    assert "clipnorm" in errors and "only one of" in errors
    assert at.button(key="ctl_train").disabled
    at.number_input(key="cfg.clipnorm").set_value(0.0).run()
    assert not at.sidebar.error and not at.button(key="ctl_train").disabled


def test_a_data_set_sets_the_fields_it_fixes(backend):
    at = unfold(explorer(), "Data")
    at.selectbox(key="cfg.dataset").set_value("digits").run()
    assert not at.exception
    assert at.number_input(key="cfg.n_features").value == 64 and at.number_input(key="cfg.n_features").disabled
    assert at.number_input(key="cfg.n_classes").value == 10 and at.number_input(key="cfg.n_samples").value == 1797
    assert at.query_params["dataset"] in ("digits", ["digits"])


def test_training_from_the_page_produces_records(backend):
    at = explorer({"preset": "notebook-deep-sigmoid", "epochs": "4"})
    at.button(key="ctl_train").click().run()
    assert not at.exception
    job = at.session_state["vgrad.job"]
    assert job.job_id
    run_until_done(at)
    job = at.session_state["vgrad.job"]
    assert job.status == "finished", job.message
    assert len(job.run.steps) == PRESETS["notebook-deep-sigmoid"].config.with_values(epochs=4).total_steps
    assert job.run.epochs and job.run.snapshots and job.run.boundaries
    charts = at.get("plotly_chart")
    # heatmap, network, flow, curves, health, boundary, confusion, theory, spectrum, kernel gradient
    assert len(charts) == 10
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Status"] == "finished"
    assert float(metrics["Attenuation"]) > 1  # orders of 10 (the deep sigmoid net attenuates)
    assert at.button(key="ctl_stop").disabled
    # switching the heatmap to dL/da keeps everything rendering
    at.radio(key="explorer_stat").set_value("act_grad_rms").run()
    assert not at.exception
    assert len(at.get("download_button")) == 2


def test_a_finished_run_can_be_saved(backend, tmp_path, monkeypatch):
    from vgrad.store import RunStore

    monkeypatch.setenv("VGRAD_DATA_DIR", str(tmp_path))
    at = explorer({"preset": "notebook-deep-sigmoid"})
    at.button(key="ctl_train").click().run()
    run_until_done(at)
    at.text_input(key="explorer_save_name").input("<b>my run</b>").run()
    at.button(key="explorer_save").click().run()
    assert not at.exception
    assert any("Saved as" in s.value and "&lt;b&gt;" in s.value for s in at.success)
    saved = RunStore(tmp_path).list()
    assert [r.name for r in saved] == ["<b>my run</b>"]
    assert RunStore(tmp_path).load(saved[0].id).steps == at.session_state["vgrad.job"].run.steps


def test_pause_step_resume_stop(backend):
    at = explorer({"preset": "deep-sigmoid", "epochs": "2000"})
    at.button(key="ctl_train").click().run()
    job = at.session_state["vgrad.job"]
    deadline = time.monotonic() + 60
    while not job.run.steps and time.monotonic() < deadline:
        time.sleep(0.2)
        at.run()
        job = at.session_state["vgrad.job"]
    assert job.run.steps, "no steps arrived"
    at.button(key="ctl_pause").click().run()
    job = at.session_state["vgrad.job"]
    assert job.paused and at.button(key="ctl_pause").label == "Resume"
    time.sleep(0.6)
    at.run()
    before = at.session_state["vgrad.job"].run.last_step
    time.sleep(0.6)
    at.run()
    assert at.session_state["vgrad.job"].run.last_step == before, "a paused run kept training"
    at.button(key="ctl_step").click().run()
    for _ in range(30):
        time.sleep(0.2)
        at.run()
        if at.session_state["vgrad.job"].run.last_step > before:
            break
    assert at.session_state["vgrad.job"].run.last_step == before + 1
    at.button(key="ctl_stop").click().run()
    run_until_done(at, 30)
    assert at.session_state["vgrad.job"].status == "cancelled"


def test_backend_down_shows_a_message(monkeypatch):
    monkeypatch.setenv("VGRAD_BACKEND_URL", "http://127.0.0.1:9")  # nothing listens there
    at = explorer()
    assert not at.exception
    assert any("training service" in i.value for i in at.info), [i.value for i in at.info]
    assert at.button(key="ctl_train").disabled


def test_a_folded_group_unfolds_when_its_field_is_wrong(backend):
    at = explorer()
    at.session_state["cfg.clipvalue"] = 1.0  # both under Remedies, folded: as a preset or a callback sets them
    at.session_state["cfg.clipnorm"] = 1.0
    at.run()
    assert not at.exception
    assert {"clipvalue", "clipnorm"} <= _drawn(at)
    assert any("only one of" in e.value for e in at.sidebar.error)
    assert at.button(key="ctl_train").disabled
