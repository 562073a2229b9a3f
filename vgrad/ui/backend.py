"""The connection to the training service, shared by every page.

    client = connect()          # a BackendClient, or None while the service starts (a message is shown)

The service is started (or restarted, if it died) by vgrad.service.launcher.ensure_backend(),
which never blocks; this module only waits for its health check and says what is going on.
"""

from __future__ import annotations

import time

import streamlit as st

from vgrad.service.client import BackendClient, BackendError
from vgrad.service.launcher import backend_ready, ensure_backend

_FIRST_SEEN = "vgrad.backend_wait_since"
_WAS_READY = "vgrad.backend_was_ready"
_READY_AT = "vgrad.backend_ready_at"
# A health check this recent is trusted (saves a round trip to a busy service on every rerun);
# a service that dies is noticed by the next poll anyway.
READY_TRUST_SECONDS = 3.0


@st.cache_resource(show_spinner=False)
def _client_for(url: str) -> BackendClient:
    return BackendClient(url, timeout=10.0)


def get_client() -> BackendClient:
    """The cached client for the current backend URL (starting the backend if needed)."""
    return _client_for(ensure_backend())


def ready(client: BackendClient) -> bool:
    return backend_ready(client.base_url, timeout=1.0)


def connect(show: bool = True) -> BackendClient | None:
    """The client when the service answers its health check; else None and (if show) a message."""
    try:
        client = get_client()
    except Exception as exc:  # noqa: BLE001 (the launcher failing is a message, not a traceback)
        if show:
            st.error(f"Could not start the training service: {exc}")
        return None
    recent = time.monotonic() - st.session_state.get(_READY_AT, -1e9) < READY_TRUST_SECONDS
    if recent or ready(client):
        if not recent:
            st.session_state[_READY_AT] = time.monotonic()
        st.session_state[_WAS_READY] = True
        st.session_state.pop(_FIRST_SEEN, None)
        return client
    st.session_state.pop(_READY_AT, None)
    if show:
        since = st.session_state.setdefault(_FIRST_SEEN, time.monotonic())
        waited = time.monotonic() - since
        if st.session_state.get(_WAS_READY):
            st.warning("The training service stopped answering; it is being restarted. "
                       "Runs in progress were lost; start them again when it is back.", icon=":material/warning:")
        elif waited < 90:
            st.info(f"Starting the training service (TensorFlow loads once, in about 10 s)… "
                    f"{waited:.0f} s", icon=":material/hourglass_top:")
        else:
            st.error(f"The training service at {client.base_url} has not answered for {waited:.0f} s. "
                     "Check the terminal running Streamlit for its error output.")
    return None


def wait_panel(refresh: float = 1.0) -> None:
    """Re-check the backend every `refresh` seconds until it is up, then rerun the whole page."""

    @st.fragment(run_every=refresh)
    def _waiting() -> None:
        if connect(show=True) is not None:
            st.rerun()

    _waiting()


__all__ = ["BackendClient", "BackendError", "connect", "get_client", "ready", "wait_panel"]
