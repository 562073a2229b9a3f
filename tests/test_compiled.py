"""A training of an architecture traced before reuses its compiled step: same records, bit for bit."""

import json
from dataclasses import replace

import pytest

from vgrad import RunConfig
from vgrad.train import compiled
from vgrad.train.engine import Trainer, precompile, train


def _records(run) -> str:
    return json.dumps([[r.to_dict() for r in records] for records in (run.steps, run.epochs, run.snapshots,
                                                                       run.boundaries)] + [str(run.status)])


@pytest.mark.parametrize("base", [
    RunConfig(hidden_layers=4, epochs=12, dropout=0.2, batch_norm="before"),
    RunConfig(family="rnn", cell="gru", seq_len=6, epochs=8, n_samples=120),
], ids=["mlp-bn-dropout", "gru"])
def test_reused_step_gives_the_same_run_as_a_fresh_trace(base):
    target = replace(base, seed=5, data_seed=11, learning_rate=0.02)
    compiled.clear()
    fresh = train(target)  # eager steps, then its own trace
    assert fresh.status == "finished"
    compiled.clear()
    precompile(replace(base, seed=1, learning_rate=0.3))  # another seed, data and learning rate
    assert Trainer(target).compiled  # compiled before its first step
    assert _records(train(target)) == _records(fresh)


def test_graph_key_ignores_values_but_not_structure():
    c = RunConfig()
    same = replace(c, seed=9, data_seed=3, learning_rate=0.5, epochs=40, class_sep=2.0, flip_y=0.1)
    assert compiled.graph_key(same) == compiled.graph_key(c)
    for change in (dict(hidden_layers=3), dict(units=16), dict(activation="relu"), dict(n_samples=200),
                   dict(clipnorm=1.0), dict(optimizer="sgd"), dict(batch_norm="after")):
        assert compiled.graph_key(replace(c, **change)) != compiled.graph_key(c), change


def test_the_store_is_bounded():
    compiled.clear()
    for i in range(compiled.MAX_ENTRIES + 3):
        compiled.store(("k", i), compiled.Compiled(step=None, step_roles=()))
    assert compiled.lookup(("k", 0)) is None
    assert compiled.lookup(("k", compiled.MAX_ENTRIES + 2)) is not None
    compiled.clear()
