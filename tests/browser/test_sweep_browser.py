"""The Sweep page in a real browser (Debian's chromium, Playwright): run a small trained sweep, watch the
map fill in while it runs, click a cell and open its network in the Explorer; every screen at 1600x1000
and 1280x720 (maps of one, two and three axes, and a preset map) saved to
artifacts/screenshots/sweep_<layout>_<width>_<n>.png, with no colliding chart texts and no table scrolling
sideways."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.browser.util import EXCEPTION, OVERLAPS_JS, WIDE_TABLES_JS, shot, tour, wait
from tests.conftest import ServiceProcess

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def backend_url():
    """This module's own training service: its sweeps (dozens of architectures) leave the session's service,
    whose memory tests/service/test_sweeps.py measures, as it was."""
    service = ServiceProcess({"VGRAD_WORKERS": "2"}).wait_ready()
    yield service.url
    service.stop()


SIZES = [(1600, 1000), (1280, 720)]
# 8 depths x 3 init scales of tanh, 150 steps each: 8 stacked tasks, several seconds on two workers.
QUERY = "activation=tanh&axis1=hidden_layers=1:8:8&axis2=init_gain=0.5,1,2&mode=trained&cell_steps=150"
CELL_11 = {"activation": "tanh", "hidden_layers": "4", "init_gain": "2.0"}

# The map: cells that have a colour (a point, on a one-axis line), the title, and each cell's centre on the
# screen (by cell number) in the first plane.
MAP_JS = """() => {
  const finite = v => v !== null && v !== undefined && Number.isFinite(v);
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    const data = gd._fullData || [];
    const heats = data.filter(t => t.type === 'heatmap');
    const marks = data.filter(t => t.type === 'scatter' && t.customdata && t.customdata.length);
    if (!marks.length) continue;
    const filled = heats.length ? heats.reduce((n, t) => n + t.z.flat().filter(finite).length, 0)
                                : [...marks[0].y].filter(finite).length;
    const L = gd._fullLayout, r = gd.getBoundingClientRect(), m = marks[0];
    const xa = L[m.xaxis.replace('x', 'xaxis')], ya = L[m.yaxis.replace('y', 'yaxis')];
    const centres = {};
    [...m.x].forEach((x, i) => {
      const y = heats.length ? m.y[i] : (finite(m.y[i]) ? m.y[i] : 0);
      centres[m.customdata[i]] = [r.left + xa._offset + xa.d2p(x), r.top + ya._offset + ya.d2p(y)];
    });
    return {filled, title: (L.title && L.title.text) || '', centres};
  }
  return {filled: -1, title: '', centres: {}};
}"""


def _main(page):
    return page.get_by_test_id("stMainBlockContainer")


def _map(page) -> dict:
    return page.evaluate(MAP_JS)


def _run(page, name: str = "", cells: int = 24) -> list[int]:
    """Press Run; the filled-cell counts seen every 0.2 s until the sweep ends (a screenshot NAME while it runs)."""
    run = _main(page).get_by_role("button", name="Run", exact=True)
    run.wait_for(timeout=60_000)
    assert wait(lambda: run.is_enabled(), 90), "Run never became enabled"
    run.click()
    page.mouse.move(5, 5)
    counts = []
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        counts.append(_map(page)["filled"])
        if name and 0 < counts[-1] < cells:
            shot(page, name)
            name = ""
        if _main(page).get_by_text(f"{cells} of {cells} cells · finished").count():
            # the chart draws its last cells a moment after the progress line says finished
            wait(lambda: _map(page)["filled"] == cells, 15)
            counts.append(_map(page)["filled"])
            break
        page.wait_for_timeout(200)
    else:
        pytest.fail(f"the sweep did not finish; the map had {counts[-5:]} cells")
    return counts


def test_the_map_fills_in_while_it_runs_and_a_click_opens_the_cell(app_url, browser):
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(app_url + "/sweep?" + QUERY)
    _main(page).get_by_text("Press Run to train the sweep").wait_for(timeout=60_000)
    assert page.get_by_text("24 cells × 1 seed = 24 trainings, 150 steps each.").count() == 1
    shot(page, "sweep_before_run")
    counts = _run(page, "sweep_running")
    grew = [c for c in counts if 0 < c < 24]
    assert grew, f"the map never showed part of the sweep: {counts}"
    assert counts == sorted(counts), counts  # never loses a cell
    assert len(set(grew)) >= 2 or counts.index(grew[0]) < len(counts) - 2, counts  # seen while it ran
    assert counts[-1] == 24
    final = wait(lambda: (m := _map(page))["filled"] == 24 and m, 30)
    assert "orders at step 0: 24 of 24 cells" in final["title"]
    assert page.locator(EXCEPTION).count() == 0
    shot(page, "sweep_finished")

    # A click on cell 11 (row 4: hidden_layers=4, column 3: init_gain=2) picks it and offers its Explorer link.
    x, y = final["centres"]["11"]
    page.mouse.click(x, y)
    link = page.get_by_role("link", name="Open in the Explorer")
    link.wait_for(timeout=30_000)
    assert page.get_by_text("hidden_layers=4, init_gain=2.0").count() >= 1
    href = link.get_attribute("href")
    assert urlsplit(href).path == "/explorer"
    query = dict(parse_qsl(urlsplit(href).query))
    assert query.items() >= CELL_11.items() and query["steps"] == "150"  # the cell's network, trained as it was
    shot(page, "sweep_cell_picked")

    explorer = browser.new_page(viewport={"width": 1600, "height": 1000})
    explorer.goto(href)
    explorer.get_by_role("button", name="Train").wait_for(timeout=60_000)
    sidebar = explorer.get_by_test_id("stSidebar")
    assert sidebar.locator('input[aria-label="hidden layers"]').input_value() == "4"
    assert float(sidebar.locator('input[aria-label="init gain"]').input_value()) == 2.0
    assert explorer.locator(EXCEPTION).count() == 0
    assert dict(parse_qsl(urlsplit(explorer.url).query)) == query
    explorer.close()
    page.close()


# Maps at initialisation (seconds each): two axes, the tanh preset (15 log-spaced columns, two theory
# lines), one axis (a line chart) and three (a map per value of the third).
LAYOUTS = {"two_axes": (QUERY.replace("&mode=trained&cell_steps=150", ""), 24),
           "preset": ("map=depth-init-tanh", 75),
           "one_axis": ("activation=tanh&axis1=init_gain=0.25:4:9:log&axis2=", 9),
           "three_axes": ("activation=tanh&axis1=hidden_layers=2,4,8&axis2=init_gain=0.5,1,2&axis3=units=8,16,32", 27)}


# The preset (the widest map) at both sizes (run once, the window resized), each other layout at one
# (they were all looked at at both).
SCREENS = [("preset", ((1600, 1000), (1280, 720))), ("two_axes", ((1600, 1000),)), ("one_axis", ((1280, 720),)),
           ("three_axes", ((1280, 720),))]


@pytest.mark.parametrize("layout, sizes", SCREENS)
def test_the_sweep_page_fits_the_screen(app_url, browser, layout, sizes):
    query, cells = LAYOUTS[layout]
    width, height = sizes[0]
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(app_url + "/sweep?" + query)
    counts = _run(page, cells=cells)
    assert counts[-1] == cells
    table = _main(page).get_by_text("Every cell as a table")
    table.click()  # unfold it for the screenshots and the width check
    page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=30_000)
    for width, height in sizes:
        page.set_viewport_size({"width": width, "height": height})
        page.mouse.move(5, 5)
        page.wait_for_timeout(1500)
        assert page.locator(EXCEPTION).count() == 0
        tour(page, f"sweep_{layout}_{width}")
        assert page.evaluate(OVERLAPS_JS) == [], (width, height)
        assert page.evaluate(WIDE_TABLES_JS) == [], (width, height)
    page.close()
