"""A classroom projector: the Explorer, Compare, Theory and Class pages at 1280x720 and at 1600x1000 in
chromium, each screen saved to artifacts/screenshots/projector_<page>_<width>_<n>.png. On every page no
chart's text collides with another (titles, legends, axis titles, tick labels), no headline number is
cut, and no table scrolls sideways. Each page is trained once and looked at in both sizes (the window
resized, as a teacher moving a tab to the projector does)."""

from __future__ import annotations

import re

import pytest

from tests.browser.util import CUT_METRICS_JS, EXCEPTION, OVERLAPS_JS, WIDE_TABLES_JS, tour, wait

pytestmark = pytest.mark.browser

SIZES = [(1280, 720), (1600, 1000)]


def _main(page):
    return page.get_by_test_id("stMainBlockContainer")


def _checked(page, name: str) -> None:
    """At each size: let the charts settle, screenshot every screen, then check the layout."""
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.mouse.move(5, 5)  # no hover toolbar over a chart
        page.wait_for_timeout(1500)
        assert page.locator(EXCEPTION).count() == 0
        tour(page, f"{name}_{width}")
        assert page.evaluate(OVERLAPS_JS) == [], (width, height)
        assert page.evaluate(CUT_METRICS_JS) == [], (width, height)
        assert page.evaluate(WIDE_TABLES_JS) == [], (width, height)


def _new_page(browser):
    width, height = SIZES[0]
    return browser.new_page(viewport={"width": width, "height": height})


def test_explorer_after_a_run(app_url, browser):
    page = _new_page(browser)
    page.goto(app_url + "/explorer?preset=deep-sigmoid")
    train = _main(page).get_by_role("button", name="Train")
    train.wait_for(timeout=60_000)
    wait(lambda: train.is_enabled(), 90)
    _main(page).get_by_role("radio", name="as fast as possible").click()
    train.click()
    assert wait(lambda: _main(page).get_by_text("finished", exact=True).count() > 0, 120)
    assert wait(lambda: page.locator(".js-plotly-plot").count() >= 10, 30)  # every chart drawn
    assert "job=" in page.url  # the run survives a reload
    _checked(page, "projector_explorer")
    page.close()


def test_compare_after_a_run(app_url, browser):
    page = _new_page(browser)
    page.goto(app_url + "/compare?comparison=notebook")
    train = _main(page).get_by_role("button", name="Train all")
    train.wait_for(timeout=60_000)
    wait(lambda: train.is_enabled(), 90)
    train.click()
    assert wait(lambda: _main(page).get_by_text("finished (3/3 steps)").count() == 3, 120)
    assert wait(lambda: page.get_by_role("button", name="Download JSON").count() == 1, 30)
    _checked(page, "projector_compare")
    page.close()


def test_theory_page(app_url, browser):
    page = _new_page(browser)
    page.goto(app_url + "/theory")
    page.get_by_text("Phase diagram of tanh").wait_for(timeout=60_000)
    for name in ("Measure", "Measure both spectra"):  # the charts of real nets beside the prediction
        button = _main(page).get_by_role("button", name=name, exact=True)
        wait(lambda b=button: b.is_enabled(), 90)
        button.click()
        page.wait_for_timeout(500)
    page.get_by_text("Largest difference").wait_for(timeout=150_000)
    assert wait(lambda: _main(page).get_by_text(re.compile(r"^Measured: mean")).count() == 2, 150)
    _checked(page, "projector_theory")
    page.close()


def test_class_page(app_url, browser):
    page = _new_page(browser)
    page.goto(app_url + "/classroom")
    page.get_by_label("Class name").fill("Tuesday group")
    page.get_by_role("button", name="Open a class").click()
    _main(page).get_by_text("Tuesday group").wait_for(timeout=30_000)
    link = _main(page).locator('[data-testid="stCode"]').first.inner_text()
    assert re.search(r"/explorer\?class=[A-Z0-9]{6}$", link.strip()), link  # the students' page
    _checked(page, "projector_class")
    page.close()
