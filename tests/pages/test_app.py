"""app.py: navigation over every page; each page renders without an exception."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["pages/home.py", "pages/explorer.py", "pages/compare.py", "pages/recurrent.py", "pages/lessons.py",
         "pages/theory.py", "pages/sweep.py", "pages/runs.py", "pages/classroom.py"]


@pytest.fixture
def app(backend) -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()


def test_home_is_the_default_page(app):
    assert not app.exception
    assert "vanishing-gradient" in app.title[0].value
    pages = [p.proto.page for p in app.get("page_link")]  # Explorer, ..., Theory, Sweep, Runs, Class
    assert len(pages) == 8 and "sweep" in pages, pages


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders(app, page):
    assert (ROOT / page).exists()
    app.switch_page(page).run()
    assert not app.exception, f"{page}: {app.exception}"
    assert app.title, f"{page} has no title"


def test_switching_back_to_the_explorer_keeps_the_experiment(app):
    app.switch_page("pages/explorer.py").run()
    app.number_input(key="cfg.hidden_layers").set_value(5).run()
    app.switch_page("pages/home.py").run()
    app.switch_page("pages/explorer.py").run()
    assert not app.exception
    assert app.number_input(key="cfg.hidden_layers").value == 5
