"""Decision boundary of a 2-feature classifier over its training points.

    fig = decision_boundary(run.boundaries[-1], run.data)
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from vgrad.charts._common import CLASS_COLOURS, DIVERGING, base_layout, empty_figure
from vgrad.records import BoundaryRecord, DataRecord


def decision_boundary(boundary: BoundaryRecord | None, data: DataRecord | None = None, *,
                      height: int = 420) -> go.Figure:
    """Filled contour of P(class 1) with the 0.5 line, and the data points coloured by class."""
    if boundary is None or not boundary.prob or not boundary.xs or not boundary.ys:
        return empty_figure("decision boundary: available after the first epoch (2-feature data)", height)
    xs, ys = list(boundary.xs), list(boundary.ys)
    prob = np.asarray(boundary.prob, dtype=np.float32)  # compact binary in the figure JSON
    fig = go.Figure()
    fig.add_trace(go.Contour(
        x=xs, y=ys, z=prob, zmin=0, zmax=1, colorscale=DIVERGING, opacity=0.75,
        contours=dict(start=0, end=1, size=0.1), line=dict(width=0),
        colorbar=dict(title=dict(text="P(class 1)", side="top"), thickness=18),
        hovertemplate="x0 %{x:.2f}, x1 %{y:.2f}<br>P(class 1) = %{z:.2f}<extra></extra>", name="P(class 1)",
    ))
    fig.add_trace(go.Contour(
        x=xs, y=ys, z=prob, showscale=False, contours=dict(coloring="none", start=0.5, end=0.5, size=1),
        line=dict(color="black", width=3), hoverinfo="skip", name="P = 0.5",
    ))
    if data is not None and data.x:
        pts, labels = data.x, data.y
        for cls in (0, 1):
            sel = [p for p, lab in zip(pts, labels, strict=False) if int(lab) == cls]
            if sel:
                fig.add_trace(go.Scatter(
                    x=[p[0] for p in sel], y=[p[1] for p in sel], mode="markers", name=f"class {cls}",
                    marker=dict(color=CLASS_COLOURS[cls], size=9, symbol="circle" if cls == 0 else "diamond",
                                line=dict(color="white", width=1.5)),
                    hovertemplate=f"class {cls}<br>(%{{x:.2f}}, %{{y:.2f}})<extra></extra>",
                ))
    fig.update_xaxes(title_text="feature 0", range=[min(xs), max(xs)], constrain="domain")
    fig.update_yaxes(title_text="feature 1", range=[min(ys), max(ys)], scaleanchor="x", scaleratio=1,
                     constrain="domain")
    return base_layout(fig, f"Decision boundary after epoch {boundary.epoch}", height)
