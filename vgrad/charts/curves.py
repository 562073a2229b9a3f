"""Loss and accuracy curves, train and validation.

    fig = loss_accuracy(run.epochs, run.steps)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from vgrad.charts._common import TRAIN, VAL, base_layout, downsample_line, empty_figure
from vgrad.records import EpochRecord, StepRecord


def _col(rows: Sequence[EpochRecord | StepRecord], key: str) -> list[float]:
    out = []
    for r in rows:
        v = getattr(r, key)
        out.append(float(v) if isinstance(v, int | float) and math.isfinite(v) else math.nan)
    return out


def loss_accuracy(epochs: Sequence[EpochRecord], steps: Sequence[StepRecord] = (), *,
                  height: int = 340) -> go.Figure:
    """Two panels: loss (per-step batch loss faint, per-epoch train/val) and accuracy (train/val), or R²
    for a regression run (its epochs have r2 instead of accuracy).

    The x axis is the training step, so the curves line up with the gradient heatmap.
    """
    if not epochs and not steps:
        return empty_figure("loss and accuracy: no steps yet", height)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08)
    if steps:
        x = np.array([s.step for s in steps], dtype=float)
        xs, ys = downsample_line(x, np.array(_col(steps, "loss")))
        fig.add_trace(go.Scatter(x=xs, y=ys, name="batch loss", mode="lines",
                                 line=dict(color=TRAIN, width=1), opacity=0.35,
                                 hovertemplate="step %{x:.0f}<br>batch loss %{y:.4f}<extra></extra>"), 1, 1)
    if epochs:
        ex = [e.step for e in epochs]
        epoch_no = [e.epoch for e in epochs]
        mode = "lines+markers" if len(epochs) <= 60 else "lines"
        regression = any(e.r2 is not None for e in epochs)
        score = ("r2", "val_r2") if regression else ("accuracy", "val_accuracy")
        for key, name, colour, col, show in (
            ("loss", "train", TRAIN, 1, True), ("val_loss", "validation", VAL, 1, True),
            (score[0], "train", TRAIN, 2, False), (score[1], "validation", VAL, 2, False),
        ):
            fig.add_trace(go.Scatter(
                x=ex, y=_col(epochs, key), name=name, legendgroup=name, showlegend=show, mode=mode,
                line=dict(color=colour, width=3, dash="solid" if name == "train" else "dash"),
                marker=dict(size=7), customdata=epoch_no,
                hovertemplate=f"epoch %{{customdata}}<br>{name} {key.replace('val_', '')} %{{y:.4f}}<extra></extra>",
            ), 1, col)
    fig.update_xaxes(title_text="training step")
    fig.update_yaxes(title_text="loss", row=1, col=1)
    # The right panel's axis on its right: its ticks and title never sit over the loss panel.
    fig.update_yaxes(side="right", automargin=True, row=1, col=2)
    if epochs and any(e.r2 is not None for e in epochs):
        seen = [v for key in ("r2", "val_r2") for v in _col(epochs, key) if math.isfinite(v)]
        low = max(-1.0, min([-0.1, *seen]))  # a hopeless start does not squash the curve
        fig.update_yaxes(title_text="R² (1 = perfect)", range=[low, 1.02], row=1, col=2)
    else:
        fig.update_yaxes(title_text="accuracy", range=[0, 1.02], tickformat=".0%", row=1, col=2)
    return base_layout(fig, "Loss and accuracy", height)
