"""Draw Plotly charts, rebuilding a figure only when what it shows has changed.

    figures.chart("explorer_heatmap", token, lambda: charts.gradient_heatmap(...))

Building a figure (Plotly validates every property) costs 10-35 ms, and st.plotly_chart turns it into
a dict again on every call (a deep copy); a page draws ten, and reruns on every navigation and every
live poll. `token` names the figure's inputs (run id, record counts, options); while it is unchanged
the session's last figure for `key`, frozen as a dict, is drawn again.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import plotly.graph_objects as go
import streamlit as st

_CACHE = "vgrad.figures"


class Frozen(go.Figure):
    """A built figure whose dict is made once. st.plotly_chart calls to_dict() on every rerun, and that
    (a deep copy, numpy arrays encoded again) is most of a chart's cost on a live page."""

    def __init__(self, fig: go.Figure):
        super().__init__()
        self._frozen = fig.to_dict()

    def to_dict(self) -> dict:  # what st.plotly_chart serialises; never modified by it
        return self._frozen


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
    """st.plotly_chart of `figure(key, token, build)` (frozen: its dict made once), full width, with `key`
    as its element key."""
    st.plotly_chart(figure(key, token, lambda: Frozen(build())), key=key, width="stretch")


def run_token(job_id: str, run) -> tuple:
    """What a run's charts depend on: its id and how many records of each kind it has."""
    return (job_id, len(run.steps), len(run.epochs), len(run.snapshots), len(run.boundaries), run.status,
            run.data is not None)
