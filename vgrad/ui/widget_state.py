"""A cheaper look-up of a widget's own key, for Streamlit's value widgets (installed once per process).

Streamlit 1.67's number_input, selectbox, text_input, text_area, radio, slider and the time
widgets each ask "does my key hold None?" by building the whole session state as a dict
(`SessionState.filtered_state`): every key, with its value presented. A page of 35 such widgets in
a session of a few hundred keys spends about half its run there, on the one core all sessions
share. Here those modules' `get_session_state()` hands out the same state, whose `filtered_state`
answers `key in` and `[key]` directly and builds the full dict only when iterated.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any

from streamlit.runtime.state import session_state_proxy

# The modules that read `get_session_state().filtered_state` only to look up their own key.
MODULES = ("number_input", "selectbox", "text_widgets", "radio", "slider", "time_widgets")
_INTERNAL = "$$STREAMLIT_INTERNAL_KEY"


def _shown(key: object) -> bool:
    """A key filtered_state holds (Streamlit's internal keys are left out of it)."""
    return isinstance(key, str) and not key.startswith(_INTERNAL)


class _KeyView(Mapping):
    """filtered_state's answers for one key, without building it."""

    def __init__(self, safe: Any) -> None:
        self._safe = safe

    def __contains__(self, key: object) -> bool:
        if not _shown(key):
            return False
        with self._safe._lock:
            return key in self._safe._state

    def __getitem__(self, key: str) -> Any:
        if not _shown(key):
            raise KeyError(key)
        with self._safe._lock:
            return self._safe._state[key]

    def _full(self) -> dict[str, Any]:
        return self._safe.filtered_state

    def __iter__(self) -> Iterator[str]:
        return iter(self._full())

    def __len__(self) -> int:
        return len(self._full())


class _State:
    """The session's SafeSessionState, but for `filtered_state`."""

    def __init__(self, safe: Any) -> None:
        self._safe = safe

    @property
    def filtered_state(self) -> Mapping[str, Any]:
        return _KeyView(self._safe)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._safe, name)


def _get_session_state() -> Any:
    return _State(session_state_proxy.get_session_state())


def install() -> list[str]:
    """Point the value widgets at the cheaper look-up; the names of the modules that use it (idempotent)."""
    done = []
    for name in MODULES:
        try:
            module = importlib.import_module(f"streamlit.elements.widgets.{name}")
        except ImportError:
            continue
        if getattr(module, "get_session_state", None) in (session_state_proxy.get_session_state, _get_session_state):
            module.get_session_state = _get_session_state
            done.append(name)
    return done
