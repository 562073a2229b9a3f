"""GradientMonitor: true per-layer gradients of your own Keras model, recorded during `fit`.

    monitor = vgrad.GradientMonitor(x_probe, y_probe, every=5)
    model.fit(x, y, epochs=20, callbacks=[monitor])
    monitor.history          # tidy DataFrame: step, epoch, layer, layer_index, grad_norm, ...
    monitor.heatmap()        # Plotly figure: layer x step, log colour scale
"""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from vgrad.records import LAYER_STATS, Layer, StepRecord
from vgrad.run import steps_frame
from vgrad.train.stats import layer_stats


class GradientMonitor(keras.callbacks.Callback):
    """Every `every` batches, compute dL/dW on the probe batch (x, y) with the model's own loss.

    Args:
        x, y: a fixed probe batch (numpy arrays or tensors) the gradients are taken on.
        every: record after every `every`-th training batch (1 = every batch).

    For each layer with a `kernel` (Dense, Conv, recurrent...), input -> output, it records the
    same statistics as vgrad's engine (LAYER_STATS). Activation statistics and dL/da need the
    layer outputs, so they are recorded for Sequential and functional models and left empty
    (NaN) for subclassed ones. `update_ratio` is the size of the update the last batch applied.
    Results: `.records` (step dicts like the engine's), `.history` (DataFrame), `.heatmap()`.
    """

    def __init__(self, x, y, every: int = 1):
        super().__init__()
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"every: expected a whole number >= 1, got {every!r}")
        self.x = tf.convert_to_tensor(x)
        self.y = tf.convert_to_tensor(y)
        self.every = every
        self.records: list[StepRecord] = []
        self.layers: list[Layer] = []
        self._step = 0
        self._epoch = 0
        self._probe = None
        self._before: list[np.ndarray] | None = None

    # --- setup -----------------------------------------------------------------
    def _kernel_layers(self) -> list[keras.layers.Layer]:
        found = []
        layers = list(self.model._flatten_layers(include_self=False))
        cells = {id(layer.cell) for layer in layers if hasattr(layer, "cell")}
        for layer in layers:
            if id(layer) in cells:  # an RNN's cell: counted with its RNN layer
                continue
            kernel = _kernel(layer)
            if kernel is not None and kernel.trainable:
                found.append(layer)
        return found

    def on_train_begin(self, logs=None) -> None:
        self._tracked = self._kernel_layers()
        if not self._tracked:
            raise ValueError("GradientMonitor: the model has no layer with a trainable kernel")
        self.layers = [
            Layer(name=layer.name, index=i, kind=type(layer).__name__.lower(),
                  units=int(_kernel(layer).shape[-1]), activation=_activation_name(layer),
                  fan_in=int(np.prod(_kernel(layer).shape[:-1])))
            for i, layer in enumerate(self._tracked)
        ]
        self._probe = None
        try:  # functional / Sequential: expose every tracked layer's output
            outputs = [layer.output for layer in self._tracked]
            self._probe = keras.Model(self.model.inputs, [*self.model.outputs, *outputs])
        except (AttributeError, ValueError):
            self._probe = None

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None) -> None:
        if (self._step + 1) % self.every == 0 or self._step == 0:
            self._before = [np.array(_kernel(layer)) for layer in self._tracked]
        else:
            self._before = None

    def on_train_batch_end(self, batch, logs=None) -> None:
        if self._before is not None:
            self.records.append(self._measure())
        self._step += 1

    # --- measurement -------------------------------------------------------------
    def _measure(self) -> StepRecord:
        kernels = [_kernel(layer) for layer in self._tracked]
        biases = [getattr(layer, "bias", None) for layer in self._tracked]
        with tf.GradientTape() as tape:
            if self._probe is not None:
                outs = self._probe(self.x, training=False)
                n_out = len(self.model.outputs)
                pred, acts = outs[0] if n_out == 1 else outs[:n_out], list(outs[n_out:])
            else:
                pred, acts = self.model(self.x, training=False), [None] * len(kernels)
            loss = self.model.compute_loss(x=self.x, y=self.y, y_pred=pred)
        targets = kernels + [b for b in biases if b is not None] + [a for a in acts if a is not None]
        grads = tape.gradient(loss, targets)
        k_grads = grads[:len(kernels)]
        rest = iter(grads[len(kernels):])
        b_grads = [next(rest) if b is not None else None for b in biases]
        a_grads = [next(rest) if a is not None else None for a in acts]
        names = [_activation_name(layer) for layer in self._tracked]
        before = [tf.constant(k) for k in self._before]
        after = [tf.convert_to_tensor(k) for k in kernels]
        stats = layer_stats(k_grads, b_grads, acts, a_grads, names, before, after).numpy()
        weight_grads = [g for g in [*k_grads, *b_grads] if g is not None]
        per_layer = {name: tuple(None if not np.isfinite(v) else float(v) for v in stats[:, k])
                     for k, name in enumerate(LAYER_STATS)}
        return StepRecord(step=self._step, epoch=self._epoch, loss=float(loss),
                          global_norm=float(tf.linalg.global_norm(weight_grads)), global_norm_clipped=None,
                          **per_layer)

    # --- results ---------------------------------------------------------------------
    @property
    def history(self) -> pd.DataFrame:
        """One row per recorded step x layer, the same columns as Run.steps_frame()."""
        return steps_frame(self.records, self.layers)

    def heatmap(self, stat: str = "grad_norm"):
        """Layer x step heatmap of `stat` on a log colour scale (input layer at the bottom)."""
        import plotly.graph_objects as go

        frame = self.history
        table = frame.pivot(index="layer_index", columns="step", values=stat).sort_index()
        z = np.log10(table.to_numpy(dtype=float).clip(min=1e-30))
        names = [layer.name for layer in self.layers]
        fig = go.Figure(go.Heatmap(
            z=z, x=table.columns.tolist(), y=[names[i] for i in table.index], colorscale="Viridis",
            colorbar={"title": {"text": f"log10 {stat}"}},
            hovertemplate="step %{x}<br>%{y}<br>log10 = %{z:.2f}<extra></extra>",
        ))
        fig.update_layout(title=f"{stat} per layer (log10)", xaxis_title="training step",
                          yaxis_title="layer (input at the bottom)")
        return fig


def _kernel(layer):
    if hasattr(layer, "cell") and hasattr(layer.cell, "kernel"):
        return layer.cell.kernel
    return getattr(layer, "kernel", None) if not isinstance(layer, keras.Model) else None


def _activation_name(layer) -> str:
    act = getattr(layer, "activation", None)
    if act is None and hasattr(layer, "cell"):
        act = getattr(layer.cell, "activation", None)
    return getattr(act, "__name__", "linear") if act is not None else "linear"
