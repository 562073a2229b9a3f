"""The Explorer in a real browser: Debian's chromium driven by Playwright (never `playwright install`).

Starts `streamlit run app.py` on a free port against a real training service, opens a shared
link, trains, and checks that the heatmap fills in and grows. Screenshots go to
artifacts/screenshots/.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.ui_backend import ui_backend_url  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
EXCEPTION = '[data-testid="stException"]'

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(ui_backend_url):  # noqa: F811
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("chromium is not installed (make chromium)")
    port = _free_port()
    env = dict(os.environ, VGRAD_BACKEND_URL=ui_backend_url)
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
           "--server.headless", "true", "--server.fileWatcherType", "none",
           "--browser.gatherUsageStats", "false"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(url + "/_stcore/health", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.3)
        else:
            pytest.fail("streamlit did not start")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _wait(predicate, timeout: float, step: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


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
    _wait(lambda: train.is_enabled(), 90)
    assert train.is_enabled()
    _shot(page, "explorer_before_training")
    train.click()
    page.mouse.move(5, 5)

    first = _wait(lambda: (h := page.evaluate(HEATMAP_JS))["columns"] > 0 and h, 60)
    assert first and first["columns"] > 0, "the heatmap never got data"
    assert first["rows"] == 9
    later = _wait(lambda: (h := page.evaluate(HEATMAP_JS))["last"] > first["last"] and h, 45)
    assert later, f"the heatmap did not grow after {first}"
    assert later["columns"] <= 300
    assert page.locator(EXCEPTION).count() == 0
    time.sleep(1.0)
    _shot(page, "explorer_training")

    stop = page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Stop")
    if stop.is_enabled():  # a fast machine may have finished all 6,000 steps already
        stop.click()
    ended = _wait(lambda: page.get_by_text("cancelled", exact=True).count()
                  or page.get_by_text("finished", exact=True).count(), 30)
    assert ended, "the run did not end after Stop"
    page.mouse.move(5, 5)
    time.sleep(1.0)
    assert page.locator(EXCEPTION).count() == 0
    _shot(page, "explorer_ended")

    # The dL/da switch redraws the heatmap without the output row.
    page.get_by_text("dL/da (back-propagated)").click()
    _wait(lambda: page.evaluate(HEATMAP_JS)["rows"] == 8, 15)
    assert page.evaluate(HEATMAP_JS)["rows"] == 8
    assert page.locator(EXCEPTION).count() == 0
    page.close()


def test_home_renders(app_url, browser):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(app_url + "/")
    page.get_by_text("the vanishing-gradient lab").wait_for(timeout=30_000)
    assert page.locator(EXCEPTION).count() == 0
    _shot(page, "home")
    page.close()


def test_hostile_link_shows_a_warning(app_url, browser):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(app_url + "/explorer?epochs=abc&activation=%3Cimg%20src%3Dx%3E&preset=nope")
    page.get_by_text("This link had settings vgrad cannot use").wait_for(timeout=30_000)
    page.get_by_role("button", name="Train").wait_for(timeout=30_000)
    time.sleep(1.0)
    assert page.locator(EXCEPTION).count() == 0
    assert page.locator("img[src=x]").count() == 0
    _shot(page, "explorer_bad_link")
    page.close()
