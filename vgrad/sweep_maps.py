"""What the Sweep page draws, as data: the metric of each cell, the grid, theory's lines, preset maps.

    g = grid(spec, cells, METRICS["orders_start"])   # medians over seeds, spread, hover text; nan = not yet
    lines = theory_lines(spec)                       # the critical init_gain, the trainable depth 6 xi_c
    PRESET_MAPS["depth-init-tanh"].spec()            # a ready-made sweep

Positions are in cell units: cell i of an axis is at i (so axes with uneven values, like depths
2, 4, 8, 16, draw evenly), and a theory value between two cells sits between them, interpolated in
the axis' own spacing (log for log-spaced values). No Streamlit or Plotly here (vgrad.charts.sweep
draws it); every number comes from the cells (the engine's measurements) or from vgrad.theory.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from vgrad import theory
from vgrad.config import FIELDS, RunConfig, value_text
from vgrad.csvdata import safe_cell
from vgrad.sweep import Axis, CellResult, Measure, SweepResult, SweepSpec, columns, make_spec, rows
from vgrad.text import MISSING, escape_label, num

DEPTH = "hidden_layers"
GAIN = "init_gain"


# --- metrics ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Metric:
    """A number read off each seed of a cell; the cell shows their median (diverged: their share)."""

    name: str
    label: str  # for people, with its unit
    short: str  # the colour bar's title
    trained: bool  # needs mode "trained"
    scale: str  # Plotly colour scale
    mid: float | None = None  # a diverging scale's centre
    bounds: tuple[float, float] | None = None  # a fixed colour range
    digits: int = 3


METRICS: dict[str, Metric] = {m.name: m for m in [
    Metric("orders_start", "attenuation at step 0 (orders of magnitude: log10 last / first layer's |dL/dW|)",
           "orders at step 0", False, "RdBu_r", mid=0.0, digits=2),
    Metric("orders_end", "attenuation at the end (orders of magnitude: log10 last / first layer's |dL/dW|)",
           "orders at the end", True, "RdBu_r", mid=0.0, digits=2),
    Metric("loss", "final training loss", "loss", True, "Viridis_r"),
    Metric("accuracy", "final training accuracy (R² for regression)", "accuracy", True, "Viridis", bounds=(0.0, 1.0)),
    Metric("steps_to_loss", "steps until the training loss reached the threshold", "steps to loss", True,
           "Viridis_r", digits=4),
    Metric("diverged", "share of seeds that diverged (loss not finite)", "diverged", True, "Reds",
           bounds=(0.0, 1.0)),
]}


def seed_value(metric: Metric, m: Measure) -> float | None:
    """The metric for one seed; None where not measured; inf for steps_to_loss never reached."""
    if metric.name in ("orders_start", "orders_end"):
        ratio = m.ratio_start if metric.name == "orders_start" else m.ratio_end
        if ratio is None or not math.isfinite(ratio) or ratio <= 0:
            return None
        return -math.log10(ratio)
    if metric.name == "diverged":
        return 1.0 if m.diverged else 0.0
    if metric.name == "steps_to_loss":
        if m.status not in ("finished", "diverged") or not m.steps:
            return None
        return float(m.steps_to_loss) if m.steps_to_loss is not None else math.inf
    v = getattr(m, metric.name)
    return float(v) if v is not None and math.isfinite(v) else None


@dataclass(frozen=True)
class CellValue:
    """A cell's number: `value` (median; diverged: mean) for the colour, the seeds' lowest and highest."""

    value: float | None
    low: float | None
    high: float | None
    n: int  # seeds that had the number
    seeds: int
    cap: float | None = None  # steps_to_loss: the steps trained (the colour of "never")

    def text(self, metric: Metric) -> str:
        if self.value is None:
            return MISSING
        if metric.name == "diverged":
            return f"{self.value * self.seeds:.0f} of {self.seeds} seeds"
        shown = _text(metric, self.value, self.cap)
        if self.n > 1 and self.low != self.high:
            shown += f" (seeds {_text(metric, self.low, self.cap)} to {_text(metric, self.high, self.cap)}, {self.n} seeds)"
        elif self.seeds > 1:
            shown += f" ({self.n} of {self.seeds} seeds)" if self.n < self.seeds else f" (all {self.n} seeds)"
        return shown

    def colour(self) -> float:
        """The number the colour shows: never-reached steps at the cap; nan when none."""
        if self.value is None:
            return math.nan
        if math.isinf(self.value):
            return self.cap if self.cap is not None else math.nan
        return self.value


def _text(metric: Metric, v: float | None, cap: float | None) -> str:
    if v is None:
        return MISSING
    if math.isinf(v):
        return f"never in {cap:.0f} steps" if cap else "never"
    if metric.name == "steps_to_loss":
        return f"{v:.0f}"
    return num(v, metric.digits)


def cell_value(metric: Metric, cell: CellResult) -> CellValue:
    values = [seed_value(metric, m) for m in cell.measures]
    have = [v for v in values if v is not None]
    cap = max((float(m.steps) for m in cell.measures), default=None) if metric.name == "steps_to_loss" else None
    if not have:
        return CellValue(None, None, None, 0, len(values), cap)
    value = float(np.mean(have)) if metric.name == "diverged" else float(np.median(have))
    return CellValue(value, float(min(have)), float(max(have)), len(have), len(values), cap)


def metric_problem(metric: Metric, mode: str) -> str:
    """'' when the metric is measured in this mode, else a sentence."""
    if metric.trained and mode == "init":
        return (f"{metric.label.split(' (')[0].capitalize()} needs trained cells; a sweep at initialisation "
                "measures the gradients at step 0 only.")
    return ""


# --- the grid -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AxisView:
    field: str
    values: tuple
    labels: tuple[str, ...]  # escaped for Plotly

    @property
    def numeric(self) -> bool:
        return FIELDS[self.field].kind in (int, float) and len(self.values) > 0


@dataclass(frozen=True)
class Grid:
    """The cells on the axes' grid (shape = the spec's): colour, hover text, cell index; nan = not yet."""

    axes: tuple[AxisView, ...]
    metric: Metric
    z: np.ndarray
    low: np.ndarray  # the seeds' lowest and highest value (nan: none)
    high: np.ndarray
    hover: np.ndarray  # str per cell
    index: np.ndarray  # the cell number per position
    filled: int
    total: int


def axis_views(spec: SweepSpec) -> tuple[AxisView, ...]:
    return tuple(AxisView(a.field, a.values, tuple(escape_label(_label(v), 40) for v in a.values)) for a in spec.axes)


def _label(v) -> str:
    return num(v, 3) if isinstance(v, float) else value_text(v)


def grid(spec: SweepSpec, cells: Sequence[CellResult], metric: Metric) -> Grid:
    shape = spec.shape
    z, low, high = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    hover = np.full(shape, "", dtype=object)
    index = np.arange(spec.n_cells).reshape(shape)
    views = axis_views(spec)
    done = {c.cell: c for c in cells}
    for i, pos in enumerate(np.ndindex(*shape)):
        head = ", ".join(f"{v.field} = {v.labels[p]}" for v, p in zip(views, pos, strict=True))
        cell = done.get(i)
        if cell is None:
            hover[pos] = f"{head}<br>not trained yet"
            continue
        value = cell_value(metric, cell)
        z[pos] = value.colour()
        if value.low is not None:
            low[pos], high[pos] = (min(v, value.cap or v) for v in (value.low, value.high))
        hover[pos] = f"{head}<br>{escape_label(metric.short)}: {escape_label(value.text(metric))}{_theory_text(cell)}"
    return Grid(views, metric, z, low, high, hover, index, len(done), spec.n_cells)


def _theory_text(cell: CellResult) -> str:
    if cell.chi_1 is None:
        return "<br>theory: does not apply"
    xi = f", ξ_c {xi_text(cell)}" if xi_text(cell) != MISSING else ""
    return f"<br>theory: χ₁ {num(cell.chi_1)}{xi} ({escape_label(cell.phase or MISSING)})"


# --- theory's lines ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Line:
    """A theory line in cell units. 2-D: polylines of (position on axis 1, position on axis 2); 1-D: a
    mark at `at` on the axis. `facet`: the third axis' value it belongs to (None: every chart)."""

    kind: str  # "critical" or "depth"
    name: str
    segments: tuple[tuple[tuple[float, float], ...], ...] = ()
    at: float | None = None
    facet: int | None = None


def xi_text(cell: CellResult) -> str:
    """Theory's ξ_c of a cell for people: ∞ on the critical line (JSON carries it as null), – where theory
    does not apply."""
    if cell.xi_c is not None and math.isfinite(cell.xi_c):
        return num(cell.xi_c)
    return "∞" if cell.phase == "critical" or cell.xi_c == math.inf else MISSING


def critical_gain(config: RunConfig) -> float | None:
    """The init_gain at which theory's chi_1 = 1 (the order-to-chaos line) for this config's other
    settings; None where theory does not apply or has no critical point."""
    if not theory.applies(config)[0]:
        return None
    kw = {"init_std": config.init_std, "init_limit": config.init_limit, "init_gain": 1.0}
    try:
        per_gain = theory.weight_variance(config.initializer, config.units, config.units, **kw)
        first = theory.weight_variance(config.initializer, config.n_features, config.units, **kw) * config.init_gain
        crit = theory.critical_sigma_w2(config.activation, config.bias_std ** 2, alpha=config.leaky_alpha,
                                        bias_mean=config.bias_init, q_init=first + config.bias_std ** 2)
    except ValueError:
        return None
    gain = crit / per_gain if per_gain > 0 else math.nan
    return gain if math.isfinite(gain) and gain > 0 else None


def trainable_depth(config: RunConfig) -> float | None:
    """6 xi_c (Schoenholz et al. 2017): the depth to which theory says this net trains (inf on the critical
    line); None where theory does not apply."""
    try:
        mf = theory.from_config(config)
    except ValueError:
        return None
    if mf is None or math.isnan(mf.trainable_depth):
        return None
    return float(mf.trainable_depth)


def position(values: Sequence, value: float) -> float | None:
    """Where `value` falls on an axis of these numeric values, in cell units (extrapolated past its ends);
    None for a non-monotonic axis."""
    if value is None or not math.isfinite(value) and not math.isinf(value):
        return None
    xs = np.asarray(values, dtype=float)
    n = len(xs)
    if n == 1:
        return 0.0 if value == xs[0] else (math.inf if value > xs[0] else -math.inf)
    if np.all(np.diff(xs) < 0):
        p = position(xs[::-1].tolist(), value)
        return None if p is None else (n - 1) - p
    if not np.all(np.diff(xs) > 0):
        return None
    if math.isinf(value):
        return math.inf if value > 0 else -math.inf
    use_log = _log_spaced(xs)
    if use_log and value <= 0:
        return -math.inf
    t = np.log(xs) if use_log else xs
    v = math.log(value) if use_log else value
    idx = np.arange(n, dtype=float)
    if v <= t[0]:
        return float((v - t[0]) / (t[1] - t[0]))
    if v >= t[-1]:
        return float(n - 1 + (v - t[-1]) / (t[-1] - t[-2]))
    return float(np.interp(v, t, idx))


def value_at(values: Sequence, pos: float) -> float:
    """The inverse of `position` inside the axis: the value at fractional cell position `pos`."""
    xs = np.asarray(values, dtype=float)
    i = int(min(max(math.floor(pos), 0), len(xs) - 2))
    f = pos - i
    if _log_spaced(xs):
        return float(math.exp(math.log(xs[i]) + f * (math.log(xs[i + 1]) - math.log(xs[i]))))
    return float(xs[i] + f * (xs[i + 1] - xs[i]))


def _log_spaced(xs: np.ndarray) -> bool:
    if len(xs) < 3 or np.any(xs <= 0):
        return False
    lin, log = np.diff(xs), np.diff(np.log(xs))
    return bool(np.std(log) / abs(np.mean(log)) < np.std(lin) / abs(np.mean(lin)))


def theory_lines(spec: SweepSpec) -> list[Line]:
    """The critical init_gain (on an init_gain axis) and 6 xi_c (on a hidden_layers axis), where theory
    applies; with three axes, one set per value of the third (its facets)."""
    fields = [a.field for a in spec.axes]
    out: list[Line] = []
    facets: list[tuple[int | None, dict]] = [(None, {})]
    if len(spec.axes) == 3:
        third = spec.axes[2]
        facets = [(k, {third.field: v}) for k, v in enumerate(third.values)]
    plane = spec.axes[:2]
    for facet, extra in facets:
        base = _replace(spec.base, extra)
        if base is None:
            continue
        for kind, fieldname, fn in (("critical", GAIN, critical_gain), ("depth", DEPTH, trainable_depth)):
            if fieldname not in fields[:2]:
                continue
            a = fields.index(fieldname)
            name = ("critical init_gain (χ₁ = 1)" if kind == "critical"
                    else "6ξ_c: the depth theory says trains")
            if len(plane) == 1:
                at = position(plane[0].values, fn(base)) if fn(base) is not None else None
                if at is not None and _on_map(at, len(plane[0].values)):
                    out.append(Line(kind, name, at=_clip(at, len(plane[0].values)), facet=facet))
                continue
            n_a = len(plane[a].values)  # a line off the map (6ξ_c deeper than every row) is left out, legend too
            segments = tuple(seg for seg in _curve(base, plane, a, fn) if any(_on_map(p[a], n_a) for p in seg))
            if segments:
                out.append(Line(kind, name, segments=segments, facet=facet))
    return out


def _curve(base: RunConfig, plane: Sequence[Axis], a: int, fn: Callable[[RunConfig], float | None]
           ) -> tuple[tuple[tuple[float, float], ...], ...]:
    """fn's value on axis `a` as the other axis `b` runs along: one polyline over a numeric b (sampled
    between cells for a float field), a short segment per cell of a choice field."""
    b = 1 - a
    axis_a, axis_b = plane[a], plane[b]
    rule = FIELDS[axis_b.field]
    n_b, n_a = len(axis_b.values), len(axis_a.values)

    def point(t: float, value) -> tuple[float, float] | None:
        config = _replace(base, {axis_b.field: value})
        got = fn(config) if config is not None else None
        p = position(axis_a.values, got) if got is not None else None
        if p is None:
            return None
        p = _clip(p, n_a)
        return (p, t) if a == 0 else (t, p)

    if rule.kind is float and n_b > 1 and _monotonic(axis_b.values):
        ts = np.linspace(-0.5, n_b - 0.5, max(24, 8 * n_b))
        pts = [point(float(t), value_at(axis_b.values, float(min(max(t, 0), n_b - 1)))) for t in ts]
        return _runs(pts)
    if rule.kind is int and n_b > 1:
        pts = [point(float(j), v) for j, v in enumerate(axis_b.values)]
        if all(p is not None for p in pts):
            first, last = pts[0], pts[-1]
            edge = (lambda p, t: (p[0], t)) if a == 0 else (lambda p, t: (t, p[1]))
            return (tuple([edge(first, -0.5), *pts, edge(last, n_b - 0.5)]),)
    segments = []
    for j, v in enumerate(axis_b.values):  # choices (or one value): a mark across each cell
        left, right = point(j - 0.45, v), point(j + 0.45, v)
        if left is not None and right is not None:
            segments.append((left, right))
    return tuple(segments)


def _runs(points: Sequence[tuple[float, float] | None]) -> tuple[tuple[tuple[float, float], ...], ...]:
    """Consecutive defined points as polylines (a gap where theory has no value)."""
    out, run = [], []
    for p in points:
        if p is None:
            if len(run) > 1:
                out.append(tuple(run))
            run = []
        else:
            run.append(p)
    if len(run) > 1:
        out.append(tuple(run))
    return tuple(out)


def _monotonic(values: Sequence) -> bool:
    d = np.diff(np.asarray(values, dtype=float))
    return bool(np.all(d > 0) or np.all(d < 0))


def _on_map(p: float, n: int) -> bool:
    """Whether position p (cell units) lies on an axis of n cells, edges included."""
    return -0.5 <= p <= n - 0.5


def _clip(p: float, n: int) -> float:
    return float(min(max(p, -1.5), n + 0.5))


def _replace(config: RunConfig, values: dict) -> RunConfig | None:
    try:
        return dataclasses.replace(config, **values)
    except (ValueError, TypeError):
        return None


# --- cells for people -----------------------------------------------------------------------------
def explorer_config(spec: SweepSpec, index: int) -> RunConfig:
    """The run of cell `index` (its first seed) as the Explorer should train it: the sweep's steps in
    trained mode, the base config's own training at initialisation (a sweep measured only step 0)."""
    cell = spec.cells()[index]
    config = dataclasses.replace(cell.config, spectrum=spec.base.spectrum)
    if spec.mode == "init":
        config = dataclasses.replace(config, steps=spec.base.steps, epochs=spec.base.epochs)
    return config


def cell_title(spec: SweepSpec, index: int) -> str:
    cell = spec.cells()[index]
    return ", ".join(f"{k}={value_text(v)}" for k, v in cell.values.items())


def csv_text(spec: SweepSpec, cells: Sequence[CellResult]) -> str:
    """One row per cell and seed (vgrad.sweep's columns), each value made safe for a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns(spec))
    for cell in sorted(cells, key=lambda c: c.cell):
        writer.writerows([[safe_cell(v) for v in row] for row in rows(spec, cell)])
    return out.getvalue()


def json_text(spec: SweepSpec, cells: Sequence[CellResult], seconds: float = 0.0) -> str:
    return SweepResult(spec, sorted(cells, key=lambda c: c.cell), seconds=seconds).to_json()


# --- preset maps ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class PresetMap:
    """A ready-made sweep: a base config, axes in the command line's syntax, seeds, mode, steps, metric."""

    name: str
    title: str
    description: str
    base: RunConfig
    axes: tuple[str, ...]
    seeds: int = 1
    mode: str = "trained"
    steps: int = 200
    metric: str = "accuracy"

    def spec(self) -> SweepSpec:
        return make_spec(self.base, list(self.axes), seeds=self.seeds, mode=self.mode,
                         steps=self.steps if self.mode == "trained" else 0)


_DATA = dict(n_samples=200, n_features=10, standardize=True)
_SIGMOID = RunConfig(**_DATA, units=16, learning_rate=0.01)
PRESET_MAPS: dict[str, PresetMap] = {p.name: p for p in [
    PresetMap("depth-activation", "depth × activation",
              "At which depth does each activation stop training? Sigmoid's gradient shrinks by about 4x per "
              "layer; tanh, relu and elu keep it.", _SIGMOID,
              ("hidden_layers=2,4,8,16,32", "activation=sigmoid,tanh,relu,elu"), seeds=2, steps=200),
    PresetMap("depth-init-tanh", "depth × init scale (tanh)",
              "tanh with random biases (σ_b² = 0.05) across the weights' scale σ_w² (init_gain): left of the "
              "critical line gradients vanish with depth, right of it they explode; deep nets train only near it, "
              "to about 6ξ_c layers (Schoenholz et al. 2017).",
              RunConfig(**_DATA, units=32, activation="tanh", bias_std=0.2236, optimizer="sgd", learning_rate=0.01),
              ("hidden_layers=4,8,16,32,64", "init_gain=0.5:4:15:log"), seeds=2, mode="init", steps=0,
              metric="orders_start"),
    PresetMap("depth-remedy-batchnorm", "depth × remedy: batch normalisation",
              "Deep sigmoid nets without and with batch normalisation (before or after the activation).", _SIGMOID,
              ("hidden_layers=2,4,8,16,32", "batch_norm=off,before,after"), steps=200),
    PresetMap("depth-remedy-residual", "depth × remedy: skip connections",
              "Deep sigmoid nets without skip connections and with one every layer or every two.", _SIGMOID,
              ("hidden_layers=2,4,8,16,32", "residual_every=0,1,2"), steps=200),
]}
