"""vgrad.charts.compare, .recurrent and .lessons: pure figures from runs (no TF, no Streamlit)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.run_factory import make_run
from vgrad.charts import compare as C
from vgrad.charts import lessons as LC
from vgrad.charts import recurrent as RC
from vgrad.config import RunConfig
from vgrad.lessons import UpdateVsGradient, chain_factors, derivative_bound, init_spread
from vgrad.run import Run


def rnn_run(n_steps: int = 30, seq_len: int = 10, decay: float = 0.5, sigma: float = 1.2, clip: float = 0.0,
            cell: str = "simple_rnn") -> Run:
    """A recurrent run shaped like the engine's: ‖dL/dx_t‖ = decay ** (seq_len - 1 - t)."""
    cfg = RunConfig(family="rnn", cell=cell, seq_len=seq_len, activation="tanh", global_clipnorm=clip,
                    n_features=4, epochs=3, n_samples=100)
    layers = [{"name": f"{cell}_1", "index": 0, "kind": cell, "units": 8, "activation": "tanh", "fan_in": 4},
              {"name": "output", "index": 1, "kind": "output", "units": 1, "activation": "sigmoid", "fan_in": 8}]
    recs = [{"kind": "start", "layers": layers, "n_train": 75, "n_val": 25, "steps_per_epoch": 10,
             "total_steps": n_steps, "family": "rnn", "seq_len": seq_len, "lr": 0.01}]
    for s in range(n_steps):
        norm = 10.0 * (1 + s)
        rec = {"kind": "step", "step": s, "epoch": s // 10, "loss": 0.69, "global_norm": norm,
               "global_norm_clipped": min(norm, clip) if clip else norm,
               "input_grad_by_time": [decay ** (seq_len - 1 - t) for t in range(seq_len)],
               "recurrent_sigma_max": [sigma + 0.01 * s]}
        for k in ("grad_norm", "grad_mean_abs", "grad_max_abs", "bias_grad_norm", "bias_grad_mean_abs",
                  "bias_grad_max_abs", "act_grad_rms", "act_mean", "act_std", "act_saturated", "act_dead",
                  "update_ratio"):
            rec[k] = [0.1, 0.2]
        recs.append(rec)
        if s % 10 == 9:
            recs.append({"kind": "epoch", "epoch": s // 10, "step": s, "loss": 0.69, "accuracy": 0.5,
                         "val_loss": 0.7, "val_accuracy": 0.5})
    recs.append({"kind": "status", "status": "finished", "step": n_steps - 1, "message": ""})
    return Run.from_records(cfg, recs)


@pytest.fixture
def runs():
    return [make_run(n_layers=5, seed=1), make_run(n_layers=3, seed=2), make_run(n_layers=4, seed=3)]


def _heatmaps(fig):
    return [t for t in fig.data if t.type == "heatmap"]


def test_heatmap_grid_shares_one_colour_axis(runs):
    all_runs = [*runs, make_run(n_layers=9, seed=4)]
    fig = C.heatmap_grid(all_runs, ["a", "b", "c", "real"])
    maps = _heatmaps(fig)
    assert len(maps) == 4
    assert {t.coloraxis for t in maps} == {"coloraxis"}
    values = np.concatenate([np.log10(np.array([s.grad_norm for s in r.steps], dtype=float)).ravel()
                             for r in all_runs])
    assert fig.layout.coloraxis.cmin == pytest.approx(np.nanmin(values))
    assert fig.layout.coloraxis.cmax == pytest.approx(np.nanmax(values))
    assert [a.text for a in fig.layout.annotations][:4] == ["a", "b", "c", "real"]
    # rows are layers, input first
    assert list(maps[0].y) == ["1", "2", "3", "4", "5"] and maps[0].z.shape == (5, 20)


def test_heatmap_grid_act_grad_and_empty(runs):
    fig = C.heatmap_grid(runs, ["a", "b", "c"], stat="act_grad_rms")
    assert len(_heatmaps(fig)) == 3
    empty = C.heatmap_grid([Run(config=RunConfig())], ["x"])
    assert not _heatmaps(empty) and "no steps" in empty.layout.annotations[0].text
    assert not _heatmaps(C.heatmap_grid([], []))


def test_heatmap_grid_bins_long_runs():
    long = make_run(n_layers=3, n_steps=1000, steps_per_epoch=100, snapshot_every=0)
    fig = C.heatmap_grid([long, long], ["x", "y"], max_columns=200)
    assert all(len(t.x) <= 200 for t in _heatmaps(fig))


def test_loss_overlay_one_colour_per_run(runs):
    fig = C.loss_overlay(runs, ["a", "b", "c"])
    named = [t for t in fig.data if t.showlegend is not False]
    assert [t.name for t in named] == ["a", "b", "c"]
    assert [t.line.color for t in named] == list(C.RUN_COLOURS[:3])
    val = [t for t in fig.data if t.xaxis == "x2"]
    assert list(val[0].y) == [e.val_accuracy for e in runs[0].epochs]
    assert any(abs(s.y0 - math.log(2)) < 1e-9 for s in fig.layout.shapes)


def test_first_layer_overlay_and_profile(runs):
    fig = C.first_layer_overlay(runs, ["a", "b", "c"])
    assert list(fig.data[1].y) == pytest.approx([s.grad_norm[0] for s in runs[1].steps])
    assert fig.layout.yaxis.type == "log"
    prof = C.layer_profile_overlay(runs, ["a", "b", "c"])
    assert list(prof.data[0].y) == pytest.approx(runs[0].steps[-1].grad_norm)
    assert list(prof.data[0].x) == [1, 2, 3, 4, 5]


def test_time_heatmaps_share_a_scale():
    runs = [rnn_run(decay=0.5), rnn_run(decay=0.9, cell="lstm")]
    fig = RC.time_heatmaps(runs, ["simple", "lstm"])
    maps = _heatmaps(fig)
    assert {t.coloraxis for t in maps} == {"coloraxis"}
    assert maps[0].z.shape == (10, 30)  # time steps x training steps
    assert fig.layout.coloraxis.cmin == pytest.approx(9 * math.log10(0.5))
    assert fig.layout.coloraxis.cmax == pytest.approx(0.0)
    assert maps[0].z[0, 0] == pytest.approx(9 * math.log10(0.5))


def test_time_profile_and_sigma_chart():
    runs = [rnn_run(decay=0.5), rnn_run(sigma=3.0)]
    prof = RC.time_profile(runs, ["a", "b"])
    assert list(prof.data[0].y) == pytest.approx([0.5 ** (9 - t) for t in range(10)])
    sig = RC.sigma_chart(runs, ["a", "b"])
    assert list(sig.data[1].y)[0] == pytest.approx(3.0)
    assert [s.y0 for s in sig.layout.shapes] == [pytest.approx(1 / derivative_bound("tanh"))]
    assert "1/gamma" in sig.layout.annotations[0].text


def test_norm_chart_draws_clipped_line_only_when_clipping():
    fig = RC.norm_chart([rnn_run(), rnn_run(clip=1.0)], ["free", "clipped"])
    names = [t.name for t in fig.data]
    assert names == ["free", "clipped", "clipped after clipping"]
    assert max(fig.data[2].y) == pytest.approx(1.0)


def test_recurrent_charts_empty():
    empty = Run(config=RunConfig(family="rnn"))
    for fn in (RC.time_heatmaps, RC.time_profile, RC.sigma_chart, RC.norm_chart):
        fig = fn([empty], ["x"])
        assert fig.layout.annotations and not _heatmaps(fig)


def test_activations_figure_marks_each_bound():
    fig = LC.activations_figure(["sigmoid", "tanh", "relu"])
    bounds = [t for t in fig.data if t.name == "bound sup|f'|"]
    assert [b.y[0] for b in bounds] == pytest.approx([0.25, 1.0, 1.0])
    assert "sigmoid: max f' = 0.25" in [a.text for a in fig.layout.annotations]
    assert not LC.activations_figure([]).data


def test_bound_product_figure_values():
    fig = LC.bound_product_figure(["sigmoid"], max_depth=10, typical=False)
    assert list(fig.data[0].y) == pytest.approx([0.25 ** d for d in range(1, 11)])
    assert fig.layout.yaxis.type == "log"


def test_chain_and_init_figures():
    run = make_run(n_layers=6)
    step = run.steps[0]
    names = [layer.name for layer in run.layers]
    c = chain_factors(step)
    fig = LC.chain_figure(c, names)
    bars = [t for t in fig.data if t.type == "bar"][0]
    assert list(bars.y) == pytest.approx(c["factors"])
    assert f"{np.prod(c['factors']):.3g}" in fig.layout.title.text
    init = LC.init_spread_figure(init_spread(step), names)
    assert list(init.data[0].y) == pytest.approx(step.act_std)
    assert "at least two layers" in LC.chain_figure({"rms": [1.0]}).layout.annotations[0].text


def test_update_vs_gradient_figure():
    est = np.array([[0.2, -0.3], [0.1, 0.25]])
    grad = np.array([[1e-6, 0.0], [-2e-6, 3e-6]])
    u = UpdateVsGradient(est, grad, None, est * 1.001, 3, "adam", 0.1)
    fig = LC.update_vs_gradient_figure(u)
    assert [t.name for t in fig.data] == ["notebook: (initial - final) / lr", "adam replayed on the true gradients",
                                          "true gradient dL/dW at step 0"]
    assert list(fig.data[0].y) == pytest.approx(np.abs(est).ravel())
    assert math.isnan(fig.data[2].y[1])  # an exact zero cannot sit on a log axis
    assert "waiting" in LC.update_vs_gradient_figure(None).layout.annotations[0].text


def test_identical_runs_are_drawn_dashed_and_named():
    from tests.run_factory import make_run

    a, b, c = make_run(seed=1), make_run(seed=1), make_run(seed=2)
    assert C.same_as([a, b, c]) == {1: 0}
    fig = C.loss_overlay([a, b, c], ["base", "clip", "other"])
    named = [t for t in fig.data if t.showlegend is not False]
    assert [t.name for t in named] == ["base", "clip (identical to base)", "other"]
    assert named[1].line.dash == "dash" and named[0].line.dash == "solid"
