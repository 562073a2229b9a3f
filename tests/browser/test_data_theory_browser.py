"""Own data and theory in a real browser: upload a CSV with string class labels, train, see every class
on the decision boundary; the Theory page's phase diagram, moved by a click, and a measurement."""

from __future__ import annotations

import numpy as np
import pytest

from tests.browser.util import EXCEPTION, shot, wait

pytestmark = pytest.mark.browser

# Every Plotly figure: its trace types and the names of its scatter traces.
FIGURES_JS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(gd => ({
  types: (gd._fullData || []).map(t => t.type),
  names: (gd._fullData || []).filter(t => t.type === 'scatter' && t.mode === 'markers').map(t => t.name),
  title: (gd._fullLayout && gd._fullLayout.title && gd._fullLayout.title.text) || ''}))"""


def _csv(tmp_path) -> str:
    """Three blobs in 2-D, labelled by name: a table a person might bring."""
    rng = np.random.default_rng(7)
    lines = ["x,y,flower"]
    for name, (cx, cy) in {"rose": (-2, 0), "tulip": (2, 0), "daisy": (0, 3)}.items():
        for px, py in rng.normal([cx, cy], 0.6, size=(60, 2)):
            lines.append(f"{px:.3f},{py:.3f},{name}")
    path = tmp_path / "flowers.csv"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_upload_a_csv_with_string_labels_and_see_every_class(app_url, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1600, "height": 2600})
    page.goto(app_url + "/explorer?epochs=30&hidden_layers=3&activation=relu&initializer=he_normal"
                        "&learning_rate=0.02&standardize=true")
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Data", exact=True).click()  # the Data group starts folded
    sidebar.locator('[data-testid="stSelectbox"]').filter(has_text="dataset").click()
    page.get_by_role("option", name="csv: your own table").click()
    uploader = sidebar.locator('input[type="file"]')
    uploader.wait_for(state="attached", timeout=60_000)
    uploader.set_input_files(_csv(tmp_path))
    page.get_by_text("180 rows, 2 features").wait_for(timeout=30_000)  # the summary before training
    assert page.get_by_text("three classes").count() == 0 and page.get_by_text("3 classes").count() >= 1
    use = sidebar.get_by_role("button", name="Use this table")
    wait(lambda: use.is_enabled(), 60)
    use.click()
    page.get_by_text("Training on the uploaded table").wait_for(timeout=30_000)
    train = page.get_by_role("button", name="Train")
    wait(lambda: train.is_enabled(), 60)
    train.click()
    page.get_by_text("finished", exact=True).first.wait_for(timeout=120_000)
    found = wait(lambda: [f for f in page.evaluate(FIGURES_JS) if sorted(f["names"]) == ["daisy", "rose", "tulip"]],
                 30)
    assert found, page.evaluate(FIGURES_JS)
    assert "heatmap" in found[0]["types"] and "Predicted class" in found[0]["title"]
    assert page.locator(EXCEPTION).count() == 0
    assert "data_id=" in page.url  # the share link carries the table's hash
    shot(page, "explorer_uploaded_csv", full_page=True)


def test_theory_page_phase_diagram_click_and_measure(app_url, browser):
    page = browser.new_page(viewport={"width": 1600, "height": 1800})
    page.goto(app_url + "/theory?activation=tanh&sigma_w2=1.2&sigma_b2=0.05")
    page.get_by_text("Phase diagram of tanh").wait_for(timeout=60_000)
    assert page.get_by_text("ordered phase").count() >= 1
    plot = page.locator(".js-plotly-plot").first
    box = plot.bounding_box()
    # A click far right in the diagram (large sigma_w^2) moves the point into the chaotic phase.
    page.mouse.click(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.45)
    wait(lambda: page.get_by_text("chaotic phase").count() >= 1, 30)
    assert page.get_by_text("chaotic phase").count() >= 1, "a click on the diagram did not move the point"
    measure = page.get_by_role("button", name="Measure", exact=True)
    wait(lambda: measure.is_enabled(), 90)
    measure.click()
    page.get_by_text("Largest difference").wait_for(timeout=150_000)
    assert page.locator(EXCEPTION).count() == 0
    shot(page, "theory_page", full_page=True)
