"""vgrad.export.tensorboard: event files TensorBoard reads back with the run's tags and values."""

from __future__ import annotations

import io
import math
import sys
import types
import zipfile
from dataclasses import replace

import numpy as np
import pytest

from tests.run_factory import make_run

# Read the files with tensorboard's TF-free stub (as `tensorboard --logdir` does without TF); importing
# TensorFlow here would only slow the test down.
sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from vgrad.export.tensorboard import export_run, export_zip, layer_tag, safe_dirname  # noqa: E402
from vgrad.records import SnapshotRecord  # noqa: E402


def _load(folder) -> EventAccumulator:
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0})
    acc.Reload()
    return acc


@pytest.fixture(scope="module")
def run():
    return make_run(n_layers=4, n_steps=20, snapshot_every=5)


@pytest.fixture(scope="module")
def acc(run, tmp_path_factory):
    folder = export_run(run, tmp_path_factory.mktemp("logs"), "deep sigmoid")
    assert folder.name == "deep-sigmoid"
    assert (folder / "config.json").exists()
    return _load(folder)


def test_scalar_tags(run, acc):
    tags = set(acc.Tags()["scalars"])
    for layer in run.layers:
        assert f"grad_norm/{layer_tag(layer)}" in tags
        assert f"update_ratio/{layer_tag(layer)}" in tags
    assert {"loss/step", "global_norm", "attenuation_orders", "epoch/loss", "epoch/accuracy",
            "epoch/val_loss", "epoch/val_accuracy"} <= tags


def test_per_layer_grad_norm_values_match_the_run(run, acc):
    for layer in run.layers:
        events = acc.Scalars(f"grad_norm/{layer_tag(layer)}")
        assert [e.step for e in events] == [s.step for s in run.steps]
        expected = [s.grad_norm[layer.index] for s in run.steps]
        np.testing.assert_allclose([e.value for e in events], expected, rtol=1e-6)  # float32 in the proto


def test_loss_accuracy_and_attenuation(run, acc):
    loss = acc.Scalars("loss/step")
    np.testing.assert_allclose([e.value for e in loss], [s.loss for s in run.steps], rtol=1e-6)
    accuracy = acc.Scalars("epoch/accuracy")
    assert [e.step for e in accuracy] == [e.step for e in run.epochs]
    np.testing.assert_allclose([e.value for e in accuracy], [e.accuracy for e in run.epochs], rtol=1e-6)
    orders = acc.Scalars("attenuation_orders")
    np.testing.assert_allclose(orders[-1].value, run.attenuation_orders(-1), rtol=1e-5)


def test_gradient_histograms_match_the_snapshots(run, acc):
    tags = set(acc.Tags()["histograms"])
    assert tags == {f"grad_hist/{layer_tag(layer)}" for layer in run.layers}
    for layer in run.layers:
        events = acc.Histograms(f"grad_hist/{layer_tag(layer)}")
        snaps = [s for s in run.snapshots if s.layer_index == layer.index]
        assert [e.step for e in events] == [s.step for s in snaps]
        for event, snap in zip(events, snaps, strict=True):
            grad = np.asarray(snap.grad, dtype=float)
            h = event.histogram_value
            assert h.num == grad.size == sum(h.bucket)
            assert h.min == pytest.approx(grad.min()) and h.max == pytest.approx(grad.max())
            assert h.sum == pytest.approx(grad.sum())


def test_zip_has_one_folder_per_run(tmp_path):
    data = export_zip([("sigmoid", make_run(seed=1)), ("sigmoid", make_run(seed=2)),
                       ("<script>/../..", make_run(seed=3))])
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        assert all(n.startswith("vgrad-tensorboard/") and ".." not in n for n in names)
        folders = {n.split("/")[1] for n in names}
        assert len(folders) == 3
        zf.extractall(tmp_path)
    for folder in folders:
        assert "grad_norm/00_dense_0" in _load(tmp_path / "vgrad-tensorboard" / folder).Tags()["scalars"]


def test_non_finite_values_and_bad_snapshots_are_skipped(tmp_path):
    run = make_run(n_steps=4)
    run.steps[1] = replace(run.steps[1], grad_norm=(math.nan, *run.steps[1].grad_norm[1:]))
    run.steps[2] = replace(run.steps[2], loss=math.inf)
    run.snapshots.append(SnapshotRecord(step=3, layer_index=0, grad=()))
    run.snapshots.append(SnapshotRecord(step=3, layer_index=99, grad=((1.0,),)))
    run.snapshots.append(SnapshotRecord(step=3, layer_index=1, grad=((math.nan, 1.0), (2.0, 3.0))))
    acc = _load(export_run(run, tmp_path, "nan"))
    assert [e.step for e in acc.Scalars("grad_norm/00_dense_0")] == [0, 2, 3]
    assert [e.step for e in acc.Scalars("loss/step")] == [0, 1, 3]
    assert acc.Histograms("grad_hist/01_dense_1")[-1].histogram_value.num == 3


@pytest.mark.parametrize("name, expected", [("a b/c", "a-b-c"), ("../..", "run"), ("", "run"), ("ok_1.2", "ok_1.2")])
def test_safe_dirname(name, expected):
    assert safe_dirname(name) == expected
