"""Chart functions on real records from vgrad.train.engine.train."""

from __future__ import annotations

import json
import math
import sys
from dataclasses import replace

import numpy as np
import plotly.graph_objects as go
import pytest

from vgrad import charts
from vgrad.charts._common import bin_columns, column_edges


def _z(fig: go.Figure, i: int = 0) -> np.ndarray:
    z = fig.data[i].z
    return np.array(z, dtype=float)


def test_charts_import_neither_streamlit_nor_tensorflow():
    import subprocess

    code = ("import sys, vgrad.charts; bad=[m for m in ('streamlit','tensorflow','keras') if m in sys.modules];"
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_heatmap_z_is_log10_of_real_grad_norms_input_at_bottom(real_run):
    fig = charts.gradient_heatmap(real_run.steps, real_run.layers)
    hm = fig.data[0]
    assert isinstance(hm, go.Heatmap)
    z = _z(fig)
    expected = np.log10(np.array([s.grad_norm for s in real_run.steps], dtype=float)).T
    assert z.shape == expected.shape == (len(real_run.layers), len(real_run.steps))
    np.testing.assert_allclose(z, expected, rtol=1e-5, atol=1e-5)
    # Rows go input -> output; plotly draws the first category at the bottom.
    assert list(hm.y)[0].startswith("1· dense_1") and "output" in list(hm.y)[-1]
    assert fig.layout.yaxis.type == "category" and fig.layout.yaxis.autorange in (None, True)
    # Colour bar in orders of magnitude: integer tick values labelled as powers of ten.
    ticks = list(hm.colorbar.tickvals)
    assert all(float(t).is_integer() for t in ticks)
    assert list(hm.colorbar.ticktext)[0] == charts.pow10_label(ticks[0])
    assert hm.zmin <= np.nanmin(z) and hm.zmax >= np.nanmax(z)
    # The deep sigmoid net: the input layer's gradient is orders of magnitude below the output's.
    assert z[0].mean() < z[-1].mean() - 2


def test_heatmap_switches_to_backpropagated_gradient(real_run):
    fig = charts.gradient_heatmap(real_run.steps, real_run.layers, stat="act_grad_rms")
    z = _z(fig)
    vals = np.array([[np.nan if v is None else v for v in s.act_grad_rms] for s in real_run.steps]).T
    keep = ~np.all(np.isnan(vals), axis=1)  # the output layer has no dL/da row
    np.testing.assert_allclose(z, np.log10(vals[keep]), rtol=1e-5, atol=1e-5)
    assert "dL/da" in fig.data[0].colorbar.title.text


def test_heatmap_shared_scale(real_run):
    fig = charts.gradient_heatmap(real_run.steps, real_run.layers, zmin=-9, zmax=1)
    assert (fig.data[0].zmin, fig.data[0].zmax) == (-9, 1)
    lo, hi = charts.log_range([real_run.steps, real_run.steps[:3]])
    z = _z(charts.gradient_heatmap(real_run.steps, real_run.layers))
    assert lo == pytest.approx(np.nanmin(z), abs=1e-4) and hi == pytest.approx(np.nanmax(z), abs=1e-4)


def test_heatmap_columns_bounded_for_long_runs(long_steps, real_run):
    fig = charts.gradient_heatmap(long_steps, real_run.layers)
    x = np.array(fig.data[0].x, dtype=float)
    z = _z(fig)
    assert z.shape[1] == len(x) <= 300
    assert np.all(np.diff(x) > 0)
    # The most recent steps are kept at full resolution.
    np.testing.assert_allclose(x[-150:], np.arange(5000 - 150, 5000))
    np.testing.assert_allclose(z[:, -1], np.log10(long_steps[-1].grad_norm), rtol=1e-5)
    assert len(fig.to_json()) < 60_000


def test_binning_is_a_geometric_mean():
    edges = column_edges(1000, max_columns=100, recent=50)
    assert edges[0] == 0 and edges[-1] == 1000 and len(edges) - 1 <= 100
    x = np.arange(1000, dtype=float)
    z = np.log10(np.vstack([np.full(1000, 1e-3), np.where(np.arange(1000) % 2, 1e-2, 1e-4)]))
    xb, zb = bin_columns(x, z, 100, 50)
    assert zb.shape == (2, len(xb)) and len(xb) <= 100
    np.testing.assert_allclose(zb[0], -3)
    groups = zip(edges[:-1], edges[1:], strict=True)
    expected = [np.log10(np.prod(10 ** z[1, a:b]) ** (1 / (b - a))) for a, b in groups]
    np.testing.assert_allclose(zb[1], expected)  # log of the geometric mean of each group
    np.testing.assert_allclose(xb[-50:], np.arange(950, 1000))


def test_loss_accuracy_curves(real_run):
    fig = charts.loss_accuracy(real_run.epochs, real_run.steps)
    by_name = {}
    for t in fig.data:
        by_name.setdefault(t.name, []).append(t)
    assert set(by_name) == {"batch loss", "train", "validation"}
    train_loss, train_acc = by_name["train"]
    assert list(train_loss.y) == pytest.approx([e.loss for e in real_run.epochs])
    assert list(by_name["validation"][1].y) == pytest.approx([e.val_accuracy for e in real_run.epochs])
    assert list(train_loss.x) == [e.step for e in real_run.epochs]


def test_gradient_flow_bars_and_ratio(real_run):
    last = real_run.steps[-1]
    fig = charts.gradient_flow(last, real_run.layers)
    bar = fig.data[0]
    assert isinstance(bar, go.Bar) and fig.layout.yaxis.type == "log"
    assert list(bar.y) == pytest.approx(last.grad_norm)
    note = fig.layout.annotations[0].text
    orders = real_run.attenuation_orders()
    assert f"{orders:.1f} orders of magnitude smaller" in note
    assert f"step {last.step}" in fig.layout.title.text


def test_kernel_gradient_matrix_diverging_centered(real_run):
    steps = charts.snapshot_steps(real_run.snapshots)
    assert set(steps) == set(range(len(real_run.layers)))
    snap = charts.find_snapshot(real_run.snapshots, layer_index=1, step=steps[1][-1])
    fig = charts.kernel_gradient(snap, real_run.layers)
    hm = fig.data[0]
    z = _z(fig)
    np.testing.assert_allclose(z, np.array(snap.grad), rtol=1e-5, atol=1e-12)
    assert z.shape == (8, 8)
    assert hm.zmid == 0 and hm.zmin == pytest.approx(-hm.zmax)
    assert hm.zmax == pytest.approx(np.abs(z).max(), rel=1e-5)
    # "latest at or before": asking for a step past the end gives the last kept one.
    assert charts.find_snapshot(real_run.snapshots, 0, step=10**9).step == steps[0][-1]


def test_activation_health(real_run, long_steps):
    fig = charts.activation_health(real_run.steps, real_run.layers)
    hm = fig.data[0]
    assert all(name.endswith("saturated") for name in hm.y)  # sigmoid layers report saturation
    z = _z(fig)
    sat = np.array([s.act_saturated for s in real_run.steps], dtype=float).T
    np.testing.assert_allclose(z, sat, atol=1e-6)
    assert (hm.zmin, hm.zmax) == (0, 1)
    assert _z(charts.activation_health(long_steps, real_run.layers)).shape[1] <= 300


def test_decision_boundary(real_run):
    b = real_run.boundaries[-1]
    fig = charts.decision_boundary(b, real_run.data)
    contour = fig.data[0]
    np.testing.assert_allclose(np.array(contour.z, dtype=float), np.array(b.prob), atol=1e-6)
    assert fig.data[1].contours.start == 0.5
    points = [t for t in fig.data if isinstance(t, go.Scatter)]
    assert sum(len(t.x) for t in points) == len(real_run.data.x)


def test_headline_numbers_and_banner(real_run):
    from vgrad.readings import divergence_banner
    from vgrad.run import Run
    from vgrad.text import orders_text

    assert real_run.status == "finished" and real_run.last_step + 1 == real_run.total_steps == 15
    assert len(real_run.epochs) == real_run.epochs_total == 5 and real_run.progress == 1.0
    assert real_run.final_metrics()["val_accuracy"] == pytest.approx(real_run.epochs[-1].val_accuracy)
    assert "orders" in orders_text(real_run.attenuation_orders())
    assert divergence_banner(real_run) is None
    bad = Run.from_records(real_run.config, [real_run.start, *real_run.steps[:2], {
        "kind": "status", "status": "diverged", "step": 1, "message": "diverged at step 1: gradients exploded"}])
    assert "step 1" in divergence_banner(bad)


def test_empty_and_degenerate_inputs_do_not_raise(real_run):
    layers = real_run.layers
    assert charts.gradient_heatmap([], layers).data == ()
    assert charts.loss_accuracy([], []).data == ()
    assert charts.gradient_flow(None, layers).data == ()
    assert charts.kernel_gradient(None).data == ()
    assert charts.decision_boundary(None).data == ()
    weird = replace(real_run.steps[0], grad_norm=(None, 0.0, math.inf, -1.0, 1e-3, None, None, None, 1.0))
    for fig in (charts.gradient_heatmap([weird], layers), charts.gradient_flow(weird, layers),
                charts.activation_health([weird], layers)):
        json.loads(fig.to_json())
    short = replace(real_run.steps[0], grad_norm=(1.0,))  # wrong length: treated as missing
    charts.gradient_heatmap([short, real_run.steps[1]], layers)
