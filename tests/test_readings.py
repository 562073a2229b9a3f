"""Automatic readings on real short runs: every number in a reading is the records' number."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from tests.real_runs import real_run
from tests.run_factory import make_run
from vgrad import readings as R
from vgrad.config import RunConfig
from vgrad.run import Run
from vgrad.text import MISSING, power_text


@pytest.fixture(scope="module")
def nb():
    return real_run("deep"), real_run("shallow"), real_run("relu")


@pytest.fixture(scope="module")
def rnn():
    return real_run("rnn-simple"), real_run("rnn-lstm")


@pytest.fixture(scope="module")
def clip():
    return real_run("exploding"), real_run("exploding-clipped")


def test_gradient_reading_numbers_are_the_records(nb):
    deep = nb[0]
    r = R.gradient_reading(deep)
    last = deep.steps[-1].grad_norm
    assert r.numbers["first"] == pytest.approx(last[0])
    assert r.numbers["last"] == pytest.approx(last[-1])
    assert r.numbers["orders"] == pytest.approx(math.log10(last[-1] / last[0]))
    assert r.numbers["step"] == deep.steps[-1].step
    assert r.verdict == "vanishing" and r.numbers["orders"] >= R.VANISHING_ORDERS
    assert f"10^{-r.numbers['orders']:.1f}" in r.text and "vanishing" in r.text


def test_relu_and_shallow_are_not_vanishing(nb):
    for run in nb[1:]:
        r = R.gradient_reading(run)
        assert r.verdict in ("balanced", "shrinking", "growing toward the input"), r.text
        assert r.numbers["orders"] < R.VANISHING_ORDERS


def test_act_grad_reading_skips_the_output_layer(nb):
    deep = nb[0]
    r = R.gradient_reading(deep, step=0, stat="act_grad_rms")
    values = deep.steps[0].act_grad_rms
    assert values[-1] is None  # dL/da of the output is not recorded
    assert r.numbers["last"] == pytest.approx(values[-2]) and r.numbers["first"] == pytest.approx(values[0])


def test_loss_reading_uses_first_step_and_last_epoch(nb):
    for run in nb:
        r = R.loss_reading(run)
        assert r.numbers["start"] == pytest.approx(run.steps[0].loss)
        assert r.numbers["end"] == pytest.approx(run.epochs[-1].loss)
        assert f"{r.numbers['end']:.3g}" in r.text
    assert R.loss_reading(nb[0]).verdict == "flat"     # the deep sigmoid net stays at ln 2
    assert R.loss_reading(nb[2]).verdict == "learned"  # the ReLU net learns in 3 steps


def test_accuracy_reading(nb):
    r = R.accuracy_reading(nb[2])
    assert r.numbers["val_accuracy"] == pytest.approx(nb[2].epochs[-1].val_accuracy)
    assert f"{r.numbers['accuracy']:.0%}" in r.text


def test_notebook_comparison_holds(nb):
    r = R.comparison_reading("notebook", list(nb), ["deep", "shallow", "relu"])
    assert r.holds is True and r.verdict == "as expected"
    assert r.numbers["attenuation deep"] == pytest.approx(nb[0].attenuation().orders)
    for x, label in zip(nb[1:], ["shallow", "relu"], strict=True):
        assert r.numbers[f"attenuation {label}"] == pytest.approx(x.attenuation().orders)
    assert nb[0].attenuation().orders - max(x.attenuation().orders for x in nb[1:]) >= 1.0


def test_comparison_table_matches_records(nb):
    table = R.comparison_table(list(nb), ["deep", "shallow", "relu"], loss_threshold=0.5)
    assert list(table["run"]) == ["deep", "shallow", "relu"]
    for row, run in zip(table.to_dict("records"), nb, strict=True):
        assert row["status"] == "finished" and row["steps"] == len(run.steps)
        assert row["final loss"] == pytest.approx(run.epochs[-1].loss)
        assert row["val acc"] == pytest.approx(run.epochs[-1].val_accuracy)
        assert row["grad dense_1"] == pytest.approx(run.steps[-1].grad_norm[0])
        assert row["grad output"] == pytest.approx(run.steps[-1].grad_norm[-1])
        reached = run.steps_to_loss(0.5)
        expected = next((e.step + 1 for e in run.epochs if e.loss <= 0.5), None)
        assert reached == expected
    assert math.isnan(table.loc[1, "grad dense_8"])  # the shallow net has no 8th layer


def test_time_reading_numbers(rnn):
    for run in rnn:
        r = R.time_reading(run)
        last = run.steps[-1].input_grad_by_time
        assert len(last) == 8
        assert r.numbers["first"] == pytest.approx(last[0]) and r.numbers["last"] == pytest.approx(last[-1])
        ratios = [s.input_grad_by_time[0] / s.input_grad_by_time[-1] for s in run.steps]
        assert r.numbers["median_ratio"] == pytest.approx(float(np.median(ratios)))
        assert r.numbers["start_ratio"] == pytest.approx(ratios[0])
        assert r.verdict == ("kept" if np.median(ratios) >= R.TIME_KEPT_RATIO else "vanishing")
        assert "time step 0" in r.text


def test_recurrent_comparison_reads_every_run(rnn):
    r = R.recurrent_reading(list(rnn), ["simple", "lstm"])
    assert {"time_kept simple", "time_kept lstm", "val_accuracy simple", "val_accuracy lstm"} <= set(r.numbers)
    assert r.holds in (True, False)  # two cell kinds and finished epochs: a verdict either way


def test_sigma_reading(rnn, clip):
    simple = rnn[0]
    r = R.sigma_reading(simple)
    assert r.numbers["start"] == pytest.approx(simple.steps[0].recurrent_sigma_max[0])
    assert r.numbers["end"] == pytest.approx(simple.steps[-1].recurrent_sigma_max[0])
    assert r.numbers["threshold"] == pytest.approx(1.0)  # tanh: gamma = 1
    loud = R.sigma_reading(clip[0])
    assert loud.verdict == "above 1/gamma" and loud.numbers["start"] > 2.5  # recurrent gain 3
    lstm = R.sigma_reading(rnn[1])
    assert "gates" in lstm.text


def test_clipping_reading(clip):
    free, clipped = clip
    norms = [s.global_norm for s in clipped.steps]
    applied = [s.global_norm_clipped for s in clipped.steps]
    r = R.clipping_reading(clipped)
    assert r.numbers["max"] == pytest.approx(max(norms))
    assert r.numbers["max_clipped"] == pytest.approx(max(applied))
    assert r.numbers["max_clipped"] <= 1.0 + 1e-3  # global_clipnorm=1 bounds every applied update
    assert r.numbers["steps_clipped"] == sum(a < n * (1 - 1e-4) for a, n in zip(applied, norms, strict=True))
    assert r.verdict == "clipped" and "global_clipnorm=1" in r.text
    f = R.clipping_reading(free)
    assert f.numbers["clip"] == 0 and f.numbers["max"] == pytest.approx(max(s.global_norm for s in free.steps))
    c = R.comparison_reading("clipping", [free, clipped], ["free", "clipped"])
    assert c.holds is True


def test_run_readings_pick_what_applies(nb, rnn):
    assert len(R.run_readings(nb[0])) == 3
    assert [x.verdict != "" for x in R.run_readings(rnn[0])] == [True] * 6


def test_he_comparison_on_synthetic_runs():
    flat = make_run(n_steps=20)
    flat.steps = [replace(s, loss=math.log(2)) for s in flat.steps]
    flat.epochs = [replace(e, loss=math.log(2) + 0.001) for e in flat.epochs]
    learns = make_run(n_steps=20)
    learns.steps[0] = replace(learns.steps[0], loss=0.69)
    learns.epochs[-1] = replace(learns.epochs[-1], loss=0.05)
    r = R.comparison_reading("he-init", [flat, learns], ["small", "he"])
    assert r.holds is True
    assert "flat near ln 2" in r.text and "fell from 0.69 to 0.05" in r.text


def test_mismatched_runs_get_a_generic_reading(nb):
    r = R.comparison_reading("notebook", list(nb[:2]), ["a", "b"])
    assert r.holds is None and "strongest attenuation: a" in r.text
    assert R.comparison_reading("unknown", list(nb[:2])).holds is None


def test_empty_runs_are_waiting():
    run = Run(config=RunConfig())
    for fn in (R.gradient_reading, R.loss_reading, R.accuracy_reading, R.time_reading, R.clipping_reading,
               R.sigma_reading):
        assert fn(run).verdict == "waiting"
    assert R.comparison_reading("notebook", []).verdict == "waiting"
    assert R.comparison_table([], []).empty


def test_power_text():
    assert power_text(3.2e-5) == "10^-4.5"
    assert power_text(0.42) == "0.42x"
    assert power_text(250.0) == "10^2.4"
    assert power_text(0.0) == "0" and power_text(math.nan) == MISSING


def test_all_zero_gradients_and_divergence_are_said_plainly():
    dead = make_run(n_steps=5)
    dead.steps = [replace(s, grad_norm=(0.0,) * len(s.grad_norm)) for s in dead.steps]
    r = R.gradient_reading(dead)
    assert r.verdict == "no gradient" and "exactly 0" in r.text
    blown = make_run(n_steps=5, status="diverged")
    blown.message = "diverged at step 4: the loss became NaN"
    assert R.loss_reading(blown).verdict == "diverged" and "NaN" in R.loss_reading(blown).text
    c = R.comparison_reading("residual", [make_run(n_steps=5), blown], ["plain", "residual"])
    assert c.holds is False and "residual diverged" in c.text


def test_early_first_grad_is_the_median_of_the_first_tenth():
    run = make_run(n_steps=40)
    values = [s.grad_norm[0] for s in run.steps[:4]]
    assert run.early_first_grad() == pytest.approx(float(np.median(values)))
    assert math.isnan(Run(config=RunConfig()).early_first_grad())


def test_rnn_verdict_is_simple_rnn_against_the_lstm():
    def rnn_like(cell: str, ratio: float, val: float) -> Run:
        run = make_run(n_steps=10, family="rnn", cell=cell, n_features=4, n_samples=100)
        run.steps = [replace(s, input_grad_by_time=(ratio, 1.0)) for s in run.steps]
        run.epochs[-1] = replace(run.epochs[-1], val_accuracy=val)
        return run

    runs = [rnn_like("simple_rnn", 1e-4, 0.5), rnn_like("lstm", 0.5, 0.95), rnn_like("gru", 1e-6, 0.5)]
    r = R.comparison_reading("rnn", runs, ["simple", "lstm", "gru"])
    assert r.holds is True  # the GRU not recovering does not contradict the expected pattern
    runs[1] = rnn_like("lstm", 1e-5, 0.5)
    assert R.comparison_reading("rnn", runs, ["simple", "lstm", "gru"]).holds is False


def test_notices_say_what_the_pictures_do_not():
    from vgrad.train.engine import train

    dead = train(RunConfig(activation="relu", initializer="he_normal", learning_rate=0.5, epochs=20, seed=3))
    texts = " ".join(n.text for n in R.notices(dead))
    assert "dead" in texts or "exactly 0" in texts, texts
    l2 = real_run("deep").config.with_values(l2=0.05, epochs=3)
    penalised = train(l2)
    assert any(n.verdict == "penalty dominates" for n in R.notices(penalised))
    clipped = train(RunConfig(epochs=2, clipvalue=100.0))
    assert any(n.verdict == "clipping idle" for n in R.notices(clipped))
    assert R.notices(real_run("relu")) == [] or all(n.text for n in R.notices(real_run("relu")))


def test_remedies_verdict_reads_the_back_propagated_gradient():
    from vgrad.presets import COMPARISONS
    from vgrad.train.engine import train

    comp = COMPARISONS["remedies"]
    runs = [train(RunConfig.from_dict({**__import__("vgrad").preset(p).to_dict(), "epochs": 8}))
            for p in comp.presets]
    r = R.comparison_reading("remedies", runs, list(comp.presets))
    assert r.holds is True, r.text
    dropout_l2 = runs[-1]
    assert dropout_l2.early_first_grad() > 100 * runs[0].early_first_grad()  # dL/dW inflated by L2 ...
    assert dropout_l2.early_first_grad(stat="act_grad_rms") < 10 * runs[0].early_first_grad(stat="act_grad_rms")
    relu = runs[1]
    assert R.gradient_reading(relu).verdict in ("balanced", "shrinking")  # early in training, not at loss ~0


@pytest.mark.parametrize("fields, loss, acc", [
    ({}, "ln 2 = 0.693", "50%"),
    ({"dataset": "classification", "n_classes": 5, "n_features": 4, "n_informative": 3}, "ln 5 = 1.61", "20%"),
])
def test_the_curves_caption_names_the_chance_loss_of_the_runs_classes(fields, loss, acc):
    from vgrad.ui.panels import curves_caption

    said = curves_caption(Run(config=RunConfig(**fields)))
    assert loss in said and f"accuracy near {acc}" in said


def test_the_curves_caption_of_a_regression_says_r2():
    from vgrad.ui.panels import curves_caption

    run = Run(config=RunConfig(dataset="diabetes"))
    assert run.task == "regression"
    assert "1.0 (predicting the mean)" in curves_caption(run) and "R² near 0" in curves_caption(run)
