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
