"""vgrad.datasets: every set loads as documented, deterministically, without the network or TensorFlow."""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn import datasets as skd

from vgrad.config import RunConfig
from vgrad.datasets import DATASETS, TASKS, describe
from vgrad.train.data import make_xy


def old_make_xy(config: RunConfig) -> tuple[np.ndarray, np.ndarray]:
    """What vgrad's data module made before the catalog existed (the reference runs depend on it)."""
    from sklearn.datasets import make_circles, make_classification, make_moons

    if config.dataset == "moons":
        return make_moons(n_samples=config.n_samples, noise=config.noise, random_state=config.data_seed)
    if config.dataset == "circles":
        return make_circles(n_samples=config.n_samples, noise=config.noise, factor=0.5, random_state=config.data_seed)
    informative = config.n_features if config.n_features < 4 else max(2, config.n_features // 2)
    return make_classification(
        n_samples=config.n_samples, n_features=config.n_features, n_classes=2, n_informative=informative,
        n_redundant=0, n_repeated=0, n_clusters_per_class=1, class_sep=config.class_sep, flip_y=config.flip_y,
        random_state=config.data_seed)


ROOT = Path(__file__).resolve().parents[1]
CLASSIFIERS = [n for n, s in DATASETS.items() if s.task != "regression"]
GENERATED = [n for n, s in DATASETS.items() if s.n_rows is None]
BUNDLED = [n for n, s in DATASETS.items() if s.n_rows is not None]
PLAYGROUND = [n for n in DATASETS if n.startswith("playground_")]


def _sentence(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert text[0].isupper() or text.split()[0].isidentifier(), text
    assert text.endswith(".") and "\n" not in text, text
    return text


# --- the catalog ------------------------------------------------------------------
def test_catalog_fields_are_consistent():
    assert list(DATASETS)[:3] == ["classification", "moons", "circles"]
    for name, spec in DATASETS.items():
        assert spec.name == name and spec.description and "\n" not in spec.description
        assert spec.task in TASKS
        assert spec.params == tuple(spec.defaults) and "n_samples" in spec.params
        assert (spec.n_features is None) == ("n_features" in spec.params)
        if spec.task == "regression":
            assert spec.n_classes is None and not spec.class_names
        elif "n_classes" not in spec.params:
            assert spec.n_classes >= 2 and spec.task == ("binary" if spec.n_classes == 2 else "multiclass")


@pytest.mark.parametrize("name", list(DATASETS))
def test_every_set_loads_with_its_documented_shape_classes_and_dtype(name):
    spec = DATASETS[name]
    x, y = spec.make()
    n = spec.n_rows or spec.defaults["n_samples"]
    assert x.shape == (n, spec.n_features or spec.defaults["n_features"])
    assert x.dtype == np.float64 and x.flags.c_contiguous and np.isfinite(x).all()
    assert y.shape == (n,)
    if spec.task == "regression":
        assert y.dtype == np.float64 and np.isfinite(y).all() and y.std() > 0
    else:
        k = spec.n_classes or spec.defaults["n_classes"]
        assert y.dtype == np.int64 and sorted(set(y.tolist())) == list(range(k))
        assert spec.task_for() == ("binary" if k == 2 else "multiclass")


@pytest.mark.parametrize("name", list(DATASETS))
def test_same_seed_same_data_other_seed_other_data(name):
    spec = DATASETS[name]
    size = {"n_samples": 60} if spec.n_rows else {}
    x1, y1 = spec.make(seed=5, **size)
    x2, y2 = spec.make(seed=5, **size)
    x3, _ = spec.make(seed=6, **size)
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert not np.array_equal(x1, x3)


def test_make_returns_fresh_arrays():
    x, y = DATASETS["iris"].make()
    x[:] = 0
    y[:] = 0
    assert DATASETS["iris"].make()[0].sum() > 0


def test_describe_lists_every_set_and_the_cli_module_prints_it():
    text = describe()
    for name, spec in DATASETS.items():
        assert name in text and spec.description in text
    out = subprocess.run([sys.executable, "-m", "vgrad.datasets"], capture_output=True, text=True, cwd=ROOT,
                         timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == text.strip()


# --- classification: today's vgrad data, bit for bit ------------------------------
@pytest.mark.parametrize("overrides", [{}, {"n_features": 3}, {"n_features": 8, "class_sep": 0.5, "flip_y": 0.2},
                                       {"n_features": 64, "n_samples": 500, "data_seed": 7}])
def test_classification_default_equals_make_xy(overrides):
    cfg = RunConfig(**overrides)
    x_ref, y_ref = old_make_xy(cfg)
    assert all(np.array_equal(a, b) for a, b in zip(make_xy(cfg)[:2], (x_ref, y_ref), strict=True))
    x, y = DATASETS["classification"].make(n_samples=cfg.n_samples, n_features=cfg.n_features,
                                           class_sep=cfg.class_sep, flip_y=cfg.flip_y, seed=cfg.data_seed)
    assert x.dtype == x_ref.dtype and np.array_equal(x, x_ref)
    assert np.array_equal(y, y_ref)


def test_classification_default_config_is_bit_identical():
    x_ref, y_ref = old_make_xy(RunConfig())
    x, y = DATASETS["classification"].make()
    assert x.tobytes() == x_ref.tobytes() and y.tolist() == y_ref.tolist()


@pytest.mark.parametrize("name", ["moons", "circles"])
def test_moons_and_circles_equal_make_xy(name):
    cfg = RunConfig(dataset=name, noise=0.2, n_samples=150)
    x_ref, y_ref = old_make_xy(cfg)
    assert all(np.array_equal(a, b) for a, b in zip(make_xy(cfg)[:2], (x_ref, y_ref), strict=True))
    x, y = DATASETS[name].make(n_samples=150, noise=0.2, seed=cfg.data_seed)
    assert np.array_equal(x, x_ref) and np.array_equal(y, y_ref)


def test_classification_many_classes_and_clusters():
    x, y = DATASETS["classification"].make(n_samples=400, n_features=6, n_classes=5, n_informative=4,
                                           n_clusters_per_class=2)
    assert x.shape == (400, 6) and sorted(set(y.tolist())) == [0, 1, 2, 3, 4]
    assert DATASETS["classification"].task_for(5) == "multiclass"
    assert DATASETS["classification"].task_for(2) == "binary"


# --- Playground sets ------------------------------------------------------------------
def test_playground_xor_labels_are_the_sign_of_x_times_y():
    x, y = DATASETS["playground_xor"].make(n_samples=2000, noise=0.0)
    assert np.array_equal(y, (x[:, 0] * x[:, 1] >= 0).astype(np.int64))
    assert np.abs(x).min() >= 0.3 and np.abs(x).max() <= 5.3  # pushed away from the axes
    # With noise the label is read at a point moved by at most 5 * noise per coordinate.
    x, y = DATASETS["playground_xor"].make(n_samples=2000, noise=0.1)
    far = (np.abs(x) > 0.5).all(axis=1)
    assert np.array_equal(y[far], (x[far, 0] * x[far, 1] >= 0).astype(np.int64))
    assert (y != (x[:, 0] * x[:, 1] >= 0)).any()  # and near the axes some labels flip


def test_playground_circle_inner_points_are_class_1():
    x, y = DATASETS["playground_circle"].make(n_samples=1001, noise=0.0)
    r = np.hypot(x[:, 0], x[:, 1])
    assert np.array_equal(y, (r < 2.5).astype(np.int64))
    assert (y == 1).sum() == 501 and not ((r >= 2.5) & (r <= 3.5)).any() and r.max() <= 5
    x, y = DATASETS["playground_circle"].make(n_samples=1000, noise=0.1)
    r = np.hypot(x[:, 0], x[:, 1])
    assert (y[r < 1.7] == 1).all() and (y[r > 4.3] == 0).all()


def test_playground_spirals_are_two_interleaved_arms():
    x, y = DATASETS["playground_spirals"].make(n_samples=400, noise=0.0)
    assert (y == 0).sum() == (y == 1).sum() == 200
    r = np.hypot(x[:, 0], x[:, 1])
    angle = np.arctan2(x[:, 0], x[:, 1])  # x = r sin t, y = r cos t
    expected = 1.75 * 2 * math.pi * r / 5 + np.where(y == 1, 0.0, math.pi)
    off = np.angle(np.exp(1j * (angle - expected)))
    assert np.abs(off[r > 1e-9]).max() < 1e-9
    # Interleaved: the arms are each other's mirror through the origin (point i of arm 0 = -point i of arm 1).
    arm1 = x[y == 1][np.argsort(r[y == 1])]
    arm0 = x[y == 0][np.argsort(r[y == 0])]
    assert np.allclose(arm0, -arm1)
    assert r.max() < 5
    noisy, _ = DATASETS["playground_spirals"].make(n_samples=400, noise=0.5)
    assert not np.allclose(np.sort(np.hypot(*noisy.T)), np.sort(r))


def test_playground_gaussians_sit_around_plus_and_minus_two():
    for noise, variance in ((0.0, 0.5), (0.5, 4.0)):
        x, y = DATASETS["playground_gaussians"].make(n_samples=4000, noise=noise)
        for label, centre in ((1, 2.0), (0, -2.0)):
            part = x[y == label]
            assert np.allclose(part.mean(axis=0), centre, atol=0.15)
            assert np.allclose(part.var(axis=0), variance, rtol=0.12)


def test_playground_regressions():
    x, y = DATASETS["playground_plane"].make(n_samples=500, noise=0.0)
    assert np.allclose(y, x.sum(axis=1) / 10) and np.abs(x).max() <= 6
    x, y = DATASETS["playground_multi_gaussian"].make(n_samples=3000, noise=0.0)
    assert y.min() >= -1 and y.max() <= 1 and y.min() < -0.8 and y.max() > 0.8
    near = np.hypot(x[:, 0] + 4, x[:, 1] - 2.5) < 0.5  # the +1 bump at (-4, 2.5)
    assert (y[near] > 0.7).all()


@pytest.mark.parametrize("name", PLAYGROUND)
def test_playground_points_are_shuffled_not_grouped_by_class(name):
    _, y = DATASETS[name].make(n_samples=200)
    if DATASETS[name].task != "regression":
        assert 0 < np.flatnonzero(np.diff(y)).size > 20


# --- bundled tables ---------------------------------------------------------------
@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_tables_equal_scikit_learns_and_name_their_classes(name):
    bunch = getattr(skd, f"load_{name}")()
    spec = DATASETS[name]
    x, y = spec.make()
    assert np.array_equal(x, bunch.data) and np.array_equal(y, bunch.target)
    assert x.shape == (spec.n_rows, spec.n_features)
    if spec.task != "regression":
        assert spec.class_names == tuple(str(c) for c in bunch.target_names)
        assert spec.n_classes == len(bunch.target_names)


def test_bundled_tables_never_touch_the_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("a bundled data set tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    from vgrad import datasets

    datasets._bundled_table.cache_clear()
    for name in BUNDLED:
        assert DATASETS[name].make()[0].shape[0] == DATASETS[name].n_rows
    data_dir = Path(skd.__file__).parent / "data"
    assert {"iris.csv", "wine_data.csv", "breast_cancer.csv", "digits.csv.gz"} <= {p.name for p in data_dir.iterdir()}


def test_bundled_subset_is_seeded_and_stratified():
    x_all, y_all = DATASETS["iris"].make()
    x, y = DATASETS["iris"].make(n_samples=30, seed=3)
    assert np.bincount(y).tolist() == [10, 10, 10]
    rows = [int(np.flatnonzero((x_all == row).all(axis=1))[0]) for row in x]
    assert rows == sorted(rows)  # the file's order
    _, y = DATASETS["breast_cancer"].make(n_samples=100)
    assert np.bincount(y).tolist() == [37, 63]  # 212 : 357
    _, y = DATASETS["digits"].make(n_samples=10)
    assert sorted(y.tolist()) == list(range(10))
    x, y = DATASETS["diabetes"].make(n_samples=50)
    assert x.shape == (50, 10) and y.dtype == np.float64


# --- invalid parameters -----------------------------------------------------------
@pytest.mark.parametrize("name, params, words", [
    ("classification", {"n_classes": 11}, "n_classes must be an integer from 2 to 10"),
    ("classification", {"n_classes": 1}, "n_classes"),
    ("classification", {"n_classes": 10, "n_features": 2}, "2 ** n_informative (4)"),
    ("classification", {"n_classes": 3, "n_clusters_per_class": 2, "n_features": 2}, "3 x 2 = 6"),
    ("classification", {"n_informative": 5, "n_features": 3}, "at most n_features (3)"),
    ("classification", {"n_samples": 5, "n_classes": 10, "n_features": 8, "n_informative": 4}, "at least"),
    ("classification", {"flip_y": 1.5}, "flip_y"),
    ("classification", {"class_sep": math.nan}, "class_sep"),
    ("classification", {"n_features": 2.5}, "an integer"),
    ("classification", {"n_samples": True}, "n_samples"),
    ("classification", {"noise": 0.1}, "takes no noise parameter"),
    ("moons", {"noise": -0.1}, "noise must be a number from 0 to 1"),
    ("moons", {"n_features": 3}, "exactly 2 features"),
    ("moons", {"class_sep": 1.0}, "takes no class_sep"),
    ("playground_spirals", {"n_samples": 1}, "n_samples"),
    ("playground_xor", {"n_samples": "100"}, "n_samples"),
    ("iris", {"n_samples": 151}, "at most 150"),
    ("iris", {"n_samples": 2}, "at least the number of classes (3)"),
    ("iris", {"noise": 0.1}, "takes no noise"),
    ("iris", {"n_classes": 4}, "exactly 3 classes"),
])
def test_invalid_parameters_raise_value_error_with_a_sentence(name, params, words):
    with pytest.raises(ValueError) as exc:
        DATASETS[name].make(**params)
    assert words in _sentence(exc)


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, "1", None])
def test_invalid_seed(seed):
    with pytest.raises(ValueError) as exc:
        DATASETS["moons"].make(seed=seed)
    assert "seed must be an integer" in _sentence(exc)


def test_fixed_values_and_none_are_accepted():
    x, _ = DATASETS["moons"].make(n_features=2, n_classes=2, noise=None)
    assert x.shape == (100, 2)
    x, _ = DATASETS["iris"].make(n_samples=150.0)
    assert x.shape == (150, 4)


# --- the UI process stays light ---------------------------------------------------
def test_modules_import_no_tensorflow_keras_or_streamlit():
    code = ("import json, sys, vgrad.datasets, vgrad.csvdata;"
            "vgrad.datasets.DATASETS['digits'].make(); vgrad.datasets.DATASETS['classification'].make();"
            "vgrad.csvdata.parse_csv(b'a,y\\n1,0\\n2,1\\n');"
            "print(json.dumps([m for m in ('tensorflow', 'keras', 'streamlit') if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
