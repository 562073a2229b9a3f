"""Apply a Keras optimizer's update with one fused TensorFlow kernel per variable.

Keras' optimizers update each variable with a dozen small ops (and recompute the step's
constants per variable), which costs ~2.5 ms a variable when eager and dominates tracing a deep
net's step; building their slot variables costs ~1 ms a variable. `fused_apply(optimizer,
variables)` returns a function doing the same update with TensorFlow's fused training kernels
(the formulas Keras documents) on slot variables of its own, or None when the optimizer has a
feature it does not cover (the engine then builds the Keras optimizer and calls apply_gradients).

The Keras optimizer stays the source of every setting: learning rate, betas, epsilon, weight
decay, its `iterations` counter, and clipping (`optimizer._clip_gradients`, applied first, as in
`apply_gradients`). Adam and AdamW use ResourceApplyAdam: Keras' formula, but 1 - beta is rounded
in float32 where Keras rounds it from float64, so weights agree with Keras to ~1e-6 relative.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras

Apply = Callable[[Sequence, Sequence], None]
# The slots each supported optimizer keeps per variable, and their initial value.
SLOTS = {"Adam": ("m", "v"), "AdamW": ("m", "v"), "SGD+momentum": ("momentum",), "SGD": (),
         "RMSprop": ("velocity",), "Adagrad": ("accumulator",)}


def kind_of(optimizer: keras.optimizers.Optimizer) -> str | None:
    """The fused update that matches `optimizer`, or None."""
    o = optimizer
    if (o.use_ema or o.gradient_accumulation_steps or o.loss_scale_factor is not None
            or getattr(o, "amsgrad", False) or getattr(o, "centered", False)):
        return None
    kind = type(o).__name__
    if kind == "SGD" and o.momentum:
        return "SGD+momentum"
    if kind == "RMSprop" and o.momentum:
        return None
    if kind == "Adam" and o.weight_decay is not None:
        return None
    return kind if kind in SLOTS else None


def fused_apply(optimizer: keras.optimizers.Optimizer, variables: Sequence) -> Apply | None:
    """A function (grads, variables) -> None updating `variables` (in this order) as
    `optimizer.apply_gradients` would, or None when `optimizer` is not covered."""
    import tensorflow as tf

    kind = kind_of(optimizer)
    if kind is None:
        return None
    o = optimizer
    start = o.initial_accumulator_value if kind == "Adagrad" else 0.0
    slots = {name: [tf.Variable(tf.fill(v.shape, tf.constant(start, v.dtype)), trainable=False,
                                name=f"{name}_{i}") for i, v in enumerate(variables)]
             for name in SLOTS[kind]}
    fixed = [id(v) for v in variables]

    def apply(grads: Sequence, variables: Sequence) -> None:
        if [id(v) for v in variables] != fixed:
            raise ValueError("fused_apply: call with the variables it was made for, in the same order")
        grads = o._clip_gradients(list(grads))
        lr = tf.cast(o.learning_rate, tf.float32)
        pairs = list(enumerate(zip(grads, variables, strict=True)))
        if o.weight_decay is not None:  # AdamW: decoupled decay first, as Keras does
            wd = tf.cast(o.weight_decay, tf.float32)
            for _, (_, v) in pairs:
                if o._use_weight_decay(v):
                    v.assign(v - v * wd * lr)
        if kind in ("Adam", "AdamW"):
            step = tf.cast(o.iterations + 1, tf.float32)
            b1, b2 = tf.constant(o.beta_1, tf.float32), tf.constant(o.beta_2, tf.float32)
            b1p, b2p, eps = tf.pow(b1, step), tf.pow(b2, step), tf.constant(o.epsilon, tf.float32)
            for i, (g, v) in pairs:
                tf.raw_ops.ResourceApplyAdam(
                    var=v.handle, m=slots["m"][i].handle, v=slots["v"][i].handle, beta1_power=b1p,
                    beta2_power=b2p, lr=lr, beta1=b1, beta2=b2, epsilon=eps, grad=g)
        elif kind == "SGD+momentum":
            momentum = tf.constant(o.momentum, tf.float32)
            for i, (g, v) in pairs:
                # accum = momentum * accum - lr * g; var += accum (Nesterov: var += momentum * accum - lr * g)
                tf.raw_ops.ResourceApplyKerasMomentum(
                    var=v.handle, accum=slots["momentum"][i].handle, lr=lr, grad=g, momentum=momentum,
                    use_nesterov=bool(o.nesterov))
        elif kind == "SGD":
            for _, (g, v) in pairs:
                tf.raw_ops.ResourceApplyGradientDescent(var=v.handle, alpha=lr, delta=g)
        else:
            apply_rms_or_adagrad(tf, kind, o, pairs, slots, lr)
        o.iterations.assign_add(1)

    apply.slots = slots
    return apply


def apply_rms_or_adagrad(tf, kind: str, o, pairs: list, slots: dict, lr) -> None:
    """RMSprop's or Adagrad's update as TensorFlow ops on (index, (grad, variable)) pairs: elementwise, so
    a learning rate per network broadcasts over stacked variables (vgrad.train.stacked) as a scalar does."""
    if kind == "RMSprop":
        rho = o.rho
        for i, (g, v) in pairs:
            velocity = slots["velocity"][i]
            velocity.assign(rho * velocity + (1 - rho) * tf.square(g))
            v.assign_sub(lr * g / tf.sqrt(velocity + o.epsilon))
    else:  # Adagrad
        for i, (g, v) in pairs:
            acc = slots["accumulator"][i]
            acc.assign_add(tf.square(g))
            v.assign_sub(lr * g / tf.sqrt(acc + o.epsilon))
