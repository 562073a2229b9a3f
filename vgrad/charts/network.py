"""The network as TensorFlow Playground draws it: neurons as nodes, weights as edges coloured and sized
by |dL/dW| of the latest kept step (a log scale), input on the left.

    fig = network_diagram(run.snapshots, run.layers, run.steps[-1])

A layer wider than MAX_UNITS units (or an input wider than that) is drawn as a band whose colour is
that layer's ‖dL/dW‖ from the step record, so a big net stays readable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.colors
import plotly.graph_objects as go

from vgrad.charts._common import GRAD_SCALE, MUTED, base_layout, empty_figure, layer_labels, pow10_label
from vgrad.records import Layer, SnapshotRecord, StepRecord

MAX_UNITS = 16
BINS = 8  # edge colours: one Plotly trace per bin keeps a few hundred edges fast


def latest_snapshots(snapshots: Sequence[SnapshotRecord]) -> dict[int, SnapshotRecord]:
    """Layer index -> its latest snapshot record."""
    out: dict[int, SnapshotRecord] = {}
    for s in snapshots:
        if s.layer_index not in out or s.step >= out[s.layer_index].step:
            out[s.layer_index] = s
    return out


def network_diagram(snapshots: Sequence[SnapshotRecord], layers: Sequence[Layer], step: StepRecord | None = None,
                    *, height: int = 340, max_units: int = MAX_UNITS) -> go.Figure:
    if not layers:
        return empty_figure("network: waiting for the run to start", height)
    latest = latest_snapshots(snapshots)
    widths = [layers[0].fan_in] + [layer.units for layer in layers]
    names = ["input"] + layer_labels(layers)
    x = np.arange(len(widths), dtype=float)
    # Every |dL/dW| entry that will be drawn, for one shared log colour range.
    logs = []
    for i, layer in enumerate(layers):
        snap = latest.get(layer.index)
        if snap is not None and _drawn(widths[i], widths[i + 1], max_units):
            g = np.abs(np.asarray(snap.grad, dtype=float))
            logs.append(np.log10(g[g > 0]))
    grads = [] if step is None else [v for v in step.grad_norm if v]
    logs.append(np.log10(np.array([v for v in grads if v > 0], dtype=float)))
    every = np.concatenate([a for a in logs if a.size]) if any(a.size for a in logs) else np.zeros(0)
    if not every.size:
        return empty_figure("network: the gradient arrives with the first step", height)
    lo, hi = float(np.percentile(every, 2)), float(np.max(every))
    if hi - lo < 0.5:
        lo, hi = lo - 0.25, hi + 0.25
    fig = go.Figure()
    edges: dict[int, tuple[list, list]] = {}
    for i, layer in enumerate(layers):
        a, b = widths[i], widths[i + 1]
        snap = latest.get(layer.index)
        if snap is None or not _drawn(a, b, max_units):
            value = step.grad_norm[i] if step is not None and i < len(step.grad_norm) else None
            _band(fig, x[i], x[i + 1], value, lo, hi, names[i + 1])
            continue
        g = np.abs(np.asarray(snap.grad, dtype=float)).reshape(a, b)
        ya, yb = _positions(a), _positions(b)
        with np.errstate(divide="ignore"):
            level = np.clip((np.log10(g) - lo) / (hi - lo), 0, 1)
        level[~np.isfinite(level)] = 0
        for p in range(a):
            for q in range(b):
                k = min(BINS - 1, int(level[p, q] * BINS))
                xs, ys = edges.setdefault(k, ([], []))
                xs += [x[i], x[i + 1], None]
                ys += [ya[p], yb[q], None]
    for k, (xs, ys) in sorted(edges.items()):
        t = (k + 0.5) / BINS
        fig.add_trace(go.Scattergl(x=xs, y=ys, mode="lines", hoverinfo="skip", showlegend=False,
                                   line=dict(color=_colour(t), width=0.6 + 3.4 * t)))
    for i, w in enumerate(widths):
        if w <= max_units:
            ys = _positions(w)
            fig.add_trace(go.Scatter(x=[x[i]] * w, y=ys, mode="markers", showlegend=False,
                                     marker=dict(size=11, color="white", line=dict(color=MUTED, width=2)),
                                     hovertemplate=f"{names[i]}<br>unit %{{pointNumber}}<extra></extra>"))
    # A colour bar for the edges: an invisible trace carrying the scale.
    ticks = list(range(math.ceil(lo), math.floor(hi) + 1)) or [round(lo)]
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
                             marker=dict(colorscale=GRAD_SCALE, cmin=lo, cmax=hi, color=[lo], showscale=True,
                                         colorbar=dict(title=dict(text="|dL/dW|", side="top"), thickness=14,
                                                       tickvals=ticks, ticktext=[pow10_label(t) for t in ticks]))))
    fig.update_xaxes(tickvals=list(x), ticktext=[n.split(" (")[0] for n in names], showgrid=False, zeroline=False,
                     range=[-0.4, len(widths) - 0.6], tickangle=-30)
    fig.update_yaxes(visible=False, range=[-0.6, 0.6])
    when = max((s.step for s in latest.values()), default=None)
    title = "The network: |dL/dW| per weight" + (f" at step {when}" if when is not None else "")
    return base_layout(fig, title, height)


def _drawn(fan_in: int, units: int, max_units: int) -> bool:
    return fan_in <= max_units and units <= max_units


def _positions(n: int) -> np.ndarray:
    """Node heights of a layer of n units, centred, spread over at most [-0.5, 0.5]."""
    if n == 1:
        return np.zeros(1)
    span = min(1.0, 0.07 * (n - 1))
    return np.linspace(span / 2, -span / 2, n)


def _colour(t: float) -> str:
    return plotly.colors.sample_colorscale(GRAD_SCALE, [t])[0]


def _band(fig: go.Figure, x0: float, x1: float, value: float | None, lo: float, hi: float, name: str) -> None:
    """A wide layer: one band coloured by the layer's gradient norm."""
    if value is None or not value > 0:
        colour, text = MUTED, "no gradient"
    else:
        colour = _colour(float(np.clip((math.log10(value) - lo) / (hi - lo), 0, 1)))
        text = f"‖dL/dW‖ = {value:.3g}"
    fig.add_trace(go.Scatter(x=[x0, x1, x1, x0, x0], y=[-0.35, -0.35, 0.35, 0.35, -0.35], fill="toself",
                             fillcolor=colour, line=dict(width=0), mode="lines", showlegend=False, opacity=0.8,
                             hovertemplate=f"{name}<br>{text}<extra></extra>"))
