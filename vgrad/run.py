"""Run: the result of one training, folded from its typed records, and the numbers read off it.

    run = vgrad.train(vgrad.preset("notebook-deep-sigmoid"))
    run.attenuation()      # Attenuation(first=..., last=..., orders=4.4, ...) at the last step
    run.steps_frame()      # tidy: one row per step x layer
    run.to_json()          # the saved-run document (format "vgrad-run", see FORMAT_VERSION)

Every number a headline, a reading, a table or the CLI shows comes from the methods here
(one attenuation function for all of them). No TensorFlow.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pydantic
from pydantic import TypeAdapter

from vgrad.config import ConfigError, RunConfig
from vgrad.records import (
    LAYER_STATS,
    BoundaryRecord,
    ConfusionRecord,
    DataRecord,
    EpochRecord,
    Layer,
    Record,
    RecordError,
    SnapshotRecord,
    SpectrumRecord,
    StartRecord,
    Status,
    StatusRecord,
    StepRecord,
    WeightsRecord,
    describe_error,
    parse,
)

# Version 1: config, layers, steps, epochs, snapshots, boundaries, info {start, data, weights}, status;
# optional, added since and read when present: spectra, info.confusion, origin.
FORMAT_VERSION = 1
# The record lists a run keeps in stream order (content_id chains their digests).
LISTS = ("steps", "epochs", "snapshots", "boundaries", "spectra")
# Comparisons read the first layer's gradient over this first share of training.
EARLY_SHARE = 0.1
EPOCH_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "r2", "val_r2")


class RunFileError(ValueError):
    """A run document (JSON) is not one vgrad can read; the message says why."""


@dataclass(frozen=True)
class Attenuation:
    """First vs last measured layer of a per-layer statistic at one step.

    orders = log10(last / first): 3.0 means the first layer gets 1000x less (inf when the
    first layer's value is exactly 0); ratio = first / last.
    """

    step: int
    first: float
    last: float
    first_layer: int
    last_layer: int

    @property
    def ratio(self) -> float:
        return self.first / self.last if self.last > 0 else math.nan

    @property
    def orders(self) -> float:
        if self.last <= 0:
            return math.nan
        return math.log10(self.last / self.first) if self.first > 0 else math.inf


def attenuation(per_layer: Sequence[float | None], step: int = -1) -> Attenuation | None:
    """Attenuation of a per-layer list (input -> output); unmeasured or non-finite layers are
    skipped (e.g. dL/da of the output). None when fewer than two layers are measured."""
    idx = [i for i, v in enumerate(per_layer) if _finite(v)]
    if len(idx) < 2:
        return None
    return Attenuation(step, float(per_layer[idx[0]]), float(per_layer[idx[-1]]), idx[0], idx[-1])


def attenuation_orders(per_layer: Sequence[float | None]) -> float:
    """log10(last / first) of a per-layer list; nan when undefined, inf when the first is 0."""
    a = attenuation(per_layer)
    return math.nan if a is None else a.orders


@dataclass
class Run:
    config: RunConfig
    start: StartRecord | None = None
    data: DataRecord | None = None
    weights: dict[str, WeightsRecord] = field(default_factory=dict)  # "initial", "final"
    steps: list[StepRecord] = field(default_factory=list)
    epochs: list[EpochRecord] = field(default_factory=list)
    snapshots: list[SnapshotRecord] = field(default_factory=list)
    boundaries: list[BoundaryRecord] = field(default_factory=list)
    spectra: list[SpectrumRecord] = field(default_factory=list)
    confusion: ConfusionRecord | None = None
    status: Status = Status.RUNNING
    message: str = ""
    last_step: int = -1
    # Where the run comes from: {} for vgrad's engine; {"kind": "notebook", "model": "...", ...} for a
    # GradientMonitor run of someone's own Keras model (its config then only approximates the model).
    origin: dict = field(default_factory=dict)
    # content_id's digests: per list, the chained digest of its first 1, 2, ... records (added by `add`);
    # and of single records and the config, by id (the object is kept, so its id is not reused).
    _chain: dict[str, list[bytes]] = field(default_factory=dict, repr=False, compare=False)
    _digests: dict[int, tuple[Any, bytes]] = field(default_factory=dict, repr=False, compare=False)

    # --- building from records ----------------------------------------------
    def add(self, record: Record) -> None:
        """Fold one record of the stream into this run."""
        kind = _LIST_OF.get(type(record))
        if kind is not None:
            items, chain = getattr(self, kind), self._chain.setdefault(kind, [])
            if len(chain) == len(items):  # else the list was changed without `add`: content_id is None
                chain.append(_digest(record, chain[-1] if chain else b""))
        match record:
            case StepRecord():
                self.steps.append(record)
                self.last_step = record.step
            case EpochRecord():
                self.epochs.append(record)
            case SnapshotRecord():
                self.snapshots.append(record)
            case BoundaryRecord():
                self.boundaries.append(record)
            case StartRecord():
                self.start = record
            case DataRecord():
                self.data = record
            case WeightsRecord():
                self.weights[record.when] = record
            case ConfusionRecord():
                self.confusion = record
            case SpectrumRecord():
                self.spectra.append(record)
            case StatusRecord():
                self.status, self.message = record.status, record.message

    def content_id(self, steps: int | None = None, lists: Sequence[str] = LISTS) -> str | None:
        """A digest of everything the run holds: equal for two runs exactly when their config, origin,
        status and records are equal, so what is drawn from one can be drawn again for the other. With
        `steps`, of its first `steps` step records only; with `lists`, of those record lists only (the
        single records always). None when a record list was filled without `add`."""
        h = hashlib.blake2b(digest_size=16)
        for part in (self.config, self.start, self.data, self.confusion):
            h.update(self._digest_of(part))
        for when, record in sorted(self.weights.items()):
            h.update(when.encode() + self._digest_of(record))
        h.update(_digest((sorted(self.origin.items()), str(self.status), self.message)))
        for kind in lists:
            chain, n = self._chain.get(kind, ()), len(getattr(self, kind))
            if len(chain) != n:
                return None
            if kind == "steps" and steps is not None:
                n = max(0, min(n, steps))
            h.update(kind.encode() + n.to_bytes(8, "little") + (chain[n - 1] if n else b"-"))
        return h.hexdigest()

    def _digest_of(self, value: Any) -> bytes:
        if value is None:
            return b"none"
        known = self._digests.get(id(value))
        if known is None or known[0] is not value:
            known = self._digests[id(value)] = (value, _digest(value))
        return known[1]

    def share_digests(self, other: Run) -> None:
        """Let this run (a prefix of `other`: its lists cut short) use other's digests."""
        self._digests = other._digests
        self._chain = {kind: chain[:len(getattr(self, kind))] for kind, chain in other._chain.items()}

    @classmethod
    def from_records(cls, config: RunConfig, records: Sequence[Record | dict]) -> Run:
        run = cls(config=config)
        for r in records:
            run.add(parse(r))
        return run

    @property
    def layers(self) -> tuple[Layer, ...]:
        return self.start.layers if self.start is not None else ()

    @property
    def done(self) -> bool:
        return self.status.final

    @property
    def total_steps(self) -> int:
        return self.start.total_steps if self.start is not None else self.config.total_steps

    @property
    def steps_per_epoch(self) -> int:
        return self.start.steps_per_epoch if self.start is not None else self.config.steps_per_epoch

    @property
    def epochs_total(self) -> int:
        return math.ceil(self.total_steps / max(1, self.steps_per_epoch))

    @property
    def progress(self) -> float:
        """Share of the steps done, 0..1."""
        return min(1.0, (self.last_step + 1) / self.total_steps) if self.total_steps else 0.0

    @property
    def task(self) -> str:
        """binary, multiclass or regression."""
        return self.start.task if self.start is not None else self.config.task

    @property
    def n_classes(self) -> int:
        """Classes of a classification run (the data's, else the config's; at least 2)."""
        if self.start is not None and self.start.classes:
            return len(self.start.classes)
        return max(2, self.config.n_classes)

    @property
    def learning_rate(self) -> float:
        return self.start.lr if self.start is not None and self.start.lr else self.config.learning_rate

    # --- the numbers ---------------------------------------------------------
    def step_record(self, step: int = -1) -> StepRecord | None:
        """The step record at list position `step` (default: the latest), or None."""
        try:
            return self.steps[step]
        except IndexError:
            return None

    def attenuation(self, step: int = -1, stat: str = "grad_norm") -> Attenuation | None:
        """First vs last layer of `stat` at list position `step` (None when nothing to read)."""
        rec = self.step_record(step)
        return None if rec is None else attenuation(rec.stat(stat), rec.step)

    def attenuation_orders(self, step: int = -1, stat: str = "grad_norm") -> float:
        a = self.attenuation(step, stat)
        return math.nan if a is None else a.orders

    def early_attenuation_orders(self, share: float = EARLY_SHARE, stat: str = "grad_norm") -> float:
        """Median attenuation (orders) over the first `share` of the steps so far: how the gradient was
        while there was something to learn (a fitted net's last steps have tiny gradients everywhere)."""
        n = max(1, int(len(self.steps) * share))
        values = [self.attenuation_orders(i, stat) for i in range(min(n, len(self.steps)))]
        values = [v for v in values if not math.isnan(v)]
        return float(np.median(values)) if values else math.nan

    def final_metrics(self) -> dict[str, float]:
        """loss, accuracy, val_loss, val_accuracy (and r2, val_r2) of the last epoch; nan where none."""
        last = self.epochs[-1] if self.epochs else None
        return {k: _num(getattr(last, k, None)) for k in EPOCH_METRICS}

    def loss_start_end(self) -> dict[str, float]:
        """Loss of the first step's batch, and at the end: the last epoch's training loss on the full
        set (the last step's batch loss when no epoch has ended yet). Empty when unknown."""
        if not self.steps:
            return {}
        start = self.steps[0].loss
        last_epoch = self.epochs[-1].loss if self.epochs else None
        end, from_epoch = (last_epoch, 1.0) if _finite(last_epoch) else (self.steps[-1].loss, 0.0)
        if not (_finite(start) and _finite(end)):
            return {}
        return {"start": float(start), "end": float(end), "end_is_epoch": from_epoch, "steps": float(len(self.steps))}

    def final_loss(self) -> float:
        return self.loss_start_end().get("end", math.nan)

    def steps_to_loss(self, threshold: float) -> int | None:
        """Steps done when an epoch's training loss first fell to `threshold` (None if never)."""
        for e in self.epochs:
            if _finite(e.loss) and e.loss <= threshold:
                return e.step + 1
        return None

    def first_layer_grad(self, stat: str = "grad_norm") -> np.ndarray:
        """The first layer's statistic over the steps (nan where missing)."""
        return np.array([_num(s.stat(stat)[0]) if s.stat(stat) else math.nan for s in self.steps], dtype=float)

    def early_first_grad(self, share: float = EARLY_SHARE, stat: str = "grad_norm") -> float:
        """Median first-layer `stat` over the first `share` of the steps so far (at least one).

        A net that has already fit the data has a small gradient because its loss is small, not
        because the gradient vanishes: comparisons read this rather than the last step."""
        g = self.first_layer_grad(stat)
        early = g[:max(1, int(len(g) * share))]
        early = early[np.isfinite(early)]
        return float(np.median(early)) if early.size else math.nan

    def time_attenuation(self, step: int = -1) -> dict[str, float]:
        """‖dL/dx_t‖ at time step 0 vs the last one (rnn): ratio (first / last) and orders at `step`,
        start_ratio at the first step, median_ratio over all steps so far. Empty when unknown."""
        rec = self.step_record(step)
        if rec is None or not rec.input_grad_by_time:
            return {}
        ratios = [r for r in (_time_ratio(s) for s in self.steps) if r is not None]
        now = _time_ratio(rec)
        if now is None or not ratios:
            return {}
        first, last = float(rec.input_grad_by_time[0]), float(rec.input_grad_by_time[-1])
        return {"step": float(rec.step), "first": first, "last": last, "ratio": now,
                "orders": math.log10(last / first) if first > 0 else math.inf,
                "seq_len": float(len(rec.input_grad_by_time)), "start_ratio": ratios[0],
                "median_ratio": float(np.median(ratios))}

    def spectrum_spread(self, index: int = 0) -> float:
        """var / mean² of the squared singular values of a recorded Jacobian spectrum (0: isometry)."""
        if len(self.spectra) <= index:
            return math.nan
        sq = np.square(np.asarray(self.spectra[index].values, dtype=float))
        mean = float(sq.mean())
        return float(sq.var()) / mean**2 if mean > 0 else math.nan

    def clip_setting(self) -> tuple[str, float]:
        """('global_clipnorm', 1.0) style: which clipping the run used, ('', 0) for none."""
        for name in ("global_clipnorm", "clipnorm", "clipvalue"):
            value = getattr(self.config, name)
            if value:
                return name, float(value)
        return "", 0.0

    def gradient_norms(self) -> dict[str, float]:
        """Largest and median global gradient norm before and after clipping; steps clipped."""
        raw = np.array([_num(s.global_norm) for s in self.steps], dtype=float)
        clipped = np.array([_num(s.global_norm_clipped) for s in self.steps], dtype=float)
        ok = np.isfinite(raw) & np.isfinite(clipped)
        if not ok.any():
            return {}
        raw, clipped = raw[ok], clipped[ok]
        return {"max": float(raw.max()), "median": float(np.median(raw)), "max_clipped": float(clipped.max()),
                "steps_clipped": float(np.sum(clipped < raw * (1 - 1e-4))), "steps": float(raw.size)}

    def sigma_history(self, layer: int = 0) -> np.ndarray:
        """Largest singular value of a recurrent kernel over the steps (nan where missing)."""
        return np.array([_num(s.recurrent_sigma_max[layer]) if s.recurrent_sigma_max
                         and len(s.recurrent_sigma_max) > layer else math.nan for s in self.steps], dtype=float)

    # --- frames --------------------------------------------------------------
    def steps_frame(self) -> pd.DataFrame:
        """One row per step x layer: step, epoch, layer, layer_index, grad_norm, ..., loss."""
        return steps_frame(self.steps, self.layers)

    def epochs_frame(self) -> pd.DataFrame:
        cols = ["epoch", "step", *EPOCH_METRICS]
        return pd.DataFrame([[getattr(e, c) for c in cols] for e in self.epochs], columns=cols)

    def to_csv(self, path: str | None = None) -> str | None:
        """The step frame as CSV (to `path`, or returned as text)."""
        return self.steps_frame().to_csv(path, index=False)

    # --- JSON ----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        info: dict[str, Any] = {}
        if self.start is not None:
            info["start"] = self.start.to_dict()
        if self.data is not None:
            info["data"] = {"x": _plain(self.data.x), "y": list(self.data.y)}
        if self.weights:
            info["weights"] = {w: _nan_null(rec.kernel) for w, rec in self.weights.items()}
        if self.confusion is not None:
            info["confusion"] = self.confusion.to_dict()
        return {
            "format": "vgrad-run", "version": FORMAT_VERSION,
            "config": self.config.to_dict(), "layers": [_LAYERS.dump_python(x, mode="json") for x in self.layers],
            "steps": _dump(self.steps), "epochs": _dump(self.epochs), "snapshots": _dump(self.snapshots),
            "boundaries": _dump(self.boundaries), "spectra": _dump(self.spectra), "info": info,
            "status": str(self.status),
            "message": self.message, **({"origin": self.origin} if self.origin else {}),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Run:
        try:
            data = json.loads(text)
        except (ValueError, TypeError, RecursionError) as exc:
            raise RunFileError(f"not valid JSON ({str(exc)[:80]})") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> Run:
        """Validate and load a run document field by field; RunFileError names the first problem."""
        try:
            return _read_v1(data)
        except RecordError as exc:
            raise RunFileError(str(exc)) from None


_LIST_OF = {StepRecord: "steps", EpochRecord: "epochs", SnapshotRecord: "snapshots",
            BoundaryRecord: "boundaries", SpectrumRecord: "spectra"}


def _digest(value: Any, before: bytes = b"") -> bytes:
    """A digest of `value`'s pickle (exact: floats bit for bit). The pickler's memo is off, so equal
    values pickle alike whichever objects they share; a value that does not pickle gets a random digest
    (equal to no other)."""
    out = io.BytesIO()
    pickler = pickle.Pickler(out, 5)
    pickler.fast = True  # no memo: a string used twice is written twice, as a copy of it would be
    try:
        pickler.dump(value)
        data = out.getvalue()
    except Exception:  # noqa: BLE001 - anything unpicklable is never shared
        data = os.urandom(32)
    return hashlib.blake2b(before + data, digest_size=16).digest()


def steps_frame(steps: Sequence[StepRecord], layers: Sequence[Layer]) -> pd.DataFrame:
    """Tidy frame from step records: one row per step x layer."""
    cols = ["step", "epoch", "layer", "layer_index", *LAYER_STATS, "loss", "global_norm", "global_norm_clipped"]
    if not steps or not layers:
        return pd.DataFrame(columns=cols)
    n = len(layers)
    data: dict[str, Any] = {
        "step": np.repeat([s.step for s in steps], n),
        "epoch": np.repeat([s.epoch for s in steps], n),
        "layer": np.tile([layer.name for layer in layers], len(steps)),
        "layer_index": np.tile([layer.index for layer in layers], len(steps)),
    }
    for stat in LAYER_STATS:
        data[stat] = np.array([s.stat(stat) for s in steps], dtype=float).reshape(-1)
    for stat in ("loss", "global_norm", "global_norm_clipped"):
        data[stat] = np.repeat([_num(getattr(s, stat)) for s in steps], n).astype(float)
    return pd.DataFrame(data, columns=cols)


# --- reading a saved run --------------------------------------------------------------
_LAYERS = TypeAdapter(Layer)


def _read_v1(data: Any) -> Run:
    if not isinstance(data, dict):
        raise RecordError("a run file is a JSON object with config, layers, steps, epochs, status")
    if data.get("format", "vgrad-run") != "vgrad-run":
        raise RecordError(f"format must be 'vgrad-run', got {str(data.get('format'))[:40]!r}")
    version = data.get("version", FORMAT_VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        newer = isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION
        raise RecordError(f"run format version {str(version)[:20]} is newer than this vgrad reads ({FORMAT_VERSION})"
                          if newer else f"version must be a whole number from 1 to {FORMAT_VERSION}, "
                          f"got {str(version)[:20]!r}")
    for key in ("config", "layers", "steps", "epochs", "status"):
        if key not in data:
            raise RecordError(f"missing key {key!r}")
    try:
        config = RunConfig.from_dict(data["config"])
    except ConfigError as exc:
        raise RecordError(f"config: {exc}") from None
    try:
        status = Status(data["status"])
    except (ValueError, TypeError):
        raise RecordError(f"status must be one of {', '.join(Status)}") from None
    layers = tuple(_layer(x, i) for i, x in enumerate(_objects(data, "layers")))
    if [layer.index for layer in layers] != list(range(len(layers))):
        raise RecordError("layers must be numbered 0, 1, 2, ... from the input")
    info = data.get("info", {})
    if not isinstance(info, dict):
        raise RecordError("info must be an object")
    run = Run(config=config, status=status, message=_text(data.get("message", "")), origin=_origin(data))
    start = info.get("start")
    if start is not None:
        rec = _record(start, "start", "info.start")
        if tuple(rec.layers) != layers:
            raise RecordError("info.start.layers must equal layers")
        run.add(rec)
    else:  # a file without a start record: rebuild it from the config
        run.add(StartRecord(layers=layers, n_train=config.n_train, n_val=config.n_samples - config.n_train,
                            steps_per_epoch=config.steps_per_epoch, total_steps=config.total_steps,
                            family=config.family, seq_len=config.seq_len if config.family == "rnn" else 0,
                            lr=config.learning_rate))
    if info.get("data") is not None:
        d = info["data"]
        if not isinstance(d, dict):
            raise RecordError("info.data must be an object with x and y")
        rec = _record({"kind": "data", "x": d.get("x"), "y": d.get("y")}, "data", "info.data")
        if len(rec.x) != len(rec.y):
            raise RecordError("info.data: x and y must have the same length")
        run.add(rec)
    weights = info.get("weights") or {}
    if not isinstance(weights, dict):
        raise RecordError("info.weights must be an object")
    for when, kernel in weights.items():
        run.add(_record({"kind": "weights", "when": when, "layer_index": 0, "kernel": kernel}, "weights",
                        f"info.weights.{str(when)[:20]}"))
    if info.get("confusion") is not None:
        run.add(_record(info["confusion"], "confusion", "info.confusion"))
    n = len(layers)
    for i, s in enumerate(_objects(data, "steps")):
        rec = _record(s, "step", f"steps[{i}]")
        for stat in LAYER_STATS:
            if len(rec.stat(stat)) != n:
                raise RecordError(f"steps[{i}].{stat}: must hold {n} values (or null), one per layer")
        run.add(rec)
    for i, e in enumerate(_objects(data, "epochs")):
        run.add(_record(e, "epoch", f"epochs[{i}]"))
    for i, s in enumerate(_objects(data, "snapshots", required=False)):
        rec = _record(s, "snapshot", f"snapshots[{i}]")
        if rec.layer_index >= n:
            raise RecordError(f"snapshots[{i}].layer_index: there are only {n} layers")
        run.add(rec)
    for i, b in enumerate(_objects(data, "boundaries", required=False)):
        rec = _record(b, "boundary", f"boundaries[{i}]")
        if len(rec.prob) != len(rec.ys) or any(len(row) != len(rec.xs) for row in rec.prob):
            raise RecordError(f"boundaries[{i}].prob: must be len(ys) rows of len(xs) values")
        run.add(rec)
    for i, s in enumerate(_objects(data, "spectra", required=False)):
        rec = _record(s, "spectrum", f"spectra[{i}]")
        if max(rec.first_layer, rec.last_layer) >= n:
            raise RecordError(f"spectra[{i}]: there are only {n} layers")
        run.add(rec)
    run.status = status  # the document's word, whatever its records say
    return run


def _record(obj: Any, kind: str, where: str) -> Record:
    if not isinstance(obj, dict):
        raise RecordError(f"{where}: must be an object")
    try:
        return parse({**obj, "kind": kind})
    except RecordError as exc:
        raise RecordError(f"{where}{'.' + exc.location if exc.location else ''}: {exc.problem}") from None


def _layer(obj: Any, i: int) -> Layer:
    try:
        return _LAYERS.validate_python(obj)
    except pydantic.ValidationError as exc:
        where, why = describe_error(exc)
        raise RecordError(f"layers[{i}]{'.' + where if where else ''}: {why}") from None


def _objects(data: dict, key: str, required: bool = True) -> list[dict]:
    value = data.get(key, None if required else [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise RecordError(f"{key} must be a list of objects")
    return value


def _origin(data: dict) -> dict:
    """The optional `origin` object: short text values only (it is shown on pages)."""
    origin = data.get("origin", {})
    if not isinstance(origin, dict) or len(origin) > 20 or not all(
            isinstance(k, str) and len(k) <= 40 and isinstance(v, str | int | float | bool) and len(str(v)) <= 500
            for k, v in origin.items()):
        raise RecordError("origin must be an object of at most 20 short text or number values")
    return dict(origin)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise RecordError("message must be text")
    return value[:2000]


def _dump(records: Sequence[Record]) -> list[dict]:
    return [r.to_dict() for r in records]


def _plain(matrix) -> list:
    return [list(row) for row in matrix]


def _nan_null(matrix) -> list:
    return [[v if _finite(v) else None for v in row] for row in matrix]


def _time_ratio(rec: StepRecord) -> float | None:
    by_time = rec.input_grad_by_time or ()
    if len(by_time) < 2 or not (_finite(by_time[0]) and _finite(by_time[-1])) or by_time[-1] <= 0:
        return None
    return float(by_time[0]) / float(by_time[-1])


def _finite(v: Any) -> bool:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:  # an int beyond float range
        return False


def _num(v: Any) -> float:
    return float(v) if _finite(v) else math.nan
