"""vgrad.comparison: comparison links (parse, round trip, hostile input) and exports."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from tests.run_factory import make_run
from vgrad import comparison as cmp
from vgrad.presets import COMPARISONS, PRESETS


def test_default_is_the_notebook():
    setup, problems = cmp.parse_query({})
    assert problems == [] and setup.name == "notebook" and setup.matches_comparison()
    assert [m.preset for m in setup.members] == list(COMPARISONS["notebook"].presets)


@pytest.mark.parametrize("name", list(COMPARISONS))
def test_every_comparison_round_trips(name):
    setup, problems = cmp.parse_query({"comparison": name, "epochs": "2", "r1.seed": "5"})
    assert problems == []
    configs = setup.configs()
    assert all(c.epochs == 2 for c in configs) and configs[0].seed == 5 and configs[1].seed == 0
    again, _ = cmp.parse_query(cmp.query_string(setup))
    assert again == setup and again.configs() == configs


def test_shared_settings_keep_each_preset_otherwise():
    setup, _ = cmp.parse_query({"comparison": "notebook", "seed": "3"})
    for member, config in zip(setup.members, setup.configs(), strict=True):
        assert config == PRESETS[member.preset].config.with_values(seed=3)


def test_hand_made_list_and_labels():
    setup, problems = cmp.parse_query("runs=deep-sigmoid,remedy-relu,default&r3.activation=tanh")
    assert problems == [] and not setup.matches_comparison()
    assert setup.labels() == ["1. deep-sigmoid", "2. remedy-relu", "3. default (activation=tanh)"]
    assert setup.configs()[2].activation == "tanh"
    assert cmp.query_for(setup)["runs"] == "deep-sigmoid,remedy-relu,default"


@pytest.mark.parametrize("query, fragment", [
    ({"comparison": "<script>"}, "unknown comparison"),
    ({"runs": "deep-sigmoid,nope"}, "unknown preset"),
    ({"epochs": "-3"}, "epochs"),
    ({"r2.hidden_layers": "banana"}, "r2.hidden_layers"),
    ({"r9.seed": "1"}, "no run 9"),
    ({"evil": "1"}, "unknown setting"),
    ({"epochs": "x" * 500}, "too long"),
])
def test_hostile_links_are_reported_not_raised(query, fragment):
    setup, problems = cmp.parse_query(query)
    assert any(fragment in p for p in problems), problems
    assert setup.configs()  # still a usable comparison


def test_too_many_runs_are_cut():
    setup, problems = cmp.parse_query({"runs": ",".join(["deep-sigmoid"] * 9)})
    assert len(setup.members) == cmp.MAX_RUNS and problems


def test_parse_overrides():
    pairs, problems = cmp.parse_overrides("activation=relu & hidden_layers=4, nope=1 junk")
    assert pairs == {"activation": "relu", "hidden_layers": "4"}
    assert len(problems) == 2


def test_exports():
    setup, _ = cmp.parse_query({"comparison": "he-init"})
    runs = [make_run(seed=1), make_run(seed=2)]
    labels = setup.labels()
    doc = json.loads(cmp.export_json(setup, runs, labels))
    assert doc["format"] == "vgrad-comparison" and doc["comparison"] == "he-init"
    assert doc["expect"] == COMPARISONS["he-init"].expect
    assert [r["label"] for r in doc["runs"]] == labels and len(doc["runs"][0]["steps"]) == 20
    assert doc["query"] == "comparison=he-init" and len(doc["table"]) == 2
    frame = pd.read_csv(io.StringIO(cmp.export_csv(runs, labels)))
    assert set(frame["run"]) == set(labels) and len(frame) == 2 * 20 * 4
