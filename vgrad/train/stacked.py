"""Train many networks of one architecture as one stacked model, in one compiled step.

Networks that differ only in values (seed, init scale, initializer, biases, learning rate) train
together: every weight gets a leading ensemble axis [E, ...], layers are batched matmuls, and the
step minimises the sum of the per-network losses, so each network gets exactly its own gradient
and keeps its own optimizer state (the updates are elementwise; clipping is computed per network).

    from vgrad.train.stacked import Stack
    nets = Stack([RunConfig(seed=s, activation="tanh") for s in range(4)]).train()
    nets[0].grad_start          # kernel-gradient norm per layer at step 0, as vgrad.train measures it

Each network starts from the weights vgrad.train would build (the same initializers and seeds),
sees the same batches in the same order (one `default_rng(seed).permutation` per epoch) and ends
where a sequential vgrad.train of its config ends, bit for bit where TensorFlow's kernels allow:

- a batched matmul rounds like the 2-D MatMul for most shapes, but not all (oneDNN and Eigen pick
  other kernels for a 1-column output or a small batch): `_plan` tries each shape once and uses, per
  batch size, a batched matmul, a broadcast product summed over the inner axis, or 2-D MatMuls per
  network, whichever rounds alike;
- exp, log1p and the activations built on them round differently in the scalar tail of a tensor
  whose size is not a multiple of the SIMD width: those run per network when a network's tensor
  has such a tail (the loss of the notebook's last batch of 11 examples, for one);
- Keras adds biases with tf.nn.bias_add, whose gradient sums the batch in its own order: the same op
  runs on the stack, transposed.

Speed: a hidden layer and the output layer with its loss are each one shared tf.function, traced
once per shape for every depth and every stack; the step is optimised without Grappler (its passes
take seconds on these graphs and change no number here).

Binary-classification dense nets only: `vgrad.sweep.unstackable(config)` names what trains one at a
time (rnn, multi-class or regression, batch norm, dropout, prelu). gelu matches to rounding only
(~1e-7 a step): vgrad.train's own compiled step fuses it (oneDNN) where its eager step does not.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from vgrad.config import RunConfig
from vgrad.sweep import STACK_FIELDS, stack_key, unstackable

# Activations whose SIMD and scalar code paths round differently (exp, log1p, erf inside).
TAIL_SENSITIVE = frozenset({"sigmoid", "elu", "selu", "gelu", "swish"})
# Floats per SIMD packet on AVX-512 (a multiple of the AVX width): a tensor of another size has a tail.
PACKET = 16

# The broadcast product of "rsum" holds E x B x n x m floats: at most this many.
RSUM_MAX = 2**22
_PLANS: dict[tuple, dict[str, tuple[str, ...]]] = {}


@dataclass
class NetResult:
    """What one network of a stack measured (the numbers a sweep cell keeps)."""

    config: RunConfig
    grad_start: np.ndarray  # kernel-gradient norm per layer (input -> output) at step 0
    loss_start: float  # the first batch's loss (penalties included), as step 0's record
    grad_end: np.ndarray | None = None  # at the last step that stayed finite
    steps: int = 0  # steps done without diverging
    diverged: bool = False
    epochs: list[tuple[int, float, float, float, float]] = field(default_factory=list)  # step, loss, acc, val...

    def final(self) -> dict[str, float]:
        """Loss and accuracy on the full training and validation sets after the last epoch (nan if none)."""
        last = self.epochs[-1] if self.epochs else (0, math.nan, math.nan, math.nan, math.nan)
        return dict(zip(("loss", "accuracy", "val_loss", "val_accuracy"), last[1:], strict=True))

    def steps_to_loss(self, threshold: float) -> int | None:
        """Steps done when an epoch's training loss first fell to `threshold` (as Run.steps_to_loss)."""
        for step, loss, *_ in self.epochs:
            if math.isfinite(loss) and loss <= threshold:
                return step + 1
        return None


def initial_weights(config: RunConfig) -> dict[str, np.ndarray]:
    """The initial values vgrad.train.models.build(config) gives each weight, by layer name."""
    from vgrad.train import models

    c, out, width = config, {}, config.n_features
    block_width = width
    for i in range(c.hidden_layers):
        out[f"dense_{i + 1}/kernel"] = _value(models.kernel_initializer(c, i, width), (width, c.units))
        out[f"dense_{i + 1}/bias"] = (_value(models.bias_initializer(c, i), (c.units,)) if c.bias_std > 0
                                      else np.full((c.units,), c.bias_init, np.float32))  # Keras' Constant
        if c.residual_every and (i + 1) % c.residual_every == 0:
            if block_width != c.units:
                out[f"skip_proj_{i + 1}/kernel"] = _value(models.kernel_initializer(c, 1000 + i, block_width),
                                                          (block_width, c.units))
            block_width = c.units
        width = c.units
    out["output/kernel"] = _value(models.kernel_initializer(c, c.hidden_layers, width), (width, 1))
    out["output/bias"] = np.full((1,), c.bias_init, np.float32)
    return out


def _value(initializer, shape) -> np.ndarray:
    return np.asarray(initializer(shape, "float32"), dtype=np.float32)


class Stack:
    """E networks of one architecture: stacked weights, optimizer slots and the compiled step."""

    def __init__(self, configs: Sequence[RunConfig]):
        import tensorflow as tf

        from vgrad.train import data as data_mod
        from vgrad.train import models, tfsetup

        if not configs:
            raise ValueError("configs: expected at least one RunConfig")
        configs = list(configs)
        keys = {stack_key(c) for c in configs}
        if len(keys) > 1:
            raise ValueError("configs: every config of a stack must share its architecture, data and training "
                             "settings (they may differ only in " + ", ".join(sorted(STACK_FIELDS)) + ")")
        why = unstackable(configs[0])
        if why:
            raise ValueError(f"configs: {why}")
        tfsetup.same_ops_in_graph()
        self.tf = tf
        self.configs = configs
        self.config = c = configs[0]
        self.E = len(configs)
        self.data = data_mod.load(c)
        self.n = int(self.data.x_train.shape[0])
        self.x = tf.constant(self.data.x_train)
        self.y = tf.constant(self.data.y_train)
        self.x_all = tf.constant(np.concatenate([self.data.x_train, self.data.x_val]))
        self.opt = models.make_optimizer(c)  # the source of every optimizer setting (not built)
        inits = [initial_weights(cfg) for cfg in configs]
        self.names = list(inits[0])
        self.vars = [tf.Variable(np.stack([w[name] for w in inits])[:, None, :] if name.endswith("/bias")
                                 else np.stack([w[name] for w in inits]), name=name.replace("/", "_"))
                     for name in self.names]
        self.kernel_idx = [i for i, n in enumerate(self.names) if n.endswith("/kernel") and not n.startswith("skip")]
        self.by_name = dict(zip(self.names, self.vars, strict=True))
        lrs = np.array([cfg.learning_rate for cfg in configs], np.float32)
        self.lr = tf.constant(lrs[0]) if np.all(lrs == lrs[0]) else tf.constant(lrs.reshape(-1, 1, 1))
        self.kind = _kind(self.opt)
        start = self.opt.initial_accumulator_value if self.kind == "Adagrad" else 0.0
        from vgrad.train.optim import SLOTS

        self.slots = {name: [tf.Variable(tf.fill(v.shape, tf.constant(start, tf.float32)), trainable=False)
                             for v in self.vars] for name in SLOTS[self.kind]}
        self.rngs = [np.random.default_rng(cfg.seed) for cfg in configs]
        self.y_val = tf.constant(self.data.y_val)
        rest = self.n % c.batch_size
        n_all = int(self.x_all.shape[0])  # batch sizes the graph sees: the sizes its matmuls are checked at
        self.sizes = tuple(sorted({min(c.batch_size, self.n), *([rest] if rest else []), n_all}))
        self._call = None
        self.eager = False  # layers as plain ops (measure_init), not the shared tf.functions

    # --- the graph ---------------------------------------------------------------
    def _hidden(self, x):
        """Hidden layers on x [E, B, F] -> the last hidden output [E, B, units]. Each layer is a call of
        one shared tf.function (`_layer`): traced once per shape, for every depth and every stack."""
        tf, c, v = self.tf, self.config, self.by_name
        layer = _layer if self.eager else _function("layer")
        h, block_input, block_width = x, x, c.n_features
        for i in range(c.hidden_layers):
            k, b = (tf.convert_to_tensor(v[f"dense_{i + 1}/{n}"]) for n in ("kernel", "bias"))
            h = layer(h, k, b, c.activation, c.leaky_alpha, self.sizes, i > 0)
            if c.residual_every and (i + 1) % c.residual_every == 0:
                skip = block_input
                if block_width != c.units:
                    proj = tf.convert_to_tensor(v[f"skip_proj_{i + 1}/kernel"])
                    skip = _mm(tf, block_input, proj, block_input is not x, self.sizes)
                h = h + skip
                block_input, block_width = h, c.units
        return h

    def _loss(self, x, y):
        """Per-network loss [E] as vgrad.train computes it: Keras' BinaryCrossentropy of the sigmoid
        output, plus the L1/L2 penalties (see `_head`)."""
        tf, v = self.tf, self.by_name
        loss = (_head if self.eager else _function("head"))(self._hidden(x), tf.convert_to_tensor(v["output/kernel"]),
                                 tf.convert_to_tensor(v["output/bias"]), y, self.sizes)
        c = self.config
        if c.l1 or c.l2:
            penalties = []
            for name in self.names:  # Keras' L1L2 on each hidden kernel, in layer order
                if name.endswith("/kernel") and name.startswith("dense_"):
                    w = self.by_name[name]
                    p = tf.zeros([self.E], tf.float32)
                    if c.l1:
                        p = p + c.l1 * tf.reduce_sum(tf.abs(w), [1, 2])
                    if c.l2:
                        p = p + c.l2 * tf.reduce_sum(tf.square(w), [1, 2])
                    penalties.append(p)
            loss = loss + tf.add_n(penalties)
        return loss

    def _step(self, idx, t, evaluate):
        """One step of every network on its own batch idx [E, B]; t = the optimizer's step number (1, 2, ...);
        `evaluate` (a bool tensor, or None: no update) adds the full-set metrics after the update.

        Returns [E, 6 + layers]: loss, global gradient norm, 4 metrics (nan unless evaluated), and the
        kernel-gradient norm per layer."""
        tf = self.tf
        x, y = tf.gather(self.x, idx), tf.gather(self.y, idx)
        with tf.GradientTape() as tape:
            loss = self._loss(x, y)
        grads = tape.gradient(loss, self.vars)
        grads = [tf.zeros_like(v) if g is None else g for g, v in zip(grads, self.vars, strict=True)]
        sq = [tf.reduce_sum(tf.square(g), list(range(1, g.shape.rank))) for g in grads]
        global_norm = tf.sqrt(tf.add_n(sq))
        layer_norms = tf.stack([tf.sqrt(sq[i]) for i in self.kernel_idx], axis=1)
        nan = tf.fill([self.E, 4], float("nan"))
        if evaluate is None:
            metrics = nan
        else:
            self._apply(self._clip(grads), t)
            with tf.control_dependencies([global_norm]):
                metrics = tf.cond(evaluate, self._metrics, lambda: nan)
        return tf.concat([tf.stack([loss, global_norm], axis=1), metrics, layer_norms], axis=1)

    def _clip(self, grads: list) -> list:
        """Keras' clipping (optimizer._clip_gradients), computed for each network on its own gradients."""
        tf, o = self.tf, self.opt
        if o.clipnorm and o.clipnorm > 0:
            out = []
            for g in grads:  # each network's norm of this variable (a full sum per slice, as Keras does)
                nets = []
                for s in tf.unstack(g):
                    l2sum = tf.reduce_sum(tf.square(s), keepdims=True)
                    pred = l2sum > 0
                    l2norm = tf.where(pred, tf.sqrt(tf.where(pred, l2sum, tf.ones_like(l2sum))), l2sum)
                    nets.append(tf.multiply(s, o.clipnorm) / tf.maximum(l2norm, o.clipnorm))
                out.append(tf.stack(nets))
            return out
        if o.global_clipnorm and o.global_clipnorm > 0:
            per_var = [tf.unstack(g) for g in grads]
            scales = []
            for e in range(self.E):
                norm = tf.sqrt(tf.reduce_sum(tf.stack([tf.reduce_sum(tf.square(v[e])) for v in per_var])))
                clip = o.global_clipnorm
                scales.append(clip * tf.minimum(1.0 / norm, 1.0 / clip) + (norm - norm))
            scale = tf.stack(scales)
            return [g * tf.reshape(scale, [-1] + [1] * (g.shape.rank - 1)) for g in grads]
        if o.clipvalue and o.clipvalue > 0:
            return [tf.clip_by_value(g, -o.clipvalue, o.clipvalue) for g in grads]
        return grads

    def _apply(self, grads: list, t) -> None:
        """vgrad.train.optim.fused_apply's update on the stacked variables (the fused kernels are
        elementwise; with a learning rate per network, the same formulas as TensorFlow ops)."""
        tf, o, lr = self.tf, self.opt, self.lr
        scalar_lr = lr.shape.rank == 0
        pairs = list(enumerate(zip(grads, self.vars, strict=True)))
        if o.weight_decay is not None:  # AdamW: decoupled decay first
            wd = tf.constant(o.weight_decay, tf.float32)
            for _, (_, v) in pairs:
                v.assign(v - v * wd * lr)
        kind, slots = self.kind, self.slots
        if kind in ("Adam", "AdamW"):
            b1, b2 = tf.constant(o.beta_1, tf.float32), tf.constant(o.beta_2, tf.float32)
            b1p, b2p, eps = tf.pow(b1, t), tf.pow(b2, t), tf.constant(o.epsilon, tf.float32)
            alpha = lr * tf.sqrt(1 - b2p) / (1 - b1p)
            for i, (g, v) in pairs:
                m, s = slots["m"][i], slots["v"][i]
                if scalar_lr:
                    tf.raw_ops.ResourceApplyAdam(var=v.handle, m=m.handle, v=s.handle, beta1_power=b1p,
                                                 beta2_power=b2p, lr=lr, beta1=b1, beta2=b2, epsilon=eps, grad=g)
                else:  # ResourceApplyAdam's formula (checked bit for bit by tests/test_stacked.py)
                    m.assign(m + (g - m) * (1 - b1))
                    s.assign(s + (tf.square(g) - s) * (1 - b2))
                    v.assign(v - (m * alpha) / (tf.sqrt(s) + eps))
        elif kind == "SGD+momentum":
            momentum = tf.constant(o.momentum, tf.float32)
            for i, (g, v) in pairs:
                acc = slots["momentum"][i]
                if scalar_lr:
                    tf.raw_ops.ResourceApplyKerasMomentum(var=v.handle, accum=acc.handle, lr=lr, grad=g,
                                                          momentum=momentum, use_nesterov=bool(o.nesterov))
                else:
                    acc.assign(acc * momentum - lr * g)
                    v.assign(v + (acc * momentum - lr * g) if o.nesterov else v + acc)
        elif kind == "SGD":
            for _, (g, v) in pairs:
                if scalar_lr:
                    tf.raw_ops.ResourceApplyGradientDescent(var=v.handle, alpha=lr, delta=g)
                else:
                    v.assign_sub(lr * g)
        else:  # RMSprop, Adagrad: already TensorFlow ops, shared with the one-network update
            from vgrad.train.optim import apply_rms_or_adagrad

            apply_rms_or_adagrad(tf, kind, o, pairs, slots, lr)

    def _metrics(self):
        """[E, 4]: loss, accuracy, val_loss, val_accuracy on the full sets in inference mode, as
        vgrad.train's epoch records (Keras' BinaryCrossentropy of the probabilities), to rounding."""
        tf = self.tf
        x = tf.broadcast_to(self.x_all[None], [self.E, *self.x_all.shape])
        v = self.by_name
        p = tf.sigmoid(tf.linalg.matmul(self._hidden(x), v["output/kernel"]) + v["output/bias"])
        eps = 1e-7  # keras.backend.epsilon()
        out = []
        for part, yy in ((p[:, :self.n], self.y), (p[:, self.n:], self.y_val)):
            q = tf.clip_by_value(part, eps, 1.0 - eps)
            out.append(-tf.reduce_mean(yy * tf.math.log(q) + (1 - yy) * tf.math.log(1 - q), axis=[1, 2]))
            out.append(tf.reduce_mean(tf.cast(tf.equal(tf.cast(part > 0.5, tf.float32), yy), tf.float32), axis=[1, 2]))
        return tf.stack(out, axis=1)

    def _compiled(self) -> Callable:
        """The step, traced once for every batch size (idx [E, None])."""
        tf = self.tf
        if self._call is None:
            spec = [tf.TensorSpec([self.E, None], tf.int32), tf.TensorSpec([], tf.float32), tf.TensorSpec([], tf.bool)]
            self._call = tf.function(self._step, input_signature=spec, autograph=False).get_concrete_function()
        return self._call

    def _batches(self, step: int, perms: list) -> np.ndarray:
        c = self.config
        batch = step % c.steps_per_epoch
        if batch == 0:
            perms[:] = [rng.permutation(self.n).astype(np.int32) for rng in self.rngs]
        return np.stack([p[batch * c.batch_size:(batch + 1) * c.batch_size] for p in perms])

    # --- running -------------------------------------------------------------------
    def measure_init(self) -> list[NetResult]:
        """Step 0's gradients (on each network's first batch), without an update: eager, nothing compiled."""
        tf = self.tf
        idx = self._batches(0, [None] * self.E)
        self.eager = True  # one step: tracing would cost more than it saves
        try:
            packed = self._step(tf.constant(idx), tf.constant(1.0), None).numpy()
        finally:
            self.eager = False
        return [NetResult(cfg, grad_start=row[6:].copy(), loss_start=float(row[0]))
                for cfg, row in zip(self.configs, packed, strict=True)]

    def train(self, should_stop: Callable[[], bool] | None = None) -> list[NetResult]:
        """Train every network for its config's total_steps; stops early (results so far) when
        `should_stop()` turns True, or when every network has diverged."""
        tf = self.tf
        c = self.config
        total, spe = c.total_steps, c.steps_per_epoch
        step_fn = self._compiled()
        flags = {False: tf.constant(False), True: tf.constant(True)}
        results: list[NetResult | None] = [None] * self.E
        alive = np.ones(self.E, bool)
        perms: list = [None] * self.E
        with without_grappler():  # the step is optimised at its first call: here, without Grappler
            for step in range(total):
                if should_stop is not None and should_stop():
                    break
                idx = self._batches(step, perms)
                ends = step % spe == spe - 1 or step == total - 1
                packed = step_fn(tf.constant(idx), tf.constant(float(step + 1)), flags[ends]).numpy()
                finite = np.isfinite(packed[:, 0]) & np.isfinite(packed[:, 1])
                for e in np.flatnonzero(alive):
                    row = packed[e]
                    if step == 0:
                        results[e] = NetResult(self.configs[e], grad_start=row[6:].copy(), loss_start=float(row[0]))
                    if not finite[e]:
                        alive[e] = False
                        results[e].diverged = True
                        continue
                    results[e].grad_end = row[6:].copy()
                    results[e].steps = step + 1
                    if ends:
                        results[e].epochs.append((step, *map(float, row[2:6])))
                if not alive.any():
                    break
        return [r for r in results if r is not None]


def _kind(optimizer) -> str:
    from vgrad.train.optim import kind_of

    kind = kind_of(optimizer)
    if kind is None:
        raise ValueError("optimizer: this optimizer's settings are not covered by the fused update")
    return kind


def _keras_activation(name: str, alpha: float) -> Callable:
    import keras

    if name == "leaky_relu":
        return lambda x: keras.ops.leaky_relu(x, negative_slope=alpha)
    return keras.activations.get(name)


_FUNCTIONS: dict[str, Callable] = {}


@contextlib.contextmanager
def without_grappler():
    """For this thread only: functions first called inside are optimised without Grappler.

    Grappler's passes take 0.5-2 s on a stacked step (most of a short sweep cell's time) and change
    nothing here: the rewrites that round differently are off anyway (vgrad.train.tfsetup), and the
    oneDNN kernels are chosen by a later pass. The function call options are thread-local, so the
    service's other trainings are not affected."""
    from tensorflow.python.eager import context

    ctx = context.context()
    old = ctx.function_call_options
    config = ctx.config
    config.allow_soft_placement = True
    config.graph_options.rewrite_options.disable_meta_optimizer = True
    ctx.function_call_options = context.FunctionCallOptions(executor_type=old.executor_type, config_proto=config)
    try:
        yield
    finally:
        ctx.function_call_options = old


def _function(name: str) -> Callable:
    """The shared tf.function `name` (its Python arguments are part of its trace key)."""
    if name not in _FUNCTIONS:
        import tensorflow as tf

        _FUNCTIONS[name] = tf.function({"layer": _layer, "head": _head}[name], autograph=False)
    return _FUNCTIONS[name]


def _layer(h, k, b, activation: str, alpha: float, sizes: tuple[int, ...], need_dh: bool):
    """One hidden dense layer of every network: activation(h @ k + b), rounded as vgrad.train's."""
    import tensorflow as tf

    z = _bias_add(tf, _mm(tf, h, k, need_dh, sizes), b)
    act = _keras_activation(activation, alpha)
    units = int(z.shape[-1])
    if activation in TAIL_SENSITIVE and any(n * units % PACKET for n in sizes):  # a SIMD tail: per network
        return tf.stack([act(t) for t in tf.unstack(z)])
    return act(z)


def _head(h, k, b, y, sizes: tuple[int, ...]):
    """The output layer and the loss of each network [E]: Keras' BinaryCrossentropy of the sigmoid
    output, which Keras takes from the logits (these are its ops). The 1-column matmul runs per network
    (batched, it rounds differently); so does the loss when a network's batch has a SIMD tail (exp and
    log1p round differently there), else it runs on the stack."""
    import tensorflow as tf

    z = _mm(tf, h, k, True, sizes) + b  # [E, B, 1]

    def mean(values, axis):  # Keras' reduction: the sum over the batch, divided by its size
        return tf.math.divide_no_nan(tf.reduce_sum(values, axis), tf.cast(tf.shape(values)[-1], tf.float32))

    def stacked():
        return mean(tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=z), axis=-1), 1)

    def per_net():
        return tf.stack([mean(tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=t, logits=zz), -1), 0)
                         for t, zz in zip(tf.unstack(y), tf.unstack(z), strict=True)])

    return tf.cond(tf.equal(tf.shape(z)[1] % PACKET, 0), stacked, per_net)


def _mm(tf, h, w, need_dh: bool, sizes: tuple[int, ...]):
    """h [E, B, n] @ w [E, n, m] with each network's result (and gradient) rounded as a 2-D MatMul:
    per batch size, the first of a batched matmul, a broadcast product summed over n, or a loop of
    2-D MatMuls that `_plan` found to round alike."""
    plan = _plan(tf, int(w.shape[0]), sizes, int(w.shape[1]), int(w.shape[2]))

    @tf.custom_gradient
    def mm(h, w):
        def grad(g):
            dw = _switch(tf, g, plan["dw"], _DW, sizes)(h, g)
            return (_switch(tf, g, plan["dh"], _DH, sizes)(g, w) if need_dh else None), dw

        return _switch(tf, h, plan["fwd"], _FWD, sizes)(h, w), grad

    return mm(h, w)


def _switch(tf, t, choices: tuple[str, ...], ways: dict, sizes: tuple[int, ...]) -> Callable:
    """The way chosen for t's batch size (t [E, B, ...]): one op if every size agrees, else a switch."""
    if len(set(choices)) == 1:
        return lambda a, b: ways[choices[0]](tf, a, b)
    kinds = sorted(set(choices))
    index = tf.constant([kinds.index(c) for c in choices])
    known = tf.constant(list(sizes))

    def run(a, b):
        at = tf.argmax(tf.cast(tf.equal(known, tf.shape(t)[1]), tf.int32), output_type=tf.int32)
        return tf.switch_case(tf.gather(index, at), [lambda k=k: ways[k](tf, a, b) for k in kinds])

    return run


def _bias_add(tf, z, b):
    """z [E, B, u] + b [E, 1, u]. Keras adds a bias with tf.nn.bias_add (units > 1), whose gradient
    BiasAddGrad sums the batch in its own order: the same op on [B, E * u] sums each column alike."""
    if z.shape[-1] == 1:
        return z + b

    @tf.custom_gradient
    def add(z, b):
        def grad(g):
            e, u = g.shape[0], g.shape[2]
            flat = tf.reshape(tf.transpose(g, [1, 0, 2]), [-1, e * u])
            return g, tf.reshape(tf.raw_ops.BiasAddGrad(out_backprop=flat), [e, 1, u])

        return z + b, grad

    return add(z, b)


def _per_net(tf, op, a, b, **kw):
    return tf.stack([op(x, y, **kw) for x, y in zip(tf.unstack(a), tf.unstack(b), strict=True)])


def _mat_mul(**kw):
    from tensorflow.python.ops import gen_math_ops

    return lambda x, y: gen_math_ops.mat_mul(x, y, **kw)


# Ways to compute each product of a stacked dense layer; "net" (2-D MatMuls, what vgrad.train runs) last.
_FWD = {"bmm": lambda tf, h, w: tf.linalg.matmul(h, w),
        "rsum": lambda tf, h, w: tf.reduce_sum(h[..., :, None] * w[:, None], axis=-2),
        "net": lambda tf, h, w: _per_net(tf, tf.matmul, h, w)}
_DH = {"bmm": lambda tf, g, w: tf.linalg.matmul(g, w, adjoint_b=True),
       "rsum": lambda tf, g, w: tf.reduce_sum(g[:, :, None, :] * w[:, None], axis=-1),
       "net": lambda tf, g, w: _per_net(tf, _mat_mul(transpose_b=True, grad_a=True), g, w)}
_DW = {"bmm": lambda tf, h, g: tf.linalg.matmul(h, g, adjoint_a=True),
       "rsum": lambda tf, h, g: tf.reduce_sum(h[..., :, None] * g[:, :, None, :], axis=1),
       "net": lambda tf, h, g: _per_net(tf, _mat_mul(transpose_a=True, grad_b=True), h, g)}


def _plan(tf, e: int, sizes: tuple[int, ...], n: int, m: int) -> dict[str, tuple[str, ...]]:
    """For h [b, n] @ w [n, m] at each batch size b in `sizes`: the first way of computing the product,
    dL/dh and dL/dw that rounds as vgrad.train's 2-D MatMul does (tried once per shape on random
    numbers: TensorFlow picks its kernels by shape)."""
    key = (e, sizes, n, m)
    if key not in _PLANS:
        with tf.init_scope():  # eagerly, also while a step traces
            per_size = [_try_plan(tf, e, b, n, m) for b in sizes]
        _PLANS[key] = {k: tuple(p[k] for p in per_size) for k in ("fwd", "dh", "dw")}
    return _PLANS[key]


def _try_plan(tf, e: int, b: int, n: int, m: int) -> dict[str, str]:
    rng = np.random.default_rng(0)
    h, w, g = (tf.constant(rng.normal(size=s).astype(np.float32)) for s in ((e, b, n), (e, n, m), (e, b, m)))
    out = {}
    for kind, ways, args in (("fwd", _FWD, (h, w)), ("dh", _DH, (g, w)), ("dw", _DW, (h, g))):
        ref = ways["net"](tf, *args).numpy()
        tries = ("bmm", "rsum") if e * b * n * m <= RSUM_MAX else ("bmm",)
        out[kind] = next((k for k in tries if np.array_equal(ways[k](tf, *args).numpy(), ref)), "net")
    return out
