"""Compare, Recurrent and Lessons in a real browser: Debian's chromium through Playwright.

Starts `streamlit run app.py` on a free port against the session's training service, opens the
Compare page from a shared link, trains the notebook comparison and checks that the small-multiple
heatmaps share ONE colour scale (read from the Plotly figure on the page). Screenshots go to
artifacts/screenshots/.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.browser.util import EXCEPTION, shot, wait

pytestmark = pytest.mark.browser


# Every Plotly figure that holds heatmaps: their count, colour axes, the shared range and panel titles.
HEATMAPS_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => {
  const maps = (gd.data || []).filter(t => t.type === 'heatmap');
  const full = (gd._fullData || []).filter(t => t.type === 'heatmap');
  const ca = (gd.layout || {}).coloraxis || {};
  return {maps: maps.length, axes: maps.map(t => t.coloraxis || null), cmin: ca.cmin, cmax: ca.cmax,
          columns: full.map(t => (t.x || []).length),
          titles: ((gd.layout || {}).annotations || []).map(a => a.text)};
}).filter(f => f.maps > 0)"""


def _main(page):
    return page.get_by_test_id("stMainBlockContainer")


def test_compare_from_a_shared_link(app_url, browser):
    page = browser.new_page(viewport={"width": 1440, "height": 1200})
    page.goto(app_url + "/compare?comparison=notebook&r3.seed=1")
    train = _main(page).get_by_role("button", name="Train all")
    train.wait_for(timeout=30_000)
    # The link restored the comparison: three runs and run 3's own change.
    assert page.get_by_text("The deep sigmoid net's first-layer gradient").count() >= 1
    run3 = page.locator('input[aria-label="Run 3 changes"]')
    assert wait(lambda: run3.input_value() == "seed=1", 15), run3.input_value()
    assert "r3.seed=1" in page.locator('[data-testid="stCode"]').first.inner_text()
    wait(lambda: train.is_enabled(), 90)
    assert train.is_enabled()
    shot(page, "compare_before_training", full_page=True)
    train.click()
    page.mouse.move(5, 5)

    done = wait(lambda: _main(page).get_by_text("finished (3/3 steps)").count() == 3, 120)
    assert done, "the three notebook runs did not finish"
    figs = wait(lambda: [f for f in page.evaluate(HEATMAPS_JS) if f["maps"] == 3], 30)
    assert figs, page.evaluate(HEATMAPS_JS)
    grid = figs[0]
    assert grid["axes"] == ["coloraxis"] * 3, "every panel must use the one shared colour axis"
    assert grid["cmin"] < grid["cmax"] and grid["cmax"] - grid["cmin"] > 2  # spans the deep net's 10^-5
    assert grid["columns"] == [3, 3, 3]
    titles = [t.replace("<br>", " ") for t in grid["titles"][:3]]  # a long one is on two lines
    assert titles == ["1. notebook-deep-sigmoid", "2. notebook-shallow-sigmoid", "3. notebook-deep-relu (seed=1)"]
    # the automatic reading says the notebook's expected pattern holds
    assert _main(page).get_by_text("as expected").count() >= 1
    assert _main(page).get_by_text("not as expected").count() == 0
    assert wait(lambda: page.get_by_role("button", name="Download JSON").count() == 1, 20)
    assert page.locator(EXCEPTION).count() == 0
    page.set_viewport_size({"width": 1440, "height": 4200})  # Streamlit scrolls inside its main block
    time.sleep(1.5)
    shot(page, "compare_notebook_done", full_page=True)

    # "Open in Explorer" on run 3 opens the Explorer with that run's settings (and run 3's seed).
    _main(page).get_by_text("What each run is").click()
    link = _main(page).get_by_role("link", name=re.compile("Open in Explorer")).nth(2)
    link.wait_for(timeout=10_000)
    link.click()
    page.get_by_role("heading", name="Explorer").first.wait_for(timeout=90_000)  # a cold Explorer on a slow machine: 30 s was too short once
    sidebar = page.get_by_test_id("stSidebar")
    assert wait(lambda: sidebar.locator('input[aria-label="hidden layers"]').input_value() == "7", 15)
    assert wait(lambda: sidebar.locator('input[aria-label="seed"]').input_value() == "1", 15)
    assert "activation=relu" in page.url and "seed=1" in page.url
    assert page.locator(EXCEPTION).count() == 0
    page.close()


def test_recurrent_tiny_runs(app_url, browser):
    page = browser.new_page(viewport={"width": 1440, "height": 1200})
    page.goto(app_url + "/recurrent?scenario=long&cells=simple_rnn,lstm&seq_len=12&units=8&epochs=2")
    train = _main(page).get_by_role("button", name=re.compile(r"Train$"))
    train.wait_for(timeout=30_000)
    wait(lambda: train.is_enabled(), 90)
    train.click()
    page.mouse.move(5, 5)
    done = wait(lambda: _main(page).get_by_text("finished (48/48 steps)").count() == 2, 150)
    assert done, "the recurrent runs did not finish"
    figs = wait(lambda: [f for f in page.evaluate(HEATMAPS_JS) if f["maps"] == 2], 30)
    assert figs and figs[0]["axes"] == ["coloraxis"] * 2
    assert page.locator(EXCEPTION).count() == 0
    page.set_viewport_size({"width": 1440, "height": 3000})
    time.sleep(1.5)
    shot(page, "recurrent_done", full_page=True)
    page.close()


def test_lessons_page(app_url, browser):
    page = browser.new_page(viewport={"width": 1440, "height": 1200})
    page.goto(app_url + "/lessons")
    page.get_by_text("estimate / gradient").wait_for(timeout=120_000)
    wait(lambda: page.get_by_text("activation std goes from").count() > 0, 60)
    assert page.locator(EXCEPTION).count() == 0
    # the remedy buttons are page links to the Explorer and Compare, already configured
    hrefs = page.locator('[data-testid="stPageLink-NavLink"]').evaluate_all("els => els.map(e => e.href)")
    assert any("explorer?preset=remedy-relu" in h for h in hrefs), hrefs
    assert any("compare?comparison=remedies" in h for h in hrefs), hrefs
    page.set_viewport_size({"width": 1440, "height": 7000})
    time.sleep(1.5)
    shot(page, "lessons", full_page=True)
    page.close()


def test_the_runs_page_downloads_what_it_saved(app_url, browser, data_dir):
    import json

    from tests.run_factory import make_run
    from vgrad.store import RunStore

    store = RunStore(data_dir)
    rid = store.save(make_run(), "to download")
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(app_url + f"/runs?run={rid}")
    button = _main(page).get_by_role("button", name="JSON (re-importable)")
    button.wait_for(timeout=30_000)
    with page.expect_download(timeout=30_000) as got:  # the file is made on the click
        button.click()
    assert json.loads(open(got.value.path(), encoding="utf-8").read()) == json.loads(store.export_json(rid))
    with page.expect_download(timeout=30_000) as got:
        _main(page).get_by_role("button", name="Summary of all runs (CSV)").click()
    assert "to download" in open(got.value.path(), encoding="utf-8").read()
    assert page.locator(EXCEPTION).count() == 0
    page.close()
