"""Per-layer gradient and activation statistics, as TensorFlow ops (usable inside tf.function).

Shared by the engine and by GradientMonitor, so both report the same numbers. Layers of the same
shape and activation (the hidden layers of an MLP) are stacked and measured together, so a deep
net costs a few dozen ops per step, not dozens per layer.
"""

from __future__ import annotations

import tensorflow as tf

from vgrad.records import LAYER_STATS
from vgrad.train.models import RELU_FAMILY

NAN = float("nan")
SATURATING = ("sigmoid", "tanh", "softsign")


def _saturated(a: tf.Tensor, activation: str) -> tf.Tensor:
    """Outputs where the activation's derivative is below 10% of its peak."""
    if activation == "sigmoid":
        return a * (1.0 - a) < 0.025
    if activation == "tanh":
        return 1.0 - tf.square(a) < 0.1
    return tf.square(1.0 - tf.abs(a)) < 0.1  # softsign


def _pick(seq: list, idx: list[int]) -> list:
    return [seq[i] for i in idx]


def _stack(tensors: list) -> tf.Tensor:
    return tf.stack([tf.cast(t, tf.float32) for t in tensors])


def _norm(stacked: tf.Tensor) -> tf.Tensor:
    return tf.sqrt(tf.reduce_sum(tf.square(stacked), list(range(1, stacked.shape.rank))))


def _norm_mean_max(stacked: tf.Tensor):
    axes = list(range(1, stacked.shape.rank))
    a = tf.abs(stacked)
    return _norm(stacked), tf.reduce_mean(a, axes), tf.reduce_max(a, axes)


def _group_stats(kernels, biases, acts, act_grads, activation, olds, news) -> tf.Tensor:
    """[len(group), len(LAYER_STATS)] for layers that share shapes and activation."""
    size = len(kernels)
    nan = tf.fill([size], NAN)
    kn, km, kx = _norm_mean_max(_stack(kernels))
    bn, bm, bx = _norm_mean_max(_stack(biases)) if biases[0] is not None else (nan, nan, nan)
    if acts[0] is None:
        ag = am = asd = sat = dead = nan
    else:
        a = _stack(acts)
        axes = list(range(1, a.shape.rank))
        am, asd = tf.reduce_mean(a, axes), tf.math.reduce_std(a, axes)
        ag = nan if act_grads[0] is None else tf.sqrt(tf.reduce_mean(tf.square(_stack(act_grads)), axes))
        sat = (tf.reduce_mean(tf.cast(_saturated(a, activation), tf.float32), axes)
               if activation in SATURATING else nan)
        if activation in RELU_FAMILY:
            units = tf.reshape(a, [size, -1, tf.shape(a)[-1]]) <= 0.0
            dead = tf.reduce_mean(tf.cast(tf.reduce_all(units, axis=1), tf.float32), axis=1)
        else:
            dead = nan
    if olds is None:
        ratio = weight = nan
    else:
        old = _stack(olds)
        weight = _norm(old)
        ratio = _norm(_stack(news) - old) / (weight + 1e-30)
    return tf.stack([kn, km, kx, bn, bm, bx, ag, am, asd, sat, dead, ratio, weight], axis=1)


def layer_stats(kernel_grads: list, bias_grads: list, acts: list, act_grads: list, activations: list[str],
                old_kernels: list | None = None, new_kernels: list | None = None) -> tf.Tensor:
    """[layers, len(LAYER_STATS)]: one row per layer, in the order given; NaN where not measurable
    (no bias, no activation output, an activation without saturation or dead units)."""
    groups: dict[tuple, list[int]] = {}
    for i, g in enumerate(kernel_grads):
        a, b = acts[i], bias_grads[i]
        key = (tuple(g.shape), None if b is None else tuple(b.shape), activations[i],
               None if a is None else tuple(a.shape[1:]), act_grads[i] is None)
        groups.setdefault(key, []).append(i)
    blocks, order = [], []
    for (_, _, activation, _, _), idx in groups.items():
        olds = None if old_kernels is None else _pick(old_kernels, idx)
        news = None if new_kernels is None else _pick(new_kernels, idx)
        blocks.append(_group_stats(_pick(kernel_grads, idx), _pick(bias_grads, idx), _pick(acts, idx),
                                   _pick(act_grads, idx), activation, olds, news))
        order += idx
    rows = tf.concat(blocks, 0) if len(blocks) > 1 else blocks[0]
    if order != sorted(order):
        rows = tf.gather(rows, [order.index(i) for i in range(len(order))])
    assert rows.shape[-1] == len(LAYER_STATS)
    return rows
