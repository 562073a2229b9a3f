"""Several runs side by side: small-multiple heatmaps on one colour scale and overlaid curves.

    fig = heatmap_grid(runs, labels)           # one panel per run, one shared colour bar
    fig = loss_overlay(runs, labels)           # batch/epoch loss and validation accuracy
    fig = first_layer_overlay(runs, labels)    # first layer's gradient norm over steps (log)

`runs` are `vgrad.run.Run` objects (built from records); `labels` name them in the legends.
The same run gets the same colour in every figure (RUN_COLOURS, by position).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from vgrad.charts._common import (
    GRAD_SCALE,
    MUTED,
    base_layout,
    downsample_line,
    empty_figure,
    log_ticks,
    stat_label,
    wrap_text,
)
from vgrad.charts.heatmap import log_range, log_stat_grid
from vgrad.run import Run
from vgrad.text import escape_label

# One strong colour per run slot (up to 6 runs), distinct from each other on a projector.
RUN_COLOURS = ("#1f5fbf", "#e8590c", "#2b8a3e", "#c2255c", "#6741d9", "#0c8599")
LN2 = math.log(2.0)
PANEL_TITLE_CHARS = 26  # a grid panel's title per line (three panels side by side on a 1280 px screen)


def run_colour(i: int) -> str:
    return RUN_COLOURS[i % len(RUN_COLOURS)]


def legend_below(fig: go.Figure, y: float = -0.25) -> go.Figure:
    """The legend under the plot, so it never covers a title in a half-width column: at the figure's
    bottom edge, under the axis titles (base_layout's place for it; `y` is no longer needed)."""
    fig.update_layout(legend=dict(orientation="h", yref="container", yanchor="bottom", y=0, xanchor="left", x=0))
    return fig


def shared_log_range(runs: Sequence[Run], stat: str = "grad_norm") -> tuple[float, float] | None:
    """(low, high) of log10(stat) over every run's steps: the one colour scale of the grid."""
    return log_range([r.steps for r in runs], stat)


def heatmap_grid(runs: Sequence[Run], labels: Sequence[str], stat: str = "grad_norm", *,
                 columns: int = 3, max_columns: int = 200, height_per_row: int = 300) -> go.Figure:
    """Layer x step heatmaps, one panel per run, all on ONE colour axis (layout.coloraxis).

    Every trace uses coloraxis "coloraxis" whose cmin/cmax span all runs, so a colour means the
    same gradient size in every panel. Rows are layers (input at the bottom).
    """
    label = stat_label(stat)
    if not runs:
        return empty_figure("no runs yet")
    rng = shared_log_range(runs, stat)
    if rng is None:
        return empty_figure(f"{label}: no steps yet")
    lo, hi = rng
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    cols = max(1, min(columns, len(runs)))
    rows = math.ceil(len(runs) / cols)
    labels = [escape_label(x) for x in labels]
    titles = [wrap_text(x, PANEL_TITLE_CHARS) for x in labels]  # a long label on two lines, not over its neighbour's
    two_lines = any("<br>" in t for t in titles)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.07,
                        vertical_spacing=(0.26 if two_lines else 0.22) if rows > 1 else 0.08)
    for i, run in enumerate(runs):
        r, c = divmod(i, cols)
        if not run.steps or not run.layers:
            continue
        x, z, names = log_stat_grid(run.steps, run.layers, stat, max_columns, max_columns // 2)
        ylab = [n.split("·")[0] for n in names]  # "1", "2", ... (layer number from the input)
        fig.add_trace(go.Heatmap(
            x=np.round(x, 2), y=ylab, z=z.astype(np.float32), coloraxis="coloraxis",
            customdata=np.array([[n] * z.shape[1] for n in names]) if z.size else None,
            hovertemplate=f"{labels[i]}<br>%{{customdata}}<br>step %{{x:.0f}}<br>{label} = 10^%{{z:.2f}}<extra></extra>",
            hoverongaps=False, ygap=1, name=str(labels[i]),
        ), r + 1, c + 1)
        fig.update_yaxes(type="category", row=r + 1, col=c + 1, title_text="layer" if c == 0 else None,
                         nticks=12, ticklabelstandoff=4)  # deep nets: every few layers, clear of the step axis
        fig.update_xaxes(title_text="step", row=r + 1, col=c + 1, nticks=4)
    tickvals, ticktext = log_ticks(lo, hi)
    fig.update_layout(coloraxis=dict(
        colorscale=GRAD_SCALE, cmin=lo, cmax=hi,
        colorbar=dict(title=dict(text=f"{label}<br>(one scale)", side="top"), tickvals=tickvals,
                      ticktext=ticktext, thickness=16),
    ))
    fig = base_layout(fig, f"{label} per layer (input at the bottom), one colour scale",
                      height=60 + rows * height_per_row + (30 if two_lines else 0) + 40 * (rows - 1))
    fig.update_layout(margin=dict(t=fig.layout.margin.t + (44 if two_lines else 24)))  # room for the panels' titles
    return fig


def _epoch_col(run: Run, key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for e in run.epochs:
        v = getattr(e, key)
        xs.append(e.step)
        ys.append(float(v) if isinstance(v, int | float) and math.isfinite(v) else math.nan)
    return xs, ys


def same_as(runs: Sequence[Run]) -> dict[int, int]:
    """Run index -> the earlier run whose every step loss it repeats exactly (a setting that never took
    effect, e.g. clipping that never engaged): their curves would hide each other."""
    seen: dict[tuple, int] = {}
    out = {}
    for i, run in enumerate(runs):
        if not run.steps or not run.done:
            continue
        key = tuple(s.loss for s in run.steps)
        if key in seen:
            out[i] = seen[key]
        else:
            seen[key] = i
    return out


def loss_overlay(runs: Sequence[Run], labels: Sequence[str], *, height: int = 360) -> go.Figure:
    """Two panels over training steps: loss (batch loss faint, epoch training loss bold, ln 2 dotted when
    every run is binary) and validation accuracy per epoch (R² for regression runs); one colour per run."""
    if not any(r.steps for r in runs):
        return empty_figure("loss and accuracy: no steps yet", height)
    regression = [r.task == "regression" for r in runs]
    score = "Validation R²" if all(regression) else ("Validation accuracy" if not any(regression)
                                                      else "Validation accuracy (R² for regression)")
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Training loss", score), horizontal_spacing=0.1)
    twins = same_as(runs)
    for i, (run, lab) in enumerate(zip(runs, [escape_label(x) for x in labels], strict=True)):
        colour = run_colour(i)
        dash = "dash" if i in twins else "solid"
        if i in twins:  # drawn dashed on top, so the run it repeats stays visible
            lab = f"{lab} (identical to {escape_label(labels[twins[i]])})"
        if run.steps:
            x = np.array([s.step for s in run.steps], dtype=float)
            y = np.array([s.loss for s in run.steps], dtype=float)
            xs, ys = downsample_line(x, y, 400)
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=colour, width=1), opacity=0.35,
                                     legendgroup=lab, showlegend=False, name=f"{lab} batch",
                                     hovertemplate=f"{lab}<br>step %{{x:.0f}}<br>batch loss %{{y:.4f}}<extra></extra>"),
                          1, 1)
        ex, ey = _epoch_col(run, "loss")
        mode = "lines+markers" if len(ex) <= 60 else "lines"
        fig.add_trace(go.Scatter(x=ex, y=ey, mode=mode, line=dict(color=colour, width=3, dash=dash), name=str(lab),
                                 legendgroup=lab,
                                 hovertemplate=f"{lab}<br>step %{{x:.0f}}<br>epoch loss %{{y:.4f}}<extra></extra>"),
                      1, 1)
        key, what = ("val_r2", "val R²") if run.task == "regression" else ("val_accuracy", "val accuracy")
        vx, vy = _epoch_col(run, key)
        fig.add_trace(go.Scatter(x=vx, y=vy, mode=mode, line=dict(color=colour, width=3, dash=dash), name=str(lab),
                                 legendgroup=lab, showlegend=False,
                                 hovertemplate=f"{lab}<br>step %{{x:.0f}}<br>{what} %{{y:.3f}}<extra></extra>"),
                      1, 2)
    if all(r.task == "binary" for r in runs):
        fig.add_hline(y=LN2, line=dict(color=MUTED, dash="dot"), annotation_text="ln 2 (coin flip)",
                      annotation_position="top left", row=1, col=1)
        fig.add_hline(y=0.5, line=dict(color=MUTED, dash="dot"), annotation_text="chance", row=1, col=2)
    fig.update_xaxes(title_text="training step", matches="x")  # both panels on the same step axis
    fig.update_yaxes(range=[-0.1 if any(regression) else 0, 1.02], row=1, col=2)
    fig = legend_below(base_layout(fig, height=height))
    fig.update_layout(margin=dict(t=44))  # the two panels' titles sit above them
    return fig


def first_layer_overlay(runs: Sequence[Run], labels: Sequence[str], stat: str = "grad_norm", *,
                        height: int = 340) -> go.Figure:
    """The first layer's `stat` over training steps, one line per run, log y axis."""
    label = stat_label(stat)
    if not any(r.steps for r in runs):
        return empty_figure(f"first-layer {label}: no steps yet", height)
    fig = go.Figure()
    for i, (run, lab) in enumerate(zip(runs, [escape_label(x) for x in labels], strict=True)):
        if not run.steps:
            continue
        x = np.array([s.step for s in run.steps], dtype=float)
        y = run.first_layer_grad(stat)
        y[~(y > 0)] = np.nan
        xs, ys = downsample_line(x, y, 500)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=str(lab), line=dict(color=run_colour(i), width=2.5),
                                 hovertemplate=f"{lab}<br>step %{{x:.0f}}<br>{label} %{{y:.3g}}<extra></extra>"))
    fig.update_yaxes(type="log", title_text=f"first layer {label}", exponentformat="power")
    fig.update_xaxes(title_text="training step")
    return legend_below(base_layout(fig, f"First layer's {label} over training (log)", height=height))


def layer_profile_overlay(runs: Sequence[Run], labels: Sequence[str], stat: str = "grad_norm", *,
                          step: int = -1, height: int = 340) -> go.Figure:
    """`stat` per layer at one step (default: each run's latest), one line per run, log y axis."""
    label = stat_label(stat)
    if not any(r.steps for r in runs):
        return empty_figure(f"{label} per layer: no steps yet", height)
    fig = go.Figure()
    for i, (run, lab) in enumerate(zip(runs, [escape_label(x) for x in labels], strict=True)):
        if not run.steps:
            continue
        rec = run.step_record(step) or run.steps[-1]
        y = np.array(rec.stat(stat), dtype=float)
        y[~(y > 0)] = np.nan
        x = np.arange(1, len(y) + 1)
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=str(lab),
                                 line=dict(color=run_colour(i), width=2.5), marker=dict(size=8),
                                 hovertemplate=f"{lab}<br>layer %{{x}}<br>{label} %{{y:.3g}}<extra></extra>"))
    fig.update_yaxes(type="log", title_text=label, exponentformat="power")
    fig.update_xaxes(title_text="layer (1 = input side)", dtick=1)
    return legend_below(base_layout(fig, f"{label} per layer, latest step (log scale)", height=height))
