"""Draw Plotly charts, rebuilding a figure only when what it shows has changed.

    figures.chart("explorer_heatmap", token, lambda: charts.gradient_heatmap(...))

Building a figure (Plotly validates every property) costs 10-35 ms, and st.plotly_chart turns it into
a dict again on every call (a deep copy); a page draws ten, and reruns on every navigation and every
live poll. `token` names the figure's inputs (run id, record counts, options); while it is unchanged
the session's last figure for `key`, frozen as a dict, is drawn again.

A token that holds a `Content` (run_token's first part: a digest of everything the run holds) names
what is drawn exactly, whoever draws it: such figures are also kept for every session of this process
(SHARED of them, least recently used dropped). A class that trains the same preset with the same seed
gets equal runs, so the server builds each of their charts once instead of once per student.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import plotly.graph_objects as go
import plotly.io
import streamlit as st

from vgrad.run import LISTS

_CACHE = "vgrad.figures"
SHARED = 300  # figures kept for every session (a frozen figure is a few to a few hundred kB)
_shared: OrderedDict[tuple, Any] = OrderedDict()
_shared_lock = threading.Lock()


class Content(str):
    """A run's content_id in a token: the token then names its figure for any session."""


class _FrozenDict(dict):
    """A frozen figure's dict, with its JSON once made (`json`)."""

    json: str | None = None


class Frozen(go.Figure):
    """A built figure whose dict and JSON are made once. st.plotly_chart calls to_dict() (a deep copy,
    numpy arrays encoded again) and plotly.io.to_json of that dict on every rerun: most of a chart's
    cost on a live page."""

    def __init__(self, fig: go.Figure):
        super().__init__()
        self._frozen = _FrozenDict(fig.to_dict())

    def to_dict(self) -> dict:  # what st.plotly_chart serialises; never modified by it
        return self._frozen


def _to_json(fig: Any, *args: Any, **kwargs: Any) -> str:
    """plotly.io.to_json, but a frozen figure's dict (st.plotly_chart's call) is encoded once."""
    if type(fig) is _FrozenDict and not args and kwargs == {"validate": False}:
        if fig.json is None:
            fig.json = _plotly_to_json(fig, validate=False)
        return fig.json
    return _plotly_to_json(fig, *args, **kwargs)


_plotly_to_json = getattr(plotly.io.to_json, "_vgrad_original", plotly.io.to_json)
_to_json._vgrad_original = _plotly_to_json
plotly.io.to_json = _to_json  # looked up by st.plotly_chart at each call; other figures are untouched


def figure(key: str, token: Hashable, build: Callable[[], Any]) -> Any:
    """The figure for `key`: the cached one when built from the same `token`, else `build()`."""
    cache = st.session_state.setdefault(_CACHE, {})
    hit = cache.get(key)
    if hit is not None and hit[0] == token:
        return hit[1]
    shared = _is_shared(token)
    if shared:
        with _shared_lock:
            fig = _shared.get((key, token))
            if fig is not None:
                _shared.move_to_end((key, token))
        if fig is not None:
            cache[key] = (token, fig)
            return fig
    fig = build()
    cache[key] = (token, fig)
    if shared:
        with _shared_lock:
            _shared[(key, token)] = fig
            while len(_shared) > SHARED:
                _shared.popitem(last=False)
    return fig


def _is_shared(token: Hashable) -> bool:
    return isinstance(token, Content) or (isinstance(token, tuple) and any(_is_shared(t) for t in token))


def forget_shared() -> None:
    """Drop the figures kept for every session (tests)."""
    with _shared_lock:
        _shared.clear()


def cached(key: str, token: Hashable, build: Callable[[], Any]) -> Any:
    """Any value computed from a run, kept in the session while `token` is unchanged."""
    return figure(key, token, build)


def chart(key: str, token: Hashable, build: Callable[[], go.Figure]) -> None:
    """st.plotly_chart of `figure(key, token, build)` (frozen: its dict made once), full width, with `key`
    as its element key."""
    st.plotly_chart(figure(key, token, lambda: Frozen(build())), key=key, width="stretch")


def run_token(job_id: str, run) -> tuple:
    """What a run's charts depend on: its content (content_token) and how many records of each kind
    it has."""
    return (content_token(job_id, run), len(run.steps), len(run.epochs), len(run.snapshots),
            len(run.boundaries), run.status, run.data is not None)


def content_token(fallback: Hashable, run, steps: int | None = None, lists: Sequence[str] = LISTS
                  ) -> Hashable:
    """The run's Content (Run.content_id's `steps` and `lists`); `fallback` (a job's id, a saved run's
    id) when the run has none."""
    content = run.content_id(steps, lists)
    return fallback if content is None else Content(content)
