"""Apply a Keras optimizer's update with one fused TensorFlow kernel per variable.

Keras' optimizers update each variable with a dozen small ops (and recompute the step's
constants per variable). That costs ~2.5 ms a variable when eager and dominates tracing a deep
net's step. `fused_apply(optimizer)` returns a function doing the same update on the same slot
variables with TensorFlow's fused training kernels (the formulas Keras documents), or None when
the optimizer has a feature it does not cover (then the engine calls `apply_gradients`).

Adam and AdamW use TensorFlow's ResourceApplyAdam: Keras' formula, but 1 - beta is rounded in
float32 where Keras rounds it from float64, so weights agree to ~1e-6 relative, not bit for bit.
Clipping stays Keras' own (`optimizer._clip_gradients`), applied before the update, as in
`apply_gradients`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras

Apply = Callable[[Sequence, Sequence], None]


def fused_apply(optimizer: keras.optimizers.Optimizer) -> Apply | None:
    """A function (grads, variables) -> None updating like `optimizer.apply_gradients`, or None."""
    import tensorflow as tf

    o = optimizer
    if (o.use_ema or o.gradient_accumulation_steps or o.loss_scale_factor is not None
            or getattr(o, "amsgrad", False) or getattr(o, "centered", False)):
        return None
    kind = type(o).__name__
    if kind not in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad"):
        return None
    if kind == "RMSprop" and o.momentum:
        return None
    if kind == "Adam" and o.weight_decay is not None:
        return None

    def slot(name: str, variable):
        return getattr(o, name)[o._get_variable_index(variable)]

    def apply(grads: Sequence, variables: Sequence) -> None:
        grads = o._clip_gradients(list(grads))
        lr = tf.cast(o.learning_rate, tf.float32)
        if o.weight_decay is not None:  # AdamW: decoupled decay first, as Keras does
            wd = tf.cast(o.weight_decay, tf.float32)
            for v in variables:
                if o._use_weight_decay(v):
                    v.assign(v - v * wd * lr)
        if kind in ("Adam", "AdamW"):
            step = tf.cast(o.iterations + 1, tf.float32)
            b1, b2 = tf.constant(o.beta_1, tf.float32), tf.constant(o.beta_2, tf.float32)
            b1p, b2p, eps = tf.pow(b1, step), tf.pow(b2, step), tf.constant(o.epsilon, tf.float32)
            for g, v in zip(grads, variables, strict=True):
                tf.raw_ops.ResourceApplyAdam(
                    var=v.handle, m=slot("_momentums", v).handle, v=slot("_velocities", v).handle,
                    beta1_power=b1p, beta2_power=b2p, lr=lr, beta1=b1, beta2=b2, epsilon=eps, grad=g)
        elif kind == "SGD" and o.momentum:
            momentum = tf.constant(o.momentum, tf.float32)
            for g, v in zip(grads, variables, strict=True):
                # accum = momentum * accum - lr * g; var += accum (Nesterov: var += momentum * accum - lr * g)
                tf.raw_ops.ResourceApplyKerasMomentum(
                    var=v.handle, accum=slot("momentums", v).handle, lr=lr, grad=g, momentum=momentum,
                    use_nesterov=bool(o.nesterov))
        elif kind == "SGD":
            for g, v in zip(grads, variables, strict=True):
                tf.raw_ops.ResourceApplyGradientDescent(var=v.handle, alpha=lr, delta=g)
        elif kind == "RMSprop":
            rho = o.rho
            for g, v in zip(grads, variables, strict=True):
                velocity = slot("_velocities", v)
                velocity.assign(rho * velocity + (1 - rho) * tf.square(g))
                v.assign_sub(lr * g / tf.sqrt(velocity + o.epsilon))
        else:  # Adagrad
            for g, v in zip(grads, variables, strict=True):
                acc = slot("_accumulators", v)
                acc.assign_add(tf.square(g))
                v.assign_sub(lr * g / tf.sqrt(acc + o.epsilon))
        o.iterations.assign_add(1)

    return apply
