"""Draw Plotly charts, rebuilding a figure only when what it shows has changed.

    figures.chart("explorer_heatmap", token, lambda: charts.gradient_heatmap(...))

Building a figure (Plotly validates every property) costs 10-35 ms; a page draws six, and reruns
on every navigation and every live poll. `token` names the figure's inputs (run id, record
counts, options); while it is unchanged the session's last figure for `key` is drawn again.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import plotly.graph_objects as go
import streamlit as st

_CACHE = "vgrad.figures"


def figure(key: str, token: Hashable, build: Callable[[], Any]) -> Any:
    """The figure for `key`: the cached one when built from the same `token`, else `build()`."""
    cache = st.session_state.setdefault(_CACHE, {})
    hit = cache.get(key)
    if hit is not None and hit[0] == token:
        return hit[1]
    fig = build()
    cache[key] = (token, fig)
    return fig


def cached(key: str, token: Hashable, build: Callable[[], Any]) -> Any:
    """Any value computed from a run, kept in the session while `token` is unchanged."""
    return figure(key, token, build)


def chart(key: str, token: Hashable, build: Callable[[], go.Figure]) -> None:
    """st.plotly_chart of `figure(key, token, build)`, full width, with `key` as its element key."""
    st.plotly_chart(figure(key, token, build), key=key, width="stretch")


def run_token(job_id: str, run) -> tuple:
    """What a run's charts depend on: its id and how many records of each kind it has."""
    return (job_id, len(run.steps), len(run.epochs), len(run.snapshots), len(run.boundaries), run.status,
            run.data is not None)
