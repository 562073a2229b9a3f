"""Gradient flow: per-layer gradient norm at one step as bars on a log axis.

    fig = gradient_flow(run.steps[-1], run.layers)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from vgrad.charts._common import (
    GRAD_SCALE,
    base_layout,
    empty_figure,
    fmt_sci,
    layer_labels,
    log_ticks,
    safe_log10,
    stat_label,
)
from vgrad.records import Layer, StepRecord
from vgrad.run import attenuation
from vgrad.text import MISSING


def ratio_text(per_layer: Sequence[float | None]) -> str:
    """'first/last = 3.2e-05<br>4.5 orders of magnitude smaller at the input' style summary."""
    a = attenuation(per_layer)
    if a is None or math.isnan(a.orders):
        return f"first/last: {MISSING}"
    if math.isinf(a.orders):
        return "first layer's gradient is exactly 0"
    way = "smaller" if a.orders >= 0 else "larger"
    return f"first/last = {fmt_sci(a.ratio)}<br>{abs(a.orders):.1f} orders of magnitude {way} at the input"


def gradient_flow(step: StepRecord | None, layers: Sequence[Layer], stat: str = "grad_norm", *,
                  height: int = 340) -> go.Figure:
    """Bars, input layer on the left, of `stat` at one step record, on a log y axis."""
    label = stat_label(stat)
    if step is None or not layers:
        return empty_figure("gradient flow: no steps yet", height)
    raw = step.stat(stat)
    labels = layer_labels(layers)
    pairs = [(lab, float(v)) for lab, v in zip(labels, raw, strict=False)
             if isinstance(v, int | float) and math.isfinite(v) and v > 0]
    if not pairs:
        return empty_figure(f"gradient flow: no positive {label} at this step", height)
    names = [p[0] for p in pairs]
    vals = np.array([p[1] for p in pairs])
    logs = safe_log10(vals)
    fig = go.Figure(go.Bar(
        x=names, y=vals, marker=dict(color=logs, colorscale=GRAD_SCALE, line=dict(width=0)),
        hovertemplate="%{x}<br>" + label + " = %{y:.3e}<extra></extra>",
    ))
    lo, hi = float(np.min(logs)), float(np.max(logs))
    tickvals, ticktext = log_ticks(lo - 0.5, hi + 0.3)
    fig.update_yaxes(type="log", title_text=f"{label} (log)", tickvals=[10.0 ** t for t in tickvals],
                     ticktext=ticktext, range=[lo - 0.5, hi + 0.3])
    fig.update_xaxes(title_text="layer (input → output)", tickangle=-30)
    fig.add_annotation(text=ratio_text([v for v in raw if isinstance(v, int | float)]), xref="paper",
                       yref="paper", x=0, y=1.0, xanchor="left", yanchor="bottom", showarrow=False,
                       align="left", font=dict(size=14))
    base_layout(fig, f"Gradient flow at step {step.step}", height)
    fig.update_layout(margin=dict(t=95), title=dict(y=0.97, yanchor="top"))
    return fig
