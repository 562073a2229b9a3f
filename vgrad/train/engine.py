"""The instrumented training loop: true per-layer gradients at every step, streamed as records.

    run = vgrad.train(vgrad.preset("notebook-deep-sigmoid"), on_record=print)

Every gradient comes from tf.GradientTape on the real loss (binary cross-entropy, sparse categorical
cross-entropy for more classes, mean squared error for regression, plus any L1/L2 penalty) of the
step's batch, before the optimizer applies it.

Speed: each step is one call of a compiled tf.function that computes the update (fused, see
vgrad.train.optim) and every statistic in the same graph. While it traces (seconds for a deep net), the
same step runs eagerly, so records flow from the first step. Both paths execute the same ops, bit
for bit. A later training of the same architecture reuses the traced step (vgrad.train.compiled).
"""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Callable

import numpy as np

from vgrad.config import RunConfig
from vgrad.records import (
    BOUNDARY_GRID,
    BOUNDARY_LIMIT,
    DATA_POINTS_LIMIT,
    LAYER_STATS,
    BoundaryRecord,
    ConfusionRecord,
    DataRecord,
    EpochRecord,
    Layer,
    Record,
    SnapshotRecord,
    SpectrumRecord,
    StartRecord,
    Status,
    StatusRecord,
    StepRecord,
    WeightsRecord,
)
from vgrad.run import Run
from vgrad.train import compiled

# Full kernel-gradient matrices kept per run: at most this many numbers in all ...
SNAPSHOT_BUDGET = 1_000_000
# ... and at most this many snapshot steps (step 0 and the last step always among them).
SNAPSHOT_MAX_STEPS = 100
# While the compiled loop traces in a thread, Python switches threads this often (default 5 ms),
# so the eager steps are not starved of the GIL.
TRACE_SWITCH_SECONDS = 0.0002
# Runs this short stay eager: compiling would take longer than the run.
EAGER_ONLY_STEPS = 20
# Examples of the training set the Jacobian spectrum is taken on, and the most spectra a run keeps.
SPECTRUM_EXAMPLES = 16
SPECTRUM_MAX = 10

OnRecord = Callable[[Record], None]


_TRACES = {"count": 0, "switch": 0.005}
_TRACES_LOCK = threading.Lock()


def tracing() -> bool:
    """True while any training traces its step (Keras' global state must not be cleared then)."""
    with _TRACES_LOCK:
        return _TRACES["count"] > 0


def _tracing(delta: int) -> None:
    """Shorten Python's thread switch interval while any trace runs (traces can overlap in the service)."""
    with _TRACES_LOCK:
        if delta > 0 and _TRACES["count"] == 0:
            _TRACES["switch"] = sys.getswitchinterval()
            sys.setswitchinterval(TRACE_SWITCH_SECONDS)
        _TRACES["count"] += delta
        if _TRACES["count"] == 0:
            sys.setswitchinterval(_TRACES["switch"])


def train(
    config: RunConfig,
    on_record: OnRecord | None = None,
    should_stop: Callable[[], bool] | None = None,
    pace: Callable[[], int | None] | None = None,
) -> Run:
    """Train `config` and return the Run; `on_record(record)` sees each record as it is made.

    should_stop: asked before every step; when it returns True the run ends as "cancelled".
    pace: asked before a step once its last answer is used up; it may block (pause) and returns
        how many steps may run now (1 = single step) or None for no limit.
    """
    run = Run(config=config)

    def emit(record: Record) -> None:
        run.add(record)
        if on_record is not None:
            on_record(record)

    try:
        trainer = Trainer(config)
        try:
            trainer.run(emit, should_stop or (lambda: False), pace)
        finally:
            trainer.close()
    except Exception as exc:  # a failed job is a result to show, not a crash
        emit(StatusRecord(status=Status.FAILED, step=run.last_step, message=f"{type(exc).__name__}: {str(exc)[:500]}"))
    return run


def precompile(config: RunConfig) -> None:
    """Trace `config`'s step now (the service does this for the notebook presets at start), so its
    trainings, and those of the same architecture, are compiled from their first step."""
    trainer = Trainer(config)
    if not trainer.compiled:
        trainer._trace()
        if trainer.trace_error is not None:
            raise trainer.trace_error


def snapshot_steps(config: RunConfig, floats_per_step: int) -> set[int]:
    """Steps whose full kernel gradients are kept: a regular cadence within the budget."""
    total = config.total_steps
    most = max(2, min(SNAPSHOT_MAX_STEPS, SNAPSHOT_BUDGET // max(1, floats_per_step)))
    cadence = max(config.snapshot_every, math.ceil((total - 1) / (most - 1)) if total > 1 else 1, 1)
    steps = set(range(0, total, cadence))
    if len(steps) >= most:
        steps = set(sorted(steps)[: most - 1])
    steps.add(total - 1)
    return steps


def _clean(values: list) -> tuple:
    return tuple(v if v == v and v not in (math.inf, -math.inf) else None for v in values)


class Trainer:
    """Holds the model, data and compiled functions of one training."""

    def __init__(self, config: RunConfig):
        import tensorflow as tf

        from vgrad.train import data as data_mod
        from vgrad.train import models, tfsetup
        from vgrad.train.optim import fused_apply

        tfsetup.same_ops_in_graph()
        self.tf = tf
        self.config = config
        self.rnn = config.family == "rnn"
        self.data = data_mod.load(config)
        self.built = models.build(config)
        self.model = self.built.model
        self.optimizer = self.built.optimizer
        self.vars = list(self.model.trainable_variables)
        opt = self.optimizer
        self.clipping = bool(opt.clipnorm or opt.global_clipnorm or opt.clipvalue)
        self.apply = fused_apply(opt, self.vars)
        if self.apply is None:  # an optimizer feature the fused update does not cover
            opt.build(self.vars)
            models.plain_update_loop(opt)
            self.apply = lambda g, v: opt.apply_gradients(zip(g, v, strict=True))
        position = {id(v): i for i, v in enumerate(self.vars)}
        kl = self.built.kernel_layers
        self.kernel_idx = [position[id(models.kernel_of(layer))] for layer in kl]
        self.bias_idx = [position.get(id(models.bias_of(layer))) for layer in kl]
        self.recurrent = [models.recurrent_kernel_of(layer) for layer in self.built.recurrent_layers]
        self.activations = [d["activation"] for d in self.built.layers]
        self.task = config.task
        self.loss_fn = models.loss(config)
        self.x = tf.constant(self.data.x_train)
        self.y = tf.constant(self.data.y_train)
        self.x_val = tf.constant(self.data.x_val)
        self.y_val = tf.constant(self.data.y_val)
        self.x_all = tf.concat([self.x, self.x_val], 0)
        self.n = int(self.data.x_train.shape[0])
        self.rng = np.random.default_rng(config.seed)
        self.grid = self._grid() if config.n_features == 2 and not self.rnn else None
        # One compiled call per step: TF runs a step graph 3-4x faster than the same step in a
        # graph while_loop, and Python's per-call cost is small next to it.
        spec = [tf.TensorSpec([None], tf.int32), tf.TensorSpec([], tf.bool)]
        self.step_fn = tf.function(self._batch_step, input_signature=spec, autograph=False)
        self.grid_fn = tf.function(self._grid_prob, autograph=False)
        self.flags = {False: tf.constant(False), True: tf.constant(True)}
        self.compiled = False
        self.step_call = self.grid_call = None
        self.trace_error: BaseException | None = None
        c = config
        self.plain_chain = (c.family == "mlp" and c.batch_norm == "off" and not c.dropout and not c.residual_every
                            and not c.l1 and not c.l2 and c.activation not in ("leaky_relu", "prelu"))
        self.tracer = threading.Thread(target=self._trace, name="vgrad-trace", daemon=True)
        self.key = compiled.graph_key(config)
        self._reuse(compiled.lookup(self.key))

    # --- graph pieces (run eagerly or inside tf.function) ----------------------
    def step(self, x, y):
        """One optimizer step; returns (loss, norm, clipped norm, stats [L, S], kernel grads, dL/dx_t, sigma)."""
        tf = self.tf
        from vgrad.train.stats import layer_stats

        n_vars, n_layers = len(self.vars), len(self.kernel_idx)
        with tf.GradientTape() as tape:
            if self.rnn:
                tape.watch(x)
            outs = self._forward(x)
            pred, acts = outs[0], list(outs[1:])
            loss = self.loss_fn(y, pred)
            if self.model.losses:
                loss = loss + tf.add_n(self.model.losses)
        targets = self.vars + acts + ([x] if self.rnn else [])
        grads = tape.gradient(loss, targets)
        g_vars, g_acts = grads[:n_vars], grads[n_vars:n_vars + n_layers]
        g_vars = [tf.zeros_like(v) if g is None else g for g, v in zip(g_vars, self.vars, strict=True)]
        kernels = [self.vars[i] for i in self.kernel_idx]
        old = [tf.identity(tf.convert_to_tensor(k)) for k in kernels]
        if self.rnn:  # of the weights the gradient was taken at
            sigma = tf.stack([tf.linalg.svd(tf.convert_to_tensor(r), compute_uv=False)[0] for r in self.recurrent])
        global_norm = tf.linalg.global_norm(g_vars)
        clipped_norm = (tf.linalg.global_norm(self.optimizer._clip_gradients(g_vars)) if self.clipping
                        else global_norm)
        self.apply(g_vars, self.vars)
        new = [tf.convert_to_tensor(k) for k in kernels]
        k_grads = [g_vars[i] for i in self.kernel_idx]
        b_grads = [None if i is None else g_vars[i] for i in self.bias_idx]
        stats = layer_stats(k_grads, b_grads, acts, list(g_acts), self.activations, old, new)
        if self.rnn:
            gx = grads[-1]
            by_time = tf.reduce_mean(tf.norm(gx, axis=-1), axis=0)
        else:
            by_time, sigma = tf.zeros([0]), tf.zeros([0])
        return loss, global_norm, clipped_norm, stats, k_grads, by_time, sigma

    def _forward(self, x, training: bool = True):
        """[prediction, *activations]. A plain Dense chain runs as the ops Dense.call runs, without
        Keras' per-call overhead (5 ms a layer eagerly; a third of a trace), compiled or not."""
        if self.plain_chain:
            from keras import ops

            acts, h = [], x
            for layer in self.built.kernel_layers:
                h = layer.activation(ops.add(ops.matmul(h, layer.kernel), layer.bias))
                acts.append(h)
            return [h, *acts]
        return self.model(x, training=training)

    def _metrics(self):
        """[1, loss, score, val_loss, val_score] on the full sets, in inference mode (one forward pass
        over both sets: inference does not mix examples). The score is the accuracy, or R² for regression."""
        tf = self.tf
        pred = self._forward(self.x_all, training=False)[0]
        out = [tf.constant(1.0)]
        for p, y in ((pred[:self.n], self.y), (pred[self.n:], self.y_val)):
            out.append(self.loss_fn(y, p))
            if self.task == "regression":
                sse = tf.reduce_sum(tf.square(y - p))
                out.append(1.0 - sse / (tf.reduce_sum(tf.square(y - tf.reduce_mean(y))) + 1e-12))
            elif self.task == "multiclass":
                hit = tf.equal(tf.argmax(p, axis=-1, output_type=tf.int32), y)
                out.append(tf.reduce_mean(tf.cast(hit, tf.float32)))
            else:
                out.append(tf.reduce_mean(tf.cast(tf.equal(tf.cast(p > 0.5, tf.float32), y), tf.float32)))
        return tf.stack(out)

    def _grid_prob(self):
        return self._forward(self.grid[2], training=False)[0]

    def _batch_step(self, idx, evaluate):
        """One step on the training examples `idx`, then (if `evaluate`) the epoch metrics.

        Returns one flat vector (loss, norm, clipped norm, stats, dL/dx_t, sigma, 5 metrics), so a
        step costs one transfer, and the kernel gradients (read only when a snapshot is due).
        """
        tf = self.tf
        loss, gn, gnc, stats, k_grads, by_time, sigma = self.step(tf.gather(self.x, idx), tf.gather(self.y, idx))
        if isinstance(evaluate, bool):  # eager
            metrics = self._metrics() if evaluate else self._no_metrics()
        else:
            metrics = tf.cond(evaluate, self._metrics, self._no_metrics)
        packed = tf.concat([tf.stack([loss, gn, gnc]), tf.reshape(stats, [-1]), by_time, sigma, metrics], 0)
        return packed, k_grads

    def _no_metrics(self):
        return self.tf.constant([0.0] + [float("nan")] * 4)

    def _grid(self):
        x = np.concatenate([self.data.x_train, self.data.x_val])
        lo, hi = x.min(axis=0), x.max(axis=0)
        pad = (hi - lo) * 0.1 + 1e-6
        xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], BOUNDARY_GRID, dtype=np.float32)
        ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], BOUNDARY_GRID, dtype=np.float32)
        gx, gy = np.meshgrid(xs, ys)
        return xs, ys, self.tf.constant(np.stack([gx.ravel(), gy.ravel()], axis=1))

    # --- the loop ------------------------------------------------------------
    def start_records(self) -> list[Record]:
        c = self.config
        recs: list[Record] = [StartRecord(
            layers=tuple(Layer(**d) for d in self.built.layers), n_train=self.n,
            n_val=int(self.data.x_val.shape[0]), steps_per_epoch=c.steps_per_epoch, total_steps=c.total_steps,
            family=c.family, seq_len=c.seq_len if self.rnn else 0, lr=c.learning_rate, task=self.task,
            classes=self.data.classes, n_features=int(self.data.x_train.shape[-1]),
            input_q=None if self.rnn else float(np.mean(np.square(self.data.x_train))))]
        if self.grid is not None:
            k = min(self.n, DATA_POINTS_LIMIT)
            y = self.data.y_train[:k].reshape(-1)
            if self.task == "regression":  # in the target's own units
                labels = tuple(np.round(y * self.data.target_std + self.data.target_mean, 4).tolist())
            else:
                labels = tuple(y.astype(int).tolist())
            recs.append(DataRecord(x=_matrix(self.data.x_train[:k].round(4)), y=labels))
        recs.append(self.weights_record("initial"))
        return recs

    def spectrum_maps(self, frozen: bool = False):
        """(x -> a_1, a_1 -> a_last) as Keras models sharing the network's layers, or copies holding the
        weights as they are now (`frozen`); None where the map is not a chain (rnn, skips, 1 layer)."""
        c = self.config
        if self.rnn or c.residual_every or c.hidden_layers < 2 or c.spectrum == "off":
            return None
        import keras

        outs = self.model.outputs  # [prediction, a_1, ..., a_L, output]
        maps = (keras.Model(self.model.inputs, outs[1]), keras.Model(outs[1], outs[c.hidden_layers]))
        if not frozen:
            return maps
        copies = tuple(keras.models.clone_model(m) for m in maps)
        for m, copy in zip(maps, copies, strict=True):
            copy.set_weights(m.get_weights())
        return copies

    def spectrum_record(self, step: int, maps) -> SpectrumRecord | None:
        """Singular values of d a_last / d a_first (the hidden layers' outputs) on the first training
        examples, in inference mode; the Jacobian by forward-mode differentiation, a column per unit."""
        if maps is None:
            return None
        tf = self.tf
        first, rest = maps
        a1 = tf.convert_to_tensor(first(self.x[:SPECTRUM_EXAMPLES], training=False))
        examples, units = a1.shape
        primal = tf.repeat(a1, units, axis=0)  # row (i, j): example i, pushed along unit j
        with tf.autodiff.ForwardAccumulator(primal, tf.tile(tf.eye(units), [examples, 1])) as acc:
            out = rest(primal, training=False)
        jac = tf.transpose(tf.reshape(acc.jvp(out), [examples, units, -1]), [0, 2, 1])  # [examples, out, in]
        values = tf.linalg.svd(jac, compute_uv=False).numpy().reshape(-1)
        values = values[np.isfinite(values)]
        if not values.size:
            return None
        return SpectrumRecord(step=step, first_layer=0, last_layer=self.config.hidden_layers - 1,
                              examples=int(examples), values=tuple(float(v) for v in values))

    def weights_record(self, when: str) -> WeightsRecord:
        kernel = np.asarray(self.vars[self.kernel_idx[0]])
        return WeightsRecord(when=when, layer_index=0, kernel=_matrix(kernel))

    def _data(self) -> list:
        """The data tensors the compiled functions read."""
        return [self.x, self.y, self.x_val, self.y_val, self.x_all] + ([self.grid[2]] if self.grid is not None else [])

    def _sources(self) -> list:
        """Everything a compiled step may capture: variables (as handles) and data tensors."""
        variables = list(self.model.variables) + list(self.optimizer.variables)
        slots = getattr(self.apply, "slots", {})
        variables += [v for name in sorted(slots) for v in slots[name]]
        return [v.handle for v in variables] + self._data()

    def _reuse(self, hit: compiled.Compiled | None) -> None:
        """Use the compiled functions of an earlier training of the same architecture."""
        if hit is None or (hit.grid is None) != (self.grid is None):
            return
        sources = self._sources()
        self.step_call = compiled.bind(hit.step, hit.step_roles, sources)
        if hit.grid is not None:
            self.grid_call = compiled.bind(hit.grid, hit.grid_roles, sources)
        self.compiled = True

    def _trace(self) -> None:
        _tracing(+1)  # let eager steps get the GIL back promptly
        try:
            step_cf = self.step_fn.get_concrete_function()
            grid_cf = self.grid_fn.get_concrete_function() if self.grid is not None else None
            # Called as concrete functions: skips tf.function's per-call dispatch (~0.8 ms a step).
            self.step_call, self.grid_call = step_cf, grid_cf
            self.compiled = True
            sources = self._sources()
            step_roles = compiled.roles(step_cf, sources)
            grid_roles = compiled.roles(grid_cf, sources) if grid_cf is not None else ()
            if step_roles is not None and grid_roles is not None:
                nbytes = sum(int(np.prod(t.shape)) * 4 for t in [*self.model.variables, *self._data()])
                compiled.store(self.key, compiled.Compiled(step_cf, step_roles, grid_cf, grid_roles, nbytes))
        except BaseException as exc:  # fall back to eager steps
            self.trace_error = exc
        finally:
            _tracing(-1)

    def run(self, emit: OnRecord, should_stop: Callable[[], bool], pace) -> None:
        tf = self.tf
        c = self.config
        for rec in self.start_records():
            emit(rec)
        step, total, spe, bs = 0, c.total_steps, c.steps_per_epoch, c.batch_size
        floats = sum(int(np.prod(self.vars[i].shape)) for i in self.kernel_idx)
        snaps = snapshot_steps(c, floats)
        last_epoch = (total - 1) // spe
        every = max(1, math.ceil((last_epoch + 1) / BOUNDARY_LIMIT))
        boundary_steps = set()
        if self.grid is not None:
            boundary_steps = {min((e + 1) * spe, total) - 1 for e in range(last_epoch + 1)
                              if e % every == 0 or e == last_epoch}
        status, message = Status.FINISHED, ""
        history: list[float] = []
        perm = np.arange(self.n, dtype=np.int32)
        allowed = None  # steps pace() allows before it is asked again
        at_init = self.spectrum_maps(frozen=True)  # measured after the first step record, not before it
        spectrum_steps = set(sorted(snaps)[1:][::max(1, math.ceil(len(snaps) / SPECTRUM_MAX))][:SPECTRUM_MAX - 1]
                             if c.spectrum == "snapshots" else [])
        spectrum = None
        while step < total:
            if should_stop():
                status = Status.CANCELLED
                break
            if pace is not None and not allowed:
                allowed = pace()
                if should_stop():
                    status = Status.CANCELLED
                    break
            if step in spectrum_steps:  # at the weights this step's gradient is taken at
                spectrum = self.spectrum_record(step, self.spectrum_maps())
            epoch, batch = divmod(step, spe)
            if batch == 0:
                perm = self.rng.permutation(self.n).astype(np.int32)  # one shuffle per epoch
            idx = tf.constant(perm[batch * bs:(batch + 1) * bs])
            fast = self.compiled
            ends = batch == spe - 1 or step == total - 1
            packed, k_grads = (self.step_call(idx, self.flags[ends]) if fast else self._batch_step(idx, ends))
            if self._emit_step(emit, step, packed.numpy(), history):
                status, message = Status.DIVERGED, self._divergence_message(step, history)
                break
            if at_init is not None:
                spectrum, at_init = self.spectrum_record(0, at_init), None
            if spectrum is not None:
                emit(spectrum)
                spectrum = None
            if step in snaps:
                for j, g in enumerate(k_grads):
                    g = g.numpy()
                    emit(SnapshotRecord(step=step, layer_index=j, grad=_matrix(g.reshape(g.shape[0], -1))))
            if step in boundary_steps:
                emit(self._boundary_record(step, (self.grid_call() if fast else self._grid_prob()).numpy()))
            if (self.tracer.ident is None and not self.compiled and total > EAGER_ONLY_STEPS
                    and step + 1 < total):
                self.tracer.start()  # after the first record, so it does not delay it
            step += 1
            if allowed is not None:
                allowed -= 1
        if status != Status.DIVERGED and self.task != "regression" and step > 0:
            emit(self.confusion_record(step - 1))
        emit(self.weights_record("final"))
        if status == Status.CANCELLED:
            message = f"stopped by request after {step} steps"
        elif status == Status.FINISHED:
            message = f"trained {step} steps"
        emit(StatusRecord(status=status, step=step - 1, message=message))

    def close(self) -> None:
        """Wait for a trace still under way (a short run can end first)."""
        if self.tracer.ident is not None:
            self.tracer.join()

    def _emit_step(self, emit, s: int, packed: np.ndarray, history: list[float]) -> bool:
        """Emit one step record (and the epoch record at an epoch end); True if it is non-finite."""
        n_layers, n_stats = len(self.kernel_idx), len(LAYER_STATS)
        loss, gn, gnc = packed[:3]
        end = 3 + n_layers * n_stats
        stats = packed[3:end].reshape(n_layers, n_stats)
        by_time = packed[end:end + (self.config.seq_len if self.rnn else 0)]
        sigma = packed[end + len(by_time):-5]
        metrics = packed[-5:] if packed[-5] == 1.0 else None
        if not (math.isfinite(loss) and math.isfinite(gn)):
            return True
        history.append(float(gn))
        spe = self.config.steps_per_epoch
        table = stats.T
        columns = [tuple(c) for c in table.tolist()]
        for k in np.flatnonzero(~np.isfinite(table).all(axis=1)):  # NaN/Inf -> None, JSON-safe
            columns[k] = _clean(columns[k])
        rnn = dict(input_grad_by_time=_clean(by_time.tolist()), recurrent_sigma_max=_clean(sigma.tolist())
                   ) if self.rnn else {}
        emit(StepRecord(step=s, epoch=s // spe, loss=float(loss), global_norm=float(gn),
                        global_norm_clipped=float(gnc), **dict(zip(LAYER_STATS, columns, strict=True)), **rnn))
        if metrics is not None:
            m = _clean(metrics[1:].tolist())
            if self.task == "regression":
                emit(EpochRecord(epoch=s // spe, step=s, loss=m[0], val_loss=m[2], r2=m[1], val_r2=m[3]))
            else:
                emit(EpochRecord(epoch=s // spe, step=s, loss=m[0], accuracy=m[1], val_loss=m[2], val_accuracy=m[3]))
        return False

    def confusion_record(self, step: int) -> ConfusionRecord:
        """True x predicted class counts on both sets, with the weights at the end."""
        k = max(2, len(self.data.classes))
        matrices = []
        for x, y in ((self.x, self.data.y_train), (self.x_val, self.data.y_val)):
            p = np.asarray(self._forward(x, training=False)[0])
            pred = p.argmax(axis=-1) if self.task == "multiclass" else (p.reshape(-1) > 0.5).astype(int)
            m = np.zeros((k, k), dtype=int)
            np.add.at(m, (y.reshape(-1).astype(int), pred.astype(int)), 1)
            matrices.append(tuple(map(tuple, m.tolist())))
        classes = self.data.classes or ("0", "1")
        return ConfusionRecord(step=step, classes=classes, train=matrices[0], val=matrices[1])

    def _boundary_record(self, step: int, pred: np.ndarray) -> BoundaryRecord:
        """P(class 1) on the grid; multi-class: the winning class and its probability; regression: the
        prediction in the target's units."""
        xs, ys, _ = self.grid
        shape, label = (len(ys), len(xs)), None
        if self.task == "multiclass":
            pred = np.nan_to_num(pred, nan=0.0)
            label = tuple(map(tuple, pred.argmax(axis=-1).reshape(shape).tolist()))
            value = pred.max(axis=-1)
        elif self.task == "regression":
            value = np.nan_to_num(pred.reshape(-1) * self.data.target_std + self.data.target_mean, nan=0.0,
                                  posinf=0.0, neginf=0.0)
        else:
            value = np.nan_to_num(pred.reshape(-1), nan=0.5, posinf=1.0, neginf=0.0)
        return BoundaryRecord(step=step, epoch=step // self.config.steps_per_epoch, xs=tuple(xs.round(4).tolist()),
                              ys=tuple(ys.round(4).tolist()), prob=_matrix(np.round(value.reshape(shape), 4)),
                              label=label)

    def _divergence_message(self, step: int, history: list[float]) -> str:
        c = self.config
        peak = max(history) if history else math.nan
        why = (f"gradients exploded first (global norm reached {peak:.3g})" if peak > 1e3
               else "the loss overflowed")
        return (f"diverged at step {step} (epoch {step // c.steps_per_epoch}): the loss or a gradient became "
                f"NaN/Inf; {why}. Likely causes: learning rate {c.learning_rate:g} too large for "
                f"{c.optimizer}, a large init, or no clipping. Try a smaller learning rate or enable clipping.")


def _matrix(a: np.ndarray) -> tuple:
    """A 2-D array as a tuple of row tuples (float)."""
    return tuple(map(tuple, np.asarray(a, dtype=float).tolist()))
