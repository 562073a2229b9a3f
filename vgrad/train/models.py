"""Build the Keras model a RunConfig describes, with its optimizer.

The model is functional and returns [prediction, a_1, ..., a_L]: the prediction and the
output of every instrumented layer (hidden blocks, recurrent layers, the output layer), so the
engine can take dL/da of each from the same tape. `plain_model(config)` gives the same network
with the prediction as its only output (for plain `model.fit`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras

from vgrad.config import RunConfig

SATURATING = ("sigmoid", "tanh", "softsign")
RELU_FAMILY = ("relu", "leaky_relu", "prelu", "elu", "selu", "gelu", "swish")
# Keras' default 0.99 needs hundreds of steps before the moving statistics (used at evaluation)
# fit; runs here are often a few dozen steps.
BN_MOMENTUM = 0.9


@dataclass
class Built:
    model: keras.Model  # outputs [prediction, *activations]
    layers: list[dict]  # descriptions, input -> output
    kernel_layers: list[keras.layers.Layer]  # the layer owning each instrumented kernel
    recurrent_layers: list[keras.layers.Layer]
    optimizer: keras.optimizers.Optimizer  # not built: the engine builds it only if it applies it itself


def layer_seed(config: RunConfig, index: int, salt: int = 0) -> int:
    """A fixed seed per layer, so concurrent trainings never share random state."""
    return (config.seed * 1_000_003 + index * 7919 + salt * 104_729) % (2**31 - 1)


@keras.saving.register_keras_serializable(package="vgrad")
class Scaled(keras.initializers.Initializer):
    """Another initializer's values times sqrt(gain): its variance times `gain`."""

    def __init__(self, base: keras.initializers.Initializer | dict, gain: float):
        self.base = keras.initializers.get(base)
        self.gain = float(gain)

    def __call__(self, shape, dtype=None):
        return self.base(shape, dtype) * math.sqrt(self.gain)

    def get_config(self) -> dict:
        return {"base": keras.initializers.serialize(self.base), "gain": self.gain}


def kernel_initializer(config: RunConfig, index: int, fan_in: int) -> keras.initializers.Initializer:
    base = _base_initializer(config, index, fan_in)
    return base if config.init_gain == 1.0 else Scaled(base, config.init_gain)


def bias_initializer(config: RunConfig, index: int) -> keras.initializers.Initializer:
    """bias_init for every unit, or N(bias_init, bias_std^2) per unit when bias_std > 0."""
    if config.bias_std > 0:
        return keras.initializers.RandomNormal(config.bias_init, config.bias_std, seed=layer_seed(config, index, 3))
    return keras.initializers.Constant(config.bias_init)


def _base_initializer(config: RunConfig, index: int, fan_in: int) -> keras.initializers.Initializer:
    seed = layer_seed(config, index)
    name = config.initializer
    if name == "random_normal":
        return keras.initializers.RandomNormal(stddev=config.init_std, seed=seed)
    if name == "random_uniform":
        return keras.initializers.RandomUniform(-config.init_limit, config.init_limit, seed=seed)
    if name == "glorot_bengio_standard":  # Glorot & Bengio (2010) eq. 1: U[-1/sqrt(n_in), 1/sqrt(n_in)]
        limit = 1.0 / math.sqrt(fan_in)
        return keras.initializers.RandomUniform(-limit, limit, seed=seed)
    classes = {
        "glorot_uniform": keras.initializers.GlorotUniform, "glorot_normal": keras.initializers.GlorotNormal,
        "he_uniform": keras.initializers.HeUniform, "he_normal": keras.initializers.HeNormal,
        "lecun_uniform": keras.initializers.LecunUniform, "lecun_normal": keras.initializers.LecunNormal,
        "orthogonal": keras.initializers.Orthogonal,
    }
    return classes[name](seed=seed)


def activation_layer(config: RunConfig, name: str) -> keras.layers.Layer:
    if config.activation == "leaky_relu":
        return keras.layers.LeakyReLU(negative_slope=config.leaky_alpha, name=name)
    if config.activation == "prelu":
        return keras.layers.PReLU(name=name)
    return keras.layers.Activation(config.activation, name=name)


def make_optimizer(config: RunConfig) -> keras.optimizers.Optimizer:
    clip = {}
    if config.clipvalue:
        clip["clipvalue"] = config.clipvalue
    if config.clipnorm:
        clip["clipnorm"] = config.clipnorm
    if config.global_clipnorm:
        clip["global_clipnorm"] = config.global_clipnorm
    lr = config.learning_rate
    opt = config.optimizer
    if opt == "sgd":
        return keras.optimizers.SGD(lr, **clip)
    if opt == "momentum":
        return keras.optimizers.SGD(lr, momentum=0.9, **clip)
    if opt == "nesterov":
        return keras.optimizers.SGD(lr, momentum=0.9, nesterov=True, **clip)
    if opt == "rmsprop":
        return keras.optimizers.RMSprop(lr, **clip)
    if opt == "adagrad":
        return keras.optimizers.Adagrad(lr, **clip)
    if opt == "adamw":
        return keras.optimizers.AdamW(lr, **clip)
    return keras.optimizers.Adam(lr, **clip)


def build(config: RunConfig) -> Built:
    """The instrumented model and its optimizer (settings only; see `vgrad.train.optim`)."""
    if config.family == "rnn":
        model, layers, kernels, recurrent = _build_rnn(config)
    else:
        model, layers, kernels, recurrent = _build_mlp(config)
    return Built(model, layers, kernels, recurrent, make_optimizer(config))


def output_layer(config: RunConfig) -> tuple[int, str]:
    """(units, activation) of the output layer: sigmoid for binary, softmax over the classes, linear for
    regression."""
    if config.task == "multiclass":
        return config.n_classes, "softmax"
    return 1, "linear" if config.task == "regression" else "sigmoid"


def loss(config: RunConfig) -> keras.losses.Loss:
    """The loss the optimizer minimises (penalties are added by the engine from model.losses)."""
    if config.task == "multiclass":
        return keras.losses.SparseCategoricalCrossentropy()
    if config.task == "regression":
        return keras.losses.MeanSquaredError()
    return keras.losses.BinaryCrossentropy()


def plain_update_loop(optimizer: keras.optimizers.Optimizer) -> None:
    """Apply updates with Keras' backend-neutral loop (the same update_step ops, variable by variable)
    instead of the TF backend's tf.distribute wrapper, which costs ~3 ms a variable when eager.
    vgrad trains without a distribution strategy, so nothing else changes."""
    from keras.src.optimizers.base_optimizer import BaseOptimizer

    optimizer._backend_update_step = BaseOptimizer._backend_update_step.__get__(optimizer)


def plain_model(config: RunConfig) -> keras.Model:
    """The same network with only the prediction as output."""
    built = build(config)
    return keras.Model(built.model.inputs, built.model.outputs[0], name="plain")


def _regularizer(config: RunConfig):
    if config.l1 or config.l2:
        return keras.regularizers.L1L2(l1=config.l1, l2=config.l2)
    return None


def _describe(name: str, index: int, kind: str, units: int, activation: str, fan_in: int) -> dict:
    return {"name": name, "index": index, "kind": kind, "units": units, "activation": activation, "fan_in": fan_in}


def _build_mlp(config: RunConfig):
    inputs = keras.Input((config.n_features,), name="x")
    h = inputs
    acts, layers, kernels = [], [], []
    width = config.n_features
    block_input, block_width = inputs, width
    inline = config.batch_norm == "off" and config.activation not in ("leaky_relu", "prelu")
    bias = keras.initializers.Constant(config.bias_init)
    for i in range(config.hidden_layers):
        name = f"dense_{i + 1}"
        dense = keras.layers.Dense(
            config.units, activation=config.activation if inline else None, name=name,
            kernel_initializer=kernel_initializer(config, i, width), bias_initializer=bias_initializer(config, i),
            kernel_regularizer=_regularizer(config),
        )
        h = dense(h)
        if not inline:
            if config.batch_norm == "before":
                h = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"bn_{i + 1}")(h)
            h = activation_layer(config, f"act_{i + 1}")(h)
        a = h
        if config.batch_norm == "after":
            h = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"bn_{i + 1}")(h)
        if config.dropout:
            h = keras.layers.Dropout(config.dropout, seed=layer_seed(config, i, 1), name=f"dropout_{i + 1}")(h)
        if config.residual_every and (i + 1) % config.residual_every == 0:
            skip = block_input
            if block_width != config.units:  # projection where widths differ
                skip = keras.layers.Dense(
                    config.units, use_bias=False, name=f"skip_proj_{i + 1}",
                    kernel_initializer=kernel_initializer(config, 1000 + i, block_width),
                )(skip)
            h = keras.layers.Add(name=f"residual_{i + 1}")([h, skip])
            block_input, block_width = h, config.units
        acts.append(a)
        kernels.append(dense)
        layers.append(_describe(name, i, "dense", config.units, config.activation, width))
        width = config.units
    units, activation = output_layer(config)
    out = keras.layers.Dense(
        units, activation=activation, name="output", bias_initializer=bias,
        kernel_initializer=kernel_initializer(config, config.hidden_layers, width),
    )
    pred = out(h)
    acts.append(pred)
    kernels.append(out)
    layers.append(_describe("output", config.hidden_layers, "output", units, activation, width))
    return keras.Model(inputs, [pred, *acts], name="vgrad_mlp"), layers, kernels, []


def _build_rnn(config: RunConfig):
    cls = {"simple_rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[config.cell]
    inputs = keras.Input((config.seq_len, config.n_features), name="x")
    h = inputs
    acts, layers, kernels = [], [], []
    width = config.n_features
    activation = config.activation
    for j in range(config.rnn_layers):
        name = f"{config.cell}_{j + 1}"
        layer = cls(
            config.units, activation=activation, name=name,
            return_sequences=j < config.rnn_layers - 1,
            kernel_initializer=kernel_initializer(config, j, width),
            recurrent_initializer=keras.initializers.Orthogonal(gain=config.recurrent_scale,
                                                                seed=layer_seed(config, j, 2)),
            kernel_regularizer=_regularizer(config),
        )
        h = layer(h)
        acts.append(h)
        if config.dropout:
            h = keras.layers.Dropout(config.dropout, seed=layer_seed(config, j, 1), name=f"dropout_{j + 1}")(h)
        kernels.append(layer)
        layers.append(_describe(name, j, config.cell, config.units, activation, width))
        width = config.units
    units, activation = output_layer(config)
    out = keras.layers.Dense(units, activation=activation, name="output",
                             kernel_initializer=kernel_initializer(config, config.rnn_layers, width))
    pred = out(h)
    acts.append(pred)
    kernels.append(out)
    layers.append(_describe("output", config.rnn_layers, "output", units, activation, width))
    return keras.Model(inputs, [pred, *acts], name="vgrad_rnn"), layers, kernels, kernels[:-1]


def kernel_of(layer: keras.layers.Layer):
    """The input kernel variable of a Dense or recurrent layer."""
    return layer.cell.kernel if hasattr(layer, "cell") else layer.kernel


def bias_of(layer: keras.layers.Layer):
    return layer.cell.bias if hasattr(layer, "cell") else layer.bias


def recurrent_kernel_of(layer: keras.layers.Layer):
    return layer.cell.recurrent_kernel
