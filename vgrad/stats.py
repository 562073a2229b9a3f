"""Per-layer gradient and activation statistics, as TensorFlow ops (usable inside tf.function).

Shared by the engine and by GradientMonitor, so both report the same numbers.
"""

from __future__ import annotations

import tensorflow as tf

from vgrad.models import RELU_FAMILY
from vgrad.records import LAYER_STATS

NAN = float("nan")


def saturated_fraction(a: tf.Tensor, activation: str) -> tf.Tensor:
    """Share of outputs where the activation's derivative is below 10% of its peak."""
    a = tf.cast(a, tf.float32)
    if activation == "sigmoid":
        flat = a * (1.0 - a) < 0.025
    elif activation == "tanh":
        flat = 1.0 - tf.square(a) < 0.1
    elif activation == "softsign":
        flat = tf.square(1.0 - tf.abs(a)) < 0.1
    else:
        return tf.constant(NAN)
    return tf.reduce_mean(tf.cast(flat, tf.float32))


def dead_fraction(a: tf.Tensor, activation: str) -> tf.Tensor:
    """Share of units whose output is <= 0 for every example of the batch (ReLU family)."""
    if activation not in RELU_FAMILY:
        return tf.constant(NAN)
    a = tf.reshape(a, [-1, tf.shape(a)[-1]])
    return tf.reduce_mean(tf.cast(tf.reduce_all(a <= 0.0, axis=0), tf.float32))


def layer_stats(kernel_grad, bias_grad, act, act_grad, activation: str, old_kernel=None, new_kernel=None) -> tf.Tensor:
    """One vector, in LAYER_STATS order, for one layer."""
    nan = tf.constant(NAN)

    def norm_mean_max(g):
        if g is None:
            return nan, nan, nan
        a = tf.abs(g)
        return tf.norm(g), tf.reduce_mean(a), tf.reduce_max(a)

    kn, km, kx = norm_mean_max(kernel_grad)
    bn, bm, bx = norm_mean_max(bias_grad)
    if act is None:
        ag = am = asd = sat = dead = nan
    else:
        ag = nan if act_grad is None else tf.sqrt(tf.reduce_mean(tf.square(act_grad)))
        am, asd = tf.reduce_mean(act), tf.math.reduce_std(act)
        sat, dead = saturated_fraction(act, activation), dead_fraction(act, activation)
    if old_kernel is None or new_kernel is None:
        ratio = nan
    else:
        ratio = tf.norm(new_kernel - old_kernel) / (tf.norm(old_kernel) + 1e-30)
    values = [kn, km, kx, bn, bm, bx, ag, am, asd, sat, dead, ratio]
    assert len(values) == len(LAYER_STATS)
    return tf.stack([tf.cast(v, tf.float32) for v in values])
