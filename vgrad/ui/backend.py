"""The connection to the training service, shared by every page.

    client = connect()          # a BackendClient, or None while the service starts (a message is shown)

The service is started by vgrad.service.launcher.ensure_backend(), which never blocks, and restarted
by the launcher's watchdog when it dies; this module only waits for its health check and says what
is going on. Every request carries the service token (launcher.service_token()).
"""

from __future__ import annotations

import time

import streamlit as st

from vgrad.service.client import BackendClient, BackendError
from vgrad.service.launcher import backend_status, ensure_backend, service_token
from vgrad.ui import turns, webserver

webserver.install()  # a page for links too long under a plain `streamlit run app.py` too

_FIRST_SEEN = "vgrad.backend_wait_since"
_WAS_READY = "vgrad.backend_was_ready"
_READY_AT = "vgrad.backend_ready_at"
# A health check (or any answer) this recent is trusted (saves a round trip to a busy service on every
# rerun); a service that dies is noticed by the next poll anyway.
READY_TRUST_SECONDS = 3.0
BUSY_TIMEOUT = 4.0


@st.cache_resource(show_spinner=False)
def _client_for(url: str, token: str) -> BackendClient:
    return _PageClient(url, timeout=10.0, token=token)


class _PageClient(BackendClient):
    """The pages' client: while a request waits for the service, the page run's turn goes to the next
    run (vgrad.ui.turns)."""

    def _call(self, method: str, path: str, **kwargs):
        try:
            with turns.waiting():
                out = super()._call(method, path, **kwargs)
        except BackendError as exc:
            if exc.status is None or exc.reason == "restarted":
                _answered(False)  # gone or restarted: the next connect() asks its health again
            raise
        if path.startswith(("/jobs", "/sweeps")) and (method == "POST" or path.endswith("/records")):
            _answered()  # a run was submitted, controlled or read: the service is up and warm
        return out


def _answered(ready: bool = True) -> None:
    """An answer from the service is as good as a health check: a page that just submitted a run to a
    service busy starting it must not grey out Stop because the next health check came late. A request
    that found it gone (or restarted) makes the next check ask again."""
    try:
        if ready:
            st.session_state[_READY_AT] = time.monotonic()
            st.session_state[_WAS_READY] = True
        else:
            st.session_state.pop(_READY_AT, None)
    except Exception:  # noqa: BLE001 (called outside a page run: nothing to remember)
        pass


def get_client() -> BackendClient:
    """The cached client for the current backend URL (starting the backend if needed)."""
    return _client_for(ensure_backend(), service_token())


def status(client: BackendClient, timeout: float = 1.0) -> str:
    """'ready', 'starting', 'unauthorized', 'busy' or 'down' (launcher.backend_status)."""
    with turns.waiting():
        return backend_status(client.base_url, timeout=timeout, token=service_token())


def ready(client: BackendClient) -> bool:
    return status(client) == "ready"


def wait_message(state: str, waited: float, was_ready: bool, url: str) -> tuple[str, str]:
    """(kind, sentence) for a page while the service is not usable; kind is info, warning or error."""
    if state == "unauthorized":
        return "error", (f"The training service at {url} refused vgrad's token. Set VGRAD_SERVICE_TOKEN to the "
                         "token it printed when it started (or start both with `python -m vgrad serve`).")
    if was_ready and state == "starting":
        return "info", "The training service restarted; TensorFlow is loading again (about 10 s)…"
    if was_ready:
        return "warning", "The training service stopped answering; waiting for it to come back (it restarts by itself)…"
    if waited < 90:
        return "info", f"Starting the training service (TensorFlow loads once, in about 10 s)… {waited:.0f} s"
    return "error", (f"The training service at {url} has not answered for {waited:.0f} s. "
                     "Check the terminal running Streamlit for its error output.")


def connect(show: bool = True) -> BackendClient | None:
    """The client when the service answers its health check; else None and (if show) a message."""
    try:
        client = get_client()
    except Exception as exc:  # noqa: BLE001 (the launcher failing is a message, not a traceback)
        if show:
            st.error(f"Could not start the training service: {exc}")
        return None
    recent = time.monotonic() - st.session_state.get(_READY_AT, -1e9) < READY_TRUST_SECONDS
    # A service that answered before gets longer: one starting a training on two busy cores can take a
    # second or two to answer, and calling it "stopped" would grey out Stop for nothing.
    state = "ready" if recent else status(client, BUSY_TIMEOUT if st.session_state.get(_WAS_READY) else 1.0)
    if state == "busy" and st.session_state.get(_WAS_READY):
        return client  # there, but slow to answer (starting a training): its own requests wait longer
    if state == "ready":
        if not recent:
            st.session_state[_READY_AT] = time.monotonic()
        st.session_state[_WAS_READY] = True
        st.session_state.pop(_FIRST_SEEN, None)
        return client
    st.session_state.pop(_READY_AT, None)
    if show:
        since = st.session_state.setdefault(_FIRST_SEEN, time.monotonic())
        kind, text = wait_message(state, time.monotonic() - since, bool(st.session_state.get(_WAS_READY)),
                                  client.base_url)
        icons = {"info": ":material/hourglass_top:", "warning": ":material/warning:", "error": ":material/error:"}
        getattr(st, kind)(text, icon=icons[kind])
    return None


def wait_panel(refresh: float = 1.0) -> None:
    """Re-check the backend every `refresh` seconds until it is up, then rerun the whole page."""

    @turns.fragment(run_every=refresh)
    def _waiting() -> None:
        if connect(show=True) is not None:
            st.rerun()

    _waiting()


__all__ = ["BackendClient", "BackendError", "connect", "get_client", "ready", "status", "wait_panel"]
