"""The catalog of data sets that ship with vgrad. Nothing is ever downloaded.

Generated sets come from scikit-learn's generators or from TensorFlow Playground's formulas (ported
to numpy); the bundled tables are the CSV files inside the installed scikit-learn package
(sklearn/datasets/data, read by load_iris & co. through importlib.resources; no fetch_* ever).

    >>> from vgrad.datasets import DATASETS
    >>> x, y = DATASETS["playground_xor"].make(n_samples=200, noise=0.1, seed=1)
    >>> x.shape, x.dtype.name, y.dtype.name, sorted(set(y.tolist()))
    ((200, 2), 'float64', 'int64', [0, 1])
    >>> DATASETS["iris"].make()[0].shape
    (150, 4)

`print(describe())` (or `python -m vgrad.datasets`) prints the catalog; in short (sizes and shapes):

=========================  ==========  ========  =======  ======  ======================================
name                       task        features  classes  rows    parameters (besides seed)
=========================  ==========  ========  =======  ======  ======================================
classification             multiclass  chosen    2-10     chosen  n_samples, n_features, n_classes,
                                                                  n_informative, n_clusters_per_class,
                                                                  class_sep, flip_y
moons                      binary      2         2        chosen  n_samples, noise
circles                    binary      2         2        chosen  n_samples, noise
playground_circle          binary      2         2        chosen  n_samples, noise
playground_xor             binary      2         2        chosen  n_samples, noise
playground_gaussians       binary      2         2        chosen  n_samples, noise
playground_spirals         binary      2         2        chosen  n_samples, noise
iris                       multiclass  4         3        150     n_samples (subset)
wine                       multiclass  13        3        178     n_samples (subset)
breast_cancer              binary      30        2        569     n_samples (subset)
digits                     multiclass  64        10       1797    n_samples (subset)
diabetes                   regression  10        -        442     n_samples (subset)
playground_plane           regression  2         -        chosen  n_samples, noise
playground_multi_gaussian  regression  2         -        chosen  n_samples, noise
=========================  ==========  ========  =======  ======  ======================================

`make(seed=..., **params)` returns `(x, y)`: x float64 of shape (n, features); y int64 labels 0..k-1
(classification) or float64 targets (regression). A parameter left out (or None) takes its default;
one the set does not take raises ValueError (pass `{k: v for k, v in p.items() if k in spec.params}`).

Rules worth knowing:
- `classification` with no n_informative reproduces `vgrad.data.make_xy` bit for bit
  (n_informative = n_features if n_features < 4 else max(2, n_features // 2), no redundant or repeated
  features, one cluster per class, random_state = seed).
- Bundled tables: n_samples None (the default) or equal to the table's size gives every row, in the file's
  order; a smaller n_samples gives a seeded subset, stratified by class (each class keeps its share,
  at least one row), rows kept in file order; a larger one is a ValueError.
- Playground sets (formulas of `src/dataset.ts` in github.com/tensorflow/playground, Apache-2.0, commit
  2c87f3d): labels +1/-1 there are 1/0 here; a class-split set gives n - n // 2 points to class 1 and
  n // 2 to class 0 (Playground makes n / 2 of each); the points are shuffled with the seed (Playground
  shuffles too). `noise` is Playground's slider / 100 (0..0.5 there; up to 1 accepted here). Circle, XOR
  and the regressions: noise moves the point where the label is read, not the point (label noise);
  spirals: noise moves the point; Gaussians: noise widens the variance (0.5 + 7 * noise).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from numbers import Integral, Real
from typing import Any

import numpy as np

TASKS = ("binary", "multiclass", "regression")
MAX_SEED = 2**32 - 1  # scikit-learn's random_state range

# Parameter -> (kind, low, high): what make() accepts.
RANGES: dict[str, tuple[type, float, float]] = {
    "n_samples": (int, 2, 1_000_000),
    "n_features": (int, 1, 1000),
    "n_classes": (int, 2, 10),
    "n_informative": (int, 1, 1000),
    "n_clusters_per_class": (int, 1, 10),
    "class_sep": (float, 0.0, 100.0),
    "flip_y": (float, 0.0, 1.0),
    "noise": (float, 0.0, 1.0),
}

Builder = Callable[[dict[str, Any], int], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True, eq=False)
class DatasetSpec:
    """One data set: what it is, which parameters apply, and how to make it."""

    name: str
    description: str  # one line, for the picker and `describe()`
    task: str  # "binary" | "multiclass" | "regression"; "multiclass" with n_classes chosen means k >= 2
    n_features: int | None  # None: chosen with the n_features parameter
    n_classes: int | None  # None: chosen (n_classes parameter) or regression
    n_rows: int | None  # rows of a bundled table; None for generators
    defaults: dict[str, Any]  # the parameters make() takes and their defaults
    source: str
    build: Builder = field(repr=False)
    class_names: tuple[str, ...] = ()  # for the bundled tables

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(self.defaults)

    def task_for(self, n_classes: int | None = None) -> str:
        """The task of the data this spec makes with `n_classes` (binary when k == 2)."""
        if self.task == "regression":
            return "regression"
        k = self.n_classes or n_classes or self.defaults.get("n_classes", 2)
        return "binary" if k == 2 else "multiclass"

    def make(self, *, seed: int = 2121, **params: Any) -> tuple[np.ndarray, np.ndarray]:
        """(x float64 [n, features], y int64 labels 0..k-1 or float64 targets), deterministic in `seed`."""
        values = dict(self.defaults)
        for key, value in params.items():
            if key in self.defaults:
                if value is not None:
                    values[key] = _checked(key, value)
                continue
            fixed = {"n_features": self.n_features, "n_classes": self.n_classes}.get(key)
            if fixed is None:
                raise ValueError(f"The {self.name} data set takes no {key} parameter; it takes "
                                 f"{', '.join(self.params)} (and seed).")
            if value is not None and value != fixed:
                raise ValueError(f"The {self.name} data set has exactly {fixed} {key[2:]}, got {value!r}.")
        x, y = self.build(values, _checked_seed(seed))
        y = np.asarray(y, dtype=np.float64 if self.task == "regression" else np.int64)
        return np.ascontiguousarray(x, dtype=np.float64), y


def _checked(name: str, value: Any) -> int | float:
    kind, low, high = RANGES[name]
    if kind is int:
        ok = (isinstance(value, Integral) or (isinstance(value, float) and value.is_integer()))
        what = "an integer"
    else:
        ok = isinstance(value, Real) and math.isfinite(value)
        what = "a number"
    if isinstance(value, bool) or not ok or not low <= value <= high:
        raise ValueError(f"{name} must be {what} from {low:g} to {high:g}, got {value!r}.")
    return kind(value)


def _checked_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, Integral) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be an integer from 0 to {MAX_SEED}, got {seed!r}.")
    return int(seed)


# --- scikit-learn generators ---------------------------------------------------
def default_informative(n_features: int) -> int:
    """vgrad's n_informative when none is given (as in vgrad.data.make_xy)."""
    return n_features if n_features < 4 else max(2, n_features // 2)


def _classification(p: dict[str, Any], seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_classification

    n_features, n_classes, clusters = p["n_features"], p["n_classes"], p["n_clusters_per_class"]
    informative = p["n_informative"] or default_informative(n_features)
    if informative > n_features:
        raise ValueError(f"n_informative ({informative}) must be at most n_features ({n_features}).")
    if n_classes * clusters > 2**informative:
        raise ValueError(f"make_classification needs n_classes x n_clusters_per_class ({n_classes} x {clusters}"
                         f" = {n_classes * clusters}) to be at most 2 ** n_informative ({2**informative}); "
                         f"raise n_informative (and n_features) or lower n_classes.")
    if p["n_samples"] < n_classes * clusters:
        raise ValueError(f"n_samples ({p['n_samples']}) must be at least n_classes x n_clusters_per_class "
                         f"({n_classes * clusters}) so that every class gets points.")
    return make_classification(
        n_samples=p["n_samples"], n_features=n_features, n_classes=n_classes, n_informative=informative,
        n_redundant=0, n_repeated=0, n_clusters_per_class=clusters, class_sep=p["class_sep"],
        flip_y=p["flip_y"], random_state=seed,
    )


def _moons(p: dict[str, Any], seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_moons

    return make_moons(n_samples=p["n_samples"], noise=p["noise"], random_state=seed)


def _circles(p: dict[str, Any], seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_circles

    return make_circles(n_samples=p["n_samples"], noise=p["noise"], factor=0.5, random_state=seed)


# --- TensorFlow Playground (src/dataset.ts) ------------------------------------
def _halves(n: int) -> tuple[int, int]:
    """Points of class 1 and of class 0."""
    return n - n // 2, n // 2


def _shuffled(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(len(y))
    return x[order], y[order]


def _playground_circle(p: dict[str, Any], seed: int) -> tuple[np.ndarray, np.ndarray]:
    # classifyCircleData: class 1 drawn inside r < 2.5, class 0 in 3.5 < r < 5; the label is read
    # at the point moved by uniform(-5, 5) * noise, so noise flips labels near the gap.
    rng, radius, noise = np.random.default_rng(seed), 5.0, p["noise"]
    parts = []
    for count, low, high in zip(_halves(p["n_samples"]), (0.0, 0.7 * radius), (0.5 * radius, radius),
                                strict=True):
        r = rng.uniform(low, high, count)
        angle = rng.uniform(0.0, 2 * math.pi, count)
        parts.append(np.column_stack([r * np.sin(angle), r * np.cos(angle)]))
    x = np.concatenate(parts)
    moved = x + rng.uniform(-radius, radius, x.shape) * noise
    y = (np.hypot(moved[:, 0], moved[:, 1]) < 0.5 * radius).astype(np.int64)
    return _shuffled(x, y, rng)


def _playground_xor(p: dict[str, Any], seed: int) -> tuple[np.ndarray, np.ndarray]:
    # classifyXORData: uniform(-5, 5) pushed 0.3 away from the axes; label 1 where x * y >= 0
    # (read at the point moved by uniform(-5, 5) * noise).
    rng, n = np.random.default_rng(seed), p["n_samples"]
    x = rng.uniform(-5.0, 5.0, (n, 2))
    x += np.where(x > 0, 0.3, -0.3)
    moved = x + rng.uniform(-5.0, 5.0, x.shape) * p["noise"]
    y = (moved[:, 0] * moved[:, 1] >= 0).astype(np.int64)
    return x, y


def _playground_gaussians(p: dict[str, Any], seed: int) -> tuple[np.ndarray, np.ndarray]:
    # classifyTwoGaussData: class 1 around (2, 2), class 0 around (-2, -2); variance 0.5 at noise 0,
    # 4 at noise 0.5 (d3 linear scale [0, .5] -> [0.5, 4]).
    rng = np.random.default_rng(seed)
    std = math.sqrt(0.5 + 7.0 * p["noise"])
    n1, n0 = _halves(p["n_samples"])
    x = np.concatenate([rng.normal(2.0, std, (n1, 2)), rng.normal(-2.0, std, (n0, 2))])
    y = np.repeat(np.array([1, 0], dtype=np.int64), [n1, n0])
    return _shuffled(x, y, rng)


def _playground_spirals(p: dict[str, Any], seed: int) -> tuple[np.ndarray, np.ndarray]:
    # classifySpiralData: r = i / n * 5, t = 1.75 * i / n * 2 pi + delta (delta 0 for class 1, pi for
    # class 0), plus uniform(-1, 1) * noise on each coordinate.
    rng = np.random.default_rng(seed)
    parts, labels = [], []
    for count, delta, label in zip(_halves(p["n_samples"]), (0.0, math.pi), (1, 0), strict=True):
        i = np.arange(count, dtype=np.float64)
        r = i / count * 5
        t = 1.75 * i / count * 2 * math.pi + delta
        xy = np.column_stack([r * np.sin(t), r * np.cos(t)])
        parts.append(xy + rng.uniform(-1.0, 1.0, xy.shape) * p["noise"])
        labels.append(np.full(count, label, dtype=np.int64))
    return _shuffled(np.concatenate(parts), np.concatenate(labels), rng)


def _playground_plane(p: dict[str, Any], seed: int) -> tuple[np.ndarray, np.ndarray]:
    # regressPlane: uniform(-6, 6) points, target (x + y) / 10 read at the point moved by uniform(-6, 6) * noise.
    rng, n = np.random.default_rng(seed), p["n_samples"]
    x = rng.uniform(-6.0, 6.0, (n, 2))
    moved = x + rng.uniform(-6.0, 6.0, x.shape) * p["noise"]
    return x, moved.sum(axis=1) / 10.0


PLAYGROUND_BUMPS = np.array([[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]],
                            dtype=np.float64)


def _playground_multi_gaussian(p: dict[str, Any], seed: int) -> tuple[np.ndarray, np.ndarray]:
    # regressGaussian: six bumps of height +-1 falling linearly to 0 at distance 2; the target is the
    # bump value largest in absolute value (the first one on ties), read at the moved point.
    rng, n = np.random.default_rng(seed), p["n_samples"]
    x = rng.uniform(-6.0, 6.0, (n, 2))
    moved = x + rng.uniform(-6.0, 6.0, x.shape) * p["noise"]
    dist = np.hypot(moved[:, None, 0] - PLAYGROUND_BUMPS[:, 0], moved[:, None, 1] - PLAYGROUND_BUMPS[:, 1])
    values = PLAYGROUND_BUMPS[:, 2] * np.clip(1.0 - dist / 2.0, 0.0, 1.0)
    return x, values[np.arange(n), np.abs(values).argmax(axis=1)]


# --- tables bundled inside scikit-learn ----------------------------------------
@cache
def _bundled_table(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    x, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    x.flags.writeable = y.flags.writeable = False  # cached: callers get copies
    return x, y


def _subset(y: np.ndarray, n: int, rng: np.random.Generator, stratify: bool) -> np.ndarray:
    """Indices (sorted) of n rows: a share of every class, at least one each, when `stratify`."""
    if not stratify:
        return np.sort(rng.choice(len(y), n, replace=False))
    classes, counts = np.unique(y, return_counts=True)
    if n < len(classes):
        raise ValueError(f"n_samples ({n}) must be at least the number of classes ({len(classes)}).")
    share = n * counts / counts.sum()
    take = np.minimum(np.maximum(1, np.floor(share).astype(int)), counts)
    while take.sum() > n:  # the at-least-one rule took too many: shrink the biggest
        take[np.argmax(take)] -= 1
    while take.sum() < n:  # largest remainder first, where rows are left
        gap = np.where(take < counts, share - take, -np.inf)
        take[np.argmax(gap)] += 1
    picks = [rng.choice(np.flatnonzero(y == c), t, replace=False) for c, t in zip(classes, take, strict=True)]
    return np.sort(np.concatenate(picks))


def _bundled(name: str, stratify: bool = True) -> Builder:
    def build(p: dict[str, Any], seed: int) -> tuple[np.ndarray, np.ndarray]:
        x, y = _bundled_table(name)
        n = p["n_samples"]
        if n is None or n == len(y):
            return x.copy(), y.copy()
        if n > len(y):
            raise ValueError(f"The {name} table has {len(y)} rows; n_samples must be at most {len(y)}, got {n}.")
        rows = _subset(y, n, np.random.default_rng(seed), stratify)
        return x[rows], y[rows]

    return build


# --- the catalog ---------------------------------------------------------------
def _generated(name: str, description: str, build: Builder, source: str, task: str = "binary",
               **params: Any) -> DatasetSpec:
    defaults = {"n_samples": 100, **params}
    n_classes = None if task == "regression" else 2
    return DatasetSpec(name, description, task, 2, n_classes, None, defaults, source, build)


def _table(name: str, description: str, task: str, n_features: int, n_rows: int,
           class_names: tuple[str, ...] = ()) -> DatasetSpec:
    n_classes = len(class_names) or None
    return DatasetSpec(name, description, task, n_features, n_classes, n_rows, {"n_samples": None},
                       f"scikit-learn load_{name} (bundled CSV)", _bundled(name, task != "regression"),
                       class_names)


PLAYGROUND = "TensorFlow Playground src/dataset.ts"
NOISE = {"noise": 0.1}
DATASETS: dict[str, DatasetSpec] = {s.name: s for s in [
    DatasetSpec("classification", "Gaussian clusters in n dimensions, 2-10 classes (make_classification)",
                "multiclass", None, None, None,
                {"n_samples": 100, "n_features": 2, "n_classes": 2, "n_informative": None,
                 "n_clusters_per_class": 1, "class_sep": 1.0, "flip_y": 0.01},
                "scikit-learn make_classification", _classification),
    _generated("moons", "two interleaving half circles (make_moons)", _moons, "scikit-learn make_moons", **NOISE),
    _generated("circles", "a small circle inside a big one, factor 0.5 (make_circles)", _circles,
               "scikit-learn make_circles", **NOISE),
    _generated("playground_circle", "Playground circle: a disc (class 1) inside a ring (class 0)",
               _playground_circle, PLAYGROUND, **NOISE),
    _generated("playground_xor", "Playground XOR: class 1 in the quadrants where x * y >= 0",
               _playground_xor, PLAYGROUND, **NOISE),
    _generated("playground_gaussians", "Playground Gaussian: two blobs around (2, 2) and (-2, -2)",
               _playground_gaussians, PLAYGROUND, **NOISE),
    _generated("playground_spirals", "Playground spiral: two interleaved spiral arms",
               _playground_spirals, PLAYGROUND, **NOISE),
    _table("iris", "iris flowers: 4 measurements, 3 species", "multiclass", 4, 150,
           ("setosa", "versicolor", "virginica")),
    _table("wine", "wines: 13 chemical measurements, 3 cultivars", "multiclass", 13, 178,
           ("class_0", "class_1", "class_2")),
    _table("breast_cancer", "breast tumours: 30 cell measurements, malignant or benign", "binary", 30, 569,
           ("malignant", "benign")),
    _table("digits", "8x8 images of handwritten digits: 64 pixels, 10 classes", "multiclass", 64, 1797,
           tuple("0123456789")),
    _table("diabetes", "diabetes progression after one year from 10 measurements (regression)",
           "regression", 10, 442),
    _generated("playground_plane", "Playground plane: target (x + y) / 10 (regression)", _playground_plane,
               PLAYGROUND, task="regression", **NOISE),
    _generated("playground_multi_gaussian", "Playground multi-Gaussian: six bumps of height +-1 (regression)",
               _playground_multi_gaussian, PLAYGROUND, task="regression", **NOISE),
]}


def describe() -> str:
    """A plain-text table of the catalog, then the parameters each set takes (`python -m vgrad datasets`)."""
    rows = [("name", "task", "features", "classes", "rows", "description")]
    takers: dict[str, list[str]] = {}
    for s in DATASETS.values():
        classes = "2-10" if "n_classes" in s.defaults else (str(s.n_classes) if s.n_classes else "-")
        rows.append((s.name, s.task, str(s.n_features or "chosen"), classes, str(s.n_rows or "chosen"),
                     s.description))
        params = ", ".join(s.params) if s.n_rows is None else "n_samples (a seeded subset of the rows)"
        takers.setdefault(params, []).append(s.name)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines += ["", "Parameters besides seed:"]
    lines += [f"  {params}: {', '.join(names)}" for params, names in takers.items()]
    return "\n".join(lines)


if __name__ == "__main__":
    print(describe())
