"""Activation health per layer over time: saturated fraction (sigmoid/tanh/softsign) or dead
fraction (ReLU family), whichever the layer reports.

    fig = activation_health(run.steps, run.layers)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from vgrad.charts._common import (
    MAX_COLUMNS,
    RECENT_COLUMNS,
    SAT_SCALE,
    base_layout,
    bin_columns,
    empty_figure,
    layer_labels,
    stat_matrix,
)
from vgrad.records import Layer, StepRecord


def health_grid(steps: Sequence[StepRecord], layers: Sequence[Layer], max_columns: int = MAX_COLUMNS,
                recent: int = RECENT_COLUMNS) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(x, fraction[layer, column], row labels) merging act_saturated and act_dead per layer."""
    n = len(layers)
    x, sat = stat_matrix(steps, "act_saturated", n)
    _, dead = stat_matrix(steps, "act_dead", n)
    labels = layer_labels(layers)
    rows, names = [], []
    for i in range(n):
        if np.isfinite(dead[i]).any():
            rows.append(dead[i])
            names.append(f"{labels[i]} dead")
        elif np.isfinite(sat[i]).any():
            rows.append(sat[i])
            names.append(f"{labels[i]} saturated")
    if not rows:
        return x, np.zeros((0, len(x))), []
    z = np.vstack(rows)
    x, z = bin_columns(x, z, max_columns, recent)
    return x, z, names


def activation_health(steps: Sequence[StepRecord], layers: Sequence[Layer], *, height: int | None = None,
                      max_columns: int = MAX_COLUMNS) -> go.Figure:
    """Heatmap (input layer at the bottom) of the fraction of units that pass (almost) no gradient."""
    if not steps or not layers:
        return empty_figure("activations: no steps yet", height or 320)
    x, z, names = health_grid(steps, layers, max_columns)
    if not names:
        return empty_figure("activations: these layers report neither saturation nor dead units",
                            height or 320)
    fig = go.Figure(go.Heatmap(
        x=np.round(x, 2), y=names, z=z.astype(np.float32), zmin=0, zmax=1, colorscale=SAT_SCALE,
        colorbar=dict(title=dict(text="fraction", side="top"), tickformat=".0%", thickness=18),
        hovertemplate="%{y}<br>step %{x:.0f}<br>%{z:.0%} of units<extra></extra>", ygap=1,
    ))
    fig.update_xaxes(title_text="training step")
    fig.update_yaxes(type="category", automargin=True, title_text="layer (input at bottom)")
    return base_layout(fig, "Saturated / dead units per layer",
                       height or max(300, min(640, 90 + 24 * len(names))))
