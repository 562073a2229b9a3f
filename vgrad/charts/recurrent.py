"""Recurrent runs: the gradient through time, the recurrent kernel's largest singular value, norms.

    fig = time_heatmaps(runs, labels)      # time step x training step of log10 ‖dL/dx_t‖, one scale
    fig = time_profile(runs, labels)       # ‖dL/dx_t‖ against t at the latest step
    fig = sigma_chart(runs, labels)        # sigma_max(W_rec) over training against 1/gamma
    fig = norm_chart(runs, labels)         # global gradient norm before/after clipping

`runs` are `vgrad.run.Run` objects of the rnn family.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from vgrad.charts._common import (
    GRAD_SCALE,
    MUTED,
    base_layout,
    bin_columns,
    downsample_line,
    empty_figure,
    finite_range,
    log_ticks,
    safe_log10,
)
from vgrad.charts.compare import legend_below, run_colour
from vgrad.readings import sigma_threshold
from vgrad.run import Run
from vgrad.text import escape_label


def time_matrix(run: Run, max_columns: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """(training steps, log10 ‖dL/dx_t‖[time step, column]) from the run's step records."""
    rows = [(s.step, s.input_grad_by_time) for s in run.steps if s.input_grad_by_time]
    if not rows:
        return np.zeros(0), np.zeros((0, 0))
    width = len(rows[-1][1])
    rows = [(st, r) for st, r in rows if len(r) == width]
    x = np.array([st for st, _ in rows], dtype=float)
    z = np.array([[np.nan if v is None else v for v in r] for _, r in rows], dtype=float).T
    z = safe_log10(z)
    return bin_columns(x, z, max_columns, max_columns // 2)


def time_heatmaps(runs: Sequence[Run], labels: Sequence[str], *, height: int = 340) -> go.Figure:
    """One panel per run: time step (0 = the step the label depends on, at the bottom) x training
    step, colour log10 ‖dL/dx_t‖ on ONE colour axis shared by the panels."""
    grids = [time_matrix(r) for r in runs]
    rng = finite_range(*[z for _, z in grids])
    if rng is None:
        return empty_figure("gradient through time: no steps yet", height)
    lo, hi = rng
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    labels = [escape_label(x) for x in labels]
    fig = make_subplots(rows=1, cols=len(runs), subplot_titles=labels, horizontal_spacing=0.05)
    for i, ((x, z), lab) in enumerate(zip(grids, labels, strict=True)):
        if not z.size:
            continue
        fig.add_trace(go.Heatmap(
            x=np.round(x, 2), y=np.arange(z.shape[0]), z=z.astype(np.float32), coloraxis="coloraxis",
            hovertemplate=f"{lab}<br>time step %{{y}}<br>training step %{{x:.0f}}<br>‖dL/dx_t‖ = 10^%{{z:.2f}}"
                          "<extra></extra>", hoverongaps=False, name=str(lab)), 1, i + 1)
        fig.update_xaxes(title_text="training step", row=1, col=i + 1)
    fig.update_yaxes(title_text="time step t (0 = the signal)", row=1, col=1)
    tickvals, ticktext = log_ticks(lo, hi)
    fig.update_layout(coloraxis=dict(colorscale=GRAD_SCALE, cmin=lo, cmax=hi, colorbar=dict(
        title=dict(text="‖dL/dx_t‖<br>(log, one scale)", side="top"), tickvals=tickvals, ticktext=ticktext,
        thickness=16)))
    return base_layout(fig, "Gradient of the loss with respect to the input at each time step", height=height)


def time_profile(runs: Sequence[Run], labels: Sequence[str], *, step: int = -1, height: int = 340) -> go.Figure:
    """‖dL/dx_t‖ against the time step t at one training step (default: each run's latest), log y."""
    fig = go.Figure()
    drawn = False
    for i, (run, lab) in enumerate(zip(runs, [escape_label(x) for x in labels], strict=True)):
        recs = [s for s in run.steps if s.input_grad_by_time]
        if not recs:
            continue
        rec = recs[step] if -len(recs) <= step < len(recs) else recs[-1]
        y = np.array(rec.input_grad_by_time, dtype=float)
        y[~(y > 0)] = np.nan
        fig.add_trace(go.Scatter(x=np.arange(len(y)), y=y, mode="lines+markers", name=str(lab),
                                 line=dict(color=run_colour(i), width=2.5), marker=dict(size=5),
                                 hovertemplate=f"{lab}<br>t = %{{x}}<br>‖dL/dx_t‖ %{{y:.3g}}<extra></extra>"))
        drawn = True
    if not drawn:
        return empty_figure("gradient through time: no steps yet", height)
    fig.update_yaxes(type="log", title_text="‖dL/dx_t‖", exponentformat="power")
    fig.update_xaxes(title_text="time step t (the label depends on t = 0)")
    return legend_below(base_layout(fig, "Gradient reaching each time step, at the latest training step", height=height))


def sigma_chart(runs: Sequence[Run], labels: Sequence[str], *, height: int = 340) -> go.Figure:
    """Largest singular value of each run's (first) recurrent kernel over training, with the 1/gamma
    line of each distinct activation (Pascanu et al. 2013)."""
    fig = go.Figure()
    thresholds: dict[float, str] = {}
    for i, (run, lab) in enumerate(zip(runs, [escape_label(x) for x in labels], strict=True)):
        sig = run.sigma_history()
        if not np.isfinite(sig).any():
            continue
        x = np.array([s.step for s in run.steps], dtype=float)
        xs, ys = downsample_line(x, sig, 500)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=str(lab), line=dict(color=run_colour(i), width=2.5),
                                 hovertemplate=f"{lab}<br>step %{{x:.0f}}<br>sigma_max %{{y:.3f}}<extra></extra>"))
        act = run.layers[0].activation if run.layers else run.config.activation
        thresholds.setdefault(round(sigma_threshold(act), 6), act)
    if not fig.data:
        return empty_figure("recurrent kernel: no steps yet", height)
    for value, act in thresholds.items():
        fig.add_hline(y=value, line=dict(color=MUTED, dash="dash", width=2),
                      annotation_text=f"1/gamma = {value:.3g} ({act})", annotation_position="top left")
    top = max([value for value in thresholds] + [float(np.nanmax(t.y)) for t in fig.data if len(t.y)])
    fig.update_yaxes(title_text="largest singular value of W_rec", range=[0, top * 1.15])
    fig.update_xaxes(title_text="training step")
    return legend_below(base_layout(fig, "Recurrent kernel's largest singular value against 1/gamma", height=height))


def norm_chart(runs: Sequence[Run], labels: Sequence[str], *, height: int = 340) -> go.Figure:
    """Global gradient norm over training (solid) and the norm actually applied after clipping
    (dotted, only where a run clips), log y axis."""
    fig = go.Figure()
    for i, (run, lab) in enumerate(zip(runs, [escape_label(x) for x in labels], strict=True)):
        if not run.steps:
            continue
        x = np.array([s.step for s in run.steps], dtype=float)
        raw = np.array([s.global_norm for s in run.steps], dtype=float)
        xs, ys = downsample_line(x, raw, 500)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=f"{lab}", line=dict(color=run_colour(i), width=2.5),
                                 hovertemplate=f"{lab}<br>step %{{x:.0f}}<br>norm %{{y:.3g}}<extra></extra>"))
        clipped = np.array([np.nan if s.global_norm_clipped is None else s.global_norm_clipped
                            for s in run.steps], dtype=float)
        if np.any(np.abs(clipped - raw) > 1e-4 * np.abs(raw)):
            xs, ys = downsample_line(x, clipped, 500)
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=f"{lab} after clipping",
                                     line=dict(color=run_colour(i), width=2.5, dash="dot"),
                                     hovertemplate=f"{lab}<br>step %{{x:.0f}}<br>applied norm %{{y:.3g}}"
                                                   "<extra></extra>"))
    if not fig.data:
        return empty_figure("gradient norms: no steps yet", height)
    fig.update_yaxes(type="log", title_text="global gradient norm", exponentformat="power")
    fig.update_xaxes(title_text="training step")
    return legend_below(base_layout(fig, "Global gradient norm, before and after clipping (log scale)", height=height))
