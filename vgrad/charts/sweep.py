"""A sweep's map: a heatmap of one metric over two axes (a line over one, small multiples over three).

    fig = sweep_chart(grid(spec, cells, METRICS["orders_start"]), theory_lines(spec))

Cells are drawn in cell units (cell i of an axis at i, labelled with its value), so uneven axes
(depths 2, 4, 8, 16) draw evenly; theory's lines (vgrad.sweep_maps.theory_lines) are already in
those units. A cell not trained yet is blank. Every cell carries its number as `customdata` on an
invisible marker (one per cell, the nearest one answers anywhere in the plot), so a click selects
it (st.plotly_chart on_select) and a hover shows its value, the seeds' spread and theory's χ₁.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from vgrad.charts._common import MUTED, TRAIN, base_layout
from vgrad.sweep_maps import AxisView, Grid, Line, Metric
from vgrad.text import escape_label

MAX_FACETS = 12
FACET_COLUMNS = 3
FACET_TITLE_ROOM = 26  # px between the figure's title and the first row of facet titles
MAX_TICKS = 16
LINE_STYLE = {"critical": dict(color="#111111", width=3, dash="dash"), "depth": dict(color="#c2255c", width=4)}
INVISIBLE = dict(size=6, opacity=0)


def sweep_chart(g: Grid, lines: Sequence[Line] = (), *, title: str | None = None) -> go.Figure:
    """The sweep's chart for its number of axes: a line (1), a heatmap (2), heatmaps per value of the third (3)."""
    title = title if title is not None else f"{g.metric.short}: {g.filled} of {g.total} cells"
    if len(g.axes) == 1:
        return sweep_line(g, lines, title)
    if len(g.axes) == 2:
        return sweep_heatmap(g, lines, title)
    return sweep_facets(g, lines, title)


def colour_range(z: np.ndarray, metric: Metric) -> dict:
    """zmin/zmax for the metric: its fixed bounds, symmetric around a diverging scale's centre, else the data's."""
    if metric.bounds is not None:
        return {"zmin": metric.bounds[0], "zmax": metric.bounds[1]}
    finite = z[np.isfinite(z)]
    if not finite.size:
        return {"zmin": 0.0, "zmax": 1.0} if metric.mid is None else {"zmin": metric.mid - 1, "zmax": metric.mid + 1}
    if metric.mid is not None:
        half = max(float(np.max(np.abs(finite - metric.mid))), 0.5)
        return {"zmin": metric.mid - half, "zmax": metric.mid + half}
    lo, hi = float(finite.min()), float(finite.max())
    return {"zmin": lo, "zmax": hi if hi > lo else lo + 1.0}


def _ticks(axis: AxisView) -> dict:
    n = len(axis.values)
    stride = max(1, math.ceil(n / MAX_TICKS))
    picks = list(range(0, n, stride))
    return dict(tickmode="array", tickvals=picks, ticktext=[axis.labels[i] for i in picks], range=[-0.5, n - 0.5],
                title_text=escape_label(axis.field), zeroline=False, showgrid=False)


def _colourbar(metric: Metric) -> dict:
    return dict(title=dict(text=escape_label(metric.short), side="right"), thickness=16)


def _cells_layer(g: Grid, z: np.ndarray, hover: np.ndarray, index: np.ndarray, **kw) -> list[go.BaseTraceType]:
    """The heatmap of one plane (rows = first axis) and its invisible markers for hover and clicks."""
    rows, cols = z.shape
    heat = go.Heatmap(z=z.tolist(), x=list(range(cols)), y=list(range(rows)), colorscale=g.metric.scale,
                      xgap=1, ygap=1, hoverinfo="skip", **kw)
    if g.metric.mid is not None:
        heat.zmid = g.metric.mid
    yy, xx = np.mgrid[0:rows, 0:cols]
    marks = go.Scatter(x=xx.ravel().tolist(), y=yy.ravel().tolist(), mode="markers", marker=INVISIBLE,
                       customdata=index.ravel().tolist(), hovertext=hover.ravel().tolist(), showlegend=False,
                       hovertemplate="%{hovertext}<extra></extra>", name="cells",
                       selected=dict(marker=dict(opacity=0)), unselected=dict(marker=dict(opacity=0)))
    return [heat, marks]


def _line_traces(lines: Sequence[Line], shown: set[str]) -> list[go.Scatter]:
    """Theory's polylines (x = position on the second axis, y = on the first); one legend entry per kind."""
    out = []
    for line in lines:
        for seg in line.segments:
            out.append(go.Scatter(x=[p[1] for p in seg], y=[p[0] for p in seg], mode="lines",
                                  line=LINE_STYLE.get(line.kind, dict(color=MUTED, width=3)), name=line.name,
                                  legendgroup=line.kind, showlegend=line.kind not in shown, hoverinfo="skip"))
            shown.add(line.kind)
    return out


def sweep_heatmap(g: Grid, lines: Sequence[Line] = (), title: str = "") -> go.Figure:
    rows, cols = g.z.shape
    fig = go.Figure(_cells_layer(g, g.z, g.hover, g.index, colorbar=_colourbar(g.metric),
                                 **colour_range(g.z, g.metric)))
    for trace in _line_traces([ln for ln in lines if ln.facet is None], set()):
        fig.add_trace(trace)
    fig.update_xaxes(**_ticks(g.axes[1]))
    fig.update_yaxes(**_ticks(g.axes[0]))
    height = int(min(760, max(460, 34 * rows + 220)))
    base_layout(fig, title, height)
    fig.update_layout(hovermode="closest", hoverdistance=-1, clickmode="event+select", dragmode=False)
    return fig


def sweep_line(g: Grid, lines: Sequence[Line] = (), title: str = "") -> go.Figure:
    """One axis: the metric per value (median over seeds) with the seeds' range as error bars."""
    axis = g.axes[0]
    n = len(axis.values)
    y = [None if not math.isfinite(v) else float(v) for v in g.z]
    lows, highs = _spread(g)
    up = [None if v is None or h is None else h - v for v, h in zip(y, highs, strict=True)]
    down = [None if v is None or lo is None else v - lo for v, lo in zip(y, lows, strict=True)]
    fig = go.Figure(go.Scatter(x=list(range(n)), y=y, mode="lines+markers", marker=dict(size=10, color=TRAIN),
                               line=dict(color=TRAIN, width=3), connectgaps=False, name=escape_label(g.metric.short),
                               error_y=dict(type="data", array=up, arrayminus=down, visible=True, color=MUTED),
                               customdata=g.index.tolist(), hovertext=g.hover.tolist(),
                               hovertemplate="%{hovertext}<extra></extra>", showlegend=False))
    for line in lines:
        if line.at is not None and -0.5 <= line.at <= n - 0.5:
            fig.add_shape(type="line", x0=line.at, x1=line.at, yref="paper", y0=0, y1=1,
                          line=LINE_STYLE.get(line.kind, dict(color=MUTED, width=3)))
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=line.name,
                                     line=LINE_STYLE.get(line.kind, dict(color=MUTED, width=3))))
    fig.update_xaxes(**_ticks(axis))
    fig.update_yaxes(title_text=escape_label(g.metric.short), zeroline=False)
    if g.metric.bounds is not None:
        fig.update_yaxes(range=[g.metric.bounds[0] - 0.05, g.metric.bounds[1] + 0.05])
    base_layout(fig, title, 400)
    fig.update_layout(hovermode="closest", clickmode="event+select", dragmode=False)
    return fig


def _spread(g: Grid) -> tuple[list[float | None], list[float | None]]:
    """The seeds' lowest and highest value per cell of a 1-axis grid (None where not measured)."""
    def listed(a: np.ndarray) -> list[float | None]:
        return [None if not math.isfinite(v) else float(v) for v in a]

    return listed(g.low), listed(g.high)


def sweep_facets(g: Grid, lines: Sequence[Line] = (), title: str = "") -> go.Figure:
    """Three axes: one heatmap of the first two per value of the third (at most MAX_FACETS), one colour scale."""
    third = g.axes[2]
    k = min(len(third.values), MAX_FACETS)
    ncols = min(k, FACET_COLUMNS)
    nrows = math.ceil(k / ncols)
    names = [f"{escape_label(third.field)} = {third.labels[i]}" for i in range(k)]
    fig = make_subplots(rows=nrows, cols=ncols, subplot_titles=names, shared_xaxes=True, shared_yaxes=True,
                        horizontal_spacing=0.04, vertical_spacing=min(0.12, 0.35 / max(1, nrows)))
    rng = colour_range(g.z, g.metric)
    shown: set[str] = set()
    for f in range(k):
        r, c = f // ncols + 1, f % ncols + 1
        layer = _cells_layer(g, g.z[:, :, f], g.hover[:, :, f], g.index[:, :, f], coloraxis="coloraxis")
        for trace in layer + _line_traces([ln for ln in lines if ln.facet == f], shown):
            fig.add_trace(trace, row=r, col=c)
        fig.update_xaxes(**_ticks(g.axes[1]), row=r, col=c)
        fig.update_yaxes(**_ticks(g.axes[0]), row=r, col=c)
        if r < nrows:
            fig.update_xaxes(title_text="", row=r, col=c)
        if c > 1:
            fig.update_yaxes(title_text="", row=r, col=c)
    coloraxis = dict(colorscale=g.metric.scale, cmin=rng["zmin"], cmax=rng["zmax"], colorbar=_colourbar(g.metric))
    if g.metric.mid is not None:
        coloraxis["cmid"] = g.metric.mid
    if len(third.values) > k:
        title = f"{title} (the first {k} of {len(third.values)} values of {third.field})"
    base_layout(fig, title, int(min(1400, 300 * nrows + 140)) + FACET_TITLE_ROOM)
    # the facets' own titles sit just above their plots: move the plots down from the figure's title
    fig.update_layout(margin=dict(t=fig.layout.margin.t + FACET_TITLE_ROOM))
    fig.update_layout(coloraxis=coloraxis, hovermode="closest", hoverdistance=-1, clickmode="event+select",
                      dragmode=False)
    return fig
