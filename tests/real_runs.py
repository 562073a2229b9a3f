"""Short real trainings shared by the readings and lessons tests (trained once per test session).

Each is a preset shrunk to a few steps; records come from vgrad.train.engine.train, as the service streams them.
"""

from __future__ import annotations

import functools

import vgrad
from vgrad.run import Run

# name -> (preset, overrides)
SPECS = {
    "deep": ("notebook-deep-sigmoid", {}),
    "shallow": ("notebook-shallow-sigmoid", {}),
    "relu": ("notebook-deep-relu", {}),
    "relu-sgd": ("notebook-deep-relu", {"optimizer": "sgd"}),
    "rnn-simple": ("rnn-simple", {"seq_len": 8, "units": 8, "epochs": 1, "n_samples": 200}),
    "rnn-lstm": ("rnn-lstm", {"seq_len": 8, "units": 8, "epochs": 1, "n_samples": 200}),
    "exploding": ("rnn-exploding", {"seq_len": 8, "units": 8, "epochs": 1, "n_samples": 200}),
    "exploding-clipped": ("rnn-exploding-clipped", {"seq_len": 8, "units": 8, "epochs": 1, "n_samples": 200}),
}


@functools.cache
def real_run(name: str) -> Run:
    from vgrad.train.engine import train

    preset, overrides = SPECS[name]
    config = vgrad.preset(preset).with_values(**overrides)
    records: list = []
    train(config, on_record=records.append)
    assert records[-1].kind == "status" and records[-1].status == "finished", records[-1]
    return Run.from_records(config, records)
