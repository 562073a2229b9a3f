"""Theory beside measurement: dL/da at initialisation, the Jacobian spectrum, the phase diagram.

    fig = theory_flow(view, run.layers)                  # measured bars, predicted line (step 0)
    fig = spectrum_histogram(run.spectra[0], prediction) # squared singular values, predicted mean marked
    fig = phase_diagram(activation, sw2, sb2, xi_c, critical, point=(sw2, sb2))
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from vgrad.charts._common import (
    ACCENT,
    GRAD_SCALE,
    MUTED,
    TRAIN,
    VAL,
    base_layout,
    empty_figure,
    layer_labels,
)
from vgrad.records import Layer, SpectrumRecord


def theory_flow(view, layers: Sequence[Layer], *, height: int = 340) -> go.Figure:
    """Measured RMS dL/da per hidden layer at step 0 (bars) and theory's prediction (line), both relative
    to the last hidden layer, on a log axis. Where theory does not apply the figure says why."""
    if not view.applies:
        return empty_figure(f"theory: not drawn. {view.reason}", height)
    if not view.predicted:
        return empty_figure("theory: waiting for step 0", height)
    full = layer_labels(layers)[:len(view.predicted)]
    names = [str(i + 1) for i in range(len(full))]  # short ticks; the layer's name is in the hover
    fig = go.Figure()
    if view.measured:
        fig.add_trace(go.Bar(x=names, y=list(view.measured), name="measured at step 0", marker_color=TRAIN,
                             customdata=full, hovertemplate="%{customdata}<br>measured %{y:.3g}<extra></extra>"))
    fig.add_trace(go.Scatter(x=names, y=list(view.predicted), mode="lines+markers", name="mean-field theory",
                             line=dict(color=VAL, width=3), marker=dict(size=8), customdata=full,
                             hovertemplate="%{customdata}<br>theory %{y:.3g}<extra></extra>"))
    if view.measured and math.isfinite(view.spread):
        # The scatter of one net grows from the last hidden layer (0) to `spread` orders at the first
        # (variances add layer by layer); the band is twice that, as the reading's test.
        n = len(names)
        width = [2 * view.spread * math.sqrt((n - 1 - i) / max(1, n - 1)) for i in range(n)]
        upper = [p * 10 ** w for p, w in zip(view.predicted, width, strict=True)]
        lower = [p / 10 ** w for p, w in zip(view.predicted, width, strict=True)]
        fig.add_trace(go.Scatter(x=names + names[::-1], y=upper + lower[::-1], fill="toself", mode="none",
                                 fillcolor="rgba(232,89,12,0.12)", name="expected scatter at this width",
                                 hoverinfo="skip"))
    fig.update_yaxes(type="log", title_text="dL/da ÷ last layer's", exponentformat="power")
    fig.update_xaxes(title_text="hidden layer (1 = input side)", type="category")
    return base_layout(fig, "dL/da at initialisation: measured vs theory", height)  # legend at the bottom


def spectrum_histogram(record: SpectrumRecord | None, predicted_mean: float | None = None,
                       predicted_std: float | None = None, *, label: str = "", height: int = 300) -> go.Figure:
    """Histogram of log10 squared singular values of the hidden layers' Jacobian, with the predicted
    mean squared singular value (and ± one predicted standard deviation) marked."""
    if record is None or not record.values:
        return empty_figure("Jacobian spectrum: recorded at step 0 (mlp, 2+ hidden layers, no skips)", height)
    sq = np.square(np.asarray(record.values, dtype=float))
    logs = np.log10(sq[sq > 0]) if (sq > 0).any() else np.zeros(0)
    counts, edges = np.histogram(logs, bins=40) if logs.size else (np.ones(1), np.array([-1.0, 1.0]))
    size = float(edges[1] - edges[0]) or 1.0
    fig = go.Figure(go.Histogram(x=logs, xbins=dict(start=float(edges[0]), end=float(edges[-1]) + size / 2, size=size),
                                 marker_color=TRAIN, name=label or "measured",
                                 hovertemplate="log10 σ² %{x}<br>%{y} values<extra></extra>"))
    measured = float(np.mean(sq))
    top = float(counts.max())
    # The two means as lines with legend entries (text on the lines would cover each other and the axis).
    _mean_line(fig, math.log10(measured) if measured > 0 else 0, top, f"measured mean {measured:.3g}",
               dict(color=MUTED, dash="dot", width=3))
    if predicted_mean and predicted_mean > 0:
        _mean_line(fig, math.log10(predicted_mean), top, f"predicted mean {predicted_mean:.3g}",
                   dict(color=VAL, width=3))
        if predicted_std and predicted_std > 0:
            hi = math.log10(predicted_mean + predicted_std)
            lo = math.log10(max(predicted_mean - predicted_std, predicted_mean * 1e-3))
            fig.add_vrect(x0=lo, x1=hi, fillcolor=VAL, opacity=0.1, line_width=0)
    fig.update_xaxes(title_text="log10 σ² of d a_last / d a_first")
    fig.update_yaxes(title_text="count")
    title = f"Jacobian spectrum at step {record.step}" + (f": {label}" if label else "")
    return base_layout(fig, title, height)


def _mean_line(fig: go.Figure, x: float, top: float, name: str, line: dict) -> None:
    fig.add_trace(go.Scatter(x=[x, x], y=[0, top], mode="lines", line=line, name=name, hoverinfo="name"))


def phase_diagram(activation: str, sigma_w2: np.ndarray, sigma_b2: np.ndarray, xi_c: np.ndarray,
                  critical: np.ndarray, point: tuple[float, float] | None = None,
                  measured: Sequence[tuple[float, float]] = (), *, height: int = 460) -> go.Figure:
    """Contours of log10 ξ_c over (σ_w², σ_b²) (rows σ_b², columns σ_w²), the critical line σ_w²(σ_b²)
    where χ₁ = 1, and the current config as a point."""
    z = np.log10(np.clip(np.where(np.isfinite(xi_c), xi_c, 1e4), 1e-2, 1e4))
    fig = go.Figure(go.Contour(
        x=sigma_w2, y=sigma_b2, z=z, colorscale=GRAD_SCALE, contours=dict(start=-1, end=4, size=0.25),
        colorbar=dict(title=dict(text="ξ_c (depth scale)", side="top"), tickvals=[0, 1, 2, 3, 4],
                      ticktext=["1", "10", "100", "1000", "≥10⁴"], thickness=16),
        hovertemplate="σw² %{x:.2f}, σb² %{y:.3f}<br>ξ_c = 10^%{z:.2f} layers<extra></extra>", name="ξ_c"))
    ok = np.isfinite(critical)
    if ok.any():
        fig.add_trace(go.Scatter(x=np.asarray(critical)[ok], y=np.asarray(sigma_b2)[ok], mode="lines",
                                 line=dict(color="white", width=4), name="critical line (χ₁ = 1)",
                                 hovertemplate="critical σw² %{x:.3f} at σb² %{y:.3f}<extra></extra>"))
    if measured:
        fig.add_trace(go.Scatter(x=[m[0] for m in measured], y=[m[1] for m in measured], mode="markers",
                                 marker=dict(color=MUTED, size=9, symbol="x"), name="measured points"))
    if point is not None:
        fig.add_trace(go.Scatter(x=[point[0]], y=[point[1]], mode="markers", name="this config",
                                 marker=dict(color=ACCENT, size=16, symbol="star", line=dict(color="white", width=2))))
    fig.update_xaxes(title_text="σ_w² (weight variance × fan-in)", range=[float(np.min(sigma_w2)),
                                                                         float(np.max(sigma_w2))])
    fig.update_yaxes(title_text="σ_b² (bias variance)", range=[float(np.min(sigma_b2)), float(np.max(sigma_b2))])
    return base_layout(fig, f"Phase diagram of {activation}: ordered (left) · critical line · chaotic (right)",
                       height)  # legend at the bottom edge


def chi_points(points: Sequence[dict], *, height: int = 340) -> go.Figure:
    """Measured χ (squared dL/da ratio per layer, averaged) of wide random nets against theory's χ₁, one
    point per (σ_w², σ_b²); points on the diagonal agree."""
    if not points:
        return empty_figure("measured χ: press Measure", height)
    pred = [p["predicted"] for p in points]
    meas = [p["measured"] for p in points]
    lo, hi = min(pred + meas) * 0.8, max(pred + meas) * 1.25
    fig = go.Figure([
        go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", line=dict(color=MUTED, dash="dot"), name="agreement"),
        go.Scatter(x=pred, y=meas, mode="markers+text", text=[p["label"] for p in points], textposition="top center",
                   marker=dict(color=TRAIN, size=11), name="wide net at initialisation",
                   hovertemplate="%{text}<br>theory χ₁ %{x:.3f}<br>measured χ %{y:.3f}<extra></extra>"),
    ])
    fig.update_xaxes(title_text="theory: χ₁ per layer", type="log")
    fig.update_yaxes(title_text="measured: (dL/da ratio)² per layer", type="log")
    return base_layout(fig, "χ per layer: measured on a wide net vs predicted", height)
