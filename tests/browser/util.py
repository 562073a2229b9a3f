"""Shared pieces of the browser tests: Debian's chromium, screenshots, polling."""

from __future__ import annotations

from pathlib import Path

from tests.service.helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
EXCEPTION = '[data-testid="stException"]'


def shot(page, name: str, full_page: bool = False) -> None:
    """Save a screenshot to artifacts/screenshots/NAME.png."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def wait(predicate, timeout: float, step: float = 0.25):
    """Poll `predicate` until it returns something truthy or `timeout` passes; its last value."""
    try:
        return wait_for(predicate, timeout, step)
    except AssertionError:  # timed out: the caller asserts on the value itself
        return predicate()
