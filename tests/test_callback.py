"""GradientMonitor on models a user writes: the gradient it reports is the one `fit` applies.

Every model of the zoo is trained twice from the same seed, with and without the monitor: the
final state (weights, BatchNorm statistics, seed generators, optimizer) must be bit-identical.
Then each reported kernel and bias gradient norm is checked against an independent GradientTape
of the training loss (written out by hand per model) at the same weights and dropout masks.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_digits

from vgrad import GradientMonitor
from vgrad.records import LAYER_STATS, parse
from vgrad.run import Run
from vgrad.train import callback
from vgrad.train import probe as probe_module

L = keras.layers
bce = keras.losses.BinaryCrossentropy()
mse = keras.losses.MeanSquaredError()
sparse_ce = keras.losses.SparseCategoricalCrossentropy()
L2 = keras.regularizers.L2(0.01)


@dataclass
class Case:
    model: keras.Model
    x: object
    y: object
    loss: Callable  # (y, y_pred, sample_weight) -> the training loss without penalties
    expect: Callable  # model -> [(layer name, kernel, bias or None)] input first
    fit: dict | None = None  # extra fit arguments (sample_weight, class_weight)
    monitor: dict | None = None  # extra GradientMonitor arguments


def _xy(n=48, features=6, seed=0, classes=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype("float32")
    if classes:
        return x, (np.abs(x[:, 0] * 1.7).astype(int) % classes).astype("int32")
    return x, (x[:, :1] + x[:, 1:2] > 0).astype("float32")


def _kb(layer, name=None):
    return (name or layer.name, layer.kernel, layer.bias if layer.use_bias else None)


def _cell(layer, name):
    return (name, layer.cell.kernel, layer.cell.bias)


def seq_bn_dropout() -> Case:
    x, y = _xy()
    model = keras.Sequential([keras.Input((6,)),
                              L.Dense(8, activation="relu", kernel_regularizer=L2, name="d1"),
                              L.BatchNormalization(name="bn"), L.Dropout(0.4, name="drop"),
                              L.Dense(8, activation="tanh", name="d2"),
                              L.Dense(1, activation="sigmoid", name="out")])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
    return Case(model, x, y, lambda y, p, w: bce(y, p),
                lambda m: [_kb(m.get_layer(n)) for n in ("d1", "d2", "out")])


def functional_bn_dropout() -> Case:
    x, y = _xy(classes=3)
    inp = keras.Input((6,))
    h = L.Dense(8, use_bias=False, name="d1")(inp)
    h = L.BatchNormalization(name="bn")(h)
    h = L.Activation("relu")(h)
    h = L.Dropout(0.3, name="drop")(h)
    out = L.Dense(3, activation="softmax", name="out")(h)
    model = keras.Model(inp, out)
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="sparse_categorical_crossentropy")
    return Case(model, x, y, lambda y, p, w: sparse_ce(y, p),
                lambda m: [_kb(m.get_layer(n)) for n in ("d1", "out")])


def multi_input_shared() -> Case:
    x, y = _xy()
    a, b = keras.Input((6,), name="a"), keras.Input((6,), name="b")
    shared = L.Dense(5, activation="tanh", name="shared")
    h = L.Concatenate()([shared(a), shared(b)])
    out = L.Dense(1, activation="sigmoid", name="out")(h)
    model = keras.Model([a, b], out)
    model.compile(optimizer="rmsprop", loss="binary_crossentropy")
    return Case(model, [x, x[::-1].copy()], y, lambda y, p, w: bce(y, p),
                lambda m: [_kb(m.get_layer("shared")), _kb(m.get_layer("out"))])


def dict_multi_output() -> Case:
    x, y = _xy(classes=3)
    a, b = keras.Input((6,), name="a"), keras.Input((2,), name="b")
    h = L.Dense(6, activation="relu", name="trunk")(L.Concatenate()([a, b]))
    score = L.Dense(1, name="score")(h)
    label = L.Dense(3, activation="softmax", name="label")(h)
    model = keras.Model({"a": a, "b": b}, {"score": score, "label": label})
    model.compile(optimizer="adam", loss={"score": "mse", "label": "sparse_categorical_crossentropy"},
                  loss_weights={"score": 0.3, "label": 1.0})
    targets = {"score": x[:, :1] * 2.0, "label": y}
    return Case(model, {"a": x, "b": x[:, :2] ** 2}, targets,
                lambda y, p, w: 0.3 * mse(y["score"], p["score"]) + sparse_ce(y["label"], p["label"]),
                lambda m: [_kb(m.get_layer(n)) for n in ("trunk", "score", "label")])


class HeadFirst(keras.Model):
    """Declares its head before its encoder; never built before fit."""

    def __init__(self):
        super().__init__(name="head_first")
        self.head = L.Dense(1, activation="sigmoid", name="head")
        self.drop = L.Dropout(0.25, name="drop")
        self.encoder = L.Dense(7, activation="elu", name="encoder")

    def call(self, x, training=False):
        return self.head(self.drop(self.encoder(x), training=training))


def subclassed_out_of_order() -> Case:
    x, y = _xy()
    model = HeadFirst()
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return Case(model, x, y, lambda y, p, w: bce(y, p),
                lambda m: [_kb(m.encoder, "encoder"), _kb(m.head, "head")])


def sample_weighted() -> Case:
    x, y = _xy()
    w = np.linspace(0.2, 2.0, len(x)).astype("float32")
    model = keras.Sequential([keras.Input((6,)), L.Dense(6, activation="sigmoid", name="d1"),
                              L.Dense(1, activation="sigmoid", name="out")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return Case(model, x, y, lambda y, p, sw: bce(y, p, sample_weight=sw),
                lambda m: [_kb(m.get_layer(n)) for n in ("d1", "out")], fit={"sample_weight": w},
                monitor={"sample_weight": w})


def class_weighted() -> Case:
    x, y = _xy(classes=3)
    weights = {0: 0.5, 1: 2.0, 2: 1.5}
    model = keras.Sequential([keras.Input((6,)), L.Dense(6, activation="relu", name="d1"),
                              L.Dense(3, activation="softmax", name="out")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    per_sample = np.array([weights[int(c)] for c in y], dtype="float32")
    return Case(model, x, y, lambda y, p, sw: sparse_ce(y, p, sample_weight=per_sample[:len(y)]),
                lambda m: [_kb(m.get_layer(n)) for n in ("d1", "out")], fit={"class_weight": weights},
                monitor={"class_weight": weights})


def embedding_lstm() -> Case:
    rng = np.random.default_rng(2)
    x = rng.integers(0, 20, size=(48, 5)).astype("int32")
    y = (x[:, :1] > 9).astype("float32")
    model = keras.Sequential([keras.Input((5,), dtype="int32"), L.Embedding(20, 4, name="emb"),
                              L.LSTM(5, name="lstm"), L.Dense(1, activation="sigmoid", name="out")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return Case(model, x, y, lambda y, p, w: bce(y, p),
                lambda m: [("emb", m.get_layer("emb").embeddings, None), _cell(m.get_layer("lstm"), "lstm"),
                           _kb(m.get_layer("out"))])


def conv2d_bn_digits() -> Case:
    digits = load_digits()
    x = (digits.images[:48, :, :, None] / 16.0).astype("float32")
    y = digits.target[:48].astype("int32")
    model = keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(4, 3, activation="relu", name="conv"),
                              L.BatchNormalization(name="bn"), L.MaxPooling2D(name="pool"),
                              L.Flatten(name="flat"),
                              L.Dense(10, activation="softmax", name="out")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return Case(model, x, y, lambda y, p, w: sparse_ce(y, p),
                lambda m: [_kb(m.get_layer(n)) for n in ("conv", "out")])


def conv1d_bidirectional_rnns() -> Case:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(48, 6, 3)).astype("float32")
    y = (x[:, 0, :1] > 0).astype("float32")
    model = keras.Sequential([keras.Input((6, 3)), L.Conv1D(4, 2, activation="relu", name="conv1d"),
                              L.Bidirectional(L.GRU(3, return_sequences=True, unroll=True), name="bi"),
                              L.SimpleRNN(3, unroll=True, name="rnn"),
                              L.Dense(1, activation="sigmoid", name="out")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    bi = model.get_layer("bi")
    return Case(model, x, y, lambda y, p, w: bce(y, p),
                lambda m: [_kb(m.get_layer("conv1d")), _cell(bi.forward_layer, f"bi/{bi.forward_layer.name}"),
                           _cell(bi.backward_layer, f"bi/{bi.backward_layer.name}"),
                           _cell(m.get_layer("rnn"), "rnn"),
                           _kb(m.get_layer("out"))])


def nested_conv3d() -> Case:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(48, 4, 4, 4, 1)).astype("float32")
    y = (x.mean(axis=(1, 2, 3, 4)) > 0).astype("float32")[:, None]
    encoder = keras.Sequential([keras.Input((4, 4, 4, 1)), L.Conv3D(2, 2, activation="relu", name="conv3d"),
                                L.Flatten(), L.Dense(4, activation="tanh", name="dense")], name="encoder")
    inp = keras.Input((4, 4, 4, 1))
    out = L.Dense(1, activation="sigmoid", name="out")(encoder(inp))
    model = keras.Model(inp, out)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return Case(model, x, y, lambda y, p, w: bce(y, p),
                lambda m: [_kb(encoder.get_layer("conv3d"), "encoder/conv3d"),
                           _kb(encoder.get_layer("dense"), "encoder/dense"), _kb(m.get_layer("out"))])


ZOO = [seq_bn_dropout, functional_bn_dropout, multi_input_shared, dict_multi_output, subclassed_out_of_order,
       sample_weighted, class_weighted, embedding_lstm, conv2d_bn_digits, conv1d_bidirectional_rnns,
       nested_conv3d]


def _state(model: keras.Model) -> list[np.ndarray]:
    """Everything a measurement could disturb: weights, BatchNorm statistics, seed states, optimizer."""
    variables = [*model.variables, *model.optimizer.variables, *model.metrics_variables]
    return [np.array(v.numpy()) for v in variables]


def _fit(make, with_monitor: bool, every: int = 1, eager: bool = True):
    """One epoch of 3 batches. An eager `fit` saves tracing its step (test_compiled_fit_...: compiled)."""
    keras.utils.set_random_seed(7)
    case = make()
    case.model.run_eagerly = eager
    extra = {k: _probe(v) if k == "sample_weight" else v for k, v in (case.monitor or {}).items()}
    monitor = GradientMonitor(_probe(case.x), _probe(case.y), every=every, **extra)
    case.model.fit(case.x, case.y, batch_size=16, epochs=1, shuffle=False, verbose=0,
                   callbacks=[monitor] if with_monitor else [], **(case.fit or {}))
    return case, monitor


def _probe(value, n=16):
    return keras.tree.map_structure(lambda a: a[:n], value)


def _tape(case: Case, monitor: GradientMonitor, training: bool = True):
    """loss and gradients of the training loss by an eager tape, with the monitor's dropout seeds; the
    model's state is put back afterwards."""
    model = case.model
    saved = [(v, np.array(v.numpy())) for v in model.non_trainable_variables]
    for v in model.non_trainable_variables:
        if v.path in monitor.seeds:
            v.assign(monitor.seeds[v.path])
    x, y = _probe(case.x), _probe(case.y)
    sw = (case.monitor or {}).get("sample_weight")
    try:
        with tf.GradientTape() as tape:
            pred = model(x, training=training)
            loss = case.loss(y, pred, None if sw is None else _probe(sw))
            if model.losses:
                loss = loss + tf.add_n(model.losses)
        expected = case.expect(model)
        targets = [k for _, k, _ in expected] + [b for _, _, b in expected if b is not None]
        grads = tape.gradient(loss, targets)
    finally:
        for v, value in saved:
            v.assign(value)
    kernels = grads[:len(expected)]
    rest = iter(grads[len(expected):])
    biases = [None if b is None else next(rest) for _, _, b in expected]
    norm = lambda g: None if g is None else float(tf.norm(tf.convert_to_tensor(g)))  # noqa: E731
    return float(loss), [n for n, _, _ in expected], [norm(g) for g in kernels], [norm(g) for g in biases]


@pytest.mark.parametrize("make", ZOO, ids=[f.__name__ for f in ZOO])
def test_the_monitor_reports_the_gradient_fit_applies_and_changes_nothing(make):
    plain, _ = _fit(make, with_monitor=False)
    case, monitor = _fit(make, with_monitor=True)
    after_fit = _state(case.model)
    for a, b in zip(_state(plain.model), after_fit, strict=True):  # training with the monitor = without it
        assert a.dtype == b.dtype and np.array_equal(a, b), "the monitor changed the training"

    assert [r.step for r in monitor.records] == [0, 1, 2]
    record = monitor.measure()
    assert all(np.array_equal(a, b) for a, b in zip(after_fit, _state(case.model), strict=True))
    # the last training measurement was taken at these same weights: the same numbers again
    assert record.grad_norm == monitor.records[-1].grad_norm and record.loss == monitor.records[-1].loss

    loss, names, kernel_norms, bias_norms = _tape(case, monitor)
    assert [layer.name for layer in monitor.layers] == names  # input first
    assert [layer.index for layer in monitor.layers] == list(range(len(names)))
    assert record.loss == pytest.approx(loss, rel=1e-5)
    assert record.grad_norm == pytest.approx(kernel_norms, rel=1e-5)
    assert [v is None for v in record.bias_grad_norm] == [v is None for v in bias_norms]
    assert [v for v in record.bias_grad_norm if v is not None] == pytest.approx(
        [v for v in bias_norms if v is not None], rel=1e-5)
    assert all(v > 0 for v in record.grad_norm)
    if "weight_norm" in LAYER_STATS:  # the kernels the gradient is taken at
        kernels = [float(tf.norm(k)) for _, k, _ in case.expect(case.model)]
        assert record.weight_norm == pytest.approx(kernels, rel=1e-6)
    assert record.act_mean[0] is not None  # layer outputs reached, whatever the kind of model


def _beside_always(monkeypatch) -> None:
    """Measure beside the steps however short the fit (as a long one does)."""
    monkeypatch.setattr(callback, "BESIDE_FROM", 0)
    monkeypatch.setattr(callback, "BESIDE_FRESH", 0)


@pytest.mark.parametrize("make", [seq_bn_dropout, dict_multi_output, subclassed_out_of_order],
                         ids=["sequential", "dict_multi_output", "subclassed"])
def test_compiled_fit_gives_bit_identical_state_with_and_without_the_monitor(make, monkeypatch):
    _beside_always(monkeypatch)  # measured beside the steps, as a long fit is
    plain, _ = _fit(make, with_monitor=False, eager=False)
    case, monitor = _fit(make, with_monitor=True, eager=False)
    assert monitor._beside is not None and monitor._beside.ran
    for a, b in zip(_state(plain.model), _state(case.model), strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b), "the monitor changed the training"
    assert len(monitor.records) == 3 and monitor.records[-1].grad_norm == monitor.measure().grad_norm


def test_batchnorm_and_dropout_are_measured_in_training_mode_unless_asked():
    case, monitor = _fit(seq_bn_dropout, with_monitor=True)
    _, _, training_norms, _ = _tape(case, monitor, training=True)
    _, _, inference_norms, _ = _tape(case, monitor, training=False)
    assert monitor.records[-1].grad_norm == pytest.approx(training_norms, rel=1e-5)
    assert not np.allclose(training_norms, inference_norms, rtol=1e-3)  # the choice matters here
    inference = GradientMonitor(_probe(case.x), _probe(case.y), mode="inference")
    inference.set_model(case.model)
    assert inference.measure().grad_norm == pytest.approx(inference_norms, rel=1e-5)
    assert monitor.skipped == ["bn", "drop"] and monitor.seeds  # the dropout mask's seed, recorded
    assert monitor.layers[0].activation == "relu" and monitor.layers[-1].kind == "dense"

    # activations and dL/da: an eager forward pass layer by layer, with the same dropout seed
    model, (x, y) = case.model, (_probe(case.x), _probe(case.y))
    saved = [(v, np.array(v.numpy())) for v in model.non_trainable_variables]
    for v in model.non_trainable_variables:
        v.assign(monitor.seeds.get(v.path, v.numpy()))
    with tf.GradientTape() as tape:
        a1 = model.get_layer("d1")(x)
        h = model.get_layer("drop")(model.get_layer("bn")(a1, training=True), training=True)
        a2 = model.get_layer("d2")(h)
        loss = bce(y, model.get_layer("out")(a2)) + tf.add_n(model.losses)
    for v, value in saved:
        v.assign(value)
    g1, g2 = tape.gradient(loss, [a1, a2])
    last = monitor.records[-1]
    rms = [float(tf.sqrt(tf.reduce_mean(g ** 2))) for g in (g1, g2)]
    assert last.act_grad_rms[:2] == pytest.approx(rms, rel=1e-5)
    assert last.act_grad_rms[2] is None  # Keras takes the loss from the output's logits
    assert last.act_mean[:2] == pytest.approx([float(tf.reduce_mean(a)) for a in (a1, a2)], rel=1e-5)
    dead = tf.reduce_mean(tf.cast(tf.reduce_all(a1 <= 0, 0), "float32"))
    assert last.act_dead[0] == pytest.approx(float(dead))
    assert last.act_saturated[1] is not None and last.act_dead[1] is None  # tanh: saturation, no dead units


def test_every_and_update_ratio():
    keras.utils.set_random_seed(1)
    case = seq_bn_dropout()
    kernels = lambda: [np.array(case.model.get_layer(n).kernel) for n in ("d1", "d2", "out")]  # noqa: E731
    before, after = [], []  # per global step
    spy = keras.callbacks.LambdaCallback(on_train_batch_begin=lambda b, logs: before.append(kernels()),
                                         on_train_batch_end=lambda b, logs: after.append(kernels()))
    monitor = GradientMonitor(_probe(case.x), _probe(case.y), every=3)
    case.model.fit(case.x, case.y, batch_size=8, epochs=2, shuffle=False, verbose=0, callbacks=[spy, monitor])
    assert [r.step for r in monitor.records] == [0, 2, 5, 8, 11]
    assert [r.epoch for r in monitor.records] == [0, 0, 0, 1, 1]
    for r in monitor.records:
        pairs = zip(after[r.step], before[r.step], strict=True)
        want = [np.linalg.norm(a - b) / np.linalg.norm(b) for a, b in pairs]
        assert r.update_ratio == pytest.approx(want, rel=1e-4)
    assert monitor._probe._measure.experimental_get_tracing_count() == 1  # traced once, run 6 times
    frame = monitor.history
    assert list(frame.columns[:5]) == ["step", "epoch", "layer", "layer_index", "grad_norm"]
    assert set(LAYER_STATS) <= set(frame.columns) and len(frame) == 5 * 3
    fig = monitor.heatmap()
    z = np.array(fig.data[0].z, dtype=float)
    assert z.shape == (3, 5)
    assert z[0, -1] == pytest.approx(np.log10(monitor.records[-1].grad_norm[0]), abs=1e-6)


def test_steps_per_execution_counts_every_step():
    keras.utils.set_random_seed(1)
    case = sample_weighted()
    case.model.compile(optimizer="adam", loss="binary_crossentropy", steps_per_execution=2)
    monitor = GradientMonitor(_probe(case.x), _probe(case.y), every=4)
    case.model.fit(case.x, case.y, batch_size=8, epochs=2, shuffle=False, verbose=0, callbacks=[monitor])
    assert [r.step for r in monitor.records] == [1, 3, 7, 11]  # after the runs of 2 holding steps 0, 3, 7, 11
    assert [e.step for e in monitor.epoch_records] == [5, 11]


def test_a_model_built_by_fit_has_no_update_ratio_for_its_first_step():
    _, monitor = _fit(subclassed_out_of_order, with_monitor=True)
    assert monitor.records[0].update_ratio == (None, None)
    assert all(v > 0 for v in monitor.records[1].update_ratio)
    assert monitor.skipped == ["drop"]


def test_to_run_opens_as_a_vgrad_run():
    keras.utils.set_random_seed(2)
    case = seq_bn_dropout()
    case.model.run_eagerly = True
    monitor = GradientMonitor(_probe(case.x), _probe(case.y), every=2)
    case.model.fit(case.x, case.y, batch_size=16, epochs=3, shuffle=False, verbose=0, callbacks=[monitor],
                   validation_data=(case.x[:8], case.y[:8]))
    run = monitor.to_run()
    assert run.origin["kind"] == "notebook" and run.origin["model"] == case.model.name
    assert run.status == "finished" and run.total_steps == 9 and run.steps_per_epoch == 3
    assert run.config.optimizer == "adam" and run.config.learning_rate == pytest.approx(0.01)
    assert run.config.epochs == 3 and run.config.hidden_layers == 2
    assert [e.epoch for e in run.epochs] == [0, 1, 2] and [e.step for e in run.epochs] == [2, 5, 8]
    assert run.epochs[-1].val_accuracy is not None and run.epochs[-1].loss is not None
    for record in [run.start, *run.steps, *run.epochs]:
        assert parse(json.loads(record.to_json())) == record  # each record validates
    back = Run.from_json(run.to_json())
    assert back.layers == run.layers and back.steps == run.steps and back.epochs == run.epochs
    assert back.origin == run.origin and back.config == run.config
    assert back.steps_frame().equals(monitor.history)
    assert np.isfinite(back.attenuation_orders())


def test_save_writes_the_run(tmp_path):
    _, monitor = _fit(embedding_lstm, with_monitor=True)
    path = tmp_path / "run.json"
    monitor.save(path)
    run = Run.from_json(path.read_text())
    assert run.config.family == "rnn" and run.config.cell == "lstm"
    assert [layer.kind for layer in run.layers] == ["embedding", "lstm", "dense"]


def test_clear_errors_before_training_starts(monkeypatch):
    x, y = _xy()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), L.Dense(3), L.Dense(1)])
    start = [np.array(w) for w in model.get_weights()]

    def fit_fails(monitor, match, **compile_args):
        model.compile(optimizer="sgd", **({"loss": "mse"} | compile_args))
        with pytest.raises(ValueError, match=match) as info:
            model.fit(x, y, verbose=0, callbacks=[monitor])
        assert all(np.array_equal(a, b) for a, b in zip(start, model.get_weights(), strict=True))  # no step
        assert "\n" not in str(info.value)  # one sentence
        return info

    shape_sentence = r"^x: the model's input has shape \(None, 6\) \(batch first\), the probe's array has "
    fit_fails(GradientMonitor(x[:8, :5], y[:8]), shape_sentence + r"shape \(8, 5\)$")
    fit_fails(GradientMonitor([x[:8], x[:8]], y[:8]), r"^x: the model takes 1 input")
    fit_fails(GradientMonitor(x[:8], np.array(["no"] * 8)),
              r"^x, y: the model or its loss fails on the probe batch \(Cast string to float")
    fit_fails(GradientMonitor(x[:8], y[:8]), r"^loss: it has no gradient",
              loss=lambda t, p: tf.reduce_mean(tf.cast(tf.round(p) == t, "float32")))
    monitor = GradientMonitor(x[:8], y[:8])
    monitor.set_model(keras.Sequential([keras.Input((6,)), L.Dense(1)]))
    with pytest.raises(ValueError, match=r"^model: it was never compiled"):
        monitor.on_train_begin()

    a, b = keras.Input((6,), name="a"), keras.Input((6,), name="b")
    two = keras.Model([a, b], L.Dense(1)(L.Concatenate()([a, b])))
    two.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r"^x: the model takes 2 inputs \(a, b\), the probe has 1 array"):
        two.fit([x, x], y, verbose=0, callbacks=[GradientMonitor(x[:8], y[:8])])
    with pytest.raises(ValueError, match=r"^x: the model's inputs are named a, b"):
        two.fit([x, x], y, verbose=0, callbacks=[GradientMonitor({"a": x[:8], "c": x[:8]}, y[:8])])

    with pytest.raises(ValueError, match="^every"):
        GradientMonitor(x, y, every=0)
    with pytest.raises(ValueError, match="^mode"):
        GradientMonitor(x, y, mode="eval")
    with pytest.raises(ValueError, match="^y: the probe's y has 4 rows, x has 8"):
        GradientMonitor(x[:8], y[:4])
    with pytest.raises(ValueError, match="^class_weight: give sample_weight or class_weight"):
        GradientMonitor(x, y, sample_weight=np.ones(len(x)), class_weight={0: 1.0})
    with pytest.raises(TypeError, match="^x: expected arrays"):
        GradientMonitor(object(), y)
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(ValueError, match="^KERAS_BACKEND: GradientMonitor needs Keras' TensorFlow backend"):
        GradientMonitor(x, y)


@pytest.mark.parametrize("make,every", [(seq_bn_dropout, 1), (dict_multi_output, 1), (conv2d_bn_digits, 1),
                                        (seq_bn_dropout, 3), (conv2d_bn_digits, 2)],
                         ids=["sequential", "dict_multi_output", "conv2d_bn", "sequential_every_3",
                              "conv2d_bn_every_2"])
def test_compiled_fit_measures_beside_its_steps_the_same_numbers(make, every, monkeypatch):
    """A long compiled fit measures inside its train function, beside the next step (and copies the
    kernels a measured step starts from beside that step): each record equals a measurement between
    steps at the weights that step left, and the update ratios are real."""
    _beside_always(monkeypatch)  # these fits are short
    monkeypatch.setattr(callback, "SLOTS", 2)  # and the buffer of measurements is read (and wraps) often
    monkeypatch.setattr(probe_module, "SLOTS", 2)
    keras.utils.set_random_seed(3)
    case = make()
    model = case.model
    states, kernels = [], []  # after each global step
    seen = []  # the steps `records` holds when read during fit

    def after(batch, logs):
        states.append([np.array(v.numpy()) for v in model.variables])
        kernels.append([np.array(k) for _, k, _ in case.expect(model)])
        if len(states) % 3 == 0:
            seen.append([r.step for r in monitor.records])

    spy = keras.callbacks.LambdaCallback(on_train_batch_end=after)
    monitor = GradientMonitor(_probe(case.x), _probe(case.y), every=every)
    model.fit(case.x, case.y, batch_size=16, epochs=2, shuffle=False, verbose=0, callbacks=[spy, monitor])
    beside = monitor._beside
    assert beside is not None and beside.ran and not beside.failed  # the fused train function ran
    assert model.train_function == beside.plain  # and fit's own is back
    due = [s for s in range(len(states)) if s == 0 or (s + 1) % every == 0]
    assert [r.step for r in monitor.records] == due
    # read during fit, after step n: every due step before it (step n is measured in the next batch)
    assert seen == [[s for s in due if s < n - 1] for n in range(3, len(states) + 1, 3)]
    # measured between steps: only the epochs' last steps (the rest ran beside the next step)
    assert monitor._probe._measure.experimental_get_tracing_count() == 1
    for record in monitor.records:
        for v, value in zip(model.variables, states[record.step], strict=True):
            v.assign(value)
        again = monitor.measure()
        assert record.loss == pytest.approx(again.loss, rel=1e-6)
        for stat in ("grad_norm", "bias_grad_norm", "act_grad_rms", "act_mean", "act_std", "weight_norm"):
            want = [math.nan if v is None else v for v in getattr(again, stat)]
            got = [math.nan if v is None else v for v in getattr(record, stat)]
            assert got == pytest.approx(want, rel=1e-6, nan_ok=True), stat
        if record.step > 0:  # against the kernels before the step
            want = [np.linalg.norm(a - b) / np.linalg.norm(b)
                    for a, b in zip(kernels[record.step], kernels[record.step - 1], strict=True)]
            assert record.update_ratio == pytest.approx(want, rel=1e-4)


def test_data_that_runs_out_early_is_measured_to_its_last_step(monkeypatch):
    """A dataset shorter than steps_per_epoch: the batch that finds no data trains nothing, and the step
    it was to measure beside itself is measured between steps."""
    _beside_always(monkeypatch)
    case = sample_weighted()
    data = tf.data.Dataset.from_tensor_slices((case.x, case.y)).filter(lambda x, y: True).batch(16)  # 3 batches
    monitor = GradientMonitor(_probe(case.x), _probe(case.y))
    with pytest.warns(UserWarning, match="ran out of data"):
        case.model.fit(data, steps_per_epoch=5, epochs=1, verbose=0, callbacks=[monitor])
    assert monitor._beside.ran and not monitor._beside.failed
    assert [r.step for r in monitor.records] == [0, 1, 2] and monitor.epoch_records[-1].step == 2
    assert monitor.records[-1].grad_norm == pytest.approx(monitor.measure().grad_norm, rel=1e-6)


def test_data_of_unknown_length_has_no_phantom_step_at_each_epochs_end():
    """Keras begins one more batch each epoch to find the data's end; that batch trains nothing."""
    case = sample_weighted()
    data = tf.data.Dataset.from_tensor_slices((case.x, case.y)).filter(lambda x, y: True).batch(16)  # 3 batches
    monitor = GradientMonitor(_probe(case.x), _probe(case.y))
    case.model.fit(data, epochs=2, verbose=0, callbacks=[monitor])
    assert [r.step for r in monitor.records] == [0, 1, 2, 3, 4, 5]
    assert [e.step for e in monitor.epoch_records] == [2, 5]


@pytest.mark.parametrize("every", [1, 2])
def test_a_fit_measures_beside_its_steps_from_beside_fresh_measurements_there(every, monkeypatch):
    """The fused train function costs a trace: a fit measures beside its steps only when that many
    measurements would run there (all but the epoch's last)."""
    monkeypatch.setattr(callback, "BESIDE_FRESH", 2)  # 3 steps: 2 beside with every=1, 1 with every=2
    case = sample_weighted()
    monitor = GradientMonitor(_probe(case.x), _probe(case.y), every=every)
    case.model.fit(case.x, case.y, batch_size=16, epochs=1, verbose=0, callbacks=[monitor])  # 3 steps
    assert (monitor._beside is not None and monitor._beside.ran) == (every == 1)
    assert [r.step for r in monitor.records] == ([0, 1, 2] if every == 1 else [0, 1])


def test_a_model_that_never_trained_measures_beside_from_fewer_measurements(monkeypatch):
    """Its train function is traced once either way (the monitor's, not Keras' own), so its fit
    measures beside from BESIDE_FRESH measurements there; the same model fitted again (its own train
    function traced by then) measures between steps unless the fit is long (BESIDE_FROM)."""
    monkeypatch.setattr(callback, "BESIDE_FROM", 10**9)
    monkeypatch.setattr(callback, "BESIDE_FRESH", 4)
    case = sample_weighted()
    first = GradientMonitor(_probe(case.x), _probe(case.y))
    case.model.fit(case.x, case.y, batch_size=16, epochs=2, verbose=0, callbacks=[first])  # 3 steps an epoch
    assert first._beside is not None and first._beside.ran and not first._beside.failed
    assert [r.step for r in first.records] == list(range(6))
    again = GradientMonitor(_probe(case.x), _probe(case.y))
    case.model.fit(case.x, case.y, batch_size=16, epochs=1, verbose=0, callbacks=[again])
    assert again._beside is None and [r.step for r in again.records] == [0, 1, 2]
    short = sample_weighted()  # 2 steps: 1 measured beside, too few
    monitor = GradientMonitor(_probe(short.x), _probe(short.y))
    short.model.fit(short.x, short.y, batch_size=32, epochs=1, verbose=0, callbacks=[monitor])
    assert monitor._beside is None


def test_a_train_function_that_cannot_measure_beside_falls_back_between_steps(monkeypatch):
    _beside_always(monkeypatch)

    def broken(self, train_step):
        def step(data):
            raise ValueError("cannot trace this")
        return step

    monkeypatch.setattr(callback.Probe, "beside", broken)
    plain, _ = _fit(seq_bn_dropout, with_monitor=False, eager=False)
    case, monitor = _fit(seq_bn_dropout, with_monitor=True, eager=False)
    assert monitor._beside.failed and [r.step for r in monitor.records] == [0, 1, 2]
    for a, b in zip(_state(plain.model), _state(case.model), strict=True):
        assert np.array_equal(a, b)
    assert monitor.records[-1].grad_norm == monitor.measure().grad_norm
