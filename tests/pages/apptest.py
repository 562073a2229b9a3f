"""Open a page with Streamlit's AppTest, and rerun it until something shows."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

PAGES = Path(__file__).resolve().parents[2] / "pages"


def open_page(name: str, timeout: float = 60, **query) -> AppTest:
    """Run pages/NAME.py once with these query parameters; it must render without an exception."""
    at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=timeout)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    return at


def messages(at: AppTest, *kinds: str) -> list[str]:
    """The texts of the page's alerts of these kinds (default: error, warning, info)."""
    return [m.value for kind in (kinds or ("error", "warning", "info")) for m in at.get(kind)]


def rerun_until(at: AppTest, done, timeout: float, what: str) -> None:
    """Rerun (AppTest does not advance run_every fragments) until `done()`; fail naming `what` and the alerts."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, at.exception
        if done():
            return
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}; the page said {messages(at)}")


def unfold(at: AppTest, *groups: str) -> AppTest:
    """Unfold these groups of the experiment sidebar (a folded group's fields are not drawn), as a click
    on their headers does, and rerun."""
    for group in groups:
        at.session_state[f"cfg.open.{group}"] = True
    return at.run()
