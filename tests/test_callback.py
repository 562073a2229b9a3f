"""GradientMonitor on models built here, outside vgrad's builders."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from vgrad import GradientMonitor
from vgrad.records import LAYER_STATS


def _data(n=96, features=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype("float32")
    y = (x[:, :1] + x[:, 1:2] > 0).astype("float32")
    return x, y


def test_monitor_records_true_gradients_of_a_sequential_model():
    x, y = _data()
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6, activation="tanh"),
                              keras.layers.Dense(6, activation="relu"), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy")
    monitor = GradientMonitor(x[:32], y[:32], every=2)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[monitor])

    # 6 batches per epoch, 12 in all: recorded after batch 0 and every 2nd batch
    assert [r.step for r in monitor.records] == [0, 1, 3, 5, 7, 9, 11]
    frame = monitor.history
    assert list(frame.columns[:5]) == ["step", "epoch", "layer", "layer_index", "grad_norm"]
    assert set(LAYER_STATS) <= set(frame.columns)
    assert frame.layer_index.max() == 2 and len(frame) == 7 * 3

    # the last record is the gradient at the final weights: check it against a fresh tape
    with tf.GradientTape() as tape:
        loss = keras.losses.BinaryCrossentropy()(y[:32], model(x[:32], training=False))
    kernels = [layer.kernel for layer in model.layers]
    expected = [float(tf.norm(g)) for g in tape.gradient(loss, kernels)]
    assert monitor.records[-1].grad_norm == pytest.approx(expected, rel=1e-5)
    assert monitor.records[-1].loss == pytest.approx(float(loss), rel=1e-5)
    last = monitor.records[-1]
    assert last.act_saturated[0] is not None and last.act_dead[1] is not None
    assert all(v > 0 for v in last.update_ratio)

    fig = monitor.heatmap()
    z = np.array(fig.data[0].z)
    assert z.shape == (3, 7)
    assert z[0, -1] == pytest.approx(np.log10(expected[0]), abs=1e-6)


def test_monitor_on_a_functional_model_with_lstm():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 5, 3)).astype("float32")
    y = (x[:, 0, :1] > 0).astype("float32")
    inputs = keras.Input((5, 3))
    h = keras.layers.LSTM(4)(inputs)
    out = keras.layers.Dense(1, activation="sigmoid")(h)
    model = keras.Model(inputs, out)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    monitor = GradientMonitor(x[:16], y[:16])
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[monitor])
    assert len(monitor.records) == 4
    assert [layer.kind for layer in monitor.layers] == ["lstm", "dense"]
    assert all(v is not None and v > 0 for v in monitor.records[0].grad_norm)


def test_monitor_rejects_bad_arguments():
    with pytest.raises(ValueError, match="every"):
        GradientMonitor(np.zeros((2, 2)), np.zeros((2, 1)), every=0)
