"""Layer x step heatmap of a gradient statistic on a log colour scale.

    fig = gradient_heatmap(run.steps, run.layers, stat="grad_norm")

Rows are layers, the input layer at the bottom; columns are steps. At most `max_columns`
columns are drawn: the most recent steps at full resolution, older steps merged into groups
(geometric mean), so a figure stays a few tens of kilobytes however long the run.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from vgrad.charts._common import (
    GRAD_SCALE,
    MAX_COLUMNS,
    RECENT_COLUMNS,
    base_layout,
    bin_columns,
    empty_figure,
    finite_range,
    layer_labels,
    log_ticks,
    safe_log10,
    stat_label,
    stat_matrix,
)
from vgrad.records import Layer, StepRecord


def log_stat_grid(steps: Sequence[StepRecord], layers: Sequence[Layer], stat: str = "grad_norm",
                  max_columns: int = MAX_COLUMNS, recent: int = RECENT_COLUMNS
                  ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(x: step of each column, z: log10 values [layer, column], row labels), input layer first.

    Rows whose values are all missing (e.g. dL/da of the output layer) are dropped.
    """
    x, values = stat_matrix(steps, stat, len(layers))
    z = safe_log10(values)
    x, z = bin_columns(x, z, max_columns, recent)
    labels = layer_labels(layers)
    keep = [i for i in range(z.shape[0]) if np.isfinite(z[i]).any()] if z.size else list(range(len(labels)))
    return x, z[keep] if z.size else z, [labels[i] for i in keep]


def log_range(runs_steps: Sequence[Sequence[StepRecord]], stat: str = "grad_norm") -> tuple[float, float] | None:
    """Shared (zmin, zmax) in log10 units over several runs' step records, for panels on one scale."""
    grids = []
    for steps in runs_steps:
        if steps:
            _, values = stat_matrix(steps, stat)
            grids.append(safe_log10(values))
    return finite_range(*grids)


def gradient_heatmap(steps: Sequence[StepRecord], layers: Sequence[Layer], stat: str = "grad_norm", *,
                     zmin: float | None = None, zmax: float | None = None,
                     max_columns: int = MAX_COLUMNS, recent: int = RECENT_COLUMNS,
                     title: str | None = None, height: int | None = None) -> go.Figure:
    """The layer x step heatmap of log10(stat).

    stat: "grad_norm" (weight gradient dL/dW) or "act_grad_rms" (back-propagated dL/da), or
        any per-layer statistic of a step record.
    zmin, zmax: colour range in log10 units (orders of magnitude), to share one scale
        between panels; default: this run's range.
    """
    label = stat_label(stat)
    if not steps or not layers:
        return empty_figure(f"{label}: no steps yet")
    x, z, labels = log_stat_grid(steps, layers, stat, max_columns, recent)
    z = z.astype(np.float32)  # as sent to the browser; the colour range is taken from the same numbers
    rng = finite_range(z)
    if rng is None:
        return empty_figure(f"{label}: no finite values")
    lo = rng[0] if zmin is None else zmin
    hi = rng[1] if zmax is None else zmax
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    tickvals, ticktext = log_ticks(lo, hi)
    fig = go.Figure(go.Heatmap(
        x=np.round(x, 2), y=labels, z=z, zmin=lo, zmax=hi, colorscale=GRAD_SCALE,
        colorbar=dict(title=dict(text=f"{label}<br>(log scale)", side="top"), tickvals=tickvals,
                      ticktext=ticktext, thickness=18),
        hovertemplate="%{y}<br>step %{x:.0f}<br>" + label + " = 10^%{z:.2f}<extra></extra>",
        hoverongaps=False, xgap=0, ygap=1,
    ))
    fig.update_xaxes(title_text="training step")
    fig.update_yaxes(title_text="layer (input at bottom)", type="category", automargin=True)
    n_rows = len(labels)
    return base_layout(fig, title if title is not None else f"{label} per layer over training",
                       height=height or max(320, min(720, 90 + 26 * n_rows)))
