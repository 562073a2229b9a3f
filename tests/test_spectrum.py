"""The engine's Jacobian spectrum record: the true singular values of d a_last / d a_first, and on wide
random nets their mean square agrees with mean-field theory (vgrad.theory)."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from vgrad import theory
from vgrad.config import RunConfig
from vgrad.train.engine import SPECTRUM_MAX, Trainer, train


def _independent(trainer: Trainer) -> np.ndarray:
    """Singular values from a reverse-mode batch Jacobian through the model's own layers."""
    depth = trainer.config.hidden_layers
    outs = trainer.model.outputs
    first, rest = keras.Model(trainer.model.inputs, outs[1]), keras.Model(outs[1], outs[depth])
    a1 = tf.convert_to_tensor(first(trainer.x[:16], training=False))
    with tf.GradientTape() as tape:
        tape.watch(a1)
        last = rest(a1, training=False)
    return tf.linalg.svd(tape.batch_jacobian(last, a1), compute_uv=False).numpy().reshape(-1)


@pytest.mark.parametrize("fields", [dict(activation="tanh"), dict(activation="relu", batch_norm="before"),
                                    dict(activation="leaky_relu", dropout=0.3), dict(activation="prelu")])
def test_spectrum_is_the_true_jacobians_singular_values(fields):
    trainer = Trainer(RunConfig(hidden_layers=4, units=12, epochs=1, **fields))
    rec = trainer.spectrum_record(0, trainer.spectrum_maps())
    assert rec.examples == 16 and (rec.first_layer, rec.last_layer) == (0, 3) and len(rec.values) == 16 * 12
    ref = np.sort(_independent(trainer))
    # float32: singular values far below the largest carry its rounding error
    np.testing.assert_allclose(np.sort(rec.values), ref, rtol=1e-4, atol=1e-5 * ref.max())


def test_spectrum_at_step_0_is_at_initialisation_and_snapshots_add_a_few():
    config = RunConfig(hidden_layers=3, units=8, epochs=20, learning_rate=0.05)
    trainer = Trainer(config)
    at_init = trainer.spectrum_record(0, trainer.spectrum_maps())
    run = train(config)
    assert [s.step for s in run.spectra] == [0] and run.spectra[0].values == pytest.approx(at_init.values)
    many = train(config.with_values(spectrum="snapshots"))
    steps = [s.step for s in many.spectra]
    assert steps[0] == 0 and 1 < len(steps) <= SPECTRUM_MAX and steps == sorted(steps)
    assert many.spectra[-1].values != pytest.approx(at_init.values)  # the weights moved


@pytest.mark.parametrize("fields", [dict(residual_every=2), dict(hidden_layers=1), dict(spectrum="off"),
                                    dict(family="rnn", cell="lstm", seq_len=4, n_features=3)])
def test_no_spectrum_where_the_map_is_not_a_chain(fields):
    assert train(RunConfig(**{"hidden_layers": 3, "units": 6, "epochs": 1, **fields})).spectra == []


@pytest.mark.parametrize("activation, sigma_w2, sigma_b2, tolerance", [
    ("tanh", 1.0, 0.0, 0.05), ("tanh", 2.0, 0.05, 0.05), ("relu", 2.0, 0.0, 0.25)])
def test_wide_nets_mean_squared_singular_value_matches_theory(activation, sigma_w2, sigma_b2, tolerance):
    units, depth = 128, 6
    config = RunConfig(hidden_layers=depth, units=units, activation=activation, initializer="random_normal",
                       init_std=math.sqrt(sigma_w2 / units), bias_std=math.sqrt(sigma_b2), n_features=64,
                       standardize=True, n_samples=200, epochs=1)
    trainer = Trainer(config)
    rec = trainer.spectrum_record(0, trainer.spectrum_maps())
    q0 = float(np.mean(trainer.data.x_train[:16] ** 2))
    first = theory.weight_variance("random_normal", 64, units, init_std=config.init_std)
    chis = theory.layer_chis(activation, sigma_w2, sigma_b2, q0, depth, first_sigma_w2=first)
    predicted = float(np.prod(chis[1:]))  # the layers after the first
    assert np.mean(np.square(rec.values)) == pytest.approx(predicted, rel=tolerance)


def test_scaled_and_random_bias_initialisers_keep_their_spectrum():
    run = train(RunConfig(hidden_layers=3, units=8, epochs=1, init_gain=4.0, bias_std=0.3, initializer="orthogonal"))
    assert run.status == "finished" and [s.step for s in run.spectra] == [0]
