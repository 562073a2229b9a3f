"""The numbers behind the Lessons page: activations, derivative bounds, and the notebook's flaw.

Activations are the Keras definitions written in numpy (no TensorFlow):

    >>> round(derivative_bound("sigmoid"), 4)
    0.25
    >>> bound_product("sigmoid", 8)  # 0.25 ** 8: the most 8 sigmoid layers let through
    1.52587890625e-05

`update_vs_gradient(run)` reads a run's `weights` and `snapshot` records and puts the
notebook's estimate (initial - final first-layer weights) / lr next to the true gradient.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from vgrad.config import ACTIVATIONS
from vgrad.records import StepRecord

if TYPE_CHECKING:
    from vgrad.run import Run

SELU_SCALE = 1.0507009873554805
SELU_ALPHA = 1.6732632423543772
# Keras 3 Adam defaults (keras.optimizers.Adam).
ADAM_BETA_1, ADAM_BETA_2, ADAM_EPSILON = 0.9, 0.999, 1e-7
# Where derivative bounds are searched for: every supported activation peaks well inside.
_GRID = np.linspace(-12.0, 12.0, 24001)  # includes 0 exactly

_erf = np.vectorize(math.erf, otypes=[float])


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # stable for large |x|


def activation(name: str, x, alpha: float = 0.3) -> np.ndarray:
    """f(x) for a supported activation; `alpha` is leaky_relu's slope (and prelu's, once learned)."""
    x = np.asarray(x, dtype=float)
    if name == "sigmoid":
        return _sigmoid(x)
    if name == "tanh":
        return np.tanh(x)
    if name == "relu":
        return np.maximum(x, 0.0)
    if name in ("leaky_relu", "prelu"):
        return np.where(x > 0, x, alpha * x)
    if name == "elu":
        return np.where(x > 0, x, np.expm1(np.minimum(x, 0.0)))
    if name == "selu":
        return SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0.0)))
    if name == "gelu":  # keras default: the exact form
        return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))
    if name == "swish":
        return x * _sigmoid(x)
    if name == "softsign":
        return x / (1.0 + np.abs(x))
    if name == "linear":
        return x.copy()
    raise ValueError(f"activation: expected one of {', '.join(ACTIVATIONS)}, got {name!r}")


def derivative(name: str, x, alpha: float = 0.3) -> np.ndarray:
    """f'(x), written out (not finite differences); at a kink the right-hand value."""
    x = np.asarray(x, dtype=float)
    if name == "sigmoid":
        s = _sigmoid(x)
        return s * (1.0 - s)
    if name == "tanh":
        return 1.0 - np.tanh(x) ** 2
    if name == "relu":
        return (x >= 0).astype(float)
    if name in ("leaky_relu", "prelu"):
        return np.where(x >= 0, 1.0, alpha)
    if name == "elu":
        return np.where(x > 0, 1.0, np.exp(np.minimum(x, 0.0)))
    if name == "selu":
        return SELU_SCALE * np.where(x > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(x, 0.0)))
    if name == "gelu":
        pdf = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
        return 0.5 * (1.0 + _erf(x / math.sqrt(2.0))) + x * pdf
    if name == "swish":
        s = _sigmoid(x)
        return s * (1.0 + x * (1.0 - s))
    if name == "softsign":
        return 1.0 / (1.0 + np.abs(x)) ** 2
    if name == "linear":
        return np.ones_like(x)
    raise ValueError(f"activation: expected one of {', '.join(ACTIVATIONS)}, got {name!r}")


def derivative_bound(name: str, alpha: float = 0.3) -> float:
    """sup |f'(x)|: the most one layer's activation can multiply a gradient by (1/4 for sigmoid)."""
    return float(np.max(np.abs(derivative(name, _GRID, alpha))))


def derivative_peak(name: str, alpha: float = 0.3) -> float:
    """An x where |f'(x)| reaches its bound (the first one on the grid)."""
    return float(_GRID[int(np.argmax(np.abs(derivative(name, _GRID, alpha))))])


def bound_product(name: str, depth: int, alpha: float = 0.3) -> float:
    """derivative_bound ** depth: the most `depth` activations in a chain let a gradient through."""
    return derivative_bound(name, alpha) ** int(depth)


def mean_derivative(name: str, std: float = 1.0, alpha: float = 0.3) -> float:
    """E|f'(z)| for z ~ N(0, std^2): a typical factor, below the bound (Gauss-Hermite, 80 nodes)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    return float(np.sum(weights * np.abs(derivative(name, std * nodes, alpha))) / math.sqrt(2.0 * math.pi))


def bound_table(depths, names=ACTIVATIONS, alpha: float = 0.3) -> dict[str, np.ndarray]:
    """name -> bound ** depth for each depth (depths as given)."""
    depths = np.asarray(list(depths), dtype=float)
    return {n: derivative_bound(n, alpha) ** depths for n in names}


# --- from a run's records ------------------------------------------------------------


def chain_factors(step_record: StepRecord) -> dict[str, list[float]]:
    """The chain rule, layer by layer, from one step record's RMS dL/da.

    factor[i] = rms(dL/da_i) / rms(dL/da_{i+1}): what going back through layer i+1 multiplied the
    gradient by. Their product is first / last (the chain rule as a product). Layers without a
    value are skipped. Returns {"layers": [...indices...], "rms": [...], "factors": [...]}.
    """
    values = step_record.act_grad_rms
    idx = [i for i, v in enumerate(values) if v is not None and math.isfinite(v) and v > 0]
    rms = [float(values[i]) for i in idx]
    factors = [rms[k] / rms[k + 1] for k in range(len(rms) - 1)]
    return {"layers": idx, "rms": rms, "factors": factors}


def init_spread(step_record: StepRecord) -> dict[str, list[float]]:
    """Activation std and RMS dL/da per layer from a run's first step (the network at initialisation)."""
    return {"act_std": list(step_record.act_std), "act_grad_rms": list(step_record.act_grad_rms),
            "grad_norm": list(step_record.grad_norm)}


@dataclass
class UpdateVsGradient:
    """The notebook's "gradient" next to the real one, for the first layer's kernel.

    estimate:  (initial - final kernel) / lr, what the notebook printed as "the gradient".
    gradient:  the true dL/dW of the first layer at step 0 (from the step-0 snapshot).
    gradient_sum: the sum of the true gradients over all steps (None unless every step was kept);
        for plain SGD, estimate == gradient_sum.
    replay:    the optimizer (Adam) re-run on the true gradients, divided by lr (None when it cannot
        be replayed); it reproduces `estimate`, which shows where the estimate comes from.
    """

    estimate: np.ndarray
    gradient: np.ndarray
    gradient_sum: np.ndarray | None
    replay: np.ndarray | None
    steps: int
    optimizer: str
    lr: float
    numbers: dict[str, float] = field(default_factory=dict)
    sentences: list[str] = field(default_factory=list)


def adam_replay(grads: list[np.ndarray], lr: float, beta_1: float = ADAM_BETA_1, beta_2: float = ADAM_BETA_2,
                epsilon: float = ADAM_EPSILON) -> np.ndarray:
    """Total change (initial - final) Adam makes from these successive gradients (Keras 3's update)."""
    m = np.zeros_like(grads[0], dtype=float)
    v = np.zeros_like(grads[0], dtype=float)
    total = np.zeros_like(grads[0], dtype=float)
    for t, g in enumerate(grads, start=1):
        g = np.asarray(g, dtype=float)
        m += (g - m) * (1 - beta_1)
        v += (g * g - v) * (1 - beta_2)
        alpha = lr * math.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
        total += m * alpha / (np.sqrt(v) + epsilon)
    return total


def first_layer_gradients(run: Run) -> dict[int, np.ndarray]:
    """step -> true first-layer kernel gradient, from the run's snapshot records of layer 0."""
    return {s.step: np.asarray(s.grad, dtype=float) for s in run.snapshots if s.layer_index == 0}


def update_vs_gradient(run: Run) -> UpdateVsGradient | None:
    """The notebook's estimate against the true first-layer gradient (None until both records exist)."""
    weights = run.weights
    grads = first_layer_gradients(run)
    if "initial" not in weights or "final" not in weights or 0 not in grads:
        return None
    lr = float(run.learning_rate)
    initial = np.asarray(weights["initial"].kernel, dtype=float)
    final = np.asarray(weights["final"].kernel, dtype=float)
    estimate = (initial - final) / lr
    gradient = grads[0]
    steps = len(run.steps)
    every = all(s in grads for s in range(steps)) and steps > 0
    gradient_sum = sum(grads[s] for s in range(steps)) if every else None
    opt = run.config.optimizer
    clipped = any(getattr(run.config, n) for n in ("clipvalue", "clipnorm", "global_clipnorm"))
    replay = None
    if every and not clipped:
        if opt == "adam":
            replay = adam_replay([grads[s] for s in range(steps)], lr) / lr
        elif opt == "sgd":
            replay = gradient_sum

    def norm(a):
        return float(np.linalg.norm(a))

    numbers = {
        "lr": lr, "steps": float(steps),
        "estimate_norm": norm(estimate), "gradient_norm": norm(gradient),
        "estimate_mean_abs": float(np.mean(np.abs(estimate))), "gradient_mean_abs": float(np.mean(np.abs(gradient))),
        "ratio": norm(estimate) / norm(gradient) if norm(gradient) > 0 else math.inf,
        "estimate_max_abs": float(np.max(np.abs(estimate))),
    }
    nz = np.abs(gradient) > 0
    numbers["sign_agreement"] = float(np.mean(np.sign(estimate[nz]) == np.sign(gradient[nz]))) if nz.any() else math.nan
    if gradient_sum is not None:
        numbers["gradient_sum_norm"] = norm(gradient_sum)
        nz = np.abs(gradient_sum) > 0
        numbers["sign_agreement_sum"] = (float(np.mean(np.sign(estimate[nz]) == np.sign(gradient_sum[nz])))
                                         if nz.any() else math.nan)
    if replay is not None:
        numbers["replay_error"] = norm(replay - estimate) / max(norm(estimate), 1e-30)

    s = [f"The notebook's \"gradient\" (initial - final weights) / lr has entries up to "
         f"{numbers['estimate_max_abs']:.3g} (norm {numbers['estimate_norm']:.3g}); the true first-layer "
         f"gradient at step 0 has norm {numbers['gradient_norm']:.3g}: the estimate is "
         f"{numbers['ratio']:.3g} times larger."]
    if opt in ("adam", "adamw", "rmsprop", "adagrad"):
        s.append(f"{opt} divides each step by a running RMS of the gradient, so every weight moves about lr "
                 f"per step whatever the gradient's size: after {steps} steps the estimate counts steps, "
                 f"not gradient: the magnitude is lost.")
        agree = numbers.get("sign_agreement_sum", numbers["sign_agreement"])
        s.append(f"Even the direction is only partly kept: {agree:.0%} of entries have the sign of the "
                 + ("summed true gradients." if "sign_agreement_sum" in numbers else "step-0 gradient."))
    elif opt == "sgd":
        s.append("With plain SGD the estimate is exactly the sum of the gradients of all steps.")
    else:
        s.append(f"{opt} adds momentum, so the estimate mixes gradients of several steps.")
    if replay is not None:
        s.append(f"Replaying {opt} on the recorded true gradients reproduces the weight change to within "
                 f"{numbers['replay_error']:.1%}.")
    return UpdateVsGradient(estimate, gradient, gradient_sum, replay, steps, opt, lr, numbers, s)
