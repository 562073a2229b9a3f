"""Once per Streamlit server process: settle its long-lived objects out of the garbage collector's way.

Streamlit keeps every session in one Python process. After start-up it holds a few hundred
thousand long-lived objects (modules, Plotly's validators); each full collection walked them all
while holding the GIL, stalling every session. `gc.freeze()` moves them to a permanent generation,
so collections only scan what sessions create.
"""

from __future__ import annotations

import gc
import threading

_LOCK = threading.Lock()
_DONE = {"frozen": False}


def settle() -> None:
    """Load the chart stack and freeze what exists; later calls do nothing."""
    if _DONE["frozen"]:
        return
    with _LOCK:
        if _DONE["frozen"]:
            return
        import plotly.graph_objects as go

        import vgrad.charts  # noqa: F401 - loaded now, so its objects are frozen too

        go.Figure(go.Scatter(x=[0], y=[0])).to_json()  # builds Plotly's lazily created validators
        gc.collect()
        gc.freeze()
        _DONE["frozen"] = True


def warm_in_background(timeout: float = 60.0) -> threading.Thread:
    """Once Streamlit's runtime exists, import every vgrad.ui module and settle(), on a thread of its own:
    the server answers meanwhile, and the first visitors' page runs do not each wait for the imports
    (about 2 s on two cores) while holding a turn (vgrad.ui.turns)."""

    def warm() -> None:
        import importlib
        import pkgutil
        import time

        from streamlit import runtime

        deadline = time.monotonic() + timeout
        while not runtime.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        import vgrad.ui

        for module in pkgutil.iter_modules(vgrad.ui.__path__):
            importlib.import_module(f"vgrad.ui.{module.name}")
        settle()

    thread = threading.Thread(target=warm, name="vgrad-warm", daemon=True)
    thread.start()
    return thread


def use_app_navigation() -> None:
    """Make Streamlit run app.py (st.navigation) rather than a pages/ file on its own.

    Every page calls this first. Streamlit keeps a process-wide flag, set at start when a pages/
    folder sits next to the main script, that runs a requested pages/ file directly (the legacy
    multipage mode, without app.py: no wide layout, file-name navigation) until some run has
    called st.navigation. The first visitor of a fresh server who opens a shared link such as
    /explorer?... would get that mode. Clearing the flag and rerunning sends that run through app.py.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        import streamlit as st
        from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

        if get_script_run_ctx() is not None:
            st.rerun()
