"""Charts for every task, on real short trainings: multi-class boundary, regression surface, confusion."""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
import pytest

from vgrad import charts
from vgrad.config import RunConfig


@pytest.fixture(scope="module")
def runs():
    from vgrad.train.engine import train

    base = dict(epochs=3, hidden_layers=2, standardize=True, activation="relu", learning_rate=0.02)
    return {"multi": train(RunConfig(n_classes=3, n_informative=2, n_samples=150, **base)),
            "reg": train(RunConfig(dataset="playground_plane", n_samples=150, **base)),
            "iris": train(RunConfig(dataset="iris", n_samples=150, **base))}


def test_multiclass_boundary_colours_every_class(runs):
    run = runs["multi"]
    fig = charts.decision_boundary(run.boundaries[-1], run.data, classes=run.start.classes, task=run.task)
    heat = fig.data[0]
    assert isinstance(heat, go.Heatmap) and heat.zmax == 3
    assert np.array_equal(np.floor(np.array(heat.z, dtype=float)), np.array(run.boundaries[-1].label))
    points = [t for t in fig.data if isinstance(t, go.Scatter)]
    assert [t.name for t in points] == ["0", "1", "2"]
    assert len({t.marker.color for t in points}) == 3 and sum(len(t.x) for t in points) == len(run.data.x)
    json.loads(fig.to_json())


def test_regression_surface_and_r2_curve(runs):
    run = runs["reg"]
    fig = charts.decision_boundary(run.boundaries[-1], run.data, task="regression")
    np.testing.assert_allclose(np.array(fig.data[0].z, dtype=float), np.array(run.boundaries[-1].prob), atol=1e-4)
    assert fig.data[1].marker.color is not None  # points coloured by their target
    curves = charts.loss_accuracy(run.epochs, run.steps)
    score = [t for t in curves.data if t.name == "validation" and t.xaxis == "x2"][0]
    assert list(score.y) == pytest.approx([e.val_r2 for e in run.epochs])
    assert "R²" in curves.layout.yaxis2.title.text


def test_confusion_matrix_counts(runs):
    run = runs["iris"]
    fig = charts.confusion_matrix(run.confusion)
    heat = fig.data[0]
    assert list(heat.x) == ["setosa", "versicolor", "virginica"]
    assert np.array_equal(np.array(heat.customdata), np.array(run.confusion.val))
    rows = np.array(heat.z, dtype=float).sum(axis=1)
    assert np.allclose(rows[np.array(run.confusion.val).sum(axis=1) > 0], 1.0, atol=1e-5)
    assert f"{np.trace(np.array(run.confusion.val))} of {run.start.n_val} right" in fig.layout.title.text
    assert charts.confusion_matrix(None).data == ()


def test_network_diagram_edges_follow_the_kernel_gradient(runs):
    from vgrad.charts.network import BINS, latest_snapshots, network_diagram

    run = runs["multi"]  # 2 inputs, 2 hidden layers of 8, 3 outputs
    fig = network_diagram(run.snapshots, run.layers, run.steps[-1])
    edges = [t for t in fig.data if t.mode == "lines" and t.fill != "toself" and t.x[0] is not None]
    count = sum(sum(1 for v in t.x if v is None) for t in edges)
    assert count == 2 * 8 + 8 * 8 + 8 * 3 and len(edges) <= BINS  # every weight is one edge
    widest = max(edges, key=lambda t: t.line.width)
    latest = latest_snapshots(run.snapshots)
    biggest = max(max(abs(v) for row in s.grad for v in row) for s in latest.values())
    assert widest.line.width > min(t.line.width for t in edges) and biggest > 0
    wide = RunConfig(hidden_layers=2, units=40, epochs=1)
    from vgrad.train.engine import train

    w = train(wide)
    bands = [t for t in network_diagram(w.snapshots, w.layers, w.steps[-1]).data if t.fill == "toself"]
    assert len(bands) == 3  # 2 -> 40, 40 -> 40, 40 -> 1: every layer too wide to draw unit by unit
