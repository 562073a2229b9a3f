"""GradientMonitor: the gradient `fit` applies to your own Keras model, layer by layer, during `fit`.

    monitor = vgrad.GradientMonitor(x_probe, y_probe, every=5)
    model.fit(x, y, epochs=20, callbacks=[monitor])
    monitor.history            # tidy DataFrame: step, epoch, layer, layer_index, grad_norm, ...
    monitor.heatmap()          # Plotly figure: layer x step, log colour scale
    monitor.save("run.json")   # a vgrad run: import it on the Runs page

The measurement itself (compiled, side-effect free) is vgrad.train.probe.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd

from vgrad.config import ACTIVATIONS, CELLS, FIELDS, RunConfig
from vgrad.records import (
    LAYER_STATS,
    MAX_STEP,
    EpochRecord,
    Layer,
    StartRecord,
    Status,
    StatusRecord,
    StepRecord,
)
from vgrad.run import Run, steps_frame
from vgrad.train.probe import (
    MEASURE,
    PLAIN,
    SLOTS,
    SNAPSHOT,
    Probe,
    batch_rows,
    check_inputs,
    class_weights,
    find_layers,
    to_tensors,
)

MODES = ("training", "inference")
KERNEL_STATS = [k for k, name in enumerate(LAYER_STATS) if name.startswith("grad_")]
RATIO = list(LAYER_STATS).index("update_ratio")
# A measurement beside a step (_Beside) costs 0.5-0.65 ms less than one between steps on a small CNN,
# but the fused train function costs a trace: about 0.1 s more than Keras' own for a model that has not
# trained yet (Keras' is then never traced), about 0.4 s for one whose train function ran before. So a
# fit measures beside its steps when BESIDE_FRESH (trained before: BESIDE_FROM) measurements or more
# would run there: all but each epoch's last, which is measured when the epoch ends.
BESIDE_FRESH = 200
BESIDE_FROM = 1000
OPTIMIZERS = {"adam": "adam", "adamw": "adamw", "rmsprop": "rmsprop", "adagrad": "adagrad"}


class GradientMonitor(keras.callbacks.Callback):
    """Every `every` batches of `fit`, the gradient of the model's training loss on a fixed probe batch.

    Args:
        x: the probe inputs: an array, or a list or dict of arrays for a model with several inputs.
        y: the probe targets, structured like the model's outputs (None for a model whose loss is
            all `add_loss`).
        every: measure after every `every`-th batch (and after the first); 1 = every batch.
        sample_weight: per-example weights of the probe (an array, or one per output), as in `fit`.
        class_weight: {class index: weight}, turned into sample weights as `fit` does. Keras does not
            tell callbacks which weights `fit` got, so pass the same ones here.
        mode: "training" (default): the gradient `fit` computes, with BatchNorm on batch statistics
            and Dropout active; its masks are drawn from the seed states recorded when measuring starts
            (`seeds`), so every measurement uses the same masks. "inference": `training=False`.

    A step is measured when the next batch begins (or its epoch ends), on the weights it left, so the
    monitor needs no batch-end hook and Keras keeps dispatching those asynchronously. In a compiled
    fit long enough to pay for one more trace (BESIDE_FRESH measurements, BESIDE_FROM for a model
    trained before), that measurement runs inside Keras' train function, beside the next step (on
    another core when there is one); the numbers are the same.
    Each measurement is one compiled function run inside a Keras StatelessScope: it reads every
    variable and writes none, so weights, BatchNorm statistics, seed generators, metrics and the
    optimizer are left exactly as they were, and training with the monitor gives the same weights
    as without it. For every layer with a trainable kernel (Dense, Conv1D/2D/3D, Embedding, the cells of
    SimpleRNN/LSTM/GRU and Bidirectional, layers of nested models), in the order a forward pass calls
    them (input first), it records vgrad's per-layer statistics (LAYER_STATS), dL/da and activations
    included. Layers without a kernel are listed in `skipped`.

    Results: `records` (StepRecords), `epoch_records`, `layers`, `history` (DataFrame), `heatmap()`,
    `to_run()` / `save(path)` (a vgrad Run for the dashboard), `measure()` (the gradient now).

    Example:

        import keras, numpy as np, vgrad
        x = np.random.normal(size=(256, 4)).astype("float32"); y = (x[:, :1] > 0).astype("float32")
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="sigmoid"),
                                  keras.layers.Dropout(0.2), keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer="adam", loss="binary_crossentropy")
        monitor = vgrad.GradientMonitor(x[:32], y[:32], every=2)
        model.fit(x, y, epochs=2, verbose=0, callbacks=[monitor])
        monitor.history[["step", "layer", "grad_norm"]].tail()
    """

    def __init__(self, x: Any, y: Any = None, every: int = 1, *, sample_weight: Any = None,
                 class_weight: dict | None = None, mode: str = "training"):
        super().__init__()
        if keras.backend.backend() != "tensorflow":
            raise ValueError(f"KERAS_BACKEND: GradientMonitor needs Keras' TensorFlow backend, this Keras "
                             f"runs on {keras.backend.backend()!r}; set KERAS_BACKEND=tensorflow before "
                             "importing keras")
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every: expected a whole number >= 1, got {every!r}")
        if mode not in MODES:
            raise ValueError(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")
        if x is None:
            raise ValueError("x: the probe batch's inputs are required")
        if class_weight is not None and sample_weight is not None:
            raise ValueError("class_weight: give sample_weight or class_weight, not both (as in fit)")
        if class_weight is not None and not isinstance(class_weight, dict):
            raise TypeError("class_weight: expected a dict {class index: weight}, got "
                            f"{type(class_weight).__name__}")
        self.x, self.y = to_tensors(x, "x"), to_tensors(y, "y")
        if class_weight is not None:
            if self.y is None:
                raise ValueError("class_weight: needs the probe's targets y")
            sample_weight = class_weights(self.y, class_weight)
        self.sample_weight = to_tensors(sample_weight, "sample_weight")
        rows = batch_rows(self.x)
        if len(rows) != 1:
            raise ValueError(f"x: the probe's arrays must have the same number of rows, got {sorted(rows)}")
        self.n_probe = rows.pop()
        for name, value in (("y", self.y), ("sample_weight", self.sample_weight)):
            if batch_rows(value) - {self.n_probe}:
                raise ValueError(f"{name}: the probe's {name} has {sorted(batch_rows(value))[0]} rows, "
                                 f"x has {self.n_probe}")
        self.every, self.mode = every, mode
        self._reset()

    def _reset(self) -> None:
        self._records: list[StepRecord] = []
        self._raw: list[tuple[np.ndarray, int, bool, int]] = []  # measured, not yet records (see records)
        self.epoch_records: list[EpochRecord] = []
        self.layers: list[Layer] = []
        self.skipped: list[str] = []
        self._probe: Probe | None = None
        self._step = self._epoch = 0
        self._fresh = self._ratio_ok = False  # True: the kernel copies are the weights before this batch
        self._base = 0  # the global number of the epoch's first step
        self._running: tuple[int, int, int] | None = None  # the steps fit is running: first, how many, epoch
        self._status: Status | None = None
        self._diverged_at: int | None = None
        self._planned: tuple[int | None, int | None] = (None, None)  # epochs, steps per epoch
        self._pending: tuple[int, bool, int] | None = None  # due beside the next batch: step, ratio_ok, epoch
        self._queued: list[tuple[int, tuple[int, bool, int]]] = []  # measured beside batches: tag, due
        self._beside: _Beside | None = None

    # --- fit's hooks ---------------------------------------------------------------------------
    def on_train_begin(self, logs=None) -> None:
        model = self._model_checked()
        if self._probe is not None and self._probe.model is not model:  # another model: start over
            self._reset()
        params = self.params or {}
        self._planned = (params.get("epochs"), params.get("steps"))
        self._status, self._running, self._pending, self._queued = None, None, None, []
        if self._probe is None and _built(model):
            self._setup(model)  # else: a subclassed model fit builds in its first step
        self._install()

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self._epoch, self._base = epoch, self._step

    # no on_train_batch_end: the steps that just ran are measured here (see the class docstring)
    def on_train_batch_begin(self, batch, logs=None) -> None:
        start = self._base + batch
        self._flush(start, beside=True)
        if self._beside is not None:
            self._beside.armed = True
        size = int(getattr(self.model, "steps_per_execution", 1) or 1)  # steps this call of fit runs
        if self._probe is not None and self._due(start, start + size - 1) and not self._fresh:
            if self._beside is not None and self._beside.usable(self.model):
                self._beside.snap = True  # in the train function, before this batch's step
            else:
                self._probe.snapshot()
            self._fresh = True
        self._ratio_ok, self._fresh = self._probe is not None and self._fresh, False
        self._running = (start, size, self._epoch)

    def on_epoch_end(self, epoch, logs=None) -> None:
        if self._running is not None:
            start, size, _ = self._running
            per_epoch = self._planned[1]
            end = min(start + size, self._base + per_epoch) if per_epoch else start + size
            # an epoch ends after its last batch, a batch that stopped training, or a batch that found
            # no data (the data ran out; always so for data of unknown length): that one trained nothing
            ran = bool(getattr(self.model, "stop_training", False)) or (per_epoch and end == self._base + per_epoch)
            self._flush(end if ran else start)
        if self._step == 0:
            return
        logs = logs or {}
        acc = next((k for k in logs if k in ("accuracy", "acc")
                    or (k.endswith("_accuracy") and not k.startswith("val_"))), None)
        values = {"loss": logs.get("loss"), "accuracy": logs.get(acc), "val_loss": logs.get("val_loss"),
                  "val_accuracy": logs.get(f"val_{acc}")}
        if logs.get("loss") is not None and not _finite(logs["loss"]):
            self._diverge()
        self.epoch_records.append(EpochRecord(epoch=epoch, step=self._step - 1,
                                              **{k: _number(v) for k, v in values.items()}))

    def _flush(self, done: int, beside: bool = False) -> None:
        """`done` steps are done: measure the run of steps that ended, if one of them was due; with
        `beside`, in the next batch's train function when the monitor runs there (see _Beside)."""
        if self._running is None:
            return
        start, _, epoch = self._running
        self._running, self._step = None, max(self._step, done)
        self._collect()
        if done <= start:
            return
        if self._probe is None:
            self._setup(self.model)  # a model fit built in its first step
            self._install()
        if self._due(start, done - 1):
            if beside and self._beside is not None and self._beside.usable(self.model):
                self._pending = (done - 1, self._ratio_ok, epoch)
            else:
                self._measure_now(done - 1, self._ratio_ok, epoch)
            self._fresh = True

    def _collect(self) -> None:
        """A step due beside the next batch that the batch did not measure (its train function failed
        or ran out of data before training) is measured now, on the weights it left, still unchanged.
        If the batch trained with another train function than the monitor's, those weights are gone:
        the step is dropped."""
        if self._pending is not None:
            due, self._pending = self._pending, None
            if self._beside is not None and self._beside.installed(self.model):
                self._measure_now(*due)

    def _measure_now(self, step: int, ratio_ok: bool, epoch: int) -> None:
        self._drain()  # first what was measured beside the steps before
        self._keep(self._probe.measure(), step, ratio_ok, epoch)

    def _drain(self) -> None:
        """Keep what the batches measured beside their steps (one read of the probe's buffer)."""
        if not self._queued:
            return
        vectors, tags = self._probe.taken()
        for tag, due in self._queued:
            row = tag % SLOTS
            if tags[row] == tag:
                self._keep(vectors[row], *due)
        self._queued = []

    def _keep(self, vector, step: int, ratio_ok: bool, epoch: int) -> None:
        v = np.asarray(vector, dtype=float)  # a copy
        if _finite(v[0]) and _finite(v[1]):
            self._raw.append((v, step, ratio_ok, epoch))
        else:
            self._diverge(step)

    def _install(self) -> None:
        """Measure beside the training steps from now on in this fit, where Keras' train function allows
        and it pays: BESIDE_FRESH measurements there or more, BESIDE_FROM for a model trained before."""
        model = self.model
        epochs, per_epoch = self._planned
        if self._probe is None or not epochs or not per_epoch:
            return
        beside = epochs * (per_epoch - 1) // self.every  # each epoch's last step: measured as it ends
        if beside < (BESIDE_FRESH if _untrained(model) else BESIDE_FROM):
            return
        if self._beside is not None and self._beside.installed(model):
            return
        if self._beside is None or self._beside.model is not model:
            self._beside = _Beside.make(model, self._probe, self)
        if self._beside is not None:
            self._beside.install()

    def on_train_end(self, logs=None) -> None:
        if self._running is not None:  # fit stopped without ending its epoch
            self._flush(self._running[0] + 1)
        self._drain()
        if self._beside is not None:
            self._beside.uninstall()
        self._status = Status.DIVERGED if self._diverged_at is not None else Status.FINISHED

    # --- measuring -----------------------------------------------------------------------------
    def measure(self) -> StepRecord | None:
        """The gradient on the probe at the model's weights now (not added to `records`); None when
        the loss or the gradient is not finite."""
        model = self._model_checked()
        if self._probe is None:
            if not _built(model):
                raise ValueError("model: it is not built yet; call it on a batch or fit it first")
            self._setup(model)
        v = np.asarray(self._probe.measure(), dtype=float)
        self._fresh = True
        return self._record(v, self._step, False, self._epoch) if _finite(v[0]) and _finite(v[1]) else None

    @property
    def records(self) -> list[StepRecord]:
        """The measured steps, in order (a step whose loss or gradient was not finite has none). They
        are made from the measured vectors when asked for, so a monitored step stays light."""
        self._drain()
        if self._raw:
            self._records += [self._record(*raw) for raw in self._raw]
            self._raw = []
        return self._records

    @property
    def seeds(self) -> dict[str, np.ndarray]:
        """The seed generator states (variable path -> state) every measurement's dropout draws from."""
        return self._probe.seeds if self._probe is not None else {}

    def _due(self, first: int, last: int) -> bool:
        """Whether a step from `first` to `last` is measured: step 0 and every `every`-th."""
        return first == 0 or (last + 1) // self.every > first // self.every

    def _model_checked(self) -> keras.Model:
        model = self.model
        if model is None:
            raise ValueError("model: the monitor is not attached to a model; "
                             "pass it to fit(callbacks=[monitor])")
        if not getattr(model, "compiled", False):
            raise ValueError("model: it was never compiled; call model.compile(optimizer=..., loss=...) "
                             "first (the monitor takes the gradient of the compiled loss)")
        return model

    def _setup(self, model: keras.Model) -> None:
        check_inputs(model, self.x)
        try:  # build the compiled loss and metrics, as fit's first step would (no variable changes)
            model._symbolic_build(data_batch=(self.x, self.y, self.sample_weight))
        except Exception:  # noqa: BLE001 - tracing the probe below names what is wrong
            pass
        tracked, skipped = find_layers(model)
        if not tracked:
            raise ValueError("model: it has no layer with a trainable kernel (Dense, Conv, Embedding, "
                             "recurrent, ...), so there is nothing to measure")
        self._probe = Probe(model, tracked, self.x, self.y, self.sample_weight,
                            training=self.mode == "training")
        self.layers = [t.describe(i) for i, t in enumerate(self._probe.kept)]
        self.skipped = skipped + self._probe.unused
        self._fresh = True

    def _record(self, v: np.ndarray, step: int, ratio_ok: bool, epoch: int) -> StepRecord:
        """The StepRecord of a measured vector whose loss and global norm are finite."""
        stats = v[2:].reshape(len(self.layers), len(LAYER_STATS))
        stats[np.ix_(self._probe.no_grad, KERNEL_STATS)] = math.nan
        if not ratio_ok:
            stats[:, RATIO] = math.nan
        per_layer = {name: tuple(_number(x) for x in stats[:, k]) for k, name in enumerate(LAYER_STATS)}
        return StepRecord(step=step, epoch=epoch, loss=float(v[0]), global_norm=float(v[1]),
                          global_norm_clipped=None, **per_layer)

    def _diverge(self, step: int | None = None) -> None:
        if self._diverged_at is None:
            self._diverged_at = max(0, self._step - 1) if step is None else step

    # --- results -------------------------------------------------------------------------------
    @property
    def history(self) -> pd.DataFrame:
        """One row per recorded step x layer, the same columns as Run.steps_frame()."""
        return steps_frame(self.records, self.layers)

    def heatmap(self, stat: str = "grad_norm"):
        """vgrad's layer x step heatmap of `stat`, log colour scale, input layer at the bottom."""
        from vgrad.charts import gradient_heatmap

        return gradient_heatmap(self.records, self.layers, stat)

    def to_run(self, config: RunConfig | None = None) -> Run:
        """A vgrad Run of this training (open it on the Runs page). `config` defaults to a RunConfig
        that approximates the model (see approximate_config); `origin` says it is a notebook run."""
        config = config or approximate_config(self)
        epochs, per_epoch = self._planned
        done = self._step
        if not per_epoch:
            per_epoch = math.ceil(done / len(self.epoch_records)) if self.epoch_records else max(done, 1)
        total = done if self._status is not None else max(done, (epochs or 1) * per_epoch)
        start = StartRecord(layers=tuple(self.layers), n_train=min(per_epoch * config.batch_size, MAX_STEP),
                            n_val=0, steps_per_epoch=max(1, per_epoch), total_steps=total,
                            family=config.family, seq_len=config.seq_len if config.family == "rnn" else 0,
                            lr=config.learning_rate)
        run = Run(config=config, origin=self._origin())
        for record in [start, *self.records, *self.epoch_records, self._status_record()]:
            run.add(record)
        return run

    def save(self, path: str | Path) -> None:
        """Write `to_run().to_json()`: import the file on vgrad's Runs page."""
        Path(path).write_text(self.to_run().to_json(), encoding="utf-8")

    def _status_record(self) -> StatusRecord:
        last = self._step - 1
        measured = f"{len(self.records)} measured on a probe of {self.n_probe}"
        if self._diverged_at is not None:
            return StatusRecord(status=Status.DIVERGED, step=last, message=f"the loss stopped being finite "
                                f"at step {self._diverged_at} ({measured})")
        if self._status is None:
            return StatusRecord(status=Status.CANCELLED, step=last,
                                message=f"training did not finish: {self._step} steps ({measured})")
        return StatusRecord(status=Status.FINISHED, step=last,
                            message=f"trained {self._step} steps ({measured})")

    def _origin(self) -> dict:
        model = self.model
        origin: dict[str, Any] = {"kind": "notebook", "mode": self.mode, "every": self.every,
                                  "probe": self.n_probe, "layers": len(self.layers),
                                  "skipped": len(self.skipped), "keras": keras.__version__}
        if model is not None:
            origin.update(model=str(model.name)[:200], model_class=type(model).__name__[:200],
                          optimizer=type(getattr(model, "optimizer", None)).__name__[:200])
            if model.built:
                origin["parameters"] = int(model.count_params())
        return origin


class _Beside:
    """Measuring inside Keras' train function, beside the step (Probe.beside): no call of its own, and
    the measurement runs on another core while the step runs. Used for compiled `fit` with one step per
    call on the default distribution strategy; otherwise, and when tracing it fails, the monitor calls
    the measurement between steps instead. `fit` calls `model.train_function` each step; while a
    monitored fit runs, that is `call`, which runs the fused step when the monitor armed it (its batch
    hook does, every batch) and the step alone otherwise. A fused call measures the step due
    (`monitor._pending`) and queues it under the call's tag, or copies the kernels a due step starts
    from (`snap`), or only trains; the measurements stay in the probe's buffer until the monitor reads
    them (`_drain`: when SLOTS are queued, before a measurement between steps, at the end of fit), one
    read for many steps."""

    def __init__(self, model: keras.Model, probe: Probe, monitor: GradientMonitor):
        self.model, self.probe, self.monitor = model, probe, monitor
        self.plain: Any = None
        self.fused: Any = None
        self.armed = self.failed = self.ran = False
        self.snap = False  # the monitor wants the kernels copied before the next step (a snapshot)
        self.tag = 0  # the number the fused step's next call writes its measurement under (Probe.beside)

    @classmethod
    def make(cls, model: keras.Model, probe: Probe, monitor: GradientMonitor) -> _Beside | None:
        strategy = getattr(model, "distribute_strategy", None)
        if (getattr(model, "run_eagerly", False) or getattr(model, "jit_compile", False)
                or int(getattr(model, "steps_per_execution", 1) or 1) != 1
                or type(strategy).__name__ != "_DefaultDistributionStrategy"
                or not callable(getattr(model, "_make_function", None))):
            return None
        return cls(model, probe, monitor)

    def installed(self, model: keras.Model) -> bool:
        return self.model is model and getattr(model, "train_function", None) == self.call

    def usable(self, model: keras.Model) -> bool:
        return self.installed(model) and not self.failed  # installed: the fused function is made

    def install(self) -> None:
        current = getattr(self.model, "train_function", None)
        if self.failed or current is None or current == self.call:
            return
        if current is not self.plain:  # a new train function (compile again): make the fused one anew
            self.plain, self.fused, self.ran = current, None, False
        if self.fused is None:
            try:  # a private Keras method: should it change, measure between steps
                self.fused = self.model._make_function(self.probe.beside(self.model.train_step))
            except Exception:  # noqa: BLE001
                self.failed = True
                return
            self.tag = self.probe.calls()
        self.model.train_function = self.call

    def uninstall(self) -> None:
        if getattr(self.model, "train_function", None) == self.call:
            self.model.train_function = self.plain
        self.armed = False

    def call(self, iterator: Any) -> Any:
        if not self.armed or self.failed:  # not a batch of a monitored fit (one stopped by an error)
            return self.plain(iterator)
        self.armed = False
        monitor = self.monitor
        if len(monitor._queued) >= SLOTS:  # the buffer is full: read it before this call writes
            monitor._drain()
        due, monitor._pending = monitor._pending, None
        snap, self.snap = self.snap, False
        # a measurement leaves the kernel copies at these weights: a snapshot too
        self.probe.set_mode(MEASURE if due is not None else SNAPSHOT if snap else PLAIN)
        try:
            out = self.fused(iterator)
        except Exception as exc:  # noqa: BLE001 - StopIteration included: the data ran out, no step ran
            self.tag = self.probe.calls()
            if due is not None:  # measured between steps instead; the kernel copies may be this call's
                monitor._pending = (due[0], False, due[2])
            if snap:  # the step measured next has no kernels before it
                monitor._ratio_ok = False
            if self.ran or isinstance(exc, StopIteration):
                raise
            self.failed = True  # its first call traces it: the step alone raises what is wrong with the user's step
            monitor._collect()  # before the step changes the weights
            return self.plain(iterator)
        self.ran = True
        if due is not None:
            monitor._queued.append((self.tag, due))
            self.tag += 1
        return out


def approximate_config(monitor: GradientMonitor) -> RunConfig:
    """The RunConfig nearest the monitored model, for the dashboard's labels: optimizer and learning rate
    from the model's optimizer; epochs from fit; hidden layers, units and activation from the measured
    layers (recurrent: family rnn with its cell); n_features (and seq_len) from the probe's shape. Keras
    does not tell callbacks the batch size: it is left at 32, fit's default; every other field too."""
    values: dict[str, Any] = {}
    model = monitor.model
    optimizer = getattr(model, "optimizer", None)
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # a LossScaleOptimizer's
    kind = type(optimizer).__name__.lower()
    if kind == "sgd":
        values["optimizer"] = ("nesterov" if getattr(optimizer, "nesterov", False)
                               else "momentum" if getattr(optimizer, "momentum", 0) else "sgd")
    elif kind in OPTIMIZERS:
        values["optimizer"] = OPTIMIZERS[kind]
    if optimizer is not None and hasattr(optimizer, "learning_rate"):
        try:
            rate = float(f"{float(np.asarray(optimizer.learning_rate)):.7g}")  # 0.1, not 0.100000001
            values["learning_rate"] = _clip("learning_rate", rate)
        except (TypeError, ValueError):
            pass
    if monitor._planned[0]:
        values["epochs"] = _clip("epochs", monitor._planned[0])
    layers = monitor.layers
    hidden = layers[:-1] or layers
    if hidden:
        values["hidden_layers"] = _clip("hidden_layers", len(hidden))
        values["units"] = _clip("units", int(statistics.median(layer.units for layer in hidden)))
        activation = Counter(layer.activation for layer in hidden).most_common(1)[0][0]
        values["activation"] = activation if activation in ACTIVATIONS else "linear"
    cells = [layer.kind for layer in layers if layer.kind in CELLS]
    inputs = [tuple(t.shape) for t in keras.tree.flatten(monitor.x)]
    if cells:
        values.update(family="rnn", cell=cells[0], rnn_layers=_clip("rnn_layers", len(cells)))
        if values.get("activation") == "prelu":
            values["activation"] = "linear"
        if len(inputs) == 1 and len(inputs[0]) == 3:
            values["seq_len"] = _clip("seq_len", inputs[0][1])
    if len(inputs) == 1 and len(inputs[0]) >= 2:
        values["n_features"] = _clip("n_features", inputs[0][-1])
    return RunConfig(**values)


def _clip(name: str, value: float) -> Any:
    rule = FIELDS[name]
    value = min(max(value, rule.low), rule.high)
    return int(value) if rule.kind is int else float(value)


def _untrained(model: keras.Model) -> bool:
    """Whether the model's optimizer has made no step yet (so Keras has not traced its train function)."""
    try:
        return int(np.asarray(model.optimizer.iterations)) == 0
    except (AttributeError, TypeError, ValueError):
        return False


def _built(model: keras.Model) -> bool:
    return bool(model.built) and all(layer.built for layer in model._flatten_layers())


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _number(value: Any) -> float | None:
    return float(value) if _finite(value) else None
