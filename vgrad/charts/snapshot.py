"""The full kernel-gradient matrix dL/dW of one layer at one kept step (a `snapshot` record).

    steps = snapshot_steps(run.snapshots)            # {layer_index: [steps...]}
    fig = kernel_gradient(find_snapshot(run.snapshots, layer_index=0, step=steps[0][-1]), run.layers)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from vgrad.charts._common import DIVERGING, base_layout, empty_figure, fmt_sci, layer_labels
from vgrad.records import Layer, SnapshotRecord


def snapshot_steps(snapshots: Sequence[SnapshotRecord]) -> dict[int, list[int]]:
    """Layer index -> sorted steps that have a snapshot."""
    out: dict[int, set[int]] = {}
    for s in snapshots:
        out.setdefault(s.layer_index, set()).add(s.step)
    return {k: sorted(v) for k, v in sorted(out.items())}


def find_snapshot(snapshots: Sequence[SnapshotRecord], layer_index: int,
                  step: int | None = None) -> SnapshotRecord | None:
    """The snapshot of a layer at `step` (or the latest one at or before it; None = latest)."""
    best = None
    for s in snapshots:
        if s.layer_index != layer_index or (step is not None and s.step > step):
            continue
        if best is None or s.step >= best.step:
            best = s
    return best


def kernel_gradient(snapshot: SnapshotRecord | None, layers: Sequence[Layer] = (), *,
                    height: int = 380) -> go.Figure:
    """Heatmap of the kernel gradient (fan_in rows x fan_out columns), diverging scale centred at 0."""
    if snapshot is None or not snapshot.grad:
        return empty_figure("kernel gradient: no snapshot yet", height)
    g = np.array(snapshot.grad, dtype=float)
    if g.ndim == 1:
        g = g[:, None]
    finite = np.isfinite(g)
    m = float(np.max(np.abs(g[finite]))) if finite.any() else 0.0
    m = m if m > 0 else 1.0
    idx = snapshot.layer_index
    labels = layer_labels(layers)
    name = labels[idx] if idx < len(labels) else f"layer {idx + 1}"
    fig = go.Figure(go.Heatmap(
        z=g.astype(np.float32), zmin=-m, zmax=m, zmid=0, colorscale=DIVERGING,
        colorbar=dict(title=dict(text="dL/dW", side="top"), tickformat=".1e", thickness=18),
        hovertemplate="input unit %{y}<br>output unit %{x}<br>dL/dW = %{z:.3e}<extra></extra>",
        xgap=1 if g.shape[1] <= 40 else 0, ygap=1 if g.shape[0] <= 40 else 0,
    ))
    fig.update_xaxes(title_text=f"output unit ({g.shape[1]})", dtick=1 if g.shape[1] <= 16 else None)
    fig.update_yaxes(title_text=f"input unit ({g.shape[0]})", autorange="reversed",
                     dtick=1 if g.shape[0] <= 16 else None)
    norm = float(np.sqrt(np.sum(np.where(finite, g, 0.0) ** 2)))
    title = f"dL/dW of {name} at step {snapshot.step} (‖·‖ = {fmt_sci(norm)})"
    return base_layout(fig, title, height)
