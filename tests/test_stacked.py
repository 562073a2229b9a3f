"""The stacked engine: each network of a stack ends where a sequential vgrad.train of its config ends."""

import dataclasses

import numpy as np
import pytest

from vgrad import RunConfig
from vgrad.train.engine import train
from vgrad.train.stacked import Stack, initial_weights

REL = 1e-5


def _rel(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    both_zero = (a == 0) & (b == 0)
    return float(np.max(np.where(both_zero, 0.0, np.abs(a - b) / np.maximum(np.abs(b), 1e-300))))


def _check_equal(configs):
    nets = Stack(configs).train()
    assert len(nets) == len(configs)
    for cfg, net in zip(configs, nets, strict=True):
        run = train(cfg)
        assert run.steps, run.message
        assert net.diverged == (run.status == "diverged"), (cfg.changed(), run.message)
        assert net.steps == len(run.steps)
        assert _rel(net.grad_start, run.steps[0].grad_norm) < REL
        assert _rel(net.grad_end, run.steps[-1].grad_norm) < REL
        assert net.loss_start == pytest.approx(run.steps[0].loss, rel=REL)
        final, ref = net.final(), run.final_metrics()
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            if np.isnan(ref[key]):
                assert np.isnan(final[key]), key
            else:
                assert final[key] == pytest.approx(ref[key], rel=REL), key
        assert net.steps_to_loss(0.3) == run.steps_to_loss(0.3)


BASE = RunConfig(activation="tanh", epochs=100, spectrum="off")


def test_init_scales_seeds_and_learning_rates_train_as_vgrad_train_does():
    """Adam, a learning rate per network (the fused update's formula), the notebook data's short last batch."""
    base = dataclasses.replace(BASE, steps=40)
    _check_equal([dataclasses.replace(base, init_gain=0.5), dataclasses.replace(base, init_gain=2.0, seed=1),
                  dataclasses.replace(base, learning_rate=0.03, initializer="orthogonal", bias_std=0.1)])


@pytest.mark.parametrize("fields", [
    dict(activation="sigmoid", units=5, optimizer="momentum", clipnorm=0.5, learning_rate=0.5),
    dict(activation="leaky_relu", residual_every=2, hidden_layers=4, l1=1e-3, l2=1e-2, optimizer="rmsprop",
         learning_rate=0.01, clipvalue=0.05),
    dict(activation="elu", hidden_layers=3, batch_size=20, optimizer="adamw", global_clipnorm=0.3),
], ids=["sigmoid-tails-momentum-clipnorm", "leaky-residual-l1l2-rmsprop-clipvalue", "elu-adamw-globalclip"])
def test_remedies_and_optimizers_train_as_vgrad_train_does(fields):
    base = dataclasses.replace(BASE, steps=25, **fields)
    _check_equal([base, dataclasses.replace(base, seed=3, init_gain=1.5)])


def test_a_diverging_network_stops_where_vgrad_train_stops_and_spares_the_others():
    base = dataclasses.replace(BASE, activation="relu", initializer="he_normal", optimizer="sgd", learning_rate=50.0,
                               steps=10)
    configs = [dataclasses.replace(base, init_gain=4.0), dataclasses.replace(base, learning_rate=0.01)]
    _check_equal(configs)
    nets = Stack(configs).train()
    assert nets[0].diverged and not nets[1].diverged and nets[1].steps == 10


def test_initial_weights_are_the_models_and_init_mode_is_step_zero():
    from vgrad.train import models

    cfg = dataclasses.replace(BASE, residual_every=2, hidden_layers=4, init_gain=3.0, bias_std=0.2, seed=7)
    model = models.build(cfg).model
    ours = initial_weights(cfg)
    for layer in model.layers:
        for w in layer.weights:
            assert np.array_equal(ours[w.path], w.numpy()), w.path
    configs = [cfg, dataclasses.replace(cfg, seed=8)]
    nets = Stack(configs).measure_init()
    for c, net in zip(configs, nets, strict=True):
        run = train(dataclasses.replace(c, steps=1))
        assert _rel(net.grad_start, run.steps[0].grad_norm) < REL
        assert net.grad_end is None and net.epochs == []


def test_a_stack_refuses_mixed_architectures_and_what_it_cannot_stack():
    with pytest.raises(ValueError, match="share its architecture"):
        Stack([BASE, dataclasses.replace(BASE, hidden_layers=3)])
    with pytest.raises(ValueError, match="dropout"):
        Stack([dataclasses.replace(BASE, dropout=0.2)])
    with pytest.raises(ValueError, match="configs"):
        Stack([])
