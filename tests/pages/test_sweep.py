"""pages/sweep.py with AppTest against a real training service: a small sweep fills in its map, preset
maps and links load their axes, hostile axes and links get a sentence, save and reopen (?saved=ID),
CSV / JSON exports, and a cell's Explorer link."""

from __future__ import annotations

import csv
import html
import io
import json
import math
from urllib.parse import parse_qsl, urlsplit

import pytest
import streamlit.testing.v1.app_test as app_test_module
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from tests.pages.apptest import PAGES, open_page, rerun_until
from vgrad import RunConfig, links
from vgrad.store import RunStore
from vgrad.sweep import make_spec
from vgrad.sweep_maps import METRICS, PRESET_MAPS, cell_value, explorer_config, theory_lines
from vgrad.sweep_results import result_from_json
from vgrad.ui import sweep_view

# Six cells at initialisation (one gradient measurement each): a second or two in the service.
TINY = {"activation": "tanh", "axis1": "hidden_layers=2,3", "axis2": "init_gain=0.5,1,2"}
SHOWN, CLICKED = sweep_view.SHOWN, sweep_view.CLICKED


@pytest.fixture
def page(backend, tmp_path, monkeypatch):
    """Open the Sweep page with a link, its Runs store in a temporary folder."""
    monkeypatch.setenv("VGRAD_DATA_DIR", str(tmp_path))

    def opened(**query) -> AppTest:
        return open_page("sweep", **query)

    return opened


@pytest.fixture
def media(monkeypatch):
    """Every media file storage the AppTest runs make (download buttons' data lives there)."""
    stores: list[MemoryMediaFileStorage] = []

    class Recorded(MemoryMediaFileStorage):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            stores.append(self)

    monkeypatch.setattr(app_test_module, "MemoryMediaFileStorage", Recorded)
    return stores


def said(at: AppTest, *kinds: str) -> list[str]:
    """The page's messages of these kinds as a reader sees them (Markdown's and HTML's escapes taken out)."""
    return [html.unescape(m.value.replace("\\", "")) for kind in kinds for m in at.get(kind)]


def captions(at: AppTest) -> list[str]:
    return [c.value.replace("\\", "") for c in at.caption]


def chart(at: AppTest) -> dict:
    charts = at.get("plotly_chart")
    assert len(charts) == 1, "the sweep's map is not on the page"
    return json.loads(charts[0].proto.spec)


def filled(spec: dict) -> int:
    """Cells of the map's heatmap that have a colour."""
    z = next(t["z"] for t in spec["data"] if t["type"] == "heatmap")
    return sum(v is not None and math.isfinite(v) for row in z for v in row)


def run_sweep(at: AppTest) -> list[tuple[int, int, int]]:
    """Press Run and rerun until the sweep ends; (cells done, cells on the map, progress %) at each rerun."""
    run = at.button(key="sweep.run")
    rerun_until(at, lambda: not at.button(key="sweep.run").disabled, 60, "the Run button")  # the service warms up
    run.click().run()
    assert not at.exception, at.exception
    seen = []

    def ended() -> bool:
        shown = at.session_state[SHOWN]
        seen.append((shown.done, filled(chart(at)), at.get("progress")[0].proto.value))
        return not shown.active

    rerun_until(at, ended, 90, "the sweep to end")
    return seen


def test_a_small_sweep_fills_in_the_map_and_shows_progress(page):
    at = page(**TINY)
    assert "6 cells × 1 seed = 6 trainings, one gradient measurement each, at initialisation." in captions(at)
    assert any(c.startswith("Cells train in the training service's 2 worker threads") for c in captions(at))
    assert any("Press **Run**" in m for m in said(at, "info"))
    seen = run_sweep(at)
    shown = at.session_state[SHOWN]
    assert shown.status == "finished" and shown.done == shown.total == 6 and len(shown.cells) == 6
    # Each rerun's map has exactly the cells done so far, and the bar says how many.
    assert all(done == on_map for done, on_map, _ in seen), seen
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen)
    assert seen[-1] == (6, 6, 100)
    progress = at.get("progress")[0].proto
    assert progress.text.startswith("6 of 6 cells · finished")
    spec = chart(at)
    assert spec["layout"]["title"]["text"] == "orders at step 0: 6 of 6 cells"
    # The colours are the engine's measurements: cell (row 1, column 2) is hidden_layers=3, init_gain=2.
    z = next(t["z"] for t in spec["data"] if t["type"] == "heatmap")
    cell5 = next(c for c in shown.cells if c.cell == 5)
    assert cell5.values == {"hidden_layers": 3, "init_gain": 2.0}
    assert z[1][2] == pytest.approx(cell_value(METRICS["orders_start"], cell5).value)
    assert all(m.ratio_start > 0 and m.loss is None for c in shown.cells for m in c.measures)
    # theory's critical line is drawn (tanh, init_gain on the columns), and the legend says so
    assert any(t["type"] == "scatter" and t.get("mode") == "lines" for t in spec["data"])
    assert any("critical init_gain" in c for c in captions(at))
    # 6ξ_c (8.7 layers and deeper here) is off this map of depths 2 and 3: neither drawn nor in the legend
    assert not any("6ξ_c" in t.get("name", "") for t in spec["data"])
    assert not any("6ξ_c" in c for c in captions(at))
    # Run is free again; no Stop button once it ended
    assert not at.button(key="sweep.run").disabled
    assert "sweep.stop" not in [b.key for b in at.button]


def test_a_preset_map_from_the_link_loads_its_axes(page):
    at = page(map="depth-activation")
    m = PRESET_MAPS["depth-activation"]
    assert at.selectbox(key="sweep.map").value == "depth-activation"
    assert (at.selectbox(key="sweep.field1").value, at.text_input(key="sweep.values1").value) == \
        ("hidden_layers", "2,4,8,16,32")
    assert (at.selectbox(key="sweep.field2").value, at.text_input(key="sweep.values2").value) == \
        ("activation", "sigmoid,tanh,relu,elu")
    assert at.selectbox(key="sweep.field3").value == "(none)"
    assert at.radio(key="sweep.mode").value == "trained" and at.number_input(key="sweep.seeds").value == m.seeds
    assert "20 cells × 2 seeds = 40 trainings, 200 steps each." in captions(at)
    assert "units=16" in at.text_input(key="sweep.base").value
    assert at.selectbox(key="sweep.metric").value == "accuracy"
    assert dict(at.query_params) == {"map": "depth-activation"}
    assert not said(at, "error", "warning")
    # another map from the selector replaces every axis and setting
    at.selectbox(key="sweep.map").set_value("depth-init-tanh").run()
    assert not at.exception
    assert at.selectbox(key="sweep.field2").value == "init_gain" and at.radio(key="sweep.mode").value == "init"
    assert any(c.startswith("75 cells × 2 seeds") for c in captions(at))
    assert dict(at.query_params) == {"map": "depth-init-tanh"}
    # a map with one axis changed keeps the map and says the change
    at.text_input(key="sweep.values1").input("4,8").run()
    assert dict(at.query_params) == {"map": "depth-init-tanh", "axis1": "hidden_layers=4,8",
                                     "axis2": "init_gain=0.5:4:15:log"}
    assert any(c.startswith("30 cells × 2 seeds") for c in captions(at))


@pytest.mark.parametrize(("query", "sentence"), [
    ({"axis1": "init_gain=0.1:4:1000", "axis2": "learning_rate=1e-4:1:1000:log"},
     "the sweep has 1,000,000 cells"),
    ({"axis1": "init_gain=1:2:0"}, "axis init_gain: count must be a whole number"),
    ({"axis1": "init_gain="}, "axis init_gain: no values"),
    ({"axis1": "hidden_layers=8:2:4"}, "axis hidden_layers: the range runs backwards (8 > 2)"),
    ({"axis1": "hidden_layers=2,4", "axis2": "hidden_layers=8,16"}, "hidden_layers"),
    ({"axis1": "hidden_layers=2,4", "seeds": "5000"}, "VGRAD_MAX_SWEEP_SEEDS"),
])
def test_hostile_axes_give_a_sentence_and_no_run(page, query, sentence):
    at = page(**query)
    errors = said(at, "error")
    assert any(sentence in e for e in errors), errors
    assert at.button(key="sweep.run").disabled  # nothing to send
    assert not any("cells ×" in c for c in captions(at))


def test_an_unknown_field_in_the_link_is_named_and_the_rest_kept(page):
    at = page(axis1="bogus=1,2", axis2="init_gain=0.5,1", activation="tanh")
    assert said(at, "warning") == ["ignored axis1='bogus=1,2': 'bogus' is not a setting"]
    assert not said(at, "error")
    # what was usable stays: the second axis, the base; the first axis is depth again
    assert at.selectbox(key="sweep.field1").value == "init_gain"
    assert at.text_input(key="sweep.base").value == "activation=tanh"
    near = page(axis1="hiden_layers=2,4")
    assert said(near, "warning") == ["ignored axis1='hiden_layers=2,4': 'hiden_layers' is not a setting "
                                     "(did you mean hidden_layers?)"]
    assert near.selectbox(key="sweep.field1").value == "hidden_layers"  # a usable sweep again
    assert any("5 cells × 1 seed" in c for c in captions(near))
    seed = page(axis1="seed=1,2,3")
    assert said(seed, "warning") == ["ignored axis1='seed=1,2,3': use seeds= to repeat each cell"]


def test_hostile_axes_typed_into_the_widgets(page):
    at = page(**TINY)
    at.text_input(key="sweep.values1").input("1:100000:100000").run()
    assert not at.exception
    assert any("axis hidden_layers" in e for e in said(at, "error")), said(at, "error")
    assert at.button(key="sweep.run").disabled
    at.text_input(key="sweep.values1").input("2,3").run()
    at.text_input(key="sweep.base").input("activation=nope&units=-4").run()
    assert not at.exception and said(at, "error") and at.button(key="sweep.run").disabled
    at.text_input(key="sweep.base").input("activation=relu").run()
    assert not said(at, "error") and not at.button(key="sweep.run").disabled


@pytest.mark.parametrize("query", [
    {"seeds": "abc", "mode": "xyz", "map": "nope", "metric": "<b>x</b>", "cell_steps": "1e400", "epochs": "-3"},
    {"axis1": "hidden_layers=" + "9," * 5000, "threshold": "nan"},
    {"axis4": "units=4,8", "preset": "no-such-preset", "map": "depth-activation"},
    {"saved": "abc"},
    {"saved": "99999"},
    {"saved": "1" * 40},
])
def test_a_bad_link_value_gives_a_sentence_not_a_traceback(page, query):
    at = page(**query)
    messages = said(at, "warning", "error")
    assert messages, "a bad link was taken silently"
    assert all(len(m) < 400 for m in messages), messages
    assert not any("Traceback" in m or "Error(" in m for m in messages), messages
    assert "<b>" not in " ".join(m.value for m in at.warning)  # escaped, not rendered
    assert at.get("plotly_chart") == [] or not at.exception


def test_where_the_cells_train_is_said_from_the_services_health():
    local = {"executor": "local", "workers": 2, "ray": None}
    assert sweep_view.where_text(local).startswith("Cells train in the training service's 2 worker threads")
    fell_back = {"executor": "local", "workers": 2, "ray": {"connected": False, "error": "cannot reach 10.0.0.5:6379"}}
    assert "The Ray cluster is not used: cannot reach 10.0.0.5:6379" in sweep_view.where_text(fell_back)
    ray = {"executor": "ray", "workers": 8, "ray": {"connected": True, "address": "10.0.0.5:6379", "cpus": 16.0,
                                                     "nodes": 3, "error": None}}
    assert sweep_view.where_text(ray) == "Cells train on the Ray cluster at 10.0.0.5:6379, 16 CPUs on 3 nodes, 8 at a time."


def test_theory_lines_only_where_they_fall_on_the_map():
    kinds = [line.kind for line in theory_lines(PRESET_MAPS["depth-init-tanh"].spec())]
    assert sorted(kinds) == ["critical", "depth"]
    shallow = make_spec(RunConfig(activation="tanh"), ["hidden_layers=1:8:8", "init_gain=0.5,1,2"], mode="init")
    assert [line.kind for line in theory_lines(shallow)] == ["critical"]  # 6ξ_c >= 8.7 layers: above every row


def test_bad_link_values_are_dropped_one_by_one():
    link = links.parse_sweep({"seeds": "abc", "mode": "xyz", "map": "nope", "metric": "loss", "cell_steps": "50"})
    assert (link.seeds, link.mode, link.metric, link.steps, link.map) == (1, "init", "loss", 50, None)
    assert len(link.problems) == 3
    assert links.parse_sweep("map=depth-activation&axis1=units=4,8").axes == ("units=4,8",)


def test_save_in_the_runs_store_and_reopen_from_the_link(page, tmp_path):
    at = page(**TINY)
    assert "None yet: run a sweep and save it." in captions(at)
    run_sweep(at)
    at.text_input(key="sweep.save_name").input("<i>tanh map</i>")  # in a form: sent with its button
    save = next(b for b in at.button if b.label == "Save in the Runs store")
    save.click().run()
    assert not at.exception, at.exception
    saved = RunStore(tmp_path).list_sweeps()
    assert [(s.name, s.summary["cells"], s.summary["total"]) for s in saved] == [("<i>tanh map</i>", 6, 6)]
    sid = saved[0].id
    assert any(f"Saved as sweep #{sid}" in s for s in said(at, "success"))
    assert at.query_params["saved"] in (str(sid), [str(sid)])  # the link names it now
    assert at.selectbox(key="sweep.saved_pick").value == sid
    _, text = RunStore(tmp_path).load_sweep(sid)
    assert len(result_from_json(text).cells) == 6
    cells = {c.cell: c for c in at.session_state[SHOWN].cells}

    again = page(saved=str(sid), **TINY)
    shown = again.session_state[SHOWN]
    assert (shown.saved_id, shown.status, shown.done, shown.total) == (sid, "saved", 6, 6)
    assert {c.cell: c.measures for c in shown.cells} == {k: c.measures for k, c in cells.items()}
    assert filled(chart(again)) == 6
    assert (again.selectbox(key="sweep.field2").value, again.text_input(key="sweep.values2").value) == \
        ("init_gain", "0.5,1,2")
    assert again.text_input(key="sweep.base").value == "activation=tanh"
    assert any(f"Saved sweep #{sid}" in c for c in captions(again))
    # a change to the widgets leaves the saved sweep: the link no longer names it
    again.text_input(key="sweep.values1").input("2,3,4").run()
    assert "saved" not in again.query_params
    # and the link alone (a new browser) opens it with its own settings
    alone = page(saved=str(sid))
    assert alone.session_state[SHOWN].saved_id == sid
    assert alone.text_input(key="sweep.values1").value == "2,3"
    # the saved list reopens it too, and deletes it
    alone.button(key="sweep.saved_delete").click().run()
    assert not alone.exception and RunStore(tmp_path).list_sweeps() == []


def test_csv_and_json_exports_carry_the_cells(page, media):
    at = page(**TINY)
    run_sweep(at)
    shown = at.session_state[SHOWN]
    buttons = {b.proto.label: b.proto for b in at.get("download_button")}
    assert set(buttons) == {"CSV", "JSON"}

    def content(proto) -> bytes:
        name = proto.url.rsplit("/", 1)[-1]
        for store in reversed(media):
            try:
                return store.get_file(name).content
            except Exception:  # noqa: BLE001 (another run's storage)
                continue
        pytest.fail(f"no media file {name}")

    rows = list(csv.DictReader(io.StringIO(content(buttons["CSV"]).decode("utf-8"))))
    assert len(rows) == 6  # one row per cell and seed (one seed)
    by_cell = {(int(r["hidden_layers"]), float(r["init_gain"])): r for r in rows}
    assert set(by_cell) == {(d, g) for d in (2, 3) for g in (0.5, 1.0, 2.0)}
    for cell in shown.cells:
        row = by_cell[(cell.values["hidden_layers"], cell.values["init_gain"])]
        assert float(row["ratio_start"]) == pytest.approx(cell.measures[0].ratio_start, rel=1e-6)
    result = result_from_json(content(buttons["JSON"]))
    assert result.spec == shown.spec
    assert {c.cell: c.measures for c in result.cells} == {c.cell: c.measures for c in shown.cells}


def test_a_chosen_cell_opens_its_config_in_the_explorer(page):
    at = page(**TINY)
    assert SHOWN not in at.session_state
    run_sweep(at)
    shown = at.session_state[SHOWN]
    assert at.get("link_button") == []  # nothing picked yet
    at.session_state[CLICKED] = 5  # what a click on the map's cell does (see the next test)
    at.run()
    assert not at.exception
    picked = at.get("link_button")
    assert len(picked) == 1 and picked[0].proto.label == "Open in the Explorer"
    url = picked[0].proto.url
    assert urlsplit(url).path == "/explorer"
    query = dict(parse_qsl(urlsplit(url).query))
    assert query == {"activation": "tanh", "hidden_layers": "3", "init_gain": "2.0"}
    assert any("hidden_layers=3, init_gain=2.0" in m for m in said(at, "markdown"))
    # the table lists every cell with its own link (the map's click without a mouse)
    table = at.dataframe[0].value
    assert len(table) == 6 and table["Explorer"].nunique() == 6
    assert url in list(table["Explorer"])
    # tanh at init_gain 1 is theory's critical point: ξ_c is infinite there, not missing
    assert list(table["init_gain"][:3]) == ["0.5", "1", "2"]
    assert set(table[table["init_gain"] == "1"]["phase"]) == {"critical"}
    assert set(table[table["init_gain"] == "1"]["ξ_c"]) == {"∞"}
    # the Explorer opens that cell's network
    explorer = AppTest.from_file(str(PAGES / "explorer.py"), default_timeout=60)
    explorer.query_params.update(query)
    explorer.run()
    assert not explorer.exception and not said(explorer, "warning")
    config, _ = explorer.session_state["vgrad.config"]
    cell = next(c for c in shown.cells if c.cell == 5)
    assert config == explorer_config(shown.spec, 5)
    # an init-mode cell measured one step; the Explorer trains the base's epochs
    assert config.total_steps == shown.spec.base.total_steps > 1
    assert (config.activation, config.hidden_layers, config.init_gain) == ("tanh", 3, 2.0) == \
        (shown.spec.base.activation, *cell.values.values())


def test_a_click_on_the_map_picks_that_cell(monkeypatch):
    """The map's on_select callback reads the marker's customdata (the cell number)."""
    state: dict = {sweep_view.CHART: {"selection": {"points": [{"x": 2, "y": 1, "customdata": [5]}]}}}
    monkeypatch.setattr(sweep_view.st, "session_state", state)
    sweep_view._on_click()
    assert state[CLICKED] == 5
    for junk in (None, {}, {"selection": None}, {"selection": {"points": [{"customdata": "x"}, 7]}}):
        state = {sweep_view.CHART: junk}
        monkeypatch.setattr(sweep_view.st, "session_state", state)
        sweep_view._on_click()
        assert CLICKED not in state
