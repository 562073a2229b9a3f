"""Limits: defaults admit every preset, parameter counts match Keras, refusals explain themselves."""

from __future__ import annotations

import pytest

from vgrad.config import RunConfig
from vgrad.limits import LimitError, Limits, check, count_params, human
from vgrad.presets import PRESETS
from vgrad.service.settings import Settings


def test_every_preset_passes_the_defaults():
    for p in PRESETS.values():
        check(p.config, Limits())  # raises if not


@pytest.mark.parametrize("fields", [
    {},
    {"hidden_layers": 3, "units": 5, "batch_norm": "before", "activation": "prelu", "n_features": 4},
    {"residual_every": 2, "units": 6, "n_features": 3, "batch_norm": "after"},
    {"family": "rnn", "cell": "lstm", "units": 7, "rnn_layers": 2, "n_features": 3, "activation": "tanh"},
    {"family": "rnn", "cell": "gru", "units": 5, "n_features": 2, "activation": "tanh"},
    {"family": "rnn", "cell": "simple_rnn", "units": 4, "rnn_layers": 3, "activation": "tanh"},
])
def test_param_count_matches_keras(fields):
    from vgrad.train.models import build

    config = RunConfig(**fields)
    assert count_params(config) == build(config).model.count_params()


def test_refusal_names_the_limit_and_the_values():
    with pytest.raises(LimitError) as err:
        check(RunConfig(hidden_layers=40, units=200), Limits())
    assert str(err.value).startswith("this run has 1.57M parameters; the server allows at most 500k (VGRAD_MAX_PARAMS)")
    with pytest.raises(LimitError) as err:
        check(RunConfig(epochs=10), Limits(max_steps=20))
    assert "30 steps (epochs x steps per epoch = 10 x 3)" in str(err.value) and err.value.name == "VGRAD_MAX_STEPS"
    with pytest.raises(LimitError, match="layers x units = 64; .* at most 32"):
        check(RunConfig(), Limits(max_layer_units=32))
    assert human(1234) == "1234" and human(1_200_000) == "1.2M" and human(500_000) == "500k"


def test_settings_from_env_and_bad_values():
    s = Settings.from_env({"VGRAD_WORKERS": "3", "VGRAD_MAX_PARAMS": "1e6", "VGRAD_ABANDON_SECONDS": "2.5"})
    assert (s.workers, s.limits.max_params, s.abandon_seconds) == (3, 1_000_000, 2.5)
    assert s.host == "127.0.0.1" and s.limits.max_queued == Limits().max_queued
    for env, name in [({"VGRAD_WORKERS": "lots"}, "VGRAD_WORKERS"), ({"VGRAD_MAX_QUEUED": "0"}, "VGRAD_MAX_QUEUED"),
                      ({"VGRAD_ABANDON_SECONDS": "-1"}, "VGRAD_ABANDON_SECONDS")]:
        with pytest.raises(ValueError, match=name):
            Settings.from_env(env)
