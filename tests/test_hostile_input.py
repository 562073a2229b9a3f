"""Hostile input: whatever a stranger puts in a URL, a JSON file or a command line,
config and run parsing give a valid object or the one documented error, never another exception.

links.parse_run                               -> a valid RunConfig and the problems, never an exception
RunConfig.from_json / from_dict               -> RunConfig or ConfigError
Run.from_json                                 -> Run (whose frames build) or RunFileError
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from vgrad import links
from vgrad.config import FIELDS, ConfigError, RunConfig
from vgrad.presets import PRESETS
from vgrad.records import LAYER_STATS
from vgrad.run import Run, RunFileError

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- strategies ---------------------------------------------------------------
json_scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
                | st.text(max_size=30))
json_values = st.recursive(json_scalars, lambda kids: st.lists(kids, max_size=4)
                           | st.dictionaries(st.text(max_size=10), kids, max_size=4), max_leaves=12)
field_names = st.sampled_from(sorted(FIELDS)) | st.text(max_size=12)
# Values that look like what a field accepts, and some that almost do.
near_values = (st.sampled_from(["true", "false", "1", "0", "yes", "nan", "inf", "-inf", "1e308", "1e-400",
                                "0x10", "1_000", " 8 ", "", "relu", "SIGMOID", "he_normal", "rnn", "moons",
                                "-0", "3.0", "3.5", "٣"])
               | st.sampled_from([c for f in FIELDS.values() for c in f.choices])
               | st.integers(-10, 70000).map(str) | st.floats(-1e6, 1e6).map(repr) | st.text(max_size=20))


def _config_or_error(make):
    try:
        cfg = make()
    except ConfigError as exc:
        assert str(exc) and exc.field is not None
        return None
    assert isinstance(cfg, RunConfig)
    # A config that parsed is a real one: it round-trips through a link and JSON.
    assert links.parse_run(links.run_query(cfg)).config == cfg
    assert RunConfig.from_json(cfg.to_json()) == cfg
    return cfg


def _link(params):
    """links.parse_run never raises; what it returns is a valid config, and every drop is said."""
    link = links.parse_run(params)
    assert all(isinstance(p, str) and p for p in link.problems)
    return _config_or_error(lambda: link.config)


# --- links.parse_run ----------------------------------------------------------
@FAST
@given(st.text(max_size=200))
@example("preset=../../etc/passwd")
@example("hidden_layers=1e400&units=nan")
@example("preset=notebook-deep-sigmoid&preset=nope")
@example("%ff%fe=%00")
def test_from_query_raw_text(query):
    _link(query)


@FAST
@given(st.lists(st.tuples(field_names | st.just("preset"), near_values | st.sampled_from(sorted(PRESETS))),
                max_size=8))
def test_from_query_field_pairs(pairs):
    _link(urlencode(pairs))


@FAST
@given(st.dictionaries(field_names, json_values | near_values, max_size=6))
def test_from_query_mapping(mapping):
    # st.query_params hands the page a mapping; values may be lists.
    _link(mapping)


# --- RunConfig.from_dict / from_json ------------------------------------------
@FAST
@given(json_values)
def test_from_dict_any_value(value):
    _config_or_error(lambda: RunConfig.from_dict(value))


@FAST
@given(st.dictionaries(field_names, json_values | near_values, max_size=8))
@example({"n_samples": 20, "val_fraction": 0.05})
@example({"dataset": "moons", "n_features": 3})
@example({"clipvalue": 1, "clipnorm": 1})
@example({"standardize": 2})
@example({"hidden_layers": True})
def test_from_dict_field_mappings(mapping):
    _config_or_error(lambda: RunConfig.from_dict(mapping))


@FAST
@given(st.text(max_size=200) | json_values.map(lambda v: json.dumps(v)))
@example("")
@example("{")
@example('{"units": 1e999}')
@example('{"units": NaN}')
def test_from_json_any_text(text):
    _config_or_error(lambda: RunConfig.from_json(text))


@FAST
@given(st.binary(max_size=100))
def test_from_json_bytes(raw):
    _config_or_error(lambda: RunConfig.from_json(raw))


# Crashes these tests once found in vgrad/config.py (now fixed): kept as regression cases.
KNOWN_CONFIG_CRASHES = {
    "deeply nested JSON (RecursionError)": lambda: RunConfig.from_json("[" * 100_000),
    "int too large for float (OverflowError, from JSON)": lambda: RunConfig.from_json(
        '{"learning_rate": 1' + "0" * 400 + "}"),
    "int too large for float (OverflowError, from dict)": lambda: RunConfig.from_dict({"l2": 10**400}),
    "int too long to repr in the message (ValueError)": lambda: RunConfig.from_dict({"units": 10**5000}),
}


@pytest.mark.parametrize("name", list(KNOWN_CONFIG_CRASHES))
def test_config_known_hostile_cases(name):
    make = KNOWN_CONFIG_CRASHES[name]
    try:
        make()
    except ConfigError:
        return
    except Exception as exc:  # noqa: BLE001 - the point is to see which exception escaped
        pytest.fail(f"vgrad/config.py lets {type(exc).__name__} escape: {name}")
    pytest.fail("expected a ConfigError")


# --- CLI arguments ------------------------------------------------------------
def _cli():
    cli = pytest.importorskip("vgrad.cli")
    make = next((getattr(cli, n) for n in ("build_parser", "_parser", "make_parser") if hasattr(cli, n)), None)
    if make is None or not hasattr(cli, "build_config"):
        pytest.skip("vgrad.cli has no parser factory / build_config")
    return cli, make()


def _cli_config_or_error(cli, make):
    try:
        return _config_or_error(make)
    except cli.UsageError as exc:
        assert str(exc)
        return None


cli_tokens = (st.sampled_from(["train", "serve", "presets", "--preset", "--set", "--config", "--out", "--csv",
                               "--quiet", "-h", "--", "notebook-deep-sigmoid", "hidden_layers=4", "units=x",
                               "activation=relu", "epochs=0", "=", "--port", "99999999", "--host"])
              | st.builds(lambda k, v: f"{k}={v}", field_names, near_values) | st.text(max_size=15))


@settings(max_examples=150, deadline=None)
@given(st.lists(cli_tokens, max_size=7))
@example(["train", "--set", "=1"])
@example(["train", "--set", "units"])
@example(["train", "--preset", "nope"])
@example(["train", "--set", "preset=x"])
def test_cli_arguments_parse_or_fail_cleanly(argv):
    """argparse exits 0/2 with a usage message; train's config gives ConfigError or UsageError."""
    cli, parser = _cli()
    try:
        ns = parser.parse_args(argv)
    except SystemExit as exc:
        assert exc.code in (0, 2)
        return
    if getattr(ns, "command", None) == "train" or hasattr(ns, "set"):
        _cli_config_or_error(cli, lambda: cli.build_config(ns.preset, None, ns.set))


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=100) | json_values.map(json.dumps)
       | json_values.map(lambda v: json.dumps({"config": v})))
def test_cli_config_file_contents(tmp_path_factory, text):
    cli, _ = _cli()
    path = tmp_path_factory.mktemp("cfg") / "config.json"
    path.write_text(text)
    _cli_config_or_error(cli, lambda: cli.build_config(None, str(path), []))


# --- Run.from_json -------------------------------------------------------------
def valid_run_doc(n_layers: int = 3, n_steps: int = 4) -> dict:
    """A small, well-formed run document (what Run.to_json writes), built without training."""
    layers = [{"name": f"dense_{i}", "index": i, "kind": "dense", "units": 8, "activation": "sigmoid",
               "fan_in": 8} for i in range(n_layers)]
    steps = [{"kind": "step", "step": s, "epoch": s // 2, "loss": 0.7 - 0.01 * s, "global_norm": 1.0,
              "global_norm_clipped": 1.0, **{k: [10.0 ** (i - n_layers) for i in range(n_layers)]
                                            for k in LAYER_STATS}} for s in range(n_steps)]
    epochs = [{"kind": "epoch", "epoch": e, "step": 2 * e + 1, "loss": 0.7, "accuracy": 0.5, "val_loss": 0.7,
               "val_accuracy": 0.5} for e in range(n_steps // 2)]
    snaps = [{"kind": "snapshot", "step": 0, "layer_index": i, "grad": [[0.1, -0.2], [0.3, 0.0]]}
             for i in range(n_layers)]
    return {"format": "vgrad-run", "version": 1, "config": RunConfig(epochs=2).to_dict(), "layers": layers,
            "steps": steps, "epochs": epochs, "snapshots": snaps, "boundaries": [], "info": {},
            "status": "finished", "message": "done"}


def _run_or_error(text):
    try:
        run = Run.from_json(text)
    except RunFileError as exc:
        assert str(exc)
        return None
    assert isinstance(run, Run)
    # A run that loaded is one the pages can draw and save again.
    run.steps_frame()
    run.epochs_frame()
    run.final_metrics()
    assert Run.from_json(run.to_json()).status == run.status
    return run


def test_valid_run_doc_loads():
    run = _run_or_error(json.dumps(valid_run_doc()))
    assert run is not None and len(run.steps) == 4


@FAST
@given(st.text(max_size=200) | json_values.map(json.dumps))
@example("null")
@example("[]")
@example('{"version": "2"}')
@example('{"version": 99}')
def test_run_from_json_any_text(text):
    _run_or_error(text)


run_keys = st.sampled_from(["config", "layers", "steps", "epochs", "snapshots", "boundaries", "info", "status",
                            "message", "version", "format"])


@FAST
@given(st.lists(st.tuples(run_keys, json_values), min_size=1, max_size=3), st.lists(run_keys, max_size=2))
def test_run_from_json_damaged_document(replacements, removals):
    doc = valid_run_doc()
    for key, value in replacements:
        doc[key] = value
    for key in removals:
        doc.pop(key, None)
    _run_or_error(json.dumps(doc))


@FAST
@given(st.sampled_from(sorted(LAYER_STATS) + ["step", "epoch", "loss"]), json_values, st.integers(0, 3))
def test_run_from_json_damaged_step(key, value, index):
    doc = valid_run_doc()
    doc["steps"][index][key] = value
    _run_or_error(json.dumps(doc))


@FAST
@given(st.sampled_from(["name", "index"]), json_values, st.integers(0, 2))
def test_run_from_json_damaged_layer(key, value, index):
    doc = valid_run_doc()
    doc["layers"][index][key] = value
    _run_or_error(json.dumps(doc))


def test_cli_known_hostile_cases(tmp_path):
    cli, _ = _cli()
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000)
    try:
        cli.build_config(None, str(path), [])
    except (ConfigError, cli.UsageError):
        return
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"vgrad/cli.py lets {type(exc).__name__} escape for a deeply nested --config file")


KNOWN_RUN_CRASHES = {
    "deeply nested JSON (RecursionError)": "[" * 100_000,
    "non-number global_norm passes validation, steps_frame raises": json.dumps(
        {**valid_run_doc(), "steps": [{**s, "global_norm": "x"} for s in valid_run_doc()["steps"]]}),
    "huge int stat passes validation, steps_frame raises OverflowError": json.dumps(valid_run_doc()).replace(
        '"grad_norm": [0.001', '"grad_norm": [1' + "0" * 400, 1),
}


@pytest.mark.parametrize("name", list(KNOWN_RUN_CRASHES))
def test_run_known_hostile_cases(name):
    try:
        _run_or_error(KNOWN_RUN_CRASHES[name])
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"vgrad/run.py lets {type(exc).__name__} escape: {name}")


def test_numbers_in_messages_are_short():
    with pytest.raises(ConfigError) as info:
        RunConfig.from_dict({"units": "9" * 5000})
    assert len(str(info.value)) < 300


# --- every page's link parser (the probe's D4) -------------------------------------
# Values a stranger's link may hold: non-finite and overflowing numbers, huge integers, digits of
# other scripts, and values far over MAX_VALUE_CHARS.
HOSTILE_VALUES = ["inf", "-inf", "nan", "NaN", "1e400", "-1e400", "1e-400", "9" * 401, "-" + "9" * 401,
                  "١٢", "٣", "²", "Ⅻ", "８", "1_0", "0x10", "x" * 100_000, "1" * 100_000, "", " ", "\x00"]
hostile_values = st.sampled_from(HOSTILE_VALUES) | near_values
numeric_fields = st.sampled_from(sorted(n for n, f in FIELDS.items() if not f.choices))
group_keys = numeric_fields | numeric_fields.map(lambda f: f"r1.{f}") | numeric_fields.map(lambda f: f"r2.{f}")


def _sentences(problems) -> None:
    """Every ignored thing is a short sentence: no 100 KB value is echoed back."""
    assert all(isinstance(p, str) and 0 < len(p) < 600 for p in problems), [p[:100] for p in problems]


@FAST
@given(st.dictionaries(numeric_fields | st.just("preset"), hostile_values, min_size=1, max_size=4),
       st.sampled_from([None, "notebook-deep-sigmoid", "rnn-lstm"]))
@example({"hidden_layers": "1e400"}, None)
@example({"units": "9" * 401, "epochs": "nan"}, None)
@example({"learning_rate": "x" * 100_000}, "notebook-deep-sigmoid")
@example({"units": "١٢"}, None)
@example({"data_seed": "inf", "seed": "3.0"}, None)  # seed used, data_seed ignored: one name inside the other
def test_parse_run_hostile_values(mapping, preset_name):
    params = dict(mapping)
    if preset_name:
        params["preset"] = preset_name
    link = links.parse_run(params)
    _sentences(link.problems)
    base = PRESETS[link.preset].config if link.preset else RunConfig()
    for key, value in params.items():
        if key == "preset":
            continue
        # ignored: the default stays, and the warning names it (the whole name: "data_seed" is not "seed")
        if any(re.search(rf"(?<!\w){re.escape(key)}(?!\w)", p) for p in link.problems):
            assert getattr(link.config, key) == getattr(base, key), (key, value[:20])
        elif len(value) > links.MAX_VALUE_CHARS:
            pytest.fail(f"{key}: a {len(value)}-character value was neither used nor reported")
    _config_or_error(lambda: link.config)


@FAST
@given(st.dictionaries(group_keys | st.sampled_from(["comparison", "runs"]), hostile_values, min_size=1, max_size=5),
       st.sampled_from(["notebook", "rnn", "clipping"]))
@example({"epochs": "1e400", "r1.units": "nan"}, "notebook")
@example({"runs": "x" * 100_000, "r2.seq_len": "9" * 401}, "rnn")
@example({"comparison": "inf", "learning_rate": "-inf"}, "clipping")
def test_parse_group_hostile_values(mapping, default):
    group, problems = links.parse_group(mapping, default=default)
    _sentences(problems)
    configs = group.configs()  # every member builds
    assert 1 <= len(configs) <= links.MAX_RUNS
    for config in configs:
        _config_or_error(lambda c=config: c)
    again, more = links.parse_group(links.group_query(group), default=default)
    assert again.configs() == configs and not more


@FAST
@given(st.dictionaries(numeric_fields | st.sampled_from(["scenario", "cells", "lr", "gain", "samples",
                                                         "comparison", "runs"]),
                       hostile_values, min_size=1, max_size=5))
@example({"seq_len": "1e400", "units": "nan"})
@example({"scenario": "exploding", "gain": "inf", "lr": "9" * 401})
@example({"cells": "x" * 100_000, "samples": "١٢"})
def test_recurrent_parse_query_hostile_values(mapping):
    from vgrad.ui.recurrent_view import LIMITS, Choice, parse_query

    choice, problems = parse_query(mapping)
    _sentences(problems)
    assert isinstance(choice, Choice)
    for name, attr in (("seq_len", "seq_len"), ("units", "units"), ("epochs", "epochs"),
                       ("recurrent_scale", "gain"), ("n_samples", "samples")):
        low, high = LIMITS[name]
        assert low <= getattr(choice, attr) <= high, (name, getattr(choice, attr))
    assert choice.lr is None or LIMITS["learning_rate"][0] <= choice.lr <= LIMITS["learning_rate"][1]
    for _, config in choice.runs():  # what Train would submit builds
        assert isinstance(config, RunConfig)


# --- run file version (the probe's D8) ----------------------------------------------
@pytest.mark.parametrize("version", [True, False, -5, 0, 1.5, "1", None, 10**400])
def test_run_file_version_must_be_a_known_whole_number(version):
    doc = valid_run_doc()
    doc["version"] = version
    with pytest.raises(RunFileError, match="version"):
        Run.from_json(json.dumps(doc))
