"""Sweeps: a base RunConfig, 1-3 axes and a number of seeds; each cell a summary of its trainings.

    >>> from vgrad import RunConfig
    >>> spec = make_spec(RunConfig(activation="tanh"), ["hidden_layers=2,4,8", "init_gain=0.5:3:6"], seeds=2)
    >>> len(spec.cells()), spec.cells()[0].values
    (18, {'hidden_layers': 2, 'init_gain': 0.5})
    >>> parse_axis("learning_rate=0.001:0.1:3:log").values
    (0.001, 0.01, 0.1)

Axis text: `field=v1,v2,...` (a list; any field of vgrad.config.FIELDS but `seed`), `field=a:b:n` (n
evenly spaced numbers from a to b), `field=a:b:n:log` (n log-spaced ones). Integer fields round
each value and refuse a range whose rounded values repeat. Each seed of a cell trains with seed =
base.seed + k. `run_sweep(spec, executor, on_cell=...)` trains the cells (see vgrad.executors for the
local process pool and Ray) and streams each finished cell; `CsvLog` appends them to a CSV file and
reads them back to resume. Cells that share an architecture train together as one stacked model
(vgrad.train.stacked); `unstackable(config)` says which train one at a time.

No TensorFlow here: the executors run `vgrad.train.sweep_cells.run_task` in their workers.
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import functools
import io
import itertools
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from vgrad import settings, theory
from vgrad.config import FIELDS, ConfigError, RunConfig, parse_value, value_text
from vgrad.run import attenuation
from vgrad.text import json_safe

FORMAT = "vgrad-sweep"
FORMAT_VERSION = 1
MAX_AXES = 3
MODES = ("trained", "init")
# Fields that only change values inside a stacked model (initial weights, batch order, step size) or
# nothing the training computes (snapshots, spectra): cells differing only in these train together.
STACK_FIELDS = frozenset({"seed", "init_gain", "init_std", "init_limit", "initializer", "bias_init", "bias_std",
                          "learning_rate", "snapshot_every", "spectrum"})
# Networks per stacked task (a bigger group is split); init mode measures one step, so it stacks more.
MAX_STACK = {"trained": 64, "init": 512}
# The numbers a cell's summary reads over its seeds.
SUMMARY = ("ratio_start", "ratio_end", "loss", "accuracy", "val_accuracy", "steps_to_loss")


class SweepError(ValueError):
    """A sweep's axes or settings are not acceptable; `axis` names the axis (or setting) at fault."""

    def __init__(self, axis: str, message: str):
        super().__init__(message)
        self.axis = axis


# --- axes ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Axis:
    """One swept field and its values (already of the field's type)."""

    field: str
    values: tuple

    def text(self) -> str:
        return f"{self.field}={','.join(value_text(v) for v in self.values)}"


def parse_axis(text: str, max_values: int | None = None) -> Axis:
    """`field=v1,v2,...`, `field=a:b:n` or `field=a:b:n:log` as an Axis; SweepError names the axis."""
    max_values = max_values or settings.get_int("VGRAD_MAX_AXIS_VALUES", low=1)
    name, sep, rest = str(text).partition("=")
    name, rest = name.strip(), rest.strip()
    if not sep or not name:
        raise SweepError(name or str(text)[:40], f"axis {str(text)[:60]!r}: expected FIELD=VALUES, e.g. "
                         "hidden_layers=2,4,8 or init_gain=0.5:3:11")
    rule = FIELDS.get(name)
    if rule is None:
        near = difflib.get_close_matches(name, FIELDS, n=1)
        hint = f"did you mean {near[0]}?" if near else "a RunConfig field, e.g. hidden_layers, init_gain, activation"
        raise SweepError(name[:60], f"axis {name[:60]}: unknown field ({hint})")
    if name == "seed":
        raise SweepError(name, "axis seed: use the number of seeds (--seeds) to repeat cells")
    if not rest:
        raise SweepError(name, f"axis {name}: no values")
    if ":" in rest:
        values = _range(name, rule, rest, max_values)
    else:
        items = [v.strip() for v in rest.split(",")]
        if any(not v for v in items):
            raise SweepError(name, f"axis {name}: an empty value in {rest[:60]!r}")
        if len(items) > max_values:
            raise SweepError(name, f"axis {name}: {len(items)} values; at most {max_values} "
                             "(VGRAD_MAX_AXIS_VALUES)")
        values = [_value(name, v) for v in items]
    if len(set(values)) != len(values):
        raise SweepError(name, f"axis {name}: a value appears twice ({', '.join(value_text(v) for v in values)[:80]})")
    return Axis(name, tuple(values))


def _range(name: str, rule, text: str, max_values: int) -> list:
    parts = [p.strip() for p in text.split(":")]
    log = len(parts) == 4 and parts[3].lower() == "log"
    if len(parts) not in (3, 4) or (len(parts) == 4 and not log):
        raise SweepError(name, f"axis {name}: a range is start:stop:count or start:stop:count:log, got {text[:60]!r}")
    if rule.kind not in (int, float):
        raise SweepError(name, f"axis {name}: a range needs a numeric field; list the values instead")
    try:
        start, stop, count = float(parts[0]), float(parts[1]), float(parts[2])
    except ValueError:
        raise SweepError(name, f"axis {name}: start, stop and count must be numbers, got {text[:60]!r}") from None
    if not all(math.isfinite(x) for x in (start, stop, count)) or count != int(count) or count < 1:
        raise SweepError(name, f"axis {name}: count must be a whole number >= 1, start and stop finite numbers")
    count = int(count)
    if count > max_values:
        raise SweepError(name, f"axis {name}: {count} values; at most {max_values} (VGRAD_MAX_AXIS_VALUES)")
    if stop < start:
        raise SweepError(name, f"axis {name}: the range runs backwards ({parts[0]} > {parts[1]}); give start <= stop")
    if count == 1 and stop != start:
        raise SweepError(name, f"axis {name}: one value from {parts[0]} to {parts[1]}; give count >= 2")
    if count > 1 and stop == start:
        raise SweepError(name, f"axis {name}: an empty range ({parts[0]} to {parts[1]}) cannot hold {count} values")
    if log:
        if start <= 0:
            raise SweepError(name, f"axis {name}: a log range needs start > 0, got {parts[0]}")
        raw = np.geomspace(start, stop, count)
    else:
        raw = np.linspace(start, stop, count)
    raw[0], raw[-1] = start, stop  # exact ends
    values = [float(f"{v:.12g}") for v in raw]  # 0.1 + 0.2 style noise off
    if rule.kind is int:
        values = [int(round(v)) for v in values]
        if len(set(values)) != len(values):
            raise SweepError(name, f"axis {name}: {count} whole numbers from {parts[0]} to {parts[1]} repeat after "
                             "rounding; use fewer values or list them")
    return [_value(name, v) for v in values]


def _value(name: str, value: Any) -> Any:
    """A value of the field's type within its rule (range, choices); other fields are checked per cell."""
    rule = FIELDS[name]
    try:
        v = parse_value(name, value)
    except ConfigError as exc:
        raise SweepError(name, f"axis {name}: {_reason(exc)}") from None
    if rule.kind is bool:
        if isinstance(v, bool):
            return v
    elif rule.kind is str:
        if isinstance(v, str) and (not rule.choices or v.strip().lower() in rule.choices):
            return v.strip().lower() if rule.choices else v
    elif isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
        if rule.kind is int and v != int(v):
            raise SweepError(name, f"axis {name}: expected {rule.describe()}, got {value_text(v)}")
        v = int(v) if rule.kind is int else float(v)
        if rule.low <= v <= rule.high:
            return v
        raise SweepError(name, f"axis {name}: {value_text(v)} is outside the field's range ({rule.describe()})")
    raise SweepError(name, f"axis {name}: expected {rule.describe()}, got {str(value)[:40]!r}")


def _reason(exc: ConfigError) -> str:
    text = str(exc)
    return text.split(": ", 1)[1] if text.startswith(f"{exc.field}: ") else text


# --- the spec ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cell:
    """One point of the grid: its position, its axis values and one config per seed."""

    index: int
    values: dict
    configs: tuple[RunConfig, ...]

    @property
    def config(self) -> RunConfig:
        """The cell's config at its first seed (what theory reads)."""
        return self.configs[0]


@dataclass(frozen=True)
class SweepSpec:
    """A base config, its axes, seeds per cell, the mode and the steps of each training.

    mode "trained": each cell trains `steps` optimizer steps (0: the base config's own epochs/steps);
    mode "init": one gradient measurement per cell at initialisation (step 0's batch, no update).
    threshold: the training loss a cell's `steps_to_loss` counts steps to.
    """

    base: RunConfig
    axes: tuple[Axis, ...]
    seeds: int = 1
    mode: str = "trained"
    steps: int = 0
    threshold: float = 0.3

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(a.values) for a in self.axes)

    @property
    def n_cells(self) -> int:
        return math.prod(self.shape)

    def cell_values(self) -> list[dict]:
        return [dict(zip([a.field for a in self.axes], combo, strict=True))
                for combo in itertools.product(*(a.values for a in self.axes))]

    def cells(self) -> list[Cell]:
        """Every cell, in row-major order of the axes (the last axis varies fastest)."""
        return list(self._cells)

    @functools.cached_property
    def _cells(self) -> tuple[Cell, ...]:
        return tuple(self._cell(i, values) for i, values in enumerate(self.cell_values()))

    def _cell(self, index: int, values: dict) -> Cell:
        try:
            config = dataclasses.replace(self.base, **{**values, "spectrum": "off"})
            if self.mode == "trained" and self.steps:
                epochs = min(FIELDS["epochs"].high, math.ceil(self.steps / config.steps_per_epoch))
                config = dataclasses.replace(config, steps=self.steps, epochs=max(1, int(epochs)))
            elif self.mode == "init":
                config = dataclasses.replace(config, steps=1)
        except ConfigError as exc:
            axis = exc.field if exc.field in values else next(iter(values))
            shown = ", ".join(f"{k}={value_text(v)}" for k, v in values.items())
            raise SweepError(axis, f"axis {axis}: the cell {shown} is not a valid config: {exc}") from None
        configs = tuple(dataclasses.replace(config, seed=config.seed + k) for k in range(self.seeds))
        return Cell(index, dict(values), configs)

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": FORMAT_VERSION, "base": self.base.to_dict(),
                "axes": [{"field": a.field, "values": list(a.values)} for a in self.axes],
                "seeds": self.seeds, "mode": self.mode, "steps": self.steps, "threshold": self.threshold}

    @classmethod
    def from_dict(cls, data: Any) -> SweepSpec:
        """The spec of `to_dict` (as in a CSV header); SweepError names the first problem."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise SweepError("spec", f"not a {FORMAT} description")
        try:
            base = RunConfig.from_dict(data["base"])
            axes = [Axis(str(a["field"]), tuple(_value(str(a["field"]), v) for v in a["values"]))
                    for a in data["axes"]]
            return check(cls(base, tuple(axes), int(data["seeds"]), str(data["mode"]), int(data["steps"]),
                             float(data["threshold"])))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, SweepError):
                raise
            raise SweepError("spec", f"the sweep description is incomplete or malformed ({str(exc)[:80]})") from None


def make_spec(base: RunConfig, axes: Sequence[str | Axis], seeds: int = 1, mode: str = "trained", steps: int = 0,
              threshold: float = 0.3, limits: dict[str, int] | None = None) -> SweepSpec:
    """Parse and check a sweep; SweepError (naming the axis or setting) when it is refused.

    >>> make_spec(RunConfig(), ["units=4,8"], seeds=3).n_cells
    2
    """
    limits = limits or settings.sweep_limits()
    if not axes:
        raise SweepError("axis", "a sweep needs at least one axis (FIELD=VALUES)")
    if len(axes) > MAX_AXES:
        raise SweepError("axis", f"{len(axes)} axes; a sweep has at most {MAX_AXES}")
    parsed = [a if isinstance(a, Axis) else parse_axis(a, limits["VGRAD_MAX_AXIS_VALUES"]) for a in axes]
    return check(SweepSpec(base, tuple(parsed), seeds, mode, steps, threshold), limits)


def check(spec: SweepSpec, limits: dict[str, int] | None = None) -> SweepSpec:
    """Refuse a spec outside the limits (vgrad.settings: VGRAD_MAX_SWEEP_*) or with a bad setting."""
    limits = limits or settings.sweep_limits()
    fields = [a.field for a in spec.axes]
    for name in fields:
        if fields.count(name) > 1:
            raise SweepError(name, f"axis {name} is given twice; give each field one axis")
    if not 1 <= len(spec.axes) <= MAX_AXES:
        raise SweepError("axis", f"a sweep has 1 to {MAX_AXES} axes, got {len(spec.axes)}")
    for a in spec.axes:
        if not a.values:
            raise SweepError(a.field, f"axis {a.field}: no values")
    if spec.mode not in MODES:
        raise SweepError("mode", f"mode must be one of {', '.join(MODES)}, got {str(spec.mode)[:40]!r}")
    if isinstance(spec.seeds, bool) or not isinstance(spec.seeds, int) or not 1 <= spec.seeds <= limits[
            "VGRAD_MAX_SWEEP_SEEDS"]:
        raise SweepError("seeds", f"seeds must be a whole number from 1 to {limits['VGRAD_MAX_SWEEP_SEEDS']} "
                         f"(VGRAD_MAX_SWEEP_SEEDS), got {spec.seeds!r}")
    if not isinstance(spec.steps, int) or spec.steps < 0:
        raise SweepError("steps", f"steps must be a whole number >= 0 (0 = the base config's), got {spec.steps!r}")
    if not (isinstance(spec.threshold, int | float) and math.isfinite(spec.threshold) and spec.threshold > 0):
        raise SweepError("threshold", f"threshold must be a number > 0, got {spec.threshold!r}")
    n = spec.n_cells
    if n > limits["VGRAD_MAX_SWEEP_CELLS"]:
        sizes = " x ".join(f"{len(a.values)} ({a.field})" for a in spec.axes)
        biggest = max(spec.axes, key=lambda a: len(a.values)).field
        raise SweepError(biggest, f"axis {biggest}: the sweep has {n:,} cells ({sizes}); at most "
                         f"{limits['VGRAD_MAX_SWEEP_CELLS']:,} (VGRAD_MAX_SWEEP_CELLS)")
    if n * spec.seeds > limits["VGRAD_MAX_SWEEP_TRAININGS"]:
        raise SweepError("seeds", f"{n:,} cells x {spec.seeds} seeds = {n * spec.seeds:,} trainings; at most "
                         f"{limits['VGRAD_MAX_SWEEP_TRAININGS']:,} (VGRAD_MAX_SWEEP_TRAININGS)")
    cells = spec.cells()  # every cell a valid config (or a SweepError naming its axis)
    if spec.mode == "trained":
        worst = max(cells, key=lambda c: c.config.total_steps)
        if worst.config.total_steps > limits["VGRAD_MAX_SWEEP_STEPS"]:
            axis = next((a.field for a in spec.axes if a.field in ("steps", "epochs", "batch_size", "n_samples")),
                        "steps")
            raise SweepError(axis, f"a cell trains {worst.config.total_steps:,} steps; at most "
                             f"{limits['VGRAD_MAX_SWEEP_STEPS']:,} per cell (VGRAD_MAX_SWEEP_STEPS)")
    return spec


# --- results -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Measure:
    """One training of a cell (one seed): the numbers a sweep keeps, not the run.

    ratio_* = first / last layer kernel-gradient norm (vgrad.run.attenuation); *_end at the last step
    that stayed finite; loss/accuracy on the full training (val_*: validation) set after the last
    epoch (regression: accuracy is R²); steps_to_loss: steps until an epoch's training loss <= the
    threshold (None: never). None where not measured (init mode: only the *_start numbers).
    """

    seed: int
    engine: str  # "stacked" or "sequential"
    status: str  # finished, diverged, cancelled, failed
    steps: int
    grad_first_start: float | None = None
    grad_last_start: float | None = None
    ratio_start: float | None = None
    grad_first_end: float | None = None
    grad_last_end: float | None = None
    ratio_end: float | None = None
    loss_start: float | None = None
    loss: float | None = None
    accuracy: float | None = None
    val_loss: float | None = None
    val_accuracy: float | None = None
    steps_to_loss: int | None = None
    diverged: bool = False
    message: str = ""

    @classmethod
    def of(cls, seed: int, engine: str, status: str, steps: int, grad_start: Sequence | None,
           grad_end: Sequence | None, loss_start: float | None, final: dict | None, steps_to_loss: int | None,
           message: str = "") -> Measure:
        """From per-layer gradient norms at the start and end and the final metrics."""
        start, end = _ends(grad_start), _ends(grad_end)
        final = final or {}
        score = final.get("accuracy")
        if not _finite(score) and _finite(final.get("r2")):
            score = final.get("r2")
        return cls(seed=seed, engine=engine, status=status, steps=steps, grad_first_start=start[0],
                   grad_last_start=start[1], ratio_start=start[2], grad_first_end=end[0], grad_last_end=end[1],
                   ratio_end=end[2], loss_start=_num(loss_start), loss=_num(final.get("loss")),
                   accuracy=_num(score), val_loss=_num(final.get("val_loss")),
                   val_accuracy=_num(final.get("val_accuracy") if _finite(final.get("val_accuracy"))
                                     else final.get("val_r2")),
                   steps_to_loss=steps_to_loss, diverged=status == "diverged", message=message[:300])

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _ends(per_layer: Sequence | None) -> tuple[float | None, float | None, float | None]:
    if per_layer is None:
        return None, None, None
    a = attenuation([_num(v) for v in per_layer])
    if a is None:
        return None, None, None
    return a.first, a.last, _num(a.ratio)


def _num(v: Any) -> float | None:
    return float(v) if _finite(v) else None


def _finite(v: Any) -> bool:
    return isinstance(v, int | float | np.floating | np.integer) and not isinstance(v, bool) and math.isfinite(v)


@dataclass(frozen=True)
class Stat:
    """A number over a cell's seeds: median, mean, lowest and highest, and how many seeds had it."""

    median: float | None
    mean: float | None
    low: float | None
    high: float | None
    n: int

    @classmethod
    def of(cls, values: Iterable) -> Stat:
        xs = np.array([v for v in values if _finite(v)], dtype=float)
        if not xs.size:
            return cls(None, None, None, None, 0)
        return cls(float(np.median(xs)), float(xs.mean()), float(xs.min()), float(xs.max()), int(xs.size))


@dataclass(frozen=True)
class CellRun:
    """What a worker sends back for one cell: its index and one Measure per seed."""

    cell: int
    measures: tuple[Measure, ...]
    seconds: float = 0.0


@dataclass(frozen=True)
class CellResult:
    """A finished cell: its values, what theory predicts, and its seeds' measures."""

    cell: int
    values: dict
    measures: tuple[Measure, ...]
    chi_1: float | None = None
    xi_c: float | None = None
    phase: str | None = None

    def summary(self) -> dict[str, Stat]:
        """Median, mean and spread over seeds of each SUMMARY number, and the share that diverged."""
        out = {name: Stat.of(getattr(m, name) for m in self.measures) for name in SUMMARY}
        out["diverged"] = Stat.of(float(m.diverged) for m in self.measures)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"cell": self.cell, "values": self.values,
                "theory": {"chi_1": self.chi_1, "xi_c": _num(self.xi_c), "phase": self.phase},
                "summary": {k: dataclasses.asdict(v) for k, v in self.summary().items()},
                "seeds": [m.to_dict() for m in self.measures]}


def predicted(config: RunConfig) -> tuple[float | None, float | None, str | None]:
    """(chi_1, xi_c, phase) from vgrad.theory.from_config; Nones where the theory does not apply."""
    try:
        mf = theory.from_config(config)
    except ValueError:
        return None, None, None
    if mf is None:
        return None, None, None
    xi = mf.xi_c if not math.isnan(mf.xi_c) else None
    return _num(mf.chi_1), xi, mf.phase


def result_of(spec_cell: Cell, run: CellRun) -> CellResult:
    chi_1, xi_c, phase = predicted(spec_cell.config)
    return CellResult(spec_cell.index, dict(spec_cell.values), tuple(run.measures), chi_1, xi_c, phase)


# --- planning the work --------------------------------------------------------------------------------
def unstackable(config: RunConfig) -> str:
    """Why `config` trains one at a time (vgrad.train) rather than in a stacked model, or "" when it stacks."""
    c = config
    if c.family == "rnn":
        return "recurrent nets train one at a time"
    if c.task != "binary":
        return f"{c.task} tasks (softmax or linear outputs) train one at a time"
    if c.batch_norm != "off":
        return "batch normalisation keeps moving statistics per layer; trained one at a time"
    if c.dropout:
        return "dropout draws Keras' random masks per layer; trained one at a time"
    if c.activation == "prelu":
        return "prelu has trainable slopes; trained one at a time"
    if c.global_clipnorm and c.residual_every and c.residual_every <= c.hidden_layers and c.n_features != c.units:
        return "global clipping with a residual projection sums norms in Keras' variable order; trained one at a time"
    return ""


def stack_key(config: RunConfig) -> tuple:
    """Configs with equal keys (and stackable) train in one stacked model."""
    return tuple(sorted((k, repr(v)) for k, v in config.to_dict().items() if k not in STACK_FIELDS))


@dataclass(frozen=True)
class Task:
    """A unit of work for an executor: cells trained together (stacked) or one cell's seeds in turn."""

    cells: tuple[Cell, ...]
    stacked: bool
    mode: str = "trained"
    threshold: float = 0.3

    @property
    def trainings(self) -> int:
        return sum(len(c.configs) for c in self.cells)

    @property
    def cost(self) -> float:
        """A rough size, for ordering (largest first): layers x steps, once per stack."""
        c = self.cells[0].config
        steps = 1 if self.mode == "init" else c.total_steps
        per = (c.hidden_layers + 1) * steps
        return per * (1 + 0.05 * self.trainings) if self.stacked else per * self.trainings


def plan(spec: SweepSpec, cells: Sequence[Cell], workers: int = 1) -> list[Task]:
    """Group `cells` into tasks: stackable cells of one architecture together (at most MAX_STACK
    networks a task; split further so that `workers` have a task each), the rest one cell a task."""
    groups: dict[tuple, list[Cell]] = {}
    singles: list[Task] = []
    for cell in cells:
        if unstackable(cell.config):
            singles.append(Task((cell,), False, spec.mode, spec.threshold))
        else:
            groups.setdefault(stack_key(cell.config), []).append(cell)
    most = MAX_STACK[spec.mode]
    per_cell = spec.seeds
    chunk = max(1, most // per_cell)
    if spec.mode == "trained" and groups:
        total = sum(len(g) for g in groups.values())
        want = max(workers, len(groups))  # at least one task per worker when the cells allow it
        chunk = max(1, min(chunk, math.ceil(total / want)))
    tasks = [Task(tuple(g[i:i + chunk]), True, spec.mode, spec.threshold)
             for g in groups.values() for i in range(0, len(g), chunk)]
    return sorted(tasks + singles, key=lambda t: -t.cost)


# --- running -------------------------------------------------------------------------------------------
class Executor(Protocol):
    """Runs tasks (vgrad.executors): calls on_result(CellRun) as each cell finishes; stops early when
    should_stop() turns True."""

    def run(self, tasks: Sequence[Task], on_result: Callable[[CellRun], None],
            should_stop: Callable[[], bool]) -> None: ...


@dataclass
class SweepResult:
    spec: SweepSpec
    cells: list[CellResult] = field(default_factory=list)
    seconds: float = 0.0
    resumed: int = 0  # cells read back from an earlier run

    @property
    def complete(self) -> bool:
        return len(self.cells) == self.spec.n_cells

    def to_dict(self) -> dict[str, Any]:
        return {"spec": self.spec.to_dict(), "complete": self.complete, "seconds": round(self.seconds, 3),
                "resumed": self.resumed, "cells": [c.to_dict() for c in sorted(self.cells, key=lambda c: c.cell)]}

    def to_json(self) -> str:
        return json.dumps(json_safe(self.to_dict()), allow_nan=False)


def run_sweep(spec: SweepSpec, executor: Executor, on_cell: Callable[[CellResult], None] | None = None,
              should_stop: Callable[[], bool] | None = None, done: Sequence[CellResult] = (),
              workers: int = 1) -> SweepResult:
    """Train every cell of `spec` not in `done` through `executor`; `on_cell(result)` sees each cell as it
    finishes (in the order they finish). Returns all cells, `done` included.

    >>> from vgrad.executors import InlineExecutor            # doctest: +SKIP
    >>> from vgrad.train.sweep_cells import run_task           # doctest: +SKIP
    >>> run_sweep(spec, InlineExecutor(run_task), on_cell=print)  # doctest: +SKIP
    """
    t0 = time.perf_counter()
    cells = spec.cells()
    finished = {c.cell for c in done}
    todo = [c for c in cells if c.index not in finished]
    result = SweepResult(spec, list(done), resumed=len(done))
    stop = should_stop or (lambda: False)

    def on_result(run: CellRun) -> None:
        if any(m.status == "cancelled" for m in run.measures):
            return  # stopped mid-training: not a result (a resumed sweep trains it again)
        cell_result = result_of(cells[run.cell], run)
        result.cells.append(cell_result)
        if on_cell is not None:
            on_cell(cell_result)

    if todo:
        executor.run(plan(spec, todo, workers), on_result, stop)
    result.cells.sort(key=lambda c: c.cell)
    result.seconds = time.perf_counter() - t0
    return result


# --- the CSV file: one row per cell and seed, appended as cells finish ------------------------------------
MEASURES = tuple(f.name for f in dataclasses.fields(Measure))
THEORY = ("chi_1", "xi_c", "phase")
HEADER_PREFIX = f"# {FORMAT} "


def columns(spec: SweepSpec) -> list[str]:
    return ["cell", *[a.field for a in spec.axes], *MEASURES, *THEORY]


def rows(spec: SweepSpec, result: CellResult) -> list[list[str]]:
    """The CSV rows of one cell (one per seed)."""
    out = []
    for m in result.measures:
        d = m.to_dict()
        out.append([str(result.cell), *[value_text(result.values[a.field]) for a in spec.axes],
                    *[_cell_text(d[k]) for k in MEASURES],
                    *[_cell_text(v) for v in (result.chi_1, result.xi_c, result.phase)]])
    return out


def _cell_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


class CsvLog:
    """A sweep's CSV file: a header line with the spec, a column row, then one row per cell and seed.

    `open()` reads what an earlier run of the same spec wrote (SweepError if the file belongs to
    another sweep) and returns those cells; `append(result)` writes a finished cell and flushes.
    """

    def __init__(self, path: str | os.PathLike, spec: SweepSpec):
        self.path = Path(path)
        self.spec = spec

    def open(self) -> list[CellResult]:
        done: list[CellResult] = []
        if self.path.exists() and self.path.stat().st_size > 0:
            done = read_csv(self.path, self.spec)
            self._rewrite(done)  # drops a row cut off by a kill, and any cell with seeds missing
        else:
            self._rewrite([])
        return done

    def _rewrite(self, done: Sequence[CellResult]) -> None:
        buf = io.StringIO()
        buf.write(HEADER_PREFIX + json.dumps(self.spec.to_dict(), sort_keys=True) + "\n")
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns(self.spec))
        for r in done:
            writer.writerows(rows(self.spec, r))
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(buf.getvalue())
        os.replace(tmp, self.path)

    def append(self, result: CellResult) -> None:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows(self.spec, result))
        with self.path.open("a") as f:
            f.write(buf.getvalue())
            f.flush()
            os.fsync(f.fileno())


def read_csv(path: str | os.PathLike, spec: SweepSpec | None = None) -> list[CellResult]:
    """The finished cells of a sweep CSV; with `spec`, SweepError unless the file is of that sweep.
    A cell with fewer rows than seeds (a kill mid-write) is left out."""
    text = Path(path).read_text()
    lines = text.split("\n")
    if not lines or not lines[0].startswith(HEADER_PREFIX):
        raise SweepError("out", f"{path} is not a vgrad sweep file (its first line is not '{HEADER_PREFIX.strip()} ...'); "
                         "choose another --out")
    try:
        file_spec = SweepSpec.from_dict(json.loads(lines[0][len(HEADER_PREFIX):]))
    except (ValueError, SweepError) as exc:
        raise SweepError("out", f"{path}: its sweep description cannot be read ({str(exc)[:80]})") from None
    if spec is not None and file_spec.to_dict() != spec.to_dict():
        raise SweepError("out", f"{path} holds another sweep ({_difference(file_spec, spec)}); use another --out "
                         "or the same settings to resume")
    spec = file_spec
    body = "\n".join(lines[1:]) if text.endswith("\n") else "\n".join(lines[1:-1])  # a torn last row is dropped
    reader = csv.DictReader(io.StringIO(body))
    if reader.fieldnames != columns(spec):
        raise SweepError("out", f"{path}: its columns are not the ones this sweep writes")
    by_cell: dict[int, list[dict]] = {}
    for row in reader:
        try:
            by_cell.setdefault(int(row["cell"]), []).append(row)
        except (TypeError, ValueError):
            raise SweepError("out", f"{path}: a row has no cell number") from None
    cells = spec.cell_values()
    out = []
    for index, group in sorted(by_cell.items()):
        if not 0 <= index < len(cells) or len(group) != spec.seeds:
            continue
        try:
            measures = tuple(_measure(r) for r in group)
        except (TypeError, ValueError, KeyError):
            raise SweepError("out", f"{path}: cell {index} has a malformed row") from None
        first = group[0]
        out.append(CellResult(index, cells[index], measures, _float(first["chi_1"]), _float(first["xi_c"]),
                              first["phase"] or None))
    return out


def _difference(a: SweepSpec, b: SweepSpec) -> str:
    da, db = a.to_dict(), b.to_dict()
    for key in ("axes", "seeds", "mode", "steps", "threshold"):
        if da[key] != db[key]:
            return f"its {key} differ"
    changed = [k for k in da["base"] if da["base"][k] != db["base"].get(k)]
    return f"its base config differs in {', '.join(changed[:3])}" if changed else "its description differs"


def _measure(row: dict) -> Measure:
    kinds = {f.name: f.type for f in dataclasses.fields(Measure)}
    values = {}
    for name in MEASURES:
        text = row[name]
        kind = kinds[name]
        if name in ("engine", "status", "message"):
            values[name] = text
        elif name == "diverged":
            values[name] = text == "true"
        elif name in ("seed", "steps"):
            values[name] = int(text)
        elif "int" in str(kind):
            values[name] = int(text) if text else None
        else:
            values[name] = _float(text)
    return Measure(**values)


def _float(text: str) -> float | None:
    return float(text) if text not in ("", None) else None
