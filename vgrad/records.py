"""The record stream: plain JSON-able dicts the engine emits and every client reads.

Every record has a `kind`. In order of appearance:

- `start`: `layers` (list of layer dicts, see below), `n_train`, `n_val`, `steps_per_epoch`,
  `total_steps`, `family`, `seq_len` (rnn) and `lr` (the learning rate).
- `data` (2-feature mlp data only): `x` ([[x0, x1], ...], at most 500 training points), `y` ([0/1, ...]).
- `weights`: `when` ("initial" or "final"), `layer_index` (0), `kernel` (the first layer's kernel matrix).
  The notebook's "gradient" estimate is (initial - final) / lr; see vgrad.lessons.
- `step`: one optimizer step, statistics taken on that step's batch before the update:
    `step` (0-based global), `epoch` (0-based), `loss` (the loss the gradient is of, penalties included),
    `global_norm` (norm of all gradients), `global_norm_clipped` (after the optimizer's clipping),
    and one list per statistic in LAYER_STATS, one value per instrumented layer (input -> output).
    rnn also: `input_grad_by_time` (‖dL/dx_t‖ for t = 0..seq_len-1, mean over the batch),
    `recurrent_sigma_max` (largest singular value of each recurrent kernel).
- `snapshot`: `step`, `layer_index`, `grad` (the full kernel-gradient matrix, fan_in x fan_out).
  Kept at a bounded cadence: see vgrad.engine.SNAPSHOT_BUDGET.
- `epoch`: `epoch`, `step` (last step of the epoch), `loss`, `accuracy`, `val_loss`, `val_accuracy`
  (loss and accuracy evaluated on the full sets with the weights at the end of the epoch).
- `boundary` (2-feature mlp data only, at most BOUNDARY_LIMIT per run): `step`, `epoch`,
  `xs`, `ys` (grid axes), `prob` (P(class 1), len(ys) rows x len(xs) columns).
- `status`: the last record. `status` is finished / cancelled / diverged / failed, `step` the last
  step done, `message` a sentence for people (why it diverged, what failed).

A layer dict: `name`, `index` (0 = nearest the input), `kind` (dense, simple_rnn, lstm, gru, output),
`units`, `activation`, `fan_in`.
"""

from __future__ import annotations

# Per-layer statistics in a step record; each is a list over the instrumented layers.
LAYER_STATS: dict[str, str] = {
    "grad_norm": "L2 norm of the kernel gradient dL/dW",
    "grad_mean_abs": "mean |dL/dW| over kernel entries",
    "grad_max_abs": "max |dL/dW| over kernel entries",
    "bias_grad_norm": "L2 norm of the bias gradient dL/db",
    "bias_grad_mean_abs": "mean |dL/db|",
    "bias_grad_max_abs": "max |dL/db|",
    "act_grad_rms": "RMS over the batch of the back-propagated gradient dL/da at the layer's output (null for the output layer: Keras takes the loss from its logits)",
    "act_mean": "mean activation",
    "act_std": "std of the activations",
    "act_saturated": "fraction of sigmoid/tanh/softsign outputs in the flat tails (derivative < 10% of its peak)",
    "act_dead": "fraction of ReLU-family units inactive (output <= 0) for the whole batch",
    "update_ratio": "‖ΔW‖ / ‖W‖ of the update the optimizer applied",
}

STATUSES = ("running", "finished", "cancelled", "diverged", "failed")
BOUNDARY_LIMIT = 60
BOUNDARY_GRID = 41
DATA_POINTS_LIMIT = 500
