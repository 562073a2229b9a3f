"""The instrumented training loop: true per-layer gradients at every step, streamed as records.

    run = vgrad.train(vgrad.preset("notebook-deep-sigmoid"), on_record=print)

Every gradient comes from tf.GradientTape on the real loss (binary cross-entropy plus any
L1/L2 penalty) of the step's batch, before the optimizer applies it.

Speed: steps run in blocks inside one tf.function (a graph loop) that returns every statistic
of every step in one transfer. While that function traces (seconds for a deep net), the same
step runs eagerly, so records flow from the first step. Both paths execute the same ops.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

import numpy as np

from vgrad.config import RunConfig
from vgrad.records import BOUNDARY_GRID, BOUNDARY_LIMIT, DATA_POINTS_LIMIT, LAYER_STATS
from vgrad.run import Run

# Full kernel-gradient matrices kept per run: at most this many numbers in all ...
SNAPSHOT_BUDGET = 1_000_000
# ... and at most this many snapshot steps (step 0 and the last step always among them).
SNAPSHOT_MAX_STEPS = 100
# A compiled block is sized to take about this long, so records stream a few times a second.
BLOCK_SECONDS = 0.15

OnRecord = Callable[[dict], None]


def train(
    config: RunConfig,
    on_record: OnRecord | None = None,
    should_stop: Callable[[], bool] | None = None,
    pace: Callable[[], int | None] | None = None,
) -> Run:
    """Train `config` and return the Run; `on_record(record)` sees each record as it is made.

    should_stop: polled while training; when it returns True the run ends as "cancelled"
        within one step.
    pace: called before each block of steps; it may block (pause) and returns the most steps
        to run now (1 = single step) or None for no limit.
    """
    run = Run(config=config)

    def emit(record: dict) -> None:
        run.add(record)
        if on_record is not None:
            on_record(record)

    try:
        trainer = Trainer(config)
        trainer.run(emit, should_stop or (lambda: False), pace)
    except Exception as exc:  # a failed job is a result to show, not a crash
        emit({"kind": "status", "status": "failed", "step": run.last_step,
              "message": f"{type(exc).__name__}: {str(exc)[:500]}"})
    return run


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


def _clean(values: list) -> list:
    return [v if v == v and v not in (math.inf, -math.inf) else None for v in values]


class Trainer:
    """Holds the model, data and compiled functions of one training."""

    def __init__(self, config: RunConfig):
        import tensorflow as tf

        from vgrad import data as data_mod
        from vgrad import models

        self.tf = tf
        self.config = config
        self.rnn = config.family == "rnn"
        self.data = data_mod.load(config)
        self.built = models.build(config)
        self.model = self.built.model
        self.optimizer = self.built.optimizer
        self.vars = list(self.model.trainable_variables)
        position = {id(v): i for i, v in enumerate(self.vars)}
        kl = self.built.kernel_layers
        self.kernel_idx = [position[id(models.kernel_of(layer))] for layer in kl]
        self.bias_idx = [position.get(id(models.bias_of(layer))) for layer in kl]
        self.recurrent = [models.recurrent_kernel_of(layer) for layer in self.built.recurrent_layers]
        self.activations = [d["activation"] for d in self.built.layers]
        self.loss_fn = __import__("keras").losses.BinaryCrossentropy()
        self.x = tf.constant(self.data.x_train)
        self.y = tf.constant(self.data.y_train)
        self.x_val = tf.constant(self.data.x_val)
        self.y_val = tf.constant(self.data.y_val)
        self.n = int(self.data.x_train.shape[0])
        self.stop_flag = tf.Variable(False, trainable=False)
        self.rng = np.random.default_rng(config.seed)
        self.grid = self._grid() if config.n_features == 2 and not self.rnn else None
        self.block_fn = tf.function(self._block, reduce_retracing=True)
        self.eval_fn = tf.function(self._evaluate)
        self.compiled = False
        self.trace_error: BaseException | None = None

    # --- graph pieces (run eagerly or inside tf.function) ----------------------
    def step(self, x, y):
        """One optimizer step; returns (loss, norm, clipped norm, stats [L, S], kernel grads, dL/dx_t, sigma)."""
        tf = self.tf
        from vgrad.stats import layer_stats

        n_vars, n_layers = len(self.vars), len(self.kernel_idx)
        with tf.GradientTape() as tape:
            if self.rnn:
                tape.watch(x)
            outs = self.model(x, training=True)
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
        global_norm = tf.linalg.global_norm(g_vars)
        clipped_norm = tf.linalg.global_norm(self.optimizer._clip_gradients(g_vars))
        self.optimizer.apply_gradients(zip(g_vars, self.vars, strict=True))
        new = [tf.convert_to_tensor(k) for k in kernels]
        rows = []
        for j in range(n_layers):
            bias_grad = None if self.bias_idx[j] is None else g_vars[self.bias_idx[j]]
            rows.append(layer_stats(g_vars[self.kernel_idx[j]], bias_grad, acts[j], g_acts[j],
                                    self.activations[j], old[j], new[j]))
        stats = tf.stack(rows)
        k_grads = [g_vars[i] for i in self.kernel_idx]
        if self.rnn:
            gx = grads[-1]
            by_time = tf.reduce_mean(tf.norm(gx, axis=-1), axis=0)
            sigma = tf.stack([tf.linalg.svd(tf.convert_to_tensor(r), compute_uv=False)[0] for r in self.recurrent])
        else:
            by_time, sigma = tf.zeros([0]), tf.zeros([0])
        return loss, global_norm, clipped_norm, stats, k_grads, by_time, sigma

    def _block(self, perm, first, count):
        """`count` steps from batch number `first` of the epoch permutation `perm`, in one graph loop."""
        tf = self.tf
        bs, n = self.config.batch_size, self.n
        arrays = tuple(tf.TensorArray(tf.float32, size=count) for _ in range(6))
        k_grads = tuple(tf.zeros_like(tf.convert_to_tensor(self.vars[i])) for i in self.kernel_idx)

        def cond(i, arrays, k_grads):
            return tf.logical_and(i < count, tf.logical_not(self.stop_flag.read_value()))

        def body(i, arrays, k_grads):
            start = (first + i) * bs
            idx = perm[start:tf.minimum(start + bs, n)]
            loss, gn, gnc, stats, k_grads, by_time, sigma = self.step(tf.gather(self.x, idx), tf.gather(self.y, idx))
            values = (loss, gn, gnc, stats, by_time, sigma)
            arrays = tuple(a.write(i, v) for a, v in zip(arrays, values, strict=True))
            return i + 1, arrays, tuple(k_grads)

        done, arrays, k_grads = tf.while_loop(cond, body, (tf.constant(0), arrays, k_grads))
        return done, [a.stack() for a in arrays], list(k_grads)

    def _evaluate(self, with_grid: bool):
        tf = self.tf
        out = []
        for x, y in ((self.x, self.y), (self.x_val, self.y_val)):
            pred = self.model(x, training=False)[0]
            out.append(self.loss_fn(y, pred))
            out.append(tf.reduce_mean(tf.cast(tf.equal(tf.cast(pred > 0.5, tf.float32), y), tf.float32)))
        grid = self.model(self.grid[2], training=False)[0] if with_grid else tf.zeros([0, 1])
        return tf.stack(out), grid

    def _grid(self):
        x = np.concatenate([self.data.x_train, self.data.x_val])
        lo, hi = x.min(axis=0), x.max(axis=0)
        pad = (hi - lo) * 0.1 + 1e-6
        xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], BOUNDARY_GRID, dtype=np.float32)
        ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], BOUNDARY_GRID, dtype=np.float32)
        gx, gy = np.meshgrid(xs, ys)
        return xs, ys, self.tf.constant(np.stack([gx.ravel(), gy.ravel()], axis=1))

    # --- the loop ------------------------------------------------------------
    def start_records(self) -> list[dict]:
        c = self.config
        recs = [{"kind": "start", "layers": self.built.layers, "n_train": self.n,
                 "n_val": int(self.data.x_val.shape[0]), "steps_per_epoch": c.steps_per_epoch,
                 "total_steps": c.total_steps, "family": c.family, "seq_len": c.seq_len if self.rnn else 0,
                 "lr": c.learning_rate, "stats": list(LAYER_STATS)}]
        if self.grid is not None:
            k = min(self.n, DATA_POINTS_LIMIT)
            recs.append({"kind": "data", "x": self.data.x_train[:k].round(4).tolist(),
                         "y": self.data.y_train[:k, 0].astype(int).tolist()})
        recs.append(self.weights_record("initial"))
        return recs

    def weights_record(self, when: str) -> dict:
        kernel = np.asarray(self.vars[self.kernel_idx[0]])
        return {"kind": "weights", "when": when, "layer_index": 0, "kernel": kernel.tolist()}

    def _trace(self) -> None:
        tf = self.tf
        try:
            self.block_fn.get_concrete_function(
                tf.TensorSpec([None], tf.int32), tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int32))
            self.eval_fn.get_concrete_function(False)
            if self.grid is not None:
                self.eval_fn.get_concrete_function(True)
            self.compiled = True
        except BaseException as exc:  # fall back to eager steps
            self.trace_error = exc

    def run(self, emit: OnRecord, should_stop: Callable[[], bool], pace) -> None:
        tf = self.tf
        c = self.config
        for rec in self.start_records():
            emit(rec)
        floats = sum(int(np.prod(self.vars[i].shape)) for i in self.kernel_idx)
        snaps = snapshot_steps(c, floats)
        boundary_every = max(1, math.ceil(c.epochs / BOUNDARY_LIMIT))
        tracer = threading.Thread(target=self._trace, name="vgrad-trace", daemon=True)
        tracer.start()
        watcher_done = threading.Event()
        threading.Thread(target=self._watch, args=(should_stop, watcher_done), daemon=True).start()
        step, total, spe = 0, c.total_steps, c.steps_per_epoch
        step_seconds = 0.01
        status, message = "finished", ""
        history: list[float] = []
        perm = np.arange(self.n, dtype=np.int32)
        try:
            while step < total:
                epoch, first = divmod(step, spe)
                if first == 0:
                    perm = self.rng.permutation(self.n).astype(np.int32)
                if should_stop():
                    status = "cancelled"
                    break
                limit = pace() if pace else None
                if should_stop():
                    status = "cancelled"
                    break
                epoch_end = (epoch + 1) * spe
                to_snap = min(s for s in snaps if s >= step) + 1
                count = min(epoch_end, total, to_snap) - step
                if limit is not None:
                    count = max(1, min(count, int(limit)))
                t0 = time.perf_counter()
                if self.compiled:
                    count = max(1, min(count, int(BLOCK_SECONDS / step_seconds)))
                    done, arrays, k_grads = self.block_fn(tf.constant(perm), tf.constant(first, tf.int32),
                                                          tf.constant(count, tf.int32))
                    done = int(done)
                    arrays = [a.numpy() for a in arrays]
                    k_grads = [g.numpy() for g in k_grads] if done else []
                else:
                    idx = perm[first * c.batch_size:(first + 1) * c.batch_size]
                    out = self.step(tf.gather(self.x, idx), tf.gather(self.y, idx))
                    loss, gn, gnc, stats, k_grads, by_time, sigma = out
                    arrays = [np.array([t.numpy()]) for t in (loss, gn, gnc, stats, by_time, sigma)]
                    k_grads = [g.numpy() for g in k_grads]
                    done = count = 1
                if done:
                    step_seconds = 0.7 * step_seconds + 0.3 * (time.perf_counter() - t0) / done
                bad = self._emit_steps(emit, arrays, done, step, spe, history)
                if bad is not None:
                    status, message = "diverged", self._divergence_message(bad, history)
                    step = bad
                    break
                step += done
                if done and (step - 1) in snaps:
                    for j, g in enumerate(k_grads):
                        emit({"kind": "snapshot", "step": step - 1, "layer_index": j,
                              "grad": np.round(g.reshape(g.shape[0], -1), 9).tolist()})
                if done < count or (self.compiled and bool(self.stop_flag.numpy())):
                    status = "cancelled"
                    break
                if step % spe == 0 or step == total:
                    self._end_epoch(emit, (step - 1) // spe, step - 1, boundary_every)
        finally:
            watcher_done.set()
        emit(self.weights_record("final"))
        last = step - 1
        if status == "cancelled":
            message = f"stopped by request after {step} steps"
        elif status == "finished":
            message = f"trained {step} steps"
        emit({"kind": "status", "status": status, "step": last, "message": message})

    def _watch(self, should_stop, done: threading.Event) -> None:
        while not done.wait(0.02):
            if should_stop():
                self.stop_flag.assign(True)
                return

    def _emit_steps(self, emit, arrays, done, step0, spe, history) -> int | None:
        """Emit `done` step records; return the first non-finite step, if any."""
        losses, gn, gnc, stats, by_time, sigma = arrays
        names = list(LAYER_STATS)
        for i in range(done):
            s = step0 + i
            if not (math.isfinite(losses[i]) and math.isfinite(gn[i])):
                return s
            history.append(float(gn[i]))
            rec = {"kind": "step", "step": s, "epoch": s // spe, "loss": float(losses[i]),
                   "global_norm": float(gn[i]), "global_norm_clipped": float(gnc[i])}
            layer_rows = stats[i].T.tolist()
            for k, name in enumerate(names):
                rec[name] = _clean(layer_rows[k])
            if self.rnn:
                rec["input_grad_by_time"] = _clean(by_time[i].tolist())
                rec["recurrent_sigma_max"] = _clean(sigma[i].tolist())
            emit(rec)
        return None

    def _end_epoch(self, emit, epoch: int, step: int, boundary_every: int) -> None:
        c = self.config
        want_grid = self.grid is not None and (epoch % boundary_every == 0 or epoch == c.epochs - 1)
        fn = self.eval_fn if self.compiled else self._evaluate
        metrics, grid = fn(want_grid)
        m = _clean(metrics.numpy().tolist())
        emit({"kind": "epoch", "epoch": epoch, "step": step, "loss": m[0], "accuracy": m[1],
              "val_loss": m[2], "val_accuracy": m[3]})
        if want_grid:
            xs, ys, _ = self.grid
            prob = grid.numpy().reshape(len(ys), len(xs))
            emit({"kind": "boundary", "step": step, "epoch": epoch, "xs": xs.round(4).tolist(),
                  "ys": ys.round(4).tolist(), "prob": np.round(np.nan_to_num(prob, nan=0.5), 4).tolist()})

    def _divergence_message(self, step: int, history: list[float]) -> str:
        c = self.config
        peak = max(history) if history else math.nan
        why = (f"gradients exploded first (global norm reached {peak:.3g})" if peak > 1e3
               else "the loss overflowed")
        return (f"diverged at step {step} (epoch {step // c.steps_per_epoch}): the loss or a gradient became "
                f"NaN/Inf; {why}. Likely causes: learning rate {c.learning_rate:g} too large for "
                f"{c.optimizer}, a large init, or no clipping. Try a smaller learning rate or enable clipping.")
