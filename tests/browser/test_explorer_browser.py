"""The Explorer in a real browser: Debian's chromium driven by Playwright (never `playwright install`).

Starts `streamlit run app.py` on a free port against a real training service, opens a shared
link, trains, and checks that the heatmap fills in and grows. Screenshots go to
artifacts/screenshots/.
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.browser.util import EXCEPTION, shot, wait

pytestmark = pytest.mark.browser


# Columns and last step of the first Plotly heatmap on the page (the gradient heatmap).
HEATMAP_JS = """() => {
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    const t = (gd._fullData || [])[0];  // decoded arrays (gd.data keeps the binary form)
    if (t && t.type === 'heatmap' && t.x && t.x.length) {
      return {columns: t.x.length, last: Number(t.x[t.x.length - 1]), rows: t.y.length};
    }
  }
  return {columns: 0, last: -1, rows: 0};
}"""


def test_shared_link_train_and_watch_the_heatmap_grow(app_url, browser):
    page = browser.new_page(viewport={"width": 1440, "height": 2600})
    page.goto(app_url + "/explorer?preset=deep-sigmoid&epochs=2000")
    train = page.get_by_role("button", name="Train")
    train.wait_for(timeout=30_000)
    # A fresh server opened on a shared link still goes through app.py (st.navigation, wide layout).
    nav = page.get_by_test_id("stSidebarNav").inner_text()
    assert "Explorer" in nav and "app" not in nav.split(), nav
    assert page.get_by_test_id("stMainBlockContainer").bounding_box()["width"] > 1000
    # The link restored the experiment.
    assert page.get_by_text("Remedy baseline: 8 sigmoid layers").count() == 1
    assert page.locator('[data-testid="stSidebar"] input[aria-label="epochs"]').input_value() == "2000"
    # The service may still be warming up: Train is enabled once it answers.
    wait(lambda: train.is_enabled(), 90)
    assert train.is_enabled()
    shot(page, "explorer_before_training")
    train.click()
    page.mouse.move(5, 5)

    first = wait(lambda: (h := page.evaluate(HEATMAP_JS))["columns"] > 0 and h, 60)
    assert first and first["columns"] > 0, "the heatmap never got data"
    assert first["rows"] == 9
    later = wait(lambda: (h := page.evaluate(HEATMAP_JS))["last"] > first["last"] and h, 45)
    assert later, f"the heatmap did not grow after {first}"
    assert later["columns"] <= 300
    assert page.locator(EXCEPTION).count() == 0
    time.sleep(1.0)
    shot(page, "explorer_training")

    stop = page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Stop")
    if stop.is_enabled():  # a fast machine may have finished all 6,000 steps already
        try:
            stop.click(timeout=5_000)
        except PlaywrightTimeoutError:  # it finished between the check and the click
            pass
    ended = wait(lambda: page.get_by_text("cancelled", exact=True).count()
                  or page.get_by_text("finished", exact=True).count(), 30)
    assert ended, "the run did not end after Stop"
    page.mouse.move(5, 5)
    time.sleep(1.0)
    assert page.locator(EXCEPTION).count() == 0
    shot(page, "explorer_ended")

    # The dL/da switch redraws the heatmap without the output row.
    page.get_by_text("dL/da (back-propagated)").click()
    wait(lambda: page.evaluate(HEATMAP_JS)["rows"] == 8, 15)
    assert page.evaluate(HEATMAP_JS)["rows"] == 8
    assert page.locator(EXCEPTION).count() == 0
    page.close()


def test_home_renders(app_url, browser):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(app_url + "/")
    page.get_by_text("the vanishing-gradient lab").wait_for(timeout=30_000)
    assert page.locator(EXCEPTION).count() == 0
    shot(page, "home")
    page.close()


def test_hostile_link_shows_a_warning(app_url, browser):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(app_url + "/explorer?epochs=abc&activation=%3Cimg%20src%3Dx%3E&preset=nope")
    page.get_by_text("This link had settings vgrad cannot use").wait_for(timeout=30_000)
    page.get_by_role("button", name="Train").wait_for(timeout=30_000)
    time.sleep(1.0)
    assert page.locator(EXCEPTION).count() == 0
    assert page.locator("img[src=x]").count() == 0
    shot(page, "explorer_bad_link")
    page.close()
