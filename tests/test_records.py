"""vgrad.records: every record kind round-trips through its JSON, hostile objects are refused with the
first problem named, and a saved run written by an earlier vgrad still opens."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.run_factory import make_run
from vgrad.records import (
    FINAL,
    KINDS,
    LAYER_STATS,
    Action,
    BoundaryRecord,
    DataRecord,
    EpochRecord,
    Layer,
    RecordError,
    SnapshotRecord,
    StartRecord,
    Status,
    StatusRecord,
    StepRecord,
    WeightsRecord,
    parse,
    parse_json,
    record_schema,
    size,
)
from vgrad.run import FORMAT_VERSION, Run, RunFileError

DATA = Path(__file__).parent / "data"
LAYER = Layer(name="dense_1", index=0, kind="dense", units=8, activation="sigmoid", fan_in=2)
ONE_OF_EACH = [
    StartRecord(layers=(LAYER,), n_train=75, n_val=25, steps_per_epoch=3, total_steps=9, family="mlp", lr=0.1),
    DataRecord(x=((0.5, -1.0), (1.0, 2.0)), y=(0, 1)),
    WeightsRecord(when="initial", kernel=((0.1, math.nan),)),
    StepRecord(step=0, epoch=0, loss=0.69, global_norm=1.5, global_norm_clipped=1.0,
               **{k: (0.25,) for k in LAYER_STATS}),
    SnapshotRecord(step=0, layer_index=0, grad=((1e-6, -2e-6),)),
    EpochRecord(epoch=0, step=2, loss=0.6, accuracy=0.5, val_loss=None, val_accuracy=0.4),
    BoundaryRecord(step=2, epoch=0, xs=(0.0, 1.0), ys=(0.0,), prob=((0.25, 0.75),)),
    StatusRecord(status=Status.FINISHED, step=8, message="trained 9 steps"),
]


@pytest.mark.parametrize("record", ONE_OF_EACH, ids=lambda r: r.kind)
def test_every_kind_round_trips_through_json(record):
    data = json.loads(record.to_json())
    assert data["kind"] == record.kind and set(data) >= {"kind"}
    again = parse(data)
    assert type(again) is type(record)
    if isinstance(record, WeightsRecord):  # a non-finite weight travels as null
        assert again.kernel == ((0.1, None),)
    else:
        assert again == record
    assert parse_json(record.to_json()) == again and type(record).from_json(record.to_json()) == again


def test_kinds_are_the_wire_names():
    assert list(KINDS) == ["start", "data", "weights", "step", "snapshot", "epoch", "boundary", "spectrum",
                           "confusion", "status"]
    assert set(record_schema()["discriminator"]["mapping"]) == set(KINDS)


@pytest.mark.parametrize("obj, fragment", [
    ("x", "JSON object"),
    ({"kind": "nope"}, "unknown record kind"),
    ({"kind": "start", "layers": "x"}, "layers"),
    ({"kind": "step", "step": 10**400, "epoch": 0, "loss": 0.1, "global_norm": 1}, "step"),
    ({"kind": "epoch", "epoch": 0, "step": 0, "loss": math.inf}, "loss"),
    ({"kind": "status", "status": "running"}, "ends a run"),
    ({"kind": "status", "status": "finished", "message": "m" * 5000}, "message"),
    ({"kind": "snapshot", "step": 0, "layer_index": 0, "grad": [[1.0, "x"]]}, "grad"),
])
def test_hostile_records_name_the_first_problem(obj, fragment):
    with pytest.raises(RecordError, match=fragment):
        parse(obj)


def test_status_and_action_names():
    assert FINAL == {Status.FINISHED, Status.CANCELLED, Status.DIVERGED, Status.FAILED}
    assert not Status.QUEUED.final and Status("failed").final
    assert [str(a) for a in Action] == ["pause", "resume", "step", "stop"]
    assert StatusRecord(status="failed").status is Status.FAILED


def test_size_counts_numbers():
    step = ONE_OF_EACH[3]
    # 12 one-layer tuples; kind, step, epoch, loss and the two norms; the two rnn fields (None)
    assert size(step) == len(LAYER_STATS) + 6 + 2
    assert size(ONE_OF_EACH[6]) == 2 + 1 + 2 + 4  # xs, ys, prob 1 x 2, and kind/step/epoch/label


# --- saved runs ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["run-v1-notebook.json", "run-v1-lstm.json"])
def test_runs_saved_by_the_previous_version_open(name):
    """Files written by vgrad before the typed records (version 1, records as plain dicts)."""
    text = (DATA / name).read_text()
    run = Run.from_json(text)
    old = json.loads(text)
    assert run.done and len(run.steps) == len(old["steps"]) and len(run.epochs) == len(old["epochs"])
    assert [layer.name for layer in run.layers] == [x["name"] for x in old["layers"]]
    assert run.steps[-1].grad_norm == pytest.approx(old["steps"][-1]["grad_norm"])
    assert run.start.total_steps == old["info"]["start"]["total_steps"]
    assert set(run.weights) == set(old["info"].get("weights", {}))
    again = Run.from_json(run.to_json())  # and what this version writes reads back the same
    assert again.steps == run.steps and again.epochs == run.epochs and again.status == run.status


def test_a_run_round_trips():
    run = make_run()
    again = Run.from_dict(json.loads(run.to_json()))
    assert again.steps == run.steps and again.snapshots == run.snapshots and again.layers == run.layers
    assert again.to_dict()["version"] == FORMAT_VERSION


def _doc(**changes):
    doc = json.loads(make_run().to_json())
    doc.update(changes)
    return doc


@pytest.mark.parametrize("doc, fragment", [
    (_doc(info={"start": "x"}), "info.start"),
    (_doc(version=True), "version"),
    (_doc(version=-5), "version"),
    (_doc(version="1"), "version"),
    (_doc(version=99), "newer"),
    (_doc(status="exploded"), "status"),
    (_doc(layers=[{"name": "<a href='x'>", "index": 0}]), "layers[0]"),
])
def test_hostile_run_documents_are_refused(doc, fragment):
    with pytest.raises(RunFileError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        Run.from_dict(doc)


def test_a_huge_step_number_is_refused():
    doc = _doc()
    doc["steps"][0]["step"] = int("9" * 401)
    with pytest.raises(RunFileError, match=r"steps\[0\].step"):
        Run.from_dict(doc)


def test_per_layer_lists_must_match_the_layers():
    doc = _doc()
    doc["steps"][1]["grad_norm"] = [1.0]
    with pytest.raises(RunFileError, match="one per layer"):
        Run.from_dict(doc)
