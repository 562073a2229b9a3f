"""backend.connect: when a page trusts the training service without asking it again."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from vgrad.service.client import BackendClient
from vgrad.ui import backend


def _page() -> None:
    import streamlit as st

    from vgrad.ui import backend

    client = backend.get_client()
    if st.session_state.get("submit"):
        client.submit({"preset": "deep-sigmoid"}, "someone")
    st.session_state["connected"] = backend.connect(show=True) is not None


def test_an_answered_submit_counts_as_a_health_check(monkeypatch):
    # The health check fails (a service busy starting the run it was just given answers it late or oddly);
    # the page that has just had its run accepted must not call the service gone and grey out Stop.
    client = backend._PageClient("http://127.0.0.1:9", token="t")
    monkeypatch.setattr(backend, "get_client", lambda: client)
    monkeypatch.setattr(backend, "backend_status", lambda *a, **k: "down")
    monkeypatch.setattr(BackendClient, "_call", lambda self, method, path, **kw: {"id": "j1", "path": path})

    at = AppTest.from_function(_page, default_timeout=30)
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["connected"] is False  # never answered: not trusted, and the page says so
    assert any("Starting the training service" in m.value for m in at.info)

    at.session_state["submit"] = True
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["connected"] is True
    assert not at.info and not at.warning and not at.error


def test_a_health_answer_alone_does_not_count(monkeypatch):
    # GET /health answers while TensorFlow still loads: that is not "ready"
    client = backend._PageClient("http://127.0.0.1:9", token="t")
    monkeypatch.setattr(backend, "get_client", lambda: client)
    monkeypatch.setattr(backend, "backend_status", lambda *a, **k: "starting")
    monkeypatch.setattr(BackendClient, "_call", lambda self, method, path, **kw: {"ok": True, "ready": False})

    def page() -> None:
        import streamlit as st

        from vgrad.ui import backend

        backend.get_client().health()
        st.session_state["connected"] = backend.connect(show=True) is not None

    at = AppTest.from_function(page, default_timeout=30)
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["connected"] is False


def test_a_request_that_finds_the_service_gone_makes_the_page_ask_again(monkeypatch):
    client = backend._PageClient("http://127.0.0.1:9", token="t")
    monkeypatch.setattr(backend, "get_client", lambda: client)
    state = {"health": "ready", "up": True}
    monkeypatch.setattr(backend, "backend_status", lambda *a, **k: state["health"])

    def call(self, method, path, **kw):
        if not state["up"]:
            raise backend.BackendError("the training service is not reachable", None)
        return {"id": "j1"}

    monkeypatch.setattr(BackendClient, "_call", call)

    def page() -> None:
        import streamlit as st

        from vgrad.ui import backend

        if st.session_state.get("poll"):
            try:
                backend.get_client().records("j1")
            except backend.BackendError:
                pass
        st.session_state["connected"] = backend.connect(show=True) is not None

    at = AppTest.from_function(page, default_timeout=30)
    at.run()
    assert at.session_state["connected"] is True  # ready, and trusted for a few seconds
    state.update(health="starting", up=False)  # killed; its replacement loads TensorFlow
    at.session_state["poll"] = True
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["connected"] is False  # asked again at once, not trusted
    assert any("TensorFlow is loading again" in m.value for m in at.info)
