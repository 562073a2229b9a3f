"""The fused optimizer update does what Keras' own apply_gradients does, variable for variable
(to float32 rounding: TF's Adam kernel rounds 1 - beta in float32, Keras from float64)."""

import numpy as np
import pytest
import tensorflow as tf

from vgrad import RunConfig
from vgrad.train.models import build
from vgrad.train.optim import fused_apply

OPTIMIZERS = ["sgd", "momentum", "nesterov", "rmsprop", "adagrad", "adam", "adamw"]
CLIPS = [{}, {"clipnorm": 0.05}, {"global_clipnorm": 0.1}, {"clipvalue": 0.01}]


def _pair(**fields):
    config = RunConfig(n_samples=60, hidden_layers=2, units=4, learning_rate=0.05, **fields)
    return build(config), build(config)


def _grads(variables, seed: int):
    rng = np.random.default_rng(seed)
    return [tf.constant(rng.normal(size=v.shape).astype("float32")) for v in variables]


@pytest.mark.parametrize("clip", CLIPS, ids=lambda c: next(iter(c), "noclip"))
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_fused_update_equals_keras_apply_gradients(optimizer, clip):
    keras_side, fused_side = _pair(optimizer=optimizer, **clip)
    a, b = keras_side.model.trainable_variables, fused_side.model.trainable_variables
    apply = fused_apply(fused_side.optimizer, b)
    assert apply is not None, f"{optimizer} should have a fused update"
    for v, w in zip(a, b, strict=True):
        np.testing.assert_array_equal(v.numpy(), w.numpy())  # same start
    for step in range(6):
        grads = _grads(a, step)
        keras_side.optimizer.apply_gradients(zip(grads, a, strict=True))
        apply(grads, b)
    assert int(fused_side.optimizer.iterations.numpy()) == 6
    for v, w in zip(a, b, strict=True):
        np.testing.assert_allclose(w.numpy(), v.numpy(), rtol=1e-5, atol=1e-6)
    keras_names = {"m": "_momentums", "v": "_velocities", "momentum": "momentums", "velocity": "_velocities",
                   "accumulator": "_accumulators"}
    for name, ours in apply.slots.items():  # the same optimizer state too
        theirs = getattr(keras_side.optimizer, keras_names[name])
        for s, t in zip(theirs, ours, strict=True):
            np.testing.assert_allclose(t.numpy(), s.numpy(), rtol=1e-5, atol=1e-6)


def test_fused_update_runs_compiled():
    keras_side, fused_side = _pair(optimizer="adam")
    b = fused_side.model.trainable_variables
    apply = fused_apply(fused_side.optimizer, b)
    grads = _grads(b, 0)
    tf.function(lambda: apply(grads, b), autograph=False)()
    keras_side.optimizer.apply_gradients(zip(grads, keras_side.model.trainable_variables, strict=True))
    for v, w in zip(keras_side.model.trainable_variables, b, strict=True):
        np.testing.assert_allclose(w.numpy(), v.numpy(), rtol=1e-5, atol=1e-6)


def test_unsupported_optimizer_features_fall_back_to_keras():
    import keras

    v = [keras.Variable(np.zeros((2, 2), "float32"))]
    assert fused_apply(keras.optimizers.Adam(amsgrad=True), v) is None
    assert fused_apply(keras.optimizers.RMSprop(momentum=0.5), v) is None
    assert fused_apply(keras.optimizers.Adam(use_ema=True), v) is None
    assert fused_apply(keras.optimizers.Lion(), v) is None


def test_fused_update_refuses_other_variables():
    _, side = _pair(optimizer="sgd")
    b = side.model.trainable_variables
    apply = fused_apply(side.optimizer, b)
    with pytest.raises(ValueError, match="same order"):
        apply(_grads(b, 0), list(reversed(b)))
