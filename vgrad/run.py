"""Run: the result of one training, built from the record stream (no TensorFlow needed).

    run = vgrad.train(vgrad.preset("notebook-deep-sigmoid"))
    run.steps_frame()      # tidy: one row per step x layer
    run.epochs_frame()     # one row per epoch
    run.to_json()          # {"config", "layers", "steps", "epochs", "snapshots", ..., "status"}
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from vgrad.config import ConfigError, RunConfig
from vgrad.records import LAYER_STATS, STATUSES

FORMAT_VERSION = 1


class RunFileError(ValueError):
    """A run document (JSON) is not one vgrad can read; the message says why."""


@dataclass
class Run:
    config: RunConfig
    layers: list[dict] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)
    epochs: list[dict] = field(default_factory=list)
    snapshots: list[dict] = field(default_factory=list)
    boundaries: list[dict] = field(default_factory=list)
    info: dict = field(default_factory=dict)  # start record, data points, first-layer weights
    status: str = "running"
    message: str = ""
    last_step: int = -1

    # --- building from records ----------------------------------------------
    def add(self, record: dict) -> None:
        """Fold one record of the stream into this run."""
        kind = record.get("kind")
        if kind == "step":
            self.steps.append(record)
            self.last_step = record["step"]
        elif kind == "epoch":
            self.epochs.append(record)
        elif kind == "snapshot":
            self.snapshots.append(record)
        elif kind == "boundary":
            self.boundaries.append(record)
        elif kind == "start":
            self.layers = record["layers"]
            self.info["start"] = record
        elif kind == "data":
            self.info["data"] = {"x": record["x"], "y": record["y"]}
        elif kind == "weights":
            self.info.setdefault("weights", {})[record["when"]] = record["kernel"]
        elif kind == "status":
            self.status = record["status"]
            self.message = record.get("message", "")

    @classmethod
    def from_records(cls, config: RunConfig, records: list[dict]) -> Run:
        run = cls(config=config)
        for r in records:
            run.add(r)
        return run

    @property
    def done(self) -> bool:
        return self.status != "running"

    # --- summaries -----------------------------------------------------------
    def attenuation_orders(self, step: int = -1, stat: str = "grad_norm") -> float:
        """log10(last layer's / first layer's gradient) at a step: 3.0 means 1000x smaller at the input."""
        if not self.steps:
            return math.nan
        return attenuation_orders(self.steps[step][stat])

    def final_metrics(self) -> dict[str, float]:
        last = self.epochs[-1] if self.epochs else {}
        return {k: last.get(k, math.nan) for k in ("loss", "accuracy", "val_loss", "val_accuracy")}

    # --- frames --------------------------------------------------------------
    def steps_frame(self) -> pd.DataFrame:
        """One row per step x layer: step, epoch, layer, layer_index, grad_norm, ..., loss."""
        return steps_frame(self.steps, self.layers)

    def epochs_frame(self) -> pd.DataFrame:
        cols = ["epoch", "step", "loss", "accuracy", "val_loss", "val_accuracy"]
        return pd.DataFrame(self.epochs, columns=cols)

    def to_csv(self, path: str | None = None) -> str | None:
        """The step frame as CSV (to `path`, or returned as text)."""
        return self.steps_frame().to_csv(path, index=False)

    # --- JSON ----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "vgrad-run", "version": FORMAT_VERSION,
            "config": self.config.to_dict(), "layers": self.layers, "steps": self.steps,
            "epochs": self.epochs, "snapshots": self.snapshots, "boundaries": self.boundaries,
            "info": self.info, "status": self.status, "message": self.message,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=_jsonable, allow_nan=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> Run:
        try:
            data = json.loads(text)
        except (ValueError, TypeError, RecursionError) as exc:
            raise RunFileError(f"not valid JSON ({str(exc)[:80]})") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> Run:
        """Validate and load a run document; RunFileError on anything malformed."""
        if not isinstance(data, dict):
            raise RunFileError("a run file is a JSON object with config, layers, steps, epochs, status")
        version = data.get("version", FORMAT_VERSION)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise RunFileError(f"run format version {str(version)[:20]} is newer than this vgrad reads ({FORMAT_VERSION})")
        for key in ("config", "layers", "steps", "epochs", "status"):
            if key not in data:
                raise RunFileError(f"missing key {key!r}")
        try:
            config = RunConfig.from_dict(data["config"])
        except ConfigError as exc:
            raise RunFileError(f"config: {exc}") from None
        status = data["status"]
        if status not in STATUSES:
            raise RunFileError(f"status must be one of {', '.join(STATUSES)}")
        layers = _list_of_dicts(data, "layers")
        for layer in layers:
            if not isinstance(layer.get("name"), str) or not isinstance(layer.get("index"), int):
                raise RunFileError("each layer needs a string name and an integer index")
        steps = _list_of_dicts(data, "steps")
        n = len(layers)
        for s in steps:
            if not isinstance(s.get("step"), int) or not isinstance(s.get("epoch"), int):
                raise RunFileError("each step needs integer step and epoch")
            for stat in LAYER_STATS:
                vals = s.get(stat)
                if not isinstance(vals, list) or len(vals) != n or not all(v is None or _is_num(v) for v in vals):
                    raise RunFileError(f"step {s['step']}: {stat} must be {n} numbers (or null), one per layer")
            for key in ("loss", "global_norm", "global_norm_clipped"):
                if not (s.get(key) is None or _is_num(s.get(key))):
                    raise RunFileError(f"step {s['step']}: {key} must be a number")
        epochs = _list_of_dicts(data, "epochs")
        for e in epochs:
            if not _is_num(e.get("epoch")) or not all(
                    e.get(k) is None or _is_num(e.get(k)) for k in ("loss", "accuracy", "val_loss", "val_accuracy")):
                raise RunFileError("each epoch needs numbers epoch, loss, accuracy, val_loss, val_accuracy")
        info = data.get("info", {})
        return cls(
            config=config, layers=layers, steps=steps, epochs=epochs,
            snapshots=_list_of_dicts(data, "snapshots", required=False),
            boundaries=_list_of_dicts(data, "boundaries", required=False),
            info=info if isinstance(info, dict) else {}, status=status,
            message=str(data.get("message", ""))[:2000],
            last_step=steps[-1]["step"] if steps else -1,
        )


def steps_frame(steps: list[dict], layers: list[dict]) -> pd.DataFrame:
    """Tidy frame from step records: one row per step x layer."""
    cols = ["step", "epoch", "layer", "layer_index", *LAYER_STATS, "loss", "global_norm", "global_norm_clipped"]
    if not steps or not layers:
        return pd.DataFrame(columns=cols)
    n = len(layers)
    data: dict[str, Any] = {
        "step": np.repeat([s["step"] for s in steps], n),
        "epoch": np.repeat([s["epoch"] for s in steps], n),
        "layer": np.tile([layer["name"] for layer in layers], len(steps)),
        "layer_index": np.tile([layer["index"] for layer in layers], len(steps)),
    }
    for stat in LAYER_STATS:
        data[stat] = np.array([s[stat] for s in steps], dtype=float).reshape(-1)
    for stat in ("loss", "global_norm", "global_norm_clipped"):
        data[stat] = np.repeat([s.get(stat, math.nan) for s in steps], n).astype(float)
    return pd.DataFrame(data, columns=cols)


def attenuation_orders(per_layer: list[float]) -> float:
    """log10(last / first) of a per-layer quantity (ordered input -> output, unmeasured layers
    skipped); nan when undefined, inf when the first layer's is exactly 0."""
    measured = [v for v in per_layer if v is not None]  # e.g. dL/da of the output is not measured
    if len(measured) < 2:
        return math.nan
    first, last = float(measured[0]), float(measured[-1])
    if not (math.isfinite(first) and math.isfinite(last)) or last <= 0:
        return math.nan
    if first <= 0:
        return math.inf
    return math.log10(last / first)


def _list_of_dicts(data: dict, key: str, required: bool = True) -> list[dict]:
    value = data.get(key, [] if not required else None)
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise RunFileError(f"{key} must be a list of objects")
    return value


def _is_num(v: Any) -> bool:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return False
    return not isinstance(v, int) or abs(v) <= 1e308


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
