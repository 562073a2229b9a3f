"""The confusion matrix at the end of a classification run: true class x predicted class.

    fig = confusion_matrix(run.confusion)            # validation set; part="train" for the training set
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from vgrad.charts._common import base_layout, empty_figure
from vgrad.records import ConfusionRecord
from vgrad.text import escape_label

MAX_ANNOTATED = 12  # classes up to which every cell shows its count


def confusion_matrix(record: ConfusionRecord | None, part: str = "val", *, height: int = 420) -> go.Figure:
    """Counts, coloured by the share of each true class (row) that was predicted as each class."""
    if record is None:
        return empty_figure("confusion matrix: shown when a classification run ends", height)
    counts = np.array(record.val if part == "val" else record.train, dtype=float)
    names = [escape_label(c, 40) for c in record.classes][:counts.shape[0]]
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    k = counts.shape[0]
    fig = go.Figure(go.Heatmap(
        z=share.astype(np.float32), x=names, y=names, zmin=0, zmax=1, colorscale="Blues",
        customdata=counts.astype(int), colorbar=dict(title=dict(text="share of the row", side="top"),
                                                    tickformat=".0%", thickness=18),
        hovertemplate="true %{y}<br>predicted %{x}<br>%{customdata} examples (%{z:.0%} of the row)<extra></extra>",
        text=counts.astype(int) if k <= MAX_ANNOTATED else None, texttemplate="%{text}" if k <= MAX_ANNOTATED else None,
        xgap=1, ygap=1))
    fig.update_xaxes(title_text="predicted class", type="category", side="bottom")
    fig.update_yaxes(title_text="true class", type="category", autorange="reversed", automargin=True)
    correct = int(np.trace(counts))
    total = int(counts.sum())
    which = "validation" if part == "val" else "training"
    return base_layout(fig, f"Confusion matrix, {which} set: {correct} of {total} right", height)
