"""vgrad.links: one link format for runs and groups of runs (parse, round trip, hostile input, old links),
and the comparison exports."""

from __future__ import annotations

import dataclasses
import io
import json

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.run_factory import make_run
from vgrad import links
from vgrad.config import FIELDS, RunConfig
from vgrad.export.comparison import export_csv, export_json
from vgrad.presets import COMPARISONS, PRESETS, preset

# --- one run ----------------------------------------------------------------------------


def test_run_round_trip_with_and_without_preset():
    c = RunConfig(hidden_layers=16, activation="relu", dropout=0.25, batch_norm="after", standardize=True, seed=7)
    q = links.run_query(c)
    assert q["hidden_layers"] == "16" and "units" not in q and "preset" not in q
    assert links.parse_run(q) == links.RunLink(c)
    edited = preset("deep-sigmoid").with_values(epochs=200)
    q = links.run_query(edited, "deep-sigmoid")
    assert q == {"preset": "deep-sigmoid", "epochs": "200"}
    assert links.parse_run(q) == links.RunLink(edited, "deep-sigmoid")


def test_preset_expands_first_then_fields():
    link = links.parse_run("preset=notebook-deep-relu&epochs=5")
    assert link.config == dataclasses.replace(preset("notebook-deep-relu"), epochs=5)
    assert link.preset == "notebook-deep-relu" and link.problems == ()


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_round_trips(name):
    cfg = PRESETS[name].config
    assert links.parse_run(links.run_query(cfg, name)).config == cfg


@pytest.mark.parametrize("params, fragment", [
    ({"hidden_layers": "abc"}, "hidden_layers"),
    ({"bogus": "1"}, "unknown setting"),
    ({"preset": "nope"}, "unknown preset"),
    ({"epochs": "1e9"}, "epochs"),
    ({"units": "-3"}, "units"),
    ({"seq_len": "inf"}, "seq_len"),
    ({"seq_len": "1e400"}, "seq_len"),
    ({"units": "-inf"}, "units"),
    ({"epochs": "nan"}, "epochs"),
    ({"epochs": "9" * 150}, "epochs"),
    ({"epochs": "9" * 5000}, "characters long"),
    ({"units": "٣"}, "units"),
    ({"units": "²"}, "units"),
    ({"activation": "x" * 100_000}, "characters long"),
])
def test_hostile_run_links_are_reported_not_raised(params, fragment):
    link = links.parse_run(params)
    assert any(fragment in p for p in link.problems), link.problems
    assert link.config == RunConfig()  # the bad pair was dropped, the rest kept


def test_too_many_pairs_and_repeated_keys():
    link = links.parse_run({f"k{i}": "1" for i in range(500)})
    assert any("500 parameters" in p for p in link.problems)
    assert links.parse_run({"units": ["4", "16"]}).config.units == 16  # the last value wins


def test_ignored_page_keys():
    link = links.parse_run({"job": "12-ab", "units": "4"}, ignore=("job",))
    assert link.problems == () and link.config.units == 4


hostile_values = st.sampled_from(["inf", "-inf", "nan", "1e400", "9" * 400, "٣", "²", "0x10", "", " ", "\x00",
                                  "1_000", "true", "x" * 300]) | st.text(max_size=30)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(sorted(FIELDS)) | st.text(max_size=10), hostile_values, max_size=8))
def test_run_links_never_raise(params):
    link = links.parse_run(params)
    assert isinstance(link.config, RunConfig)
    assert links.parse_run(links.run_query(link.config)).config == link.config


# --- a group of runs ----------------------------------------------------------------------


def test_default_group_is_the_notebook():
    group, problems = links.parse_group({})
    assert problems == [] and group.name == "notebook" and group.matches_comparison()
    assert [m.preset for m in group.members] == list(COMPARISONS["notebook"].presets)


@pytest.mark.parametrize("name", list(COMPARISONS))
def test_every_comparison_round_trips(name):
    group, problems = links.parse_group({"comparison": name, "epochs": "2", "r1.seed": "5"})
    assert problems == []
    configs = group.configs()
    assert all(c.epochs == 2 for c in configs) and configs[0].seed == 5 and configs[1].seed == 0
    again, _ = links.parse_group(links.group_query_string(group))
    assert again == group and again.configs() == configs


def test_shared_fields_keep_each_preset_otherwise():
    group, _ = links.parse_group({"comparison": "notebook", "seed": "3"})
    for member, config in zip(group.members, group.configs(), strict=True):
        assert config == PRESETS[member.preset].config.with_values(seed=3)


def test_hand_made_list_and_labels():
    group, problems = links.parse_group("runs=deep-sigmoid,remedy-relu,default&r3.activation=tanh")
    assert problems == [] and not group.matches_comparison()
    assert group.labels() == ["1. deep-sigmoid", "2. remedy-relu", "3. default (activation=tanh)"]
    assert group.configs()[2].activation == "tanh"
    assert links.group_query(group)["runs"] == "deep-sigmoid,remedy-relu,default"


def test_a_subset_of_a_comparison_keeps_its_name():
    group = links.comparison_group("rnn", {"seq_len": "8"}, ["rnn-simple", "rnn-lstm"])
    q = links.group_query(group)
    assert q == {"comparison": "rnn", "runs": "rnn-simple,rnn-lstm", "seq_len": "8"}
    assert links.parse_group(q)[0] == group


@pytest.mark.parametrize("query, fragment", [
    ({"comparison": "<script>"}, "unknown comparison"),
    ({"runs": "deep-sigmoid,nope"}, "unknown preset"),
    ({"epochs": "-3"}, "epochs"),
    ({"r2.hidden_layers": "banana"}, "r2.hidden_layers"),
    ({"r9.seed": "1"}, "no run 9"),
    ({"evil": "1"}, "unknown setting"),
    ({"epochs": "x" * 500}, "characters long"),
    ({"seq_len": "1e400"}, "seq_len"),
])
def test_hostile_group_links_are_reported_not_raised(query, fragment):
    group, problems = links.parse_group(query)
    assert any(fragment in p for p in problems), problems
    assert group.configs()  # still a usable group


def test_too_many_runs_are_cut():
    group, problems = links.parse_group({"runs": ",".join(["deep-sigmoid"] * 9)})
    assert len(group.members) == links.MAX_RUNS and problems


def test_old_recurrent_links_still_open():
    group, problems = links.parse_group({"scenario": "long", "cells": "simple_rnn,lstm", "clip": "on",
                                         "lr": "0.02", "samples": "400", "seq_len": "8"})
    assert problems == [] and group.name == "rnn"
    assert [m.preset for m in group.members] == ["rnn-simple", "rnn-lstm"]
    configs = group.configs()
    assert all(c.global_clipnorm == 1 and c.learning_rate == 0.02 and c.n_samples == 400 and c.seq_len == 8
               for c in configs)
    exploding, problems = links.parse_group({"scenario": "exploding", "gain": "2.5"})
    assert problems == [] and exploding.name == "clipping"
    assert [c.recurrent_scale for c in exploding.configs()] == [2.5, 2.5]


def test_parse_fields():
    pairs, problems = links.parse_fields("activation=relu & hidden_layers=4, nope=1 junk")
    assert pairs == {"activation": "relu", "hidden_layers": "4"}
    assert len(problems) == 2
    assert links.fields_text(pairs) == "activation=relu&hidden_layers=4"


# --- exports ---------------------------------------------------------------------------------


def test_exports():
    group, _ = links.parse_group({"comparison": "he-init"})
    runs = [make_run(seed=1), make_run(seed=2)]
    labels = group.labels()
    doc = json.loads(export_json(group, runs, labels))
    assert doc["format"] == "vgrad-comparison" and doc["comparison"] == "he-init"
    assert doc["expect"] == COMPARISONS["he-init"].expect
    assert [r["label"] for r in doc["runs"]] == labels and len(doc["runs"][0]["steps"]) == 20
    assert doc["query"] == "comparison=he-init" and len(doc["table"]) == 2
    frame = pd.read_csv(io.StringIO(export_csv(runs, labels)))
    assert set(frame["run"]) == set(labels) and len(frame) == 2 * 20 * 4


def test_page_url_keeps_commas_and_equals_readable_and_reads_back_the_same():
    from urllib.parse import parse_qsl

    query = {"axis1": "init_gain=0.5,1,2", "axis2": "hidden_layers=2,4,8", "note": "a&b #c d"}
    url = links.page_url("http://host:8501/sweep?old=1", query)
    assert url.startswith("http://host:8501/sweep?axis1=init_gain=0.5,1,2&axis2=hidden_layers=2,4,8&")
    assert "&" not in url.split("note=")[1] and "#" not in url  # what would end a value is still encoded
    assert dict(parse_qsl(url.split("?", 1)[1])) == query
