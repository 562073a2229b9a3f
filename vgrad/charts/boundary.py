"""Decision boundary of a 2-feature model over its training points, for every task.

    fig = decision_boundary(run.boundaries[-1], run.data, classes=run.start.classes, task=run.task)

binary: filled contour of P(class 1) with the P = 0.5 line; multi-class: each grid cell in its winning
class's colour (paler where the model is unsure); regression: the predicted surface with the points
coloured by their target.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from vgrad.charts._common import DIVERGING, base_layout, class_colour, empty_figure
from vgrad.records import BoundaryRecord, DataRecord
from vgrad.text import escape_label


def decision_boundary(boundary: BoundaryRecord | None, data: DataRecord | None = None, *,
                      classes: Sequence[str] = (), task: str = "binary", height: int = 420) -> go.Figure:
    if boundary is None or not boundary.prob or not boundary.xs or not boundary.ys:
        return empty_figure("decision boundary: available after the first epoch (2-feature data)", height)
    xs, ys = list(boundary.xs), list(boundary.ys)
    value = np.asarray(boundary.prob, dtype=np.float32)  # compact binary in the figure JSON
    names = [escape_label(c) for c in classes] or ["0", "1"]
    fig = go.Figure()
    if task == "multiclass" and boundary.label is not None:
        _classes_map(fig, xs, ys, np.asarray(boundary.label), value, names)
        title = "Predicted class"
    elif task == "regression":
        fig.add_trace(go.Contour(
            x=xs, y=ys, z=value, colorscale="Viridis", opacity=0.8, line=dict(width=0), name="prediction",
            colorbar=dict(title=dict(text="prediction", side="top"), thickness=18),
            hovertemplate="x0 %{x:.2f}, x1 %{y:.2f}<br>prediction %{z:.3g}<extra></extra>"))
        title = "Predicted surface"
    else:
        fig.add_trace(go.Contour(
            x=xs, y=ys, z=value, zmin=0, zmax=1, colorscale=DIVERGING, opacity=0.75,
            contours=dict(start=0, end=1, size=0.1), line=dict(width=0),
            colorbar=dict(title=dict(text=f"P({names[-1]})", side="top"), thickness=18),
            hovertemplate="x0 %{x:.2f}, x1 %{y:.2f}<br>P = %{z:.2f}<extra></extra>", name="P(class 1)"))
        fig.add_trace(go.Contour(
            x=xs, y=ys, z=value, showscale=False, contours=dict(coloring="none", start=0.5, end=0.5, size=1),
            line=dict(color="black", width=3), hoverinfo="skip", name="P = 0.5"))
        title = "Decision boundary"
    if data is not None and data.x:
        _points(fig, data, names, task)
    fig.update_xaxes(title_text="feature 0", range=[min(xs), max(xs)], constrain="domain")
    fig.update_yaxes(title_text="feature 1", range=[min(ys), max(ys)], scaleanchor="x", scaleratio=1,
                     constrain="domain")
    return base_layout(fig, f"{title} after epoch {boundary.epoch}", height)  # legend at the bottom edge


def _classes_map(fig: go.Figure, xs, ys, label: np.ndarray, confidence: np.ndarray, names: list[str]) -> None:
    """One heatmap: the winning class as a discrete colour, paler where its probability is low."""
    k = max(len(names), int(label.max()) + 1)
    # Discrete scale: class i occupies [i, i+1) / k, pale ("unsure") then strong.
    scale = []
    for i in range(k):
        lo, hi = i / k, (i + 1) / k
        scale += [[lo, _pale(class_colour(i))], [hi - 1e-9 if i < k - 1 else hi, class_colour(i)]]
    z = label + np.clip((confidence - 1.0 / k) / (1.0 - 1.0 / k + 1e-9), 0, 0.999)  # class + confidence
    text = np.array(names, dtype=object)[np.clip(label, 0, len(names) - 1)] if names else label
    fig.add_trace(go.Heatmap(
        x=xs, y=ys, z=z.astype(np.float32), zmin=0, zmax=k, colorscale=scale, showscale=False, opacity=0.6,
        customdata=np.dstack([text, np.round(confidence, 2)]), name="predicted class",
        hovertemplate="x0 %{x:.2f}, x1 %{y:.2f}<br>%{customdata[0]} (P = %{customdata[1]})<extra></extra>"))


def _points(fig: go.Figure, data: DataRecord, names: list[str], task: str) -> None:
    pts = np.asarray(data.x, dtype=float)
    y = np.asarray(data.y, dtype=float)
    if task == "regression":
        fig.add_trace(go.Scatter(
            x=pts[:, 0], y=pts[:, 1], mode="markers", name="training points", showlegend=False,
            marker=dict(color=y, colorscale="Viridis", size=9, line=dict(color="white", width=1.5)),
            hovertemplate="(%{x:.2f}, %{y:.2f})<br>target %{marker.color:.3g}<extra></extra>"))
        return
    symbols = ("circle", "diamond", "square", "triangle-up", "x", "cross", "star", "hexagon", "pentagon", "bowtie")
    for cls in sorted({int(v) for v in y}):
        sel = pts[y == cls]
        name = names[cls] if cls < len(names) else str(cls)
        fig.add_trace(go.Scatter(
            x=sel[:, 0], y=sel[:, 1], mode="markers", name=name,
            marker=dict(color=class_colour(cls), size=9, symbol=symbols[cls % len(symbols)],
                        line=dict(color="white", width=1.5)),
            hovertemplate=f"{name}<br>(%{{x:.2f}}, %{{y:.2f}})<extra></extra>"))


def _pale(hex_colour: str, amount: float = 0.75) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    mix = [round(c + (255 - c) * amount) for c in (r, g, b)]
    return f"#{mix[0]:02x}{mix[1]:02x}{mix[2]:02x}"
