"""Figures for the Lessons page: activations and their derivatives, bound products, the chain
rule on a real network, activation/gradient spread at initialisation, update vs gradient.

All numbers come from `vgrad.lessons` (numpy) or from a run's records; no Streamlit, no TF.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.colors
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from vgrad.charts._common import ACCENT, MUTED, TRAIN, VAL, base_layout, empty_figure
from vgrad.charts.compare import legend_below, run_colour
from vgrad.config import ACTIVATIONS
from vgrad.lessons import (
    UpdateVsGradient,
    activation,
    bound_table,
    derivative,
    derivative_bound,
    derivative_peak,
    mean_derivative,
)

X_RANGE = (-6.0, 6.0)
# One distinct colour for each of vgrad's activations (Plotly's Dark24: strong, no two alike).
ACTIVATION_COLOURS = tuple(plotly.colors.qualitative.Dark24[:len(ACTIVATIONS)])


def activations_figure(names: Sequence[str] = ACTIVATIONS, *, alpha: float = 0.3, columns: int = 4,
                       height_per_row: int = 230) -> go.Figure:
    """Small multiples: each activation f (solid) and its derivative f' (dashed), the bound
    sup|f'| marked by a dotted line and a dot at its peak."""
    names = list(names)
    if not names:
        return empty_figure("choose at least one activation")
    cols = max(1, min(columns, len(names)))
    rows = math.ceil(len(names) / cols)
    titles = [f"{n}: max f' = {derivative_bound(n, alpha):.3g}" for n in names]
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.05,
                        vertical_spacing=0.5 / max(rows, 1) if rows > 1 else 0.1)
    x = np.linspace(*X_RANGE, 481)
    for i, name in enumerate(names):
        r, c = divmod(i, cols)
        first = i == 0
        fig.add_trace(go.Scatter(x=x, y=activation(name, x, alpha), mode="lines", name="f(x)", legendgroup="f",
                                 showlegend=first, line=dict(color=TRAIN, width=2.5),
                                 hovertemplate=f"{name}(%{{x:.2f}}) = %{{y:.3f}}<extra></extra>"), r + 1, c + 1)
        fig.add_trace(go.Scatter(x=x, y=derivative(name, x, alpha), mode="lines", name="f'(x)", legendgroup="d",
                                 showlegend=first, line=dict(color=VAL, width=2.5, dash="dash"),
                                 hovertemplate=f"{name}'(%{{x:.2f}}) = %{{y:.3f}}<extra></extra>"), r + 1, c + 1)
        bound, peak = derivative_bound(name, alpha), derivative_peak(name, alpha)
        fig.add_trace(go.Scatter(x=list(X_RANGE), y=[bound, bound], mode="lines", name="bound sup|f'|",
                                 legendgroup="b", showlegend=first, line=dict(color=ACCENT, width=1.5, dash="dot"),
                                 hoverinfo="skip"), r + 1, c + 1)
        if X_RANGE[0] <= peak <= X_RANGE[1]:
            fig.add_trace(go.Scatter(x=[peak], y=[bound], mode="markers", showlegend=False,
                                     marker=dict(color=ACCENT, size=9),
                                     hovertemplate=f"max f' = {bound:.4g} at x = {peak:.2f}<extra></extra>"),
                          r + 1, c + 1)
        fig.update_yaxes(range=[-1.6, 2.2], row=r + 1, col=c + 1)
    fig.update_annotations(font_size=14)
    return legend_below(base_layout(fig, height=70 + rows * height_per_row), y=-0.3 / rows)


def bound_product_figure(names: Sequence[str] = ACTIVATIONS, *, max_depth: int = 30, alpha: float = 0.3,
                         typical: bool = True, height: int = 380) -> go.Figure:
    """sup|f'| ** depth against depth (solid), and E|f'(z)| ** depth for z ~ N(0, 1) (dotted), log y.

    The solid line is the most a chain of `depth` activations can pass; weights multiply too.
    """
    names = list(names)
    if not names:
        return empty_figure("choose at least one activation", height)
    depths = np.arange(1, max_depth + 1)
    table = bound_table(depths, names, alpha)
    fig = go.Figure()
    for i, name in enumerate(names):
        colour = ACTIVATION_COLOURS[ACTIVATIONS.index(name) % len(ACTIVATION_COLOURS)] if name in ACTIVATIONS \
            else run_colour(i)
        fig.add_trace(go.Scatter(x=depths, y=table[name], mode="lines", name=f"{name} bound",
                                 line=dict(color=colour, width=3), legendgroup=name,
                                 hovertemplate=f"{name}: bound^%{{x}} = %{{y:.3g}}<extra></extra>"))
        if typical:
            m = mean_derivative(name, 1.0, alpha)
            fig.add_trace(go.Scatter(x=depths, y=m ** depths, mode="lines", name=f"{name} typical",
                                     line=dict(color=colour, width=2, dash="dot"), legendgroup=name,
                                     hovertemplate=f"{name}: E|f'(z)|^%{{x}} = %{{y:.3g}}<extra></extra>"))
    fig.add_hline(y=1.0, line=dict(color=MUTED, width=1))
    fig.update_yaxes(type="log", exponentformat="power", title_text="product of derivative factors")
    fig.update_xaxes(title_text="layers (depth)")
    return legend_below(base_layout(fig, "Most a gradient can keep through a chain of activations (solid) and a "
                                         "typical value for z ~ N(0,1) (dotted)", height=height))


def chain_figure(factors: dict, layer_names: Sequence[str] = (), *, height: int = 360) -> go.Figure:
    """The chain rule on a real network: the back-propagated RMS dL/da per layer (line, log) and the
    factor each layer multiplied it by on the way back (bars), from `vgrad.lessons.chain_factors`."""
    rms, idx, fac = factors.get("rms") or [], factors.get("layers") or [], factors.get("factors") or []
    if len(rms) < 2:
        return empty_figure("the chain needs at least two layers with a gradient", height)
    names = [layer_names[i] if i < len(layer_names) else f"layer {i + 1}" for i in idx]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("RMS dL/da per layer (log)", "factor per layer"),
                        horizontal_spacing=0.12)
    fig.add_trace(go.Scatter(x=names, y=rms, mode="lines+markers", name="RMS dL/da", line=dict(color=TRAIN, width=3),
                             marker=dict(size=9), hovertemplate="%{x}<br>RMS dL/da %{y:.3g}<extra></extra>"), 1, 1)
    fig.add_trace(go.Bar(x=[f"{names[k]} <- {names[k + 1]}" for k in range(len(fac))], y=fac, name="factor",
                         marker_color=VAL, text=[f"x{f:.2g}" for f in fac], textposition="outside",
                         hovertemplate="%{x}<br>multiplied by %{y:.3g}<extra></extra>"), 1, 2)
    fig.add_hline(y=1.0, line=dict(color=MUTED, dash="dot"), row=1, col=2)
    fig.update_yaxes(type="log", exponentformat="power", row=1, col=1)
    top = max(max(fac) * 1.3, 1.2)
    fig.update_yaxes(range=[0, top], row=1, col=2)
    fig.update_xaxes(tickangle=-40)
    product = float(np.prod(fac))
    fig.update_layout(showlegend=False)  # the panel titles say what each shows
    return base_layout(fig, f"Chain rule: product of the factors = {product:.3g} = first / last", height=height)


def init_spread_figure(spread: dict, layer_names: Sequence[str] = (), *, height: int = 340) -> go.Figure:
    """At initialisation: activation std per layer and RMS dL/da per layer (log), from a first step."""
    std = spread.get("act_std") or []
    grad = spread.get("act_grad_rms") or []
    if not std:
        return empty_figure("no step recorded yet", height)
    names = [layer_names[i] if i < len(layer_names) else f"layer {i + 1}" for i in range(len(std))]

    def clean(vals):
        return [v if isinstance(v, int | float) and math.isfinite(v) and v > 0 else None for v in vals]

    fig = make_subplots(rows=1, cols=2, subplot_titles=("activation std (forward)", "RMS dL/da (backward)"),
                        horizontal_spacing=0.12)
    fig.add_trace(go.Bar(x=names, y=clean(std), name="activation std", marker_color=TRAIN,
                         hovertemplate="%{x}<br>std %{y:.3g}<extra></extra>"), 1, 1)
    fig.add_trace(go.Bar(x=names[:len(grad)], y=clean(grad), name="RMS dL/da", marker_color=VAL,
                         hovertemplate="%{x}<br>RMS dL/da %{y:.3g}<extra></extra>"), 1, 2)
    fig.update_yaxes(type="log", exponentformat="power")
    for col, vals in ((1, clean(std)), (2, clean(grad))):
        logs = [math.log10(v) for v in vals if v is not None]
        if logs:  # bars on a log axis vanish below the autorange; show every one
            fig.update_yaxes(range=[min(logs) - 0.7, max(logs) + 0.3], row=1, col=col)
    fig.update_xaxes(tickangle=-40)
    fig.update_layout(showlegend=False)
    return base_layout(fig, "The network at initialisation, layer by layer (input on the left)", height=height)


def update_vs_gradient_figure(uvg: UpdateVsGradient | None, *, max_entries: int = 400,
                              height: int = 380) -> go.Figure:
    """|value| of every first-layer kernel entry, log y: the notebook's estimate (initial - final)/lr,
    the true gradient at step 0, and the optimizer replayed on the true gradients (when available)."""
    if uvg is None:
        return empty_figure("waiting for the run's first and last weights", height)
    est = np.abs(uvg.estimate).ravel()[:max_entries]
    grad = np.abs(uvg.gradient).ravel()[:max_entries]
    n_out = uvg.estimate.shape[1] if uvg.estimate.ndim == 2 else 1
    labels = [f"w[{k // n_out},{k % n_out}]" for k in range(est.size)]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=labels, y=est, mode="markers", name="notebook: (initial - final) / lr",
                             marker=dict(color=VAL, size=11, symbol="diamond"),
                             hovertemplate="%{x}<br>|estimate| %{y:.3g}<extra></extra>"))
    if uvg.replay is not None:
        fig.add_trace(go.Scatter(x=labels, y=np.abs(uvg.replay).ravel()[:max_entries], mode="markers",
                                 name=f"{uvg.optimizer} replayed on the true gradients",
                                 marker=dict(color=MUTED, size=6, symbol="x"),
                                 hovertemplate="%{x}<br>|replay| %{y:.3g}<extra></extra>"))
    fig.add_trace(go.Scatter(x=labels, y=np.where(grad > 0, grad, np.nan), mode="markers",
                             name="true gradient dL/dW at step 0", marker=dict(color=TRAIN, size=10),
                             hovertemplate="%{x}<br>|dL/dW| %{y:.3g}<extra></extra>"))
    fig.update_yaxes(type="log", exponentformat="power", title_text="|value| (log scale)")
    fig.update_xaxes(title_text="first-layer kernel entry", tickangle=-45, showticklabels=est.size <= 64)
    return legend_below(base_layout(fig, "The notebook's \"gradient\" is not the gradient", height=height))
