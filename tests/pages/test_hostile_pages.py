"""The probe's D3 and D4 on the Runs page (AppTest): exported run files made hostile, and ?run= links
that are not ids. Nothing crashes the page; nothing a file says reaches Plotly as HTML."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from tests.pages.apptest import open_page
from tests.run_factory import make_run
from vgrad.store import RunStore, StoreError, parse_run_json

LINK = '<a href="https://evil.example">click</a>'


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("VGRAD_DATA_DIR", str(tmp_path / "data"))
    return RunStore()


def exported() -> dict:
    return json.loads(make_run(n_layers=3, n_steps=10).to_json())


def with_info_start(doc: dict) -> dict:
    doc["info"] = {"start": "x"}
    return doc


def with_huge_step(doc: dict) -> dict:
    doc["steps"][3]["step"] = int("9" * 401)
    return doc


def with_link_layer_names(doc: dict) -> dict:
    for layer in doc["layers"]:
        layer["name"] = LINK
    return doc


def with_link_everywhere(doc: dict) -> dict:
    doc = with_link_layer_names(doc)
    doc["message"] = LINK
    doc["info"] = {"note": LINK}
    return doc


def figure_strings(at: AppTest) -> list[str]:
    """Every string inside every Plotly figure the page drew (decoded from its JSON)."""
    out: list[str] = []

    def walk(value) -> None:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    for chart in at.get("plotly_chart"):
        walk(json.loads(chart.proto.spec))
    return out


def import_file(at: AppTest, content: bytes) -> AppTest:
    at.file_uploader(key="import_file").set_value(("hostile.json", content, "application/json")).run()
    at.button(key="import_go").click().run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("damage, problem", [(with_info_start, "info"), (with_huge_step, "step")])
def test_a_damaged_export_is_refused_naming_the_problem(store, damage, problem):
    content = json.dumps(damage(exported())).encode()
    with pytest.raises(StoreError) as err:
        parse_run_json(content)
    assert problem in str(err.value) and len(str(err.value)) < 400
    at = import_file(open_page("runs"), content)
    assert at.error and problem in at.error[0].value
    assert store.list() == []
    assert "9" * 50 not in at.error[0].value  # the 401 digits are not echoed back


def test_html_in_a_run_file_is_shown_as_text_in_every_chart(store):
    content = json.dumps(with_link_everywhere(exported())).encode()
    at = import_file(open_page("runs"), content)
    assert at.success, [e.value for e in at.error]
    [saved] = store.list()
    other = store.save(make_run(n_layers=3, n_steps=10, seed=2), "plain")
    at = open_page("runs", run=str(saved.id))
    strings = figure_strings(at)
    assert strings and not any("<a" in s or "href=" in s and "&quot;" not in s for s in strings)
    assert any("&lt;a href=&quot;https://evil.example&quot;&gt;click&lt;/a&gt;" in s for s in strings)
    page_text = [m.value for m in at.markdown] + [c.value for c in at.caption]
    assert not any("<a href" in t for t in page_text)
    assert not any(m.proto.allow_html for m in at.markdown)
    # compared with another run: the overlays escape it too
    at.multiselect[0].set_value([saved.id, other]).run()
    assert not at.exception, at.exception
    assert not any("<a" in s for s in figure_strings(at))


HOSTILE_IDS = ["inf", "nan", "1e400", "-1", "0x10", " 1", "١٢", "9" * 401, "x" * 100_000, "%00", "1.0"]


@pytest.mark.parametrize("value", HOSTILE_IDS, ids=lambda v: v[:12])
def test_a_hostile_run_link_falls_back_to_the_newest_run_with_a_warning(store, value):
    store.save(make_run(seed=1), "older")
    newest = store.save(make_run(seed=2), "newest")
    at = open_page("runs", run=value)
    assert at.selectbox(key="open_run").value == newest
    [warning] = at.warning
    assert "There is no saved run" in warning.value and len(warning.value) < 200
