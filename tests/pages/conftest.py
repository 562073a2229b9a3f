"""Fixtures of the page tests (Streamlit AppTest)."""

from __future__ import annotations

import pytest


@pytest.fixture
def backend(backend_url, monkeypatch):
    """The session's real training service, as the pages find it (VGRAD_BACKEND_URL)."""
    monkeypatch.setenv("VGRAD_BACKEND_URL", backend_url)
    return backend_url

