"""vgrad.lessons: the numpy activations against Keras, derivative bounds, and the notebook's flaw
measured on real runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.real_runs import real_run
from vgrad import lessons as L
from vgrad.config import ACTIVATIONS

X = np.linspace(-6, 6, 241)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_matches_keras(name):
    import keras

    if name in ("leaky_relu", "prelu"):
        expected = np.where(X > 0, X, 0.3 * X)
    else:
        expected = np.asarray(keras.activations.get(name)(keras.ops.convert_to_tensor(X.astype("float32"))))
    assert np.allclose(L.activation(name, X), expected, atol=2e-6)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_derivative_matches_finite_differences(name):
    h = 1e-5
    x = X[np.abs(X) > 1e-3]  # away from the kinks
    numeric = (L.activation(name, x + h) - L.activation(name, x - h)) / (2 * h)
    assert np.allclose(L.derivative(name, x), numeric, atol=1e-5)


def test_known_bounds():
    assert L.derivative_bound("sigmoid") == pytest.approx(0.25)
    assert L.derivative_peak("sigmoid") == pytest.approx(0.0)
    for name in ("tanh", "relu", "leaky_relu", "elu", "softsign", "linear"):
        assert L.derivative_bound(name) == pytest.approx(1.0)
    assert L.derivative_bound("selu") == pytest.approx(L.SELU_SCALE * L.SELU_ALPHA, rel=1e-3)
    assert L.derivative_bound("gelu") == pytest.approx(1.1289, abs=1e-3)
    assert L.derivative_bound("swish") == pytest.approx(1.0998, abs=1e-3)
    assert L.derivative_bound("leaky_relu", alpha=1.5) == pytest.approx(1.5)


def test_bound_products():
    assert L.bound_product("sigmoid", 8) == pytest.approx(0.25 ** 8)
    table = L.bound_table([1, 2, 10], ["sigmoid", "tanh"])
    assert np.allclose(table["sigmoid"], [0.25, 0.0625, 0.25 ** 10])
    assert np.allclose(table["tanh"], 1.0)
    # a typical factor is below the bound
    for name in ACTIVATIONS:
        assert L.mean_derivative(name) <= L.derivative_bound(name) + 1e-9
    assert L.mean_derivative("relu") == pytest.approx(0.5, abs=1e-3)


def test_unknown_activation_names_itself():
    with pytest.raises(ValueError, match="activation"):
        L.activation("nope", X)


def test_update_vs_gradient_on_the_notebook_run():
    run = real_run("deep")
    u = L.update_vs_gradient(run)
    assert u is not None and u.optimizer == "adam" and u.steps == len(run.steps) == 3
    w = run.weights
    assert np.allclose(u.estimate, (np.array(w["initial"].kernel) - np.array(w["final"].kernel))
                       / run.config.learning_rate)
    snap0 = next(s for s in run.snapshots if s.step == 0 and s.layer_index == 0)
    assert np.allclose(u.gradient, snap0.grad)
    assert u.numbers["gradient_norm"] == pytest.approx(np.linalg.norm(snap0.grad))
    # the notebook's "gradient" is many orders of magnitude larger than the gradient
    assert u.numbers["ratio"] > 1e3
    # and Adam replayed on the recorded true gradients reproduces it
    assert u.replay is not None and u.numbers["replay_error"] < 0.02
    assert any("Replaying adam" in s for s in u.sentences)


def test_with_sgd_the_estimate_is_the_sum_of_gradients():
    run = real_run("relu-sgd")
    u = L.update_vs_gradient(run)
    assert u.gradient_sum is not None
    assert np.allclose(u.estimate, u.gradient_sum, rtol=1e-3, atol=1e-6)
    assert u.numbers["replay_error"] < 1e-3
    assert any("exactly the sum" in s for s in u.sentences)


def test_adam_replay_first_step_is_lr_sign():
    g = np.array([[1e-4, -3.0], [2.0, -1e-3]])
    total = L.adam_replay([g], lr=0.1) / 0.1
    assert np.allclose(total, np.sign(g), atol=0.05)  # |update| = lr whatever |g| ...
    tiny = L.adam_replay([np.array([1e-6])], lr=0.1) / 0.1
    assert 0.1 < tiny[0] < 0.5  # ... until |g| nears Keras' epsilon (1e-7 against sqrt(1 - beta_2) |g|)


def test_chain_factors_multiply_to_first_over_last():
    run = real_run("deep")
    step = run.steps[0]
    c = L.chain_factors(step)
    rms = [v for v in step.act_grad_rms if v is not None]
    assert c["rms"] == pytest.approx(rms)
    assert math.prod(c["factors"]) == pytest.approx(rms[0] / rms[-1])
    assert all(f < 1 for f in c["factors"])  # every sigmoid layer shrinks the gradient here


def test_init_spread_reads_the_first_step():
    step = real_run("relu").steps[0]
    s = L.init_spread(step)
    assert s["act_std"] == list(step.act_std) and s["act_grad_rms"] == list(step.act_grad_rms)


def test_waits_without_weights():
    from vgrad.config import RunConfig
    from vgrad.run import Run

    assert L.update_vs_gradient(Run(config=RunConfig())) is None
