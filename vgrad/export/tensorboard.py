"""Write a Run as TensorBoard event files, without TensorFlow.

    from vgrad.export.tensorboard import export_run, export_zip
    export_run(run, "logs", "deep-sigmoid")     # logs/deep-sigmoid/events.out.tfevents.*
    # tensorboard --logdir logs
    data = export_zip([("sigmoid", run_a), ("relu", run_b)])   # bytes of a .zip with one folder per run

Scalars (one point per optimizer step unless noted):
  `grad_norm/NN_layer`       per-layer ‖dL/dW‖ (NN = layer index, input first, so TensorBoard sorts them)
  `update_ratio/NN_layer`    per-layer ‖ΔW‖/‖W‖ (and any other LAYER_STATS passed in `stats`)
  `loss/step`, `global_norm`, `attenuation_orders` (log10 of last/first layer grad_norm)
  `epoch/loss`, `epoch/accuracy`, `epoch/val_loss`, `epoch/val_accuracy` (at each epoch's last step)
Histograms: `grad_hist/NN_layer`, the distribution of every kernel-gradient entry at each snapshot step.

Events are written with tensorboard's pure-protobuf RecordWriter and `tensorboard.compat.proto`;
tensorboard's EventFileWriter is avoided because its `tf.io.gfile` imports TensorFlow when installed.
"""

from __future__ import annotations

import io
import json
import math
import re
import socket
import tempfile
import time
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.record_writer import RecordWriter

from vgrad.records import LAYER_STATS, Layer
from vgrad.run import Run, attenuation_orders

DEFAULT_STATS = ("grad_norm", "update_ratio")
HISTOGRAM_BINS = 30


class EventWriter:
    """Appends Event protos to one `events.out.tfevents.*` file (the TFRecord framing, with CRCs)."""

    def __init__(self, logdir: str | Path, wall_time: float | None = None):
        self.logdir = Path(logdir)
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.wall_time = time.time() if wall_time is None else wall_time
        host = re.sub(r"[^A-Za-z0-9.-]", "", socket.gethostname())[:40] or "host"
        self.path = self.logdir / f"events.out.tfevents.{int(self.wall_time):010d}.{host}.vgrad"
        self._file = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        self._records = RecordWriter(self._file)
        self._write(event_pb2.Event(wall_time=self.wall_time, file_version="brain.Event:2"))

    def _write(self, event: event_pb2.Event) -> None:
        self._records.write(event.SerializeToString())

    def scalar(self, tag: str, value: float, step: int) -> None:
        summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=float(value))])
        self._write(event_pb2.Event(wall_time=self.wall_time + step * 1e-3, step=step, summary=summary))

    def histogram(self, tag: str, values: np.ndarray, step: int, bins: int = HISTOGRAM_BINS) -> None:
        values = np.asarray(values, dtype=float).reshape(-1)
        values = values[np.isfinite(values)]
        if values.size == 0:
            return
        lo, hi = float(values.min()), float(values.max())
        if lo == hi:
            lo, hi = lo - 0.5 * (abs(lo) or 1.0) * 1e-3, hi + 0.5 * (abs(hi) or 1.0) * 1e-3
        counts, edges = np.histogram(values, bins=bins, range=(lo, hi))
        histo = summary_pb2.HistogramProto(
            min=float(values.min()), max=float(values.max()), num=float(values.size),
            sum=float(values.sum()), sum_squares=float(np.square(values).sum()),
            bucket_limit=[float(e) for e in edges[1:]], bucket=[float(c) for c in counts])
        summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, histo=histo)])
        self._write(event_pb2.Event(wall_time=self.wall_time + step * 1e-3, step=step, summary=summary))

    def close(self) -> None:
        self._records.flush()
        self._records.close()

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def layer_tag(layer: Layer) -> str:
    """`03_dense_3`: the layer index first so TensorBoard lists layers input -> output."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", layer.name)[:60]
    return f"{layer.index:02d}_{name}"


def export_run(run: Run, logdir: str | Path, run_name: str = "run",
               stats: Iterable[str] = DEFAULT_STATS) -> Path:
    """Write `run` under `logdir/<run_name>/`; returns that folder. Also writes its config.json."""
    folder = Path(logdir) / safe_dirname(run_name)
    tags = [layer_tag(layer) for layer in run.layers]
    stats = [s for s in stats if s in LAYER_STATS]
    with EventWriter(folder) as writer:
        for record in run.steps:
            for stat in stats:
                for tag, value in zip(tags, record.stat(stat), strict=False):
                    if _is_finite(value):
                        writer.scalar(f"{stat}/{tag}", value, record.step)
            for key, tag in (("loss", "loss/step"), ("global_norm", "global_norm")):
                if _is_finite(getattr(record, key)):
                    writer.scalar(tag, getattr(record, key), record.step)
            orders = attenuation_orders(record.grad_norm)
            if math.isfinite(orders):
                writer.scalar("attenuation_orders", orders, record.step)
        for record in run.epochs:
            for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
                if _is_finite(getattr(record, key)):
                    writer.scalar(f"epoch/{key}", getattr(record, key), record.step)
        by_index = {layer.index: tag for layer, tag in zip(run.layers, tags, strict=False)}
        for snap in run.snapshots:
            tag = by_index.get(snap.layer_index)
            grad = np.asarray(snap.grad, dtype=float)
            if tag is not None and grad.size:
                writer.histogram(f"grad_hist/{tag}", grad, snap.step)
    (folder / "config.json").write_text(json.dumps(run.config.to_dict(), indent=2, sort_keys=True))
    return folder


def export_zip(runs: list[tuple[str, Run]], stats: Iterable[str] = DEFAULT_STATS) -> bytes:
    """A zip of one event folder per (name, run): unzip and `tensorboard --logdir <folder>`."""
    stats = tuple(stats)
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="vgrad-tb-") as tmp, \
            zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        used: set[str] = set()
        for i, (name, run) in enumerate(runs):
            dirname = safe_dirname(name) or f"run-{i}"
            while dirname in used:
                dirname = f"{dirname}-{i}"
            used.add(dirname)
            folder = export_run(run, tmp, dirname, stats)
            for path in sorted(folder.iterdir()):
                zf.write(path, f"vgrad-tensorboard/{dirname}/{path.name}")
    return buffer.getvalue()


def safe_dirname(name: str) -> str:
    """A folder name from any text (names are user text: no slashes, dots-only or control characters)."""
    text = re.sub(r"[^A-Za-z0-9_.-]+", "-", str(name)).strip("-.")[:60]
    return text or "run"


def _is_finite(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
