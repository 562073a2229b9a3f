"""RunConfig validation, serialisation and presets (no TensorFlow)."""

import dataclasses
import json

import pytest

import vgrad
from vgrad import COMPARISONS, FIELDS, PRESETS, ConfigError, RunConfig, preset


def test_defaults_are_the_notebook():
    c = RunConfig()
    assert (c.dataset, c.n_samples, c.n_features, c.data_seed) == ("classification", 100, 2, 2121)
    assert (c.hidden_layers, c.units, c.activation, c.optimizer, c.learning_rate, c.batch_size) == (
        8, 8, "sigmoid", "adam", 0.1, 32)
    assert c.n_train == 75 and c.steps_per_epoch == 3


def test_every_field_documented_and_public_names_present():
    names = {f.name for f in dataclasses.fields(RunConfig)}
    assert names == set(FIELDS)
    for required in ["family", "dataset", "n_samples", "n_features", "class_sep", "flip_y", "data_seed",
                     "hidden_layers", "units", "activation", "initializer", "init_std", "batch_norm",
                     "residual_every", "dropout", "l2", "clipvalue", "clipnorm", "global_clipnorm", "cell",
                     "seq_len", "optimizer", "learning_rate", "batch_size", "epochs", "seed"]:
        assert required in names
    assert all(rule.help for rule in FIELDS.values())


@pytest.mark.parametrize("field,value,words", [
    ("hidden_layers", 0, "from 1 to 64"),
    ("hidden_layers", 65, "from 1 to 64"),
    ("units", 2.5, "integer"),
    ("activation", "sigmoidal", "one of sigmoid"),
    ("learning_rate", float("nan"), "number"),
    ("seq_len", 500, "from 2 to 200"),
    ("standardize", "maybe", "true or false"),
])
def test_invalid_values_name_the_field_and_range(field, value, words):
    with pytest.raises(ConfigError) as err:
        RunConfig(**{field: value})
    assert err.value.field == field
    assert str(err.value).startswith(field + ":") and words in str(err.value)


def test_data_sets_fix_their_own_shape():
    assert RunConfig(dataset="moons", n_features=3).n_features == 2  # a 2-D set has 2 features
    digits = RunConfig(dataset="digits", n_samples=5000)
    assert (digits.n_features, digits.n_classes, digits.n_samples, digits.task) == (64, 10, 1797, "multiclass")
    assert RunConfig(dataset="diabetes").task == "regression" and RunConfig(dataset="diabetes").n_classes == 0
    assert RunConfig(n_classes=5, n_features=6).task == "multiclass"
    with pytest.raises(ConfigError, match="n_classes"):
        RunConfig(n_classes=8)  # 2 informative features make at most 4 clusters
    with pytest.raises(ConfigError, match="n_classes"):
        RunConfig(n_classes=1)
    with pytest.raises(ConfigError, match="data_id"):
        RunConfig(dataset="csv")
    with pytest.raises(ConfigError, match="data_id"):
        RunConfig(dataset="csv", data_id="../../etc/passwd")
    csv = RunConfig(dataset="csv", data_id="ab" * 32, target="species", n_features=4, n_classes=3)
    assert csv.task == "multiclass" and RunConfig.from_json(csv.to_json()) == csv


def test_invalid_combinations():
    with pytest.raises(ConfigError, match="only one of"):
        RunConfig(clipvalue=1.0, global_clipnorm=1.0)
    with pytest.raises(ConfigError, match="prelu"):
        RunConfig(family="rnn", activation="prelu")


def test_json_round_trip_and_text_values():
    c = RunConfig(hidden_layers=16, activation="relu", dropout=0.25, batch_norm="after", standardize=True, seed=7)
    assert RunConfig.from_json(c.to_json()) == c
    assert c.with_values(units="4", standardize="false", learning_rate="1e-3") == dataclasses.replace(
        c, units=4, standardize=False, learning_rate=0.001)
    assert dataclasses.replace(c, units=4).units == 4
    assert c.changed() == {"hidden_layers": 16, "activation": "relu", "dropout": 0.25, "batch_norm": "after",
                           "standardize": True, "seed": 7}


@pytest.mark.parametrize("pairs", [{"hidden_layers": "abc"}, {"bogus": "1"}, {"epochs": "1e9"}, {"units": "-3"},
                                   {"units": "٣"}, {"learning_rate": "1e400"}, {"epochs": "inf"}])
def test_bad_text_values_raise_config_error(pairs):
    with pytest.raises(ConfigError):
        RunConfig().with_values(**pairs)


def test_bad_json_raises_config_error():
    for text in ["{", "[]", json.dumps({"units": "many"}), json.dumps({"units": True})]:
        with pytest.raises(ConfigError):
            RunConfig.from_json(text)


def test_presets_are_valid_and_described():
    assert {"notebook-deep-sigmoid", "notebook-shallow-sigmoid", "notebook-deep-relu"} <= set(PRESETS)
    nb = preset("notebook-deep-sigmoid")
    assert (nb.hidden_layers, nb.activation, nb.epochs, nb.learning_rate, nb.optimizer) == (8, "sigmoid", 1, 0.1, "adam")
    assert preset("notebook-shallow-sigmoid").hidden_layers == 2
    assert (preset("notebook-deep-relu").hidden_layers, preset("notebook-deep-relu").activation) == (7, "relu")
    for p in PRESETS.values():
        assert p.description and isinstance(p.config, RunConfig)
    for comp in COMPARISONS.values():
        assert 2 <= len(comp.presets) <= 6 and all(name in PRESETS for name in comp.presets)
    with pytest.raises(ConfigError, match="unknown preset"):
        preset("nope")


def test_import_vgrad_does_not_import_tensorflow():
    import subprocess
    import sys

    code = ("import sys, vgrad, vgrad.run, vgrad.presets; "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'imported TF'")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert vgrad.RunConfig is RunConfig
