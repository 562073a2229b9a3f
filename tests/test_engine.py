"""Engine correctness: the gradients are the true ones, remedies are really built, runs behave."""

import math
import threading

import keras
import numpy as np
import pytest
import tensorflow as tf

from vgrad import RunConfig, preset
from vgrad.records import LAYER_STATS
from vgrad.run import Run
from vgrad.train.engine import SNAPSHOT_BUDGET, SNAPSHOT_MAX_STEPS, Trainer, train

TINY = dict(n_samples=120, hidden_layers=3, units=5, epochs=2)


def _independent_grads(trainer: Trainer, x, y):
    """dL/dW of every kernel via a fresh tape on model(x) (no vgrad code), then restore RNG state."""
    seeds = [layer.seed_generator.state for layer in trainer.model.layers if hasattr(layer, "seed_generator")]
    saved = [s.numpy() for s in seeds]
    kernels = [trainer.vars[i] for i in trainer.kernel_idx]
    task_loss = {"binary": keras.losses.BinaryCrossentropy(), "regression": keras.losses.MeanSquaredError(),
                 "multiclass": keras.losses.SparseCategoricalCrossentropy()}[trainer.config.task]
    with tf.GradientTape() as tape:
        pred = trainer.model(x, training=True)[0]
        loss = task_loss(y, pred) + sum(trainer.model.losses)
    grads = tape.gradient(loss, kernels)
    for s, v in zip(seeds, saved, strict=True):
        s.assign(v)
    return float(loss), [g.numpy() for g in grads]


@pytest.mark.parametrize("fields", [
    dict(activation="sigmoid"),
    dict(activation="relu", batch_norm="before"),
    dict(activation="tanh", batch_norm="after"),
    dict(activation="relu", residual_every=2, initializer="he_normal"),
    dict(activation="elu", dropout=0.3),
    dict(activation="leaky_relu", l2=0.01, l1=0.001),
    dict(activation="prelu", clipnorm=0.5),
    dict(family="rnn", cell="simple_rnn", seq_len=6, n_features=3, activation="tanh"),
    dict(family="rnn", cell="lstm", seq_len=6, n_features=3, activation="tanh", rnn_layers=2),
    dict(family="rnn", cell="gru", seq_len=6, n_features=3, activation="tanh"),
    dict(dataset="iris", activation="tanh", batch_norm="before"),
    dict(n_classes=4, n_features=4, activation="relu", dropout=0.2),
    dict(dataset="diabetes", activation="elu", l2=0.01),
    dict(dataset="playground_multi_gaussian", activation="sigmoid"),
    dict(family="rnn", cell="lstm", seq_len=5, n_features=4, n_classes=3, activation="tanh"),
], ids=lambda f: "-".join(f"{k}={v}" for k, v in f.items()))
def test_step_gradients_equal_an_independent_tape(fields):
    trainer = Trainer(RunConfig(**{**TINY, **fields}))
    x, y = tf.constant(trainer.data.x_train[:16]), tf.constant(trainer.data.y_train[:16])
    loss_ref, grads_ref = _independent_grads(trainer, x, y)
    loss, _, _, stats, k_grads, by_time, _ = trainer.step(x, y)
    assert abs(float(loss) - loss_ref) <= 1e-6 * max(1.0, abs(loss_ref))
    for j, (g, ref) in enumerate(zip(k_grads, grads_ref, strict=True)):
        g = g.numpy()
        assert g.shape == ref.shape
        assert np.linalg.norm(g - ref) <= 1e-5 * np.linalg.norm(ref) + 1e-12, f"layer {j}"
        assert stats.numpy()[j, 0] == pytest.approx(np.linalg.norm(ref), rel=1e-5)
    if trainer.rnn:
        assert by_time.shape == (trainer.config.seq_len,)


def test_gradients_equal_float64_finite_differences():
    config = RunConfig(n_samples=40, hidden_layers=2, units=3, activation="tanh", epochs=1)
    trainer = Trainer(config)
    x, y = trainer.data.x_train[:8].astype(np.float64), trainer.data.y_train[:8].astype(np.float64)
    params = [v.numpy().astype(np.float64) for v in trainer.vars]  # k1, b1, k2, b2, k3, b3

    def loss_of(ps):
        h = x
        for i in range(0, len(ps) - 2, 2):
            h = np.tanh(h @ ps[i] + ps[i + 1])
        p = 1 / (1 + np.exp(-(h @ ps[-2] + ps[-1])))
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

    _, _, _, _, k_grads, _, _ = trainer.step(tf.constant(x, tf.float32), tf.constant(y, tf.float32))
    eps = 1e-6
    for j, var_index in enumerate(trainer.kernel_idx):
        fd = np.zeros_like(params[var_index])
        for idx in np.ndindex(*fd.shape):
            plus = [p.copy() for p in params]
            minus = [p.copy() for p in params]
            plus[var_index][idx] += eps
            minus[var_index][idx] -= eps
            fd[idx] = (loss_of(plus) - loss_of(minus)) / (2 * eps)
        g = k_grads[j].numpy()
        assert np.allclose(g, fd, rtol=1e-4, atol=1e-7), f"layer {j}: {g} vs {fd}"


def _layer_types(model):
    return [type(layer).__name__ for layer in model.layers]


def test_remedies_change_the_built_model_and_optimizer():
    base = Trainer(RunConfig(**TINY))
    assert "BatchNormalization" not in _layer_types(base.model)
    assert base.optimizer.clipvalue is None and base.optimizer.global_clipnorm is None

    bn = Trainer(RunConfig(**TINY, batch_norm="before"))
    names = [layer.name for layer in bn.model.layers]
    assert names.index("bn_1") < names.index("act_1")
    after = Trainer(RunConfig(**TINY, batch_norm="after"))
    assert _layer_types(after.model).count("BatchNormalization") == 3
    after_names = [layer.name for layer in after.model.layers]
    assert after_names.index("act_1") < after_names.index("bn_1")

    res = Trainer(RunConfig(**TINY, residual_every=1))
    assert _layer_types(res.model).count("Add") == 3
    assert res.model.get_layer("skip_proj_1").kernel.shape == (2, 5)  # projection where widths differ

    drop = Trainer(RunConfig(**TINY, dropout=0.4))
    assert [layer.rate for layer in drop.model.layers if isinstance(layer, keras.layers.Dropout)] == [0.4] * 3

    l2 = Trainer(RunConfig(**TINY, l2=0.01))
    assert float(l2.model.get_layer("dense_1").kernel_regularizer.l2) == pytest.approx(0.01)

    for field, value in [("clipvalue", 1.0), ("clipnorm", 2.0), ("global_clipnorm", 3.0)]:
        opt = Trainer(RunConfig(**TINY, **{field: value})).optimizer
        assert getattr(opt, field) == value

    relu = Trainer(RunConfig(**TINY, activation="relu", initializer="he_normal"))
    assert relu.model.get_layer("dense_1").activation.__name__ == "relu"
    assert isinstance(relu.model.get_layer("dense_2").kernel_initializer, keras.initializers.HeNormal)
    leaky = Trainer(RunConfig(**TINY, activation="leaky_relu", leaky_alpha=0.1))
    assert leaky.model.get_layer("act_1").negative_slope == pytest.approx(0.1)
    assert "PReLU" in _layer_types(Trainer(RunConfig(**TINY, activation="prelu")).model)

    for cell, cls in [("simple_rnn", keras.layers.SimpleRNN), ("lstm", keras.layers.LSTM), ("gru", keras.layers.GRU)]:
        t = Trainer(RunConfig(family="rnn", cell=cell, seq_len=5, epochs=1))
        assert isinstance(t.model.get_layer(f"{cell}_1"), cls)

    for name, cls in [("momentum", keras.optimizers.SGD), ("rmsprop", keras.optimizers.RMSprop),
                      ("adamw", keras.optimizers.AdamW)]:
        assert isinstance(Trainer(RunConfig(**TINY, optimizer=name)).optimizer, cls)


def test_initializer_scale_is_real():
    wide = dict(n_features=64, units=64, hidden_layers=2, epochs=1)
    he = Trainer(RunConfig(**wide, initializer="he_normal")).model.get_layer("dense_2").kernel.numpy()
    small = Trainer(RunConfig(**wide, initializer="random_normal", init_std=0.01)).model.get_layer("dense_2").kernel.numpy()
    standard = Trainer(RunConfig(**wide, initializer="glorot_bengio_standard")).model.get_layer("dense_2").kernel.numpy()
    assert he.std() == pytest.approx(math.sqrt(2 / 64), rel=0.15)
    assert small.std() == pytest.approx(0.01, rel=0.15)
    assert np.abs(standard).max() <= 1 / 8 + 1e-6 and standard.std() == pytest.approx(1 / math.sqrt(3 * 64), rel=0.15)
    recurrent = Trainer(RunConfig(family="rnn", cell="simple_rnn", units=16, recurrent_scale=2.5, epochs=1))
    sv = np.linalg.svd(recurrent.recurrent[0].numpy(), compute_uv=False)
    assert sv == pytest.approx(np.full(16, 2.5), rel=1e-4)


def test_notebook_deep_sigmoid_vanishes_relu_much_less():
    sigmoid = train(preset("notebook-deep-sigmoid"))
    relu = train(preset("notebook-deep-relu"))
    assert sigmoid.status == relu.status == "finished"
    assert len(sigmoid.steps) == 3 and len(sigmoid.epochs) == 1  # 75 examples, batch 32, one epoch
    first = sigmoid.steps[0].grad_norm
    assert first[0] < first[-1] * 1e-2, "first layer should be orders of magnitude below the last"
    assert sigmoid.attenuation_orders(0) > 3
    assert relu.attenuation_orders(0) < sigmoid.attenuation_orders(0) - 1.5


def test_records_stream_in_order_and_match_the_run():
    seen = []
    run = train(RunConfig(epochs=4), on_record=seen.append)
    kinds = [r.kind for r in seen]
    assert kinds[0] == "start" and kinds[-1] == "status" and "boundary" in kinds and "snapshot" in kinds
    steps = [r for r in seen if r.kind == "step"]
    assert [r.step for r in steps] == list(range(12)) and steps == run.steps
    assert [e.epoch for e in run.epochs] == [0, 1, 2, 3]
    for r in steps:
        assert all(len(r.stat(s)) == 9 for s in LAYER_STATS)
        assert r.global_norm == pytest.approx(r.global_norm_clipped)
    assert all(0 <= v <= 1 for v in steps[-1].act_saturated)
    assert steps[0].act_dead == (None,) * 9  # not a ReLU-family net
    assert all(v > 0 for v in steps[0].update_ratio)
    boundary = next(r for r in seen if r.kind == "boundary")
    assert np.array(boundary.prob).shape == (len(boundary.ys), len(boundary.xs))


def test_same_seed_same_run_bit_for_bit_across_the_eager_to_compiled_switch():
    config = RunConfig(epochs=25, dropout=0.1)
    a, b = train(config), train(config)
    assert a.status == b.status == "finished"
    assert [s.grad_norm for s in a.steps] == [s.grad_norm for s in b.steps]
    assert [s.loss for s in a.steps] == [s.loss for s in b.steps]
    c = train(RunConfig(epochs=2, dropout=0.1, seed=1))
    assert [s.loss for s in c.steps] != [s.loss for s in a.steps[: len(c.steps)]]


def test_divergence_is_a_result():
    run = train(RunConfig(optimizer="sgd", learning_rate=50.0, activation="relu", initializer="he_normal",
                          hidden_layers=4, units=16, epochs=20))
    assert run.status == "diverged"
    assert run.steps and all(math.isfinite(s.loss) for s in run.steps)
    assert f"step {len(run.steps)}" in run.message and "learning rate" in run.message


def test_cancel_stops_promptly():
    stop = threading.Event()
    count = []

    def on_record(r):
        if r.kind == "step":
            count.append(r)
            if len(count) == 5:
                stop.set()

    run = train(RunConfig(epochs=2000), on_record=on_record, should_stop=stop.is_set)
    assert run.status == "cancelled"
    assert len(run.steps) < 6000 and run.steps[-1].step == len(run.steps) - 1


def test_pace_limits_steps_per_block():
    calls = []

    def pace():
        calls.append(1)
        return 1

    run = train(RunConfig(epochs=3), pace=pace)
    assert run.status == "finished" and len(calls) == len(run.steps) == 9


def test_bad_training_input_fails_cleanly(monkeypatch):
    monkeypatch.setattr("vgrad.train.engine.Trainer.step", lambda self, x, y: 1 / 0)
    monkeypatch.setattr("vgrad.train.compiled.lookup", lambda key: None)  # no step compiled by an earlier test
    run = train(RunConfig(epochs=1))
    assert run.status == "failed" and "ZeroDivisionError" in run.message


def test_snapshots_are_bounded():
    config = RunConfig(n_samples=2000, hidden_layers=4, units=64, epochs=3, batch_size=8)
    run = train(config)
    steps = sorted({s.step for s in run.snapshots})
    assert 0 in steps and config.total_steps - 1 in steps and len(steps) <= SNAPSHOT_MAX_STEPS
    assert sum(np.size(s.grad) for s in run.snapshots) <= SNAPSHOT_BUDGET + 5 * 64 * 64
    first = [s for s in run.snapshots if s.step == 0]
    assert [np.shape(s.grad) for s in first] == [(2, 64), (64, 64), (64, 64), (64, 64), (64, 1)]


def test_rnn_records_gradient_through_time():
    config = RunConfig(family="rnn", cell="simple_rnn", seq_len=12, units=8, n_samples=100, epochs=1,
                       activation="tanh", recurrent_scale=0.5)
    run = train(config)
    first = run.steps[0]
    assert len(first.input_grad_by_time) == 12
    assert first.recurrent_sigma_max[0] == pytest.approx(0.5, rel=1e-4)
    # gain 0.5 < 1: the signal from step 0 is far weaker than from the last step
    assert first.input_grad_by_time[0] < first.input_grad_by_time[-1] * 1e-2


def test_run_json_and_frames():
    run = train(RunConfig(epochs=2))
    again = Run.from_json(run.to_json())
    assert again.config == run.config and again.steps == run.steps and again.status == "finished"
    frame = run.steps_frame()
    assert list(frame.columns[:5]) == ["step", "epoch", "layer", "layer_index", "grad_norm"]
    assert len(frame) == 6 * 9
    row = frame[(frame.step == 3) & (frame.layer_index == 0)].iloc[0]
    assert row.layer == "dense_1" and row.grad_norm == run.steps[3].grad_norm[0]
    assert list(run.epochs_frame().columns) == ["epoch", "step", "loss", "accuracy", "val_loss", "val_accuracy",
                                               "r2", "val_r2"]
    assert run.to_csv().splitlines()[0].startswith("step,epoch,layer,layer_index,grad_norm")


def test_init_gain_scales_the_weight_variance_and_bias_std_draws_biases():
    from vgrad.train.models import build

    base = RunConfig(hidden_layers=2, units=200, n_features=64, n_samples=100, initializer="he_normal")
    plain = build(base).model.get_layer("dense_2").kernel.numpy()
    scaled = build(base.with_values(init_gain=4.0)).model.get_layer("dense_2").kernel.numpy()
    np.testing.assert_allclose(scaled, 2.0 * plain, rtol=1e-6)  # same draw, sqrt(4) times larger
    assert 200 * plain.var() == pytest.approx(2.0, rel=0.05)  # He: sigma_w^2 = 2
    bias = build(base.with_values(bias_std=0.5, bias_init=1.0)).model.get_layer("dense_1").bias.numpy()
    assert bias.mean() == pytest.approx(1.0, abs=0.15) and bias.std() == pytest.approx(0.5, rel=0.2)
    assert (build(base).model.get_layer("dense_1").bias.numpy() == 0).all()


@pytest.mark.parametrize("fields, task, units, activation", [
    (dict(dataset="iris"), "multiclass", 3, "softmax"),
    (dict(dataset="diabetes"), "regression", 1, "linear"),
    (dict(dataset="playground_xor", n_samples=200), "binary", 1, "sigmoid"),
])
def test_every_task_trains_with_its_output_and_metrics(fields, task, units, activation):
    run = train(RunConfig(**{**TINY, "hidden_layers": 2, "standardize": True, **fields}))
    assert run.status == "finished" and run.task == task == run.start.task
    assert (run.layers[-1].units, run.layers[-1].activation) == (units, activation)
    last = run.epochs[-1]
    if task == "regression":
        assert last.accuracy is None and last.r2 is not None and last.val_r2 is not None
        assert run.confusion is None
    else:
        assert last.r2 is None and 0 <= last.val_accuracy <= 1
        k = len(run.start.classes)
        assert k == units if task == "multiclass" else k == 2
        val = np.array(run.confusion.val)
        assert val.shape == (k, k) and val.sum() == run.start.n_val
        assert np.trace(val) / val.sum() == pytest.approx(last.val_accuracy, abs=1e-6)


def test_multiclass_and_regression_boundaries_on_two_features():
    multi = train(RunConfig(n_classes=3, n_informative=2, epochs=2, n_samples=150))
    b = multi.boundaries[-1]
    labels = np.array(b.label)
    assert labels.shape == (len(b.ys), len(b.xs)) and set(np.unique(labels)) <= {0, 1, 2}
    assert np.all((np.array(b.prob) >= 1 / 3 - 1e-4) & (np.array(b.prob) <= 1 + 1e-6))  # the winner's P
    reg = train(RunConfig(dataset="playground_plane", epochs=2, n_samples=150))
    assert reg.boundaries[-1].label is None and reg.data is not None
    assert all(isinstance(v, float) for v in reg.data.y)  # targets in their own units
