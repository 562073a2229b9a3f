"""A training service for the UI tests: the shared `backend_url` fixture of tests/conftest.py when
it exists, otherwise one started here (a real `python -m vgrad.service` on a free port)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def ui_backend_url(request) -> str:
    try:
        shared = request.getfixturevalue("backend_url")
    except pytest.FixtureLookupError:
        shared = None
    if shared:
        yield shared
        return
    from vgrad.service.launcher import _stop, free_port, start_backend, wait_ready

    port = free_port()
    proc = start_backend(port)
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_ready(url, timeout=120):
            pytest.fail(f"the training service on port {port} did not become ready")
        yield url
    finally:
        _stop(proc)
