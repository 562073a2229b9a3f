"""A sweep's results read back from JSON: the service's pages, a saved sweep, an exported file.

    cell = cell_from_dict(page_cell, spec)        # vgrad.sweep.CellResult (its Measures typed)
    result = result_from_json(text)               # vgrad.sweep.SweepResult of SweepResult.to_json()

The inverse of `CellResult.to_dict` and `SweepResult.to_dict` (vgrad.sweep); a malformed document
raises SweepResultError naming the first problem, never a KeyError from deep inside.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

from vgrad.sweep import CellResult, Measure, SweepError, SweepResult, SweepSpec

_KINDS = {f.name: f.type for f in dataclasses.fields(Measure)}
_TEXT = ("engine", "status", "message")
_INTS = ("seed", "steps", "steps_to_loss")


class SweepResultError(ValueError):
    """A sweep document vgrad cannot read; the message says where."""


def measure_from_dict(data: Any) -> Measure:
    if not isinstance(data, dict):
        raise SweepResultError("a seed's measures are not an object")
    values: dict[str, Any] = {}
    for name in _KINDS:
        if name not in data:
            continue
        v = data[name]
        if name in _TEXT:
            values[name] = str(v)[:300]
        elif name == "diverged":
            values[name] = bool(v)
        elif v is None:
            values[name] = None
        elif isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise SweepResultError(f"a seed's {name} is not a number ({str(v)[:20]!r})")
        elif name in _INTS:
            values[name] = int(v)
        else:
            values[name] = float(v)
    for name in ("seed", "engine", "status", "steps"):
        if values.get(name) is None:
            raise SweepResultError(f"a seed's measures have no {name}")
    return Measure(**values)


def cell_from_dict(data: Any, spec: SweepSpec) -> CellResult:
    """A CellResult of `spec` from `CellResult.to_dict()`; SweepResultError when it does not fit the spec."""
    if not isinstance(data, dict):
        raise SweepResultError("a cell is not an object")
    index = data.get("cell")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < spec.n_cells:
        raise SweepResultError(f"a cell's number {str(index)[:20]!r} is not one of the sweep's 0 to {spec.n_cells - 1}")
    seeds = data.get("seeds")
    if not isinstance(seeds, list) or not seeds:
        raise SweepResultError(f"cell {index} has no seeds")
    theory = data.get("theory") if isinstance(data.get("theory"), dict) else {}
    chi_1, xi_c = _number(theory.get("chi_1")), _number(theory.get("xi_c"))
    phase = theory.get("phase") if isinstance(theory.get("phase"), str) else None
    return CellResult(index, values_at(spec, index), tuple(measure_from_dict(m) for m in seeds), chi_1, xi_c, phase)


def values_at(spec: SweepSpec, index: int) -> dict:
    """The axis values of cell `index` (row-major: the last axis varies fastest)."""
    out, rest = {}, index
    for axis, n in zip(reversed(spec.axes), reversed(spec.shape), strict=True):
        rest, i = divmod(rest, n)
        out[axis.field] = axis.values[i]
    return {a.field: out[a.field] for a in spec.axes}


def result_from_dict(data: Any) -> SweepResult:
    """SweepResult.to_dict() read back (the spec checked by SweepSpec.from_dict)."""
    if not isinstance(data, dict) or "spec" not in data:
        raise SweepResultError("not a vgrad sweep result (no spec)")
    try:
        spec = SweepSpec.from_dict(data["spec"])
    except SweepError as exc:
        raise SweepResultError(f"its sweep cannot be read: {exc}") from None
    cells = data.get("cells")
    if not isinstance(cells, list):
        raise SweepResultError("not a vgrad sweep result (no list of cells)")
    out = {}
    for c in cells:
        cell = cell_from_dict(c, spec)
        out[cell.cell] = cell
    seconds = _number(data.get("seconds")) or 0.0
    return SweepResult(spec, [out[k] for k in sorted(out)], seconds=seconds)


def result_from_json(text: str | bytes) -> SweepResult:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise SweepResultError("not JSON") from None
    return result_from_dict(data)


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    return float(v)
