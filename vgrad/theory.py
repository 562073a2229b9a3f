"""Mean-field signal propagation in deep random networks: what theory predicts at initialisation.

A fully connected net with weights W_ij ~ (0, sigma_w2 / fan_in) and biases b_i ~ N(bias_mean, sigma_b2)
(the same for every input) sends each input through pre-activations h^l = W^l phi(h^{l-1}) + b^l.
In the wide limit every unit of layer l is Gaussian with variance q^l and two inputs have correlation
c^l, and both follow deterministic maps (Poole et al. 2016; Schoenholz et al. 2017):

    q^l   = sigma_w2 * E[phi(u)^2] + sigma_b2,               u = bias_mean + sqrt(q^{l-1}) z
    chi_1 = sigma_w2 * E[phi'(u)^2]   at the fixed point q*  (squared gradient: x chi_1 per layer)
    chi_c = sigma_w2 * E[phi'(u1) phi'(u2)]   at the correlation fixed point c*
    xi_c  = -1 / ln(chi_c)           depth over which information about inputs survives

chi_1 < 1 is the ordered phase (gradients vanish like chi_1^(L/2)), chi_1 > 1 the chaotic phase
(they explode), chi_1 = 1 the critical line ("edge of chaos"); Schoenholz et al. found nets
trainable up to about 6 xi_c layers.

    >>> from vgrad.theory import mean_field, critical_sigma_w2, weight_variance
    >>> mf = mean_field("relu", 2.0, 0.0)          # He initialisation
    >>> mf.chi_1, mf.phase
    (1.0, 'critical')
    >>> round(critical_sigma_w2("tanh", 0.05), 3)  # the tanh edge of chaos at sigma_b2 = 0.05
    1.761
    >>> mf = mean_field("tanh", 1.0, 0.05)
    >>> mf.phase, round(mf.chi_1, 3)               # gradients shrink like 0.759^(L/2)
    ('ordered', 0.759)
    >>> weight_variance("glorot_uniform", 8, 8)   # sigma_w2 = fan_in * Var(W)
    1.0

Conventions, once for all functions:

* ``sigma_w2`` is fan_in * Var(W) (what `weight_variance` returns); ``sigma_b2`` the variance of the
  random part of the biases; ``bias_mean`` a constant bias shared by every unit (vgrad's
  ``bias_init``), so u = bias_mean + sqrt(q) z and q is the variance *about* that mean.
* ``alpha`` is leaky_relu's negative slope. prelu is taken at initialisation, where Keras' PReLU has
  slope 0: it is ReLU, whatever ``alpha`` says.
* ``dropout`` (where accepted) is the rate p of inverted dropout after every hidden activation in
  training mode: it multiplies the forward variance and chi by 1/(1-p) (Schoenholz et al. 2017, on dropout)
  and removes c* = 1, so the net then has no critical point (chi_c < 1 everywhere).
* Gaussian expectations use composite Gauss-Legendre panels on the Gaussian-weighted integrand,
  with panel edges at the activation's kink (x = 0) and on a grid fine in both z and x, so they
  hold to ~1e-10 for every activation and every q from 0 to 1e6 (checked against scipy quad; plain
  100-node Gauss-Hermite misses by 5 % at q = 1 at selu's kink and by up to 100 % for q of 30-300,
  where phi'^2 is a spike between its nodes). relu, leaky_relu, prelu and linear use closed forms. At q = 0 an integral means its q -> 0+ limit (at a kink: the average of
  both sides, so E[relu'(0)^2] = 1/2).
* Unbounded cases never raise: when the length map iterated from ``q_init`` diverges (only
  activations unbounded above, once sigma_w2 (phi'(-inf)^2 + phi'(inf)^2) / 2 >= 1 or so: relu at
  sigma_w2 >= 2 with sigma_b2 > 0, linear at sigma_w2 >= 1 with sigma_b2 > 0, selu beyond ~1.81),
  ``q_star`` is inf, ``chi_1`` is its q -> inf limit sigma_w2 (phi'(-inf)^2 + phi'(inf)^2) / 2 (the
  rate at which the squared gradient keeps growing per layer), and c_star, chi_c, xi_q, xi_c are nan.

References: Poole, Lahiri, Raghu, Sohl-Dickstein & Ganguli (2016) "Exponential expressivity in deep
neural networks through transient chaos"; Schoenholz, Gilmer, Ganguli & Sohl-Dickstein (2017)
"Deep information propagation"; Pennington, Schoenholz & Ganguli (2017) "Resurrecting the sigmoid
in deep learning through dynamical isometry"; Saxe, McClelland & Ganguli (2013) "Exact solutions to
the nonlinear dynamics of learning in deep linear neural networks".

Pure numpy/scipy: no TensorFlow, no Streamlit (the UI process imports it).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from vgrad.config import ACTIVATIONS, INITIALIZERS

__all__ = [
    "CRITICAL_BAND", "MeanField", "JacobianPrediction", "mean_field", "critical_sigma_w2", "critical_line",
    "length_map", "layer_chis", "predicted_grad_profile", "phase_grid", "xi_c_grid", "jacobian_spectrum",
    "weight_variance", "applies", "from_config", "profile_from_config", "gaussian_expectation",
]

SELU_SCALE = 1.0507009873554805
SELU_ALPHA = 1.6732632423543772
#: |chi_1 - 1| at most this counts as "critical": every depth scale is then > 1000 layers.
CRITICAL_BAND = 1e-3
#: Trainable depth is about this many correlation depth scales (Schoenholz et al. 2017's experiments).
TRAINABLE_XI = 6.0

_RELU_FAMILY = ("relu", "leaky_relu", "prelu", "linear")
_SQRT_2PI = math.sqrt(2.0 * math.pi)


# --- validation ----------------------------------------------------------------------------------


def _activation(name: Any) -> str:
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"activation: expected one of {', '.join(ACTIVATIONS)}, got {name!r}")
    return name


def _number(arg: str, value: Any, *, low: float | None = 0.0, low_open: bool = False,
            high: float | None = None, high_open: bool = False) -> float:
    """A finite real (not a bool) within [low, high]; else ValueError naming `arg`."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{arg}: expected a number, got {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(f"{arg}: expected a finite number, got {value!r}")
    if low is not None and (x < low or (low_open and x == low)):
        raise ValueError(f"{arg}: expected a number {'>' if low_open else '>='} {low:g}, got {value!r}")
    if high is not None and (x > high or (high_open and x == high)):
        raise ValueError(f"{arg}: expected a number {'<' if high_open else '<='} {high:g}, got {value!r}")
    return x


def _integer(arg: str, value: Any, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < low:
        raise ValueError(f"{arg}: expected an integer >= {low}, got {value!r}")
    return int(value)


def _values(arg: str, values: Any) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError):
        raise ValueError(f"{arg}: expected a sequence of numbers, got {values!r}") from None
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{arg}: expected a non-empty sequence of finite numbers >= 0")
    return arr


def _slope(name: str, alpha: float) -> float:
    """Negative-side slope of a piecewise-linear activation."""
    return {"relu": 0.0, "prelu": 0.0, "leaky_relu": alpha, "linear": 1.0}[name]


def _tail_slopes(name: str, alpha: float) -> tuple[float, float]:
    """phi'(-inf), phi'(+inf): what fixes E[phi(sqrt(q) z)^2] / q and E[phi'^2] as q -> inf."""
    if name in _RELU_FAMILY:
        return _slope(name, alpha), 1.0
    if name == "selu":
        return 0.0, SELU_SCALE
    if name in ("elu", "gelu", "swish"):
        return 0.0, 1.0
    return 0.0, 0.0  # sigmoid, tanh, softsign: bounded


# --- activations (numpy, fast; equal to vgrad.lessons' definitions) --------------------------------


def _phi(name: str, x: np.ndarray, alpha: float) -> np.ndarray:
    if name == "sigmoid":
        return special.expit(x)
    if name == "tanh":
        return np.tanh(x)
    if name in _RELU_FAMILY:
        return np.where(x > 0, x, _slope(name, alpha) * x)
    if name == "elu":
        return np.where(x > 0, x, np.expm1(np.minimum(x, 0.0)))
    if name == "selu":
        return SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0.0)))
    if name == "gelu":
        return x * special.ndtr(x)
    if name == "swish":
        return x * special.expit(x)
    return x / (1.0 + np.abs(x))  # softsign


def _dphi(name: str, x: np.ndarray, alpha: float) -> np.ndarray:
    if name == "sigmoid":
        s = special.expit(x)
        return s * (1.0 - s)
    if name == "tanh":
        return 1.0 - np.tanh(x) ** 2
    if name in _RELU_FAMILY:
        return np.where(x > 0, 1.0, _slope(name, alpha))
    if name == "elu":
        return np.where(x > 0, 1.0, np.exp(np.minimum(x, 0.0)))
    if name == "selu":
        return SELU_SCALE * np.where(x > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(x, 0.0)))
    if name == "gelu":
        return special.ndtr(x) + x * np.exp(-0.5 * x * x) / _SQRT_2PI
    if name == "swish":
        s = special.expit(x)
        return s * (1.0 + x * (1.0 - s))
    return 1.0 / (1.0 + np.abs(x)) ** 2  # softsign


def _d2phi(name: str, x: np.ndarray, alpha: float) -> np.ndarray:
    """phi'' away from kinks. At every kink phi(0) = 0, so phi * phi'' never picks up a delta term."""
    if name == "sigmoid":
        s = special.expit(x)
        return s * (1.0 - s) * (1.0 - 2.0 * s)
    if name == "tanh":
        t = np.tanh(x)
        return -2.0 * t * (1.0 - t * t)
    if name in _RELU_FAMILY:
        return np.zeros_like(x)
    if name == "elu":
        return np.where(x > 0, 0.0, np.exp(np.minimum(x, 0.0)))
    if name == "selu":
        return SELU_SCALE * np.where(x > 0, 0.0, SELU_ALPHA * np.exp(np.minimum(x, 0.0)))
    if name == "gelu":
        return np.exp(-0.5 * x * x) / _SQRT_2PI * (2.0 - x * x)
    if name == "swish":
        s = special.expit(x)
        return s * (1.0 - s) * (2.0 + x * (1.0 - 2.0 * s))
    return -2.0 * np.sign(x) / (1.0 + np.abs(x)) ** 3  # softsign


# --- Gaussian quadrature -------------------------------------------------------------------------

_Z_EDGE = 10.0  # |z| > 10 holds 1.5e-23 of the mass
_X_STEPS = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 48.0, 64.0, 128.0)
_X_EDGES = np.array(sorted({0.0, *_X_STEPS, *(-s for s in _X_STEPS)}))  # activation scale; 0 = kink
_GL_COARSE = np.polynomial.legendre.leggauss(6)
_GL_FINE = np.polynomial.legendre.leggauss(8)
_TINY_STD = 1e-150  # q = 0 is evaluated as this std: the q -> 0+ limit


@functools.lru_cache(maxsize=8)
def _z_grid(step: float) -> np.ndarray:
    return np.linspace(-_Z_EDGE, _Z_EDGE, int(round(2 * _Z_EDGE / step)) + 1)


def _rule(mean: np.ndarray, std: np.ndarray, zstep: float = 1.0, gl=None) -> tuple[np.ndarray, np.ndarray]:
    """Nodes z (P, n) and weights w (P, n) with sum_j w f(z_j) = E f(z), z ~ N(0, 1), per row.

    Panels: z-grid of width `zstep` on [-10, 10], plus the z's where mean + std z hits the
    x-grid (0 and +-0.25 .. +-128), so both the Gaussian's scale and the activation's are resolved
    and every kink at x = 0 is a panel edge. Zero-width panels (clipped edges) weigh nothing.
    """
    mean = np.asarray(mean, dtype=float).ravel()
    std = np.maximum(np.asarray(std, dtype=float).ravel(), _TINY_STD)
    zgrid = _z_grid(zstep)
    t, w = _GL_COARSE if gl is None else gl
    zx = np.clip((_X_EDGES[None, :] - mean[:, None]) / std[:, None], -_Z_EDGE, _Z_EDGE)
    edges = np.sort(np.concatenate([np.broadcast_to(zgrid, (mean.size, zgrid.size)), zx], axis=1), axis=1)
    half = 0.5 * (edges[:, 1:] - edges[:, :-1])
    mid = 0.5 * (edges[:, 1:] + edges[:, :-1])
    z = mid[..., None] + half[..., None] * t
    weights = half[..., None] * w * np.exp(-0.5 * z * z) / _SQRT_2PI
    return z.reshape(mean.size, -1), weights.reshape(mean.size, -1)


def gaussian_expectation(f: Callable[[np.ndarray], np.ndarray], mean: Any = 0.0, var: Any = 1.0) -> np.ndarray:
    """E[f(X)] for X ~ N(mean, var) with the module's quadrature (elementwise over mean, var).

    `f` must be a vectorised numpy function; it may have kinks at x = 0 and still be exact to ~1e-10.

        >>> round(float(gaussian_expectation(np.square, 0.5, 2.0)), 12)  # mean^2 + var
        2.25
    """
    mean_b, var_b = np.broadcast_arrays(np.asarray(mean, dtype=float), np.asarray(var, dtype=float))
    if not np.all(np.isfinite(mean_b)):
        raise ValueError("mean: expected finite numbers")
    if not np.all(np.isfinite(var_b)) or np.any(var_b < 0):
        raise ValueError("var: expected finite numbers >= 0")
    std = np.sqrt(var_b.ravel())
    z, w = _rule(mean_b.ravel(), std)
    x = mean_b.ravel()[:, None] + np.maximum(std, _TINY_STD)[:, None] * z
    return (w * f(x)).sum(axis=1).reshape(mean_b.shape)


def _closed_moments(name: str, alpha: float, b: float, q: np.ndarray) -> dict[str, np.ndarray]:
    """E phi^2, E phi'^2, E phi'^4 for the piecewise-linear family, u ~ N(b, q) (closed form)."""
    a = _slope(name, alpha)
    s = np.sqrt(q)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(s > 0, b / s, np.where(b > 0, np.inf, np.where(b < 0, -np.inf, 0.0)))
    p_pos, p_neg = special.ndtr(t), special.ndtr(-t)
    bs_pdf = np.where(np.isfinite(t), b * s * np.exp(-0.5 * np.where(np.isfinite(t), t, 0.0) ** 2) / _SQRT_2PI,
                      0.0)
    m2 = b * b + q
    e_pos = m2 * p_pos + bs_pdf
    e_neg = m2 * p_neg - bs_pdf
    return {"m2": e_pos + a * a * e_neg, "d2": p_pos + a * a * p_neg, "d4": p_pos + a**4 * p_neg,
            "pp": np.zeros_like(q)}


def _moments(name: str, alpha: float, b: float, q: np.ndarray) -> dict[str, np.ndarray]:
    """E phi^2, E phi'^2, E phi'^4, E phi phi'' for u ~ N(b, q), q finite >= 0 (array)."""
    q = np.asarray(q, dtype=float)
    if name in _RELU_FAMILY:
        return _closed_moments(name, alpha, b, q)
    std = np.sqrt(q)
    z, w = _rule(np.full(q.shape, b), std)
    x = b + np.maximum(std, _TINY_STD)[:, None] * z
    f, d = _phi(name, x, alpha), _dphi(name, x, alpha)
    d2 = d * d
    return {"m2": (w * f * f).sum(1), "d2": (w * d2).sum(1), "d4": (w * d2 * d2).sum(1),
            "pp": (w * f * _d2phi(name, x, alpha)).sum(1)}


def _m2(name: str, alpha: float, b: float, q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=float)
    if name in _RELU_FAMILY:
        return _closed_moments(name, alpha, b, q)["m2"]
    std = np.sqrt(q)
    z, w = _rule(np.full(q.shape, b), std)
    f = _phi(name, b + np.maximum(std, _TINY_STD)[:, None] * z, alpha)
    return (w * f * f).sum(1)


# --- a vectorised bracketing root finder (Illinois with bisection safeguard) ---------------------


def _solve(fun, lo: np.ndarray, hi: np.ndarray, flo: np.ndarray, fhi: np.ndarray, *,
           rtol: float = 1e-13, atol: float = 1e-300, maxiter: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Elementwise roots of fun(x, idx) in brackets [lo, hi] (flo, fhi of opposite sign or zero).

    `fun(x, idx)` evaluates the problems `idx` (an index array) at `x`. Returns (root, f(root)).
    """
    a, b = np.array(lo, dtype=float), np.array(hi, dtype=float)
    fa, fb = np.array(flo, dtype=float), np.array(fhi, dtype=float)
    root = np.where(fa == 0, a, np.where(fb == 0, b, np.nan))
    froot = np.where(np.isnan(root), np.nan, 0.0)
    active = np.isnan(root)
    last_width = np.abs(b - a)
    since = np.zeros(a.shape, dtype=int)
    for _ in range(maxiter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        ai, bi, fai, fbi = a[idx], b[idx], fa[idx], fb[idx]
        with np.errstate(divide="ignore", invalid="ignore"):
            x = (ai * fbi - bi * fai) / (fbi - fai)
        lo_i, hi_i = np.minimum(ai, bi), np.maximum(ai, bi)
        bisect = (since[idx] >= 3) | ~(x > lo_i) | ~(x < hi_i)
        x = np.where(bisect, 0.5 * (ai + bi), x)
        fx = fun(x, idx)
        swap = np.sign(fx) != np.sign(fbi)
        a[idx] = np.where(swap, bi, ai)
        fa[idx] = np.where(swap, fbi, np.where(bisect, fai, 0.5 * fai))  # Illinois: halve the stuck end
        b[idx], fb[idx] = x, fx
        width = np.abs(b[idx] - a[idx])
        shrunk = width <= 0.5 * last_width[idx]
        last_width[idx] = np.where(shrunk | bisect, width, last_width[idx])
        since[idx] = np.where(shrunk | bisect, 0, since[idx] + 1)
        done = (fx == 0) | (width <= rtol * np.maximum(np.abs(a[idx]), np.abs(b[idx])) + atol)
        root[idx[done]], froot[idx[done]] = x[done], fx[done]
        active[idx[done]] = False
    left = np.isnan(root)
    root[left], froot[left] = b[left], fb[left]
    return root, froot


# --- fixed points --------------------------------------------------------------------------------

_Q_SCAN = np.concatenate([[0.0], np.logspace(-30.0, 30.0, 241)])  # beyond 1e30 counts as diverging
_FLAT_G = 1e-8


@functools.lru_cache(maxsize=256)
def _m2_scan(name: str, alpha: float, b: float) -> np.ndarray:
    return _m2(name, alpha, b, _Q_SCAN)


def _q_star(name: str, alpha: float, b: float, sw2: np.ndarray, sb2: np.ndarray,
            q_init: np.ndarray) -> np.ndarray:
    """The fixed point the length map q -> sw2 E[phi(b + sqrt(q) z)^2] + sb2 reaches from q_init.

    The map is increasing for every activation here (at bias_mean = 0), so iteration moves from
    q_init to the nearest root in the direction of g(q_init) = F(q_init) - q_init: that root is
    bracketed on a log grid of q (1e-30 .. 1e30, plus 0) and polished. |g| <= 1e-8 q counts as 0
    (quadrature and rounding noise): a map that flat (slope within 1e-8 of 1, fixed point beyond
    ~1e8 sigma_b2) counts as diverging, so q* = inf. A root below 1e-30 is reported as 0.
    """
    sw2, sb2, q_init = np.broadcast_arrays(*(np.asarray(v, dtype=float).ravel() for v in (sw2, sb2, q_init)))
    eps = _FLAT_G
    g_init = sw2 * _m2(name, alpha, b, q_init) + sb2 - q_init
    g_grid = sw2[:, None] * _m2_scan(name, alpha, b)[None, :] + sb2[:, None] - _Q_SCAN[None, :]
    n, rows = _Q_SCAN.size, np.arange(q_init.size)
    up, down = g_init > eps * q_init, g_init < -eps * q_init
    q = np.where(~up & ~down, q_init, np.nan)
    # going up: the first grid point above q_init where g is clearly negative
    above = (_Q_SCAN[None, :] > q_init[:, None]) & (g_grid < -eps * _Q_SCAN[None, :])
    j_up = np.where(above.any(1), np.argmax(above, axis=1), n)
    q[up & (j_up == n)] = np.inf
    go_up = up & (j_up < n)
    # going down: the last grid point below q_init where g >= 0 (q = 0 always qualifies)
    below = (_Q_SCAN[None, :] < q_init[:, None]) & (g_grid >= 0)
    j_down = np.where(below.any(1), n - 1 - np.argmax(below[:, ::-1], axis=1), 0)
    ju = np.minimum(j_up, n - 1)
    prev = np.maximum(ju - 1, 0)
    prev_above = _Q_SCAN[prev] > q_init
    nxt = np.minimum(j_down + 1, n - 1)
    next_below = _Q_SCAN[nxt] < q_init
    lo = np.where(go_up, np.where(prev_above, _Q_SCAN[prev], q_init), _Q_SCAN[j_down])
    flo = np.where(go_up, np.where(prev_above, g_grid[rows, prev], g_init), g_grid[rows, j_down])
    hi = np.where(go_up, _Q_SCAN[ju], np.where(next_below, _Q_SCAN[nxt], q_init))
    fhi = np.where(go_up, g_grid[rows, ju], np.where(next_below, g_grid[rows, nxt], g_init))
    q[down & (j_down == 0)] = 0.0  # the root lies in [0, 1e-30]
    todo = np.flatnonzero(np.isnan(q))
    if todo.size:
        def g(x, idx):
            k = todo[idx]
            return sw2[k] * _m2(name, alpha, b, x) + sb2[k] - x

        q[todo], _ = _solve(g, lo[todo], hi[todo], flo[todo], fhi[todo])
    return q


# Mehler series degree and the z-panel width of the quadrature for its coefficients: points whose
# c* exceeds 0.95 (where c^k decays slowly) are redone at degree 512.
_MEHLER_TIERS = ((64, 0.5, 0.95), (512, 0.1, 1.0))


def _c_star(name: str, alpha: float, b: float, sw2: np.ndarray, sb2: np.ndarray, keep: float,
            q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fixed point c* < 1 of the correlation map and chi_c there, for finite q* > 0 (arrays).

    c -> (sw2 K(c) + sb2) / q*,  K(c) = E[phi(u1) phi(u2)], corr(u1, u2) = c. K is evaluated by
    Mehler's formula K(c) = sum_k a_k^2 c^k with a_k the Hermite coefficients of z -> phi(b + sqrt(q*) z)
    (degree 64, or 512 when c* > 0.95, plus one tail term T0 c^kappa that makes K(1) = E phi^2 and
    K'(1) = q* E phi'^2 exact). K has non-negative coefficients, so the map is convex and c* is its
    unique other root in [0, 1); chi_c = sw2 K'(c*) / q* (Price's theorem: dK/dc = q* E[phi'(u1) phi'(u2)]).
    `sw2` is the raw weight variance; `keep` = 1 - dropout (dropout scales only the diagonal q*,
    Schoenholz et al. 2017 on dropout).
    """
    c = np.zeros(q.size)
    chi_c = np.zeros(q.size)
    todo = np.arange(q.size)
    for degree, step, threshold in _MEHLER_TIERS:
        c[todo], chi_c[todo] = _c_star_mehler(name, alpha, b, sw2[todo], sb2[todo], keep, q[todo], degree, step)
        todo = todo[c[todo] > threshold]
        if todo.size == 0:
            break
    return c, chi_c


@functools.lru_cache(maxsize=4)
def _hermite_table(degree: int, step: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A fixed composite rule on [-10, 10] (panels `step` wide, 8 nodes) and h_0..h_degree at its nodes."""
    edges = _z_grid(step)
    t, wt = _GL_FINE
    half, mid = 0.5 * np.diff(edges), 0.5 * (edges[1:] + edges[:-1])
    z = (mid[:, None] + half[:, None] * t).ravel()
    w = (half[:, None] * wt).ravel() * np.exp(-0.5 * z * z) / _SQRT_2PI
    return z, w, _hermite_values(z, degree)


def _hermite_values(z: np.ndarray, degree: int) -> np.ndarray:
    """Orthonormal probabilists' Hermite functions h_k(z) = He_k(z)/sqrt(k!), shape z.shape + (degree+1,)."""
    out = np.empty((*z.shape, degree + 1))
    out[..., 0] = 1.0
    out[..., 1] = z
    for k in range(1, degree):
        out[..., k + 1] = (z * out[..., k] - math.sqrt(k) * out[..., k - 1]) / math.sqrt(k + 1)
    return out


def _c_star_mehler(name: str, alpha: float, b: float, sw2: np.ndarray, sb2: np.ndarray, keep: float,
                   q: np.ndarray, degree: int, step: float) -> tuple[np.ndarray, np.ndarray]:
    s = np.sqrt(q)
    coef = np.empty((q.size, degree + 1))
    m2, dz2 = np.empty(q.size), np.empty(q.size)
    # b = 0 puts the kink at z = 0, a panel edge of the fixed rule; its panels are <= 1 wide in x for q <= 100
    shared = (b == 0.0) & (s * step <= 1.0) & (degree > 64)
    if shared.any():
        z, w, table = _hermite_table(degree, step)
        x = s[shared, None] * z
        f = _phi(name, x, alpha)
        coef[shared] = (f * w) @ table
        m2[shared] = (f * f) @ w
        dz2[shared] = q[shared] * (_dphi(name, x, alpha) ** 2 @ w)
    own = np.flatnonzero(~shared)
    if own.size:  # the per-point rule (kink and activation scale at panel edges), Hermite recurrence
        z, w = _rule(np.full(own.size, b), s[own], zstep=step, gl=_GL_FINE)
        x = b + s[own, None] * z
        f = _phi(name, x, alpha)
        fw = f * w
        h_prev, h = np.ones_like(z), z
        coef[own, 0], coef[own, 1] = fw.sum(1), (fw * z).sum(1)
        for k in range(1, degree):
            h_prev, h = h, (z * h - math.sqrt(k) * h_prev) / math.sqrt(k + 1)
            coef[own, k + 1] = (fw * h).sum(1)
        m2[own] = (fw * f).sum(1)
        dz2[own] = q[own] * (w * _dphi(name, x, alpha) ** 2).sum(1)  # E[(d/dz phi)^2] = sum_k k a_k^2
    a2 = coef**2
    ks = np.arange(degree + 1)
    t0, t1 = m2 - a2.sum(1), dz2 - (ks * a2).sum(1)
    tail = (t0 > 1e-13 * np.maximum(m2, 1e-300)) & (t1 > 0)
    t0, t1 = np.where(tail, t0, 0.0), np.where(tail, t1, 0.0)
    kappa = np.where(tail, np.maximum(t1 / np.where(tail, t0, 1.0), degree + 1.0), degree + 1.0)
    delta = sw2 * m2 * (1.0 / keep - 1.0)  # 0 without dropout

    def geo_sum(c, idx):  # S(c) = (K(1) - K(c)) / (1 - c)
        powers = c[:, None] ** ks[None, :-1]
        geo = np.concatenate([np.zeros((c.size, 1)), np.cumsum(powers, axis=1)], axis=1)  # sum_{j<k} c^j
        with np.errstate(divide="ignore", invalid="ignore"):
            tail_geo = np.where(c < 1, -np.expm1(kappa[idx] * np.log(np.maximum(c, 1e-300))) / (1 - c), kappa[idx])
        tail_geo = np.where(c == 0, 1.0, tail_geo)
        return (a2[idx] * geo).sum(1) + t0[idx] * tail_geo

    def g(c, idx):
        reduced = q[idx] - sw2[idx] * geo_sum(c, idx)
        return np.where(delta[idx] > 0, (1 - c) * reduced - delta[idx], reduced)

    every = np.arange(q.size)
    g0, g1 = g(np.zeros(q.size), every), g(np.ones(q.size), every)
    g0 = np.where(g0 <= 1e-13 * q, 0.0, g0)  # sb2 = 0 and an odd phi: c* = 0 exactly
    g1 = np.where(g1 < 0, g1, 0.0)  # chi_1 within rounding of 1: c* = 1
    c, _ = _solve(g, np.zeros(q.size), np.ones(q.size), g0, g1, rtol=1e-14, atol=1e-15)
    kprime = (ks[1:] * a2[:, 1:] * c[:, None] ** (ks[1:] - 1)).sum(1) + t1 * c ** (kappa - 1)
    return c, sw2 * kprime / q


def _depth_scale(x: np.ndarray) -> np.ndarray:
    """-1 / ln|x|: layers over which a deviation decaying (or growing) like x^l changes by e."""
    ax = np.abs(np.asarray(x, dtype=float))
    with np.errstate(divide="ignore"):
        out = np.where(ax == 0, 0.0, -1.0 / np.log(np.where(ax == 0, 0.5, ax)))
    return np.where(ax == 1, np.inf, np.abs(out))


def _core(name: str, alpha: float, b: float, sw2: np.ndarray, sb2: np.ndarray, dropout: float,
          q_init: np.ndarray) -> dict[str, np.ndarray]:
    """Every MeanField quantity, elementwise over (sw2, sb2)."""
    sw2, sb2 = np.broadcast_arrays(np.asarray(sw2, dtype=float).ravel(), np.asarray(sb2, dtype=float).ravel())
    keep = 1.0 - dropout
    sw2e = sw2 / keep
    q = _q_star(name, alpha, b, sw2e, sb2, np.broadcast_to(np.asarray(q_init, dtype=float), sw2.shape))
    finite = np.isfinite(q)
    left, right = _tail_slopes(name, alpha)
    chi1 = sw2e * (left**2 + right**2) / 2.0  # the q -> inf limit, kept where q* = inf
    slope_q = np.full(q.shape, np.nan)
    if finite.any():
        mom = _moments(name, alpha, b, q[finite])
        chi1[finite] = sw2e[finite] * mom["d2"]
        slope_q[finite] = sw2e[finite] * (mom["d2"] + mom["pp"])
    # the c-map: c* = 1 with chi_c = chi_1 unless chaotic (or dropout), where c* < 1
    c_star = np.where(finite, 1.0, np.nan)
    chi_c = np.where(finite, chi1, np.nan)
    need = finite & (q > 0) & ((chi1 > 1.0) | (dropout > 0))
    if need.any():
        c_star[need], chi_c[need] = _c_star(name, alpha, b, sw2[need], sb2[need], keep, q[need])
    xi_c = np.where(finite, _depth_scale(np.minimum(chi_c, 1.0)), np.nan)
    xi_grad = _depth_scale(chi1)
    return {"q_star": q, "chi_1": chi1, "c_star": c_star, "chi_c": chi_c,
            "xi_q": np.where(finite, _depth_scale(slope_q), np.nan), "xi_c": xi_c, "xi_grad": xi_grad,
            "trainable_depth": TRAINABLE_XI * np.where(finite, xi_c, xi_grad), "slope_q": slope_q}


def _phase(chi1: float) -> str:
    if abs(chi1 - 1.0) <= CRITICAL_BAND:
        return "critical"
    return "ordered" if chi1 < 1.0 else "chaotic"


# --- public API: one network ---------------------------------------------------------------------


@dataclass(frozen=True)
class MeanField:
    """Mean-field quantities of one (activation, sigma_w2, sigma_b2) at initialisation.

    q_star:   fixed point of the length map (pre-activation variance deep in the net); inf when it
              diverges, 0 when signals die out (e.g. tanh with sigma_b2 = 0 in the ordered phase).
    chi_1:    sigma_w2 E[phi'(u)^2] at q*: E||dL/da_l||^2 ∝ chi_1^(L-l). With q* = inf, its q -> inf
              limit sigma_w2 (phi'(-inf)^2 + phi'(inf)^2) / 2 (relu: sigma_w2 / 2).
    c_star:   fixed point of the correlation map (1 in the ordered phase; < 1 chaotic or with dropout).
    chi_c:    slope of the correlation map at c* (= chi_1 when c* = 1).
    xi_q, xi_c: depth scales of the length and correlation maps, -1/ln|slope at the fixed point|
              (Schoenholz et al. 2017; xi_q from the slope chi_1 + sigma_w2 E[phi phi'']);
              inf at criticality.
    xi_grad:  1/|ln chi_1|: layers over which the gradient norm changes by a factor e.
    phase:    "ordered" (chi_1 < 1 - CRITICAL_BAND), "critical", or "chaotic" (chi_1 > 1 + band;
              with q* = inf this means exploding gradients, not decorrelation).
    trainable_depth: 6 xi_c, or 6 xi_grad when q* = inf (the gradient then limits training).
    c_star, chi_c, xi_q, xi_c are nan when q* = inf (no fixed point to expand around).
    """

    activation: str
    sigma_w2: float
    sigma_b2: float
    q_star: float
    chi_1: float
    c_star: float
    chi_c: float
    xi_q: float
    xi_c: float
    xi_grad: float
    phase: str
    trainable_depth: float
    bias_mean: float = 0.0
    alpha: float = 0.3
    dropout: float = 0.0
    q_init: float = 1.0

    @property
    def q_finite(self) -> bool:
        """Whether the length map has a finite fixed point."""
        return math.isfinite(self.q_star)

    def summary(self) -> str:
        """One sentence for a UI caption."""
        depth = "unlimited" if math.isinf(self.trainable_depth) else f"about {self.trainable_depth:.0f}"
        q = "diverges" if not self.q_finite else f"{self.q_star:.3g}"
        return (f"{self.activation} at σw²={self.sigma_w2:.3g}, σb²={self.sigma_b2:.3g}: {self.phase} "
                f"(χ₁={self.chi_1:.3g}, q*={q}); trainable depth {depth} layers.")


@functools.lru_cache(maxsize=8192)
def _mean_field_cached(name: str, sw2: float, sb2: float, b: float, alpha: float, dropout: float,
                       q_init: float) -> MeanField:
    r = _core(name, alpha, b, np.array([sw2]), np.array([sb2]), dropout, np.array([q_init]))
    v = {k: float(r[k][0]) for k in r}
    return MeanField(activation=name, sigma_w2=sw2, sigma_b2=sb2, q_star=v["q_star"], chi_1=v["chi_1"],
                     c_star=v["c_star"], chi_c=v["chi_c"], xi_q=v["xi_q"], xi_c=v["xi_c"], xi_grad=v["xi_grad"],
                     phase=_phase(v["chi_1"]), trainable_depth=v["trainable_depth"], bias_mean=b, alpha=alpha,
                     dropout=dropout, q_init=q_init)


def _common(activation: Any, alpha: Any, bias_mean: Any, dropout: Any = 0.0) -> tuple[str, float, float, float]:
    name = _activation(activation)
    a = _number("alpha", alpha, low=None)
    if name == "prelu":
        a = 0.0
    b = _number("bias_mean", bias_mean, low=None)
    p = _number("dropout", dropout, high=1.0, high_open=True)
    return name, a, b, p


def mean_field(activation: str, sigma_w2: float, sigma_b2: float, *, bias_mean: float = 0.0,
               alpha: float = 0.3, dropout: float = 0.0, q_init: float = 1.0) -> MeanField:
    """Fixed points, chi_1, chi_c, depth scales and phase (Poole et al. 2016; Schoenholz et al. 2017).

    `q_init` is where the length map starts when looking for q* (only matters when two fixed points
    attract, e.g. gelu or swish at sigma_b2 ~ 0 and 2 < sigma_w2 < 4, where 0 and inf both attract).

        >>> mean_field("linear", 0.5, 0.1).q_star   # sigma_b2 / (1 - sigma_w2)
        0.2
    """
    name, a, b, p = _common(activation, alpha, bias_mean, dropout)
    sw2 = _number("sigma_w2", sigma_w2)
    sb2 = _number("sigma_b2", sigma_b2)
    q0 = _number("q_init", q_init)
    return _mean_field_cached(name, sw2, sb2, b, a, p, q0)


def _chi1_of(name: str, alpha: float, b: float, sb2: np.ndarray, q_init: float):
    def f(sw2: np.ndarray, idx: np.ndarray) -> np.ndarray:
        q = _q_star(name, alpha, b, sw2, sb2[idx], np.full(sw2.shape, q_init))
        left, right = _tail_slopes(name, alpha)
        chi = sw2 * (left**2 + right**2) / 2.0
        fin = np.isfinite(q)
        if fin.any():
            chi[fin] = sw2[fin] * _moments(name, alpha, b, q[fin])["d2"]
        return chi - 1.0
    return f


_SW2_SCAN = np.geomspace(1e-2, 1e3, 46)


def _critical(name: str, alpha: float, b: float, sb2: np.ndarray, q_init: float) -> np.ndarray:
    if name == "linear":
        return np.ones(sb2.shape)
    if name in _RELU_FAMILY and b == 0.0:
        return np.full(sb2.shape, 2.0 / (1.0 + _slope(name, alpha) ** 2))
    f = _chi1_of(name, alpha, b, sb2, q_init)
    n, m = sb2.size, _SW2_SCAN.size
    grid = f(np.tile(_SW2_SCAN, n), np.repeat(np.arange(n), m)).reshape(n, m)
    cross = grid >= 0
    has = cross.any(axis=1) & ~cross[:, 0]
    j = np.argmax(cross, axis=1)
    out = np.full(n, np.nan)
    todo = np.flatnonzero(has)
    if todo.size:
        jj = j[todo]
        lo, hi = _SW2_SCAN[jj - 1], _SW2_SCAN[jj]
        g = _chi1_of(name, alpha, b, sb2[todo], q_init)
        root, froot = _solve(g, lo, hi, grid[todo, jj - 1], grid[todo, jj], rtol=1e-12)
        # chi_1 can jump over 1 (bistable length maps: q* leaps from ~0 to inf); no critical point then
        out[todo] = np.where(np.abs(froot) <= 1e-6, root, np.nan)
    return out


def critical_sigma_w2(activation: str, sigma_b2: float, *, alpha: float = 0.3, bias_mean: float = 0.0,
                      q_init: float = 1.0) -> float:
    """The smallest sigma_w2 with chi_1 = 1 (the order-to-chaos transition) at this sigma_b2.

    Closed forms: linear 1; relu and prelu 2; leaky_relu 2 / (1 + alpha^2) (for bias_mean = 0, every
    sigma_b2). Otherwise chi_1(sigma_w2) is scanned on [0.01, 1000] and the first crossing is polished
    to 1e-12. nan when there is none in that range, or where chi_1 jumps across 1 instead of passing
    through it (gelu and swish at small sigma_b2: from `q_init` the length map switches from a small
    fixed point to divergence, so no sigma_w2 has chi_1 = 1).

        >>> critical_sigma_w2("relu", 0.3)
        2.0
    """
    name, a, b, _ = _common(activation, alpha, bias_mean)
    sb2 = _number("sigma_b2", sigma_b2)
    q0 = _number("q_init", q_init)
    return float(_critical(name, a, b, np.array([sb2]), q0)[0])


def critical_line(activation: str, sigma_b2_values: Any, *, alpha: float = 0.3, bias_mean: float = 0.0,
                  q_init: float = 1.0) -> np.ndarray:
    """`critical_sigma_w2` for each sigma_b2 (vectorised: 50 values take well under a second)."""
    name, a, b, _ = _common(activation, alpha, bias_mean)
    sb2 = _values("sigma_b2_values", sigma_b2_values)
    q0 = _number("q_init", q_init)
    return _critical(name, a, b, sb2, q0)


def phase_grid(activation: str, sigma_w2_values: Any, sigma_b2_values: Any, *, bias_mean: float = 0.0,
               alpha: float = 0.3, dropout: float = 0.0, q_init: float = 1.0) -> dict[str, np.ndarray]:
    """MeanField quantities over a grid, vectorised (a 40 x 40 grid takes a fraction of a second).

    Returns arrays of shape (len(sigma_b2_values), len(sigma_w2_values)) - rows are sigma_b2, columns
    sigma_w2, the layout contour plots expect - for keys q_star, chi_1, c_star, chi_c, xi_q, xi_c,
    xi_grad, trainable_depth, with the same conventions as `mean_field`.
    """
    name, a, b, p = _common(activation, alpha, bias_mean, dropout)
    sw2 = _values("sigma_w2_values", sigma_w2_values)
    sb2 = _values("sigma_b2_values", sigma_b2_values)
    q0 = _number("q_init", q_init)
    W, B = np.meshgrid(sw2, sb2)
    r = _core(name, a, b, W.ravel(), B.ravel(), p, np.full(W.size, q0))
    r.pop("slope_q")
    return {k: v.reshape(W.shape) for k, v in r.items()}


def xi_c_grid(activation: str, sigma_w2_values: Any, sigma_b2_values: Any, *, bias_mean: float = 0.0,
              alpha: float = 0.3, dropout: float = 0.0, q_init: float = 1.0) -> np.ndarray:
    """xi_c over a grid, shape (len(sigma_b2_values), len(sigma_w2_values)); see `phase_grid`."""
    return phase_grid(activation, sigma_w2_values, sigma_b2_values, bias_mean=bias_mean, alpha=alpha,
                      dropout=dropout, q_init=q_init)["xi_c"]


# --- public API: a finite-depth trajectory --------------------------------------------------------


def _trajectory_args(activation, sigma_w2, sigma_b2, q0, depth, bias_mean, alpha, first_sigma_w2, dropout):
    name, a, b, p = _common(activation, alpha, bias_mean, dropout)
    sw2 = _number("sigma_w2", sigma_w2)
    sb2 = _number("sigma_b2", sigma_b2)
    q_in = _number("q0", q0)
    n = _integer("depth", depth)
    sw1 = sw2 if first_sigma_w2 is None else _number("first_sigma_w2", first_sigma_w2)
    return name, a, b, p, sw2, sb2, q_in, n, sw1


def _length_map(name, a, b, p, sw2, sb2, q_in, n, sw1) -> np.ndarray:
    q = np.full(n, np.inf)  # once q overflows it stays inf
    q[0] = sw1 * q_in + sb2
    for layer in range(1, n):
        if not math.isfinite(q[layer - 1]):
            break
        with np.errstate(over="ignore"):
            q[layer] = sw2 / (1.0 - p) * float(_m2(name, a, b, np.array([q[layer - 1]]))[0]) + sb2
    return q


def _d2_along(name: str, a: float, b: float, q: np.ndarray) -> np.ndarray:
    """E phi'^2 at each q, with the q -> inf limit where q is inf."""
    left, right = _tail_slopes(name, a)
    out = np.full(q.shape, (left**2 + right**2) / 2.0)
    fin = np.isfinite(q)
    if fin.any():
        out[fin] = _moments(name, a, b, q[fin])["d2"]
    return out


def length_map(activation: str, sigma_w2: float, sigma_b2: float, q0: float, depth: int, *,
               bias_mean: float = 0.0, alpha: float = 0.3, first_sigma_w2: float | None = None,
               dropout: float = 0.0) -> np.ndarray:
    """Pre-activation variances q^1 .. q^depth of the hidden layers (Poole et al. 2016's length map).

    `q0` is the input's mean squared feature, (1/N_0) sum_i x_i^2 (Poole et al.'s q^0). The first
    layer gives q^1 = first_sigma_w2 * q0 + sigma_b2 (first_sigma_w2 defaults to sigma_w2; in vgrad the
    first kernel is n_features x units, so its sigma_w2 can differ), then
    q^l = sigma_w2 / (1 - dropout) * E[phi(bias_mean + sqrt(q^{l-1}) z)^2] + sigma_b2.
    q^l is the variance of h^l about bias_mean, across units (and random weights).

        >>> length_map("relu", 2.0, 0.0, 1.0, 3)   # He init keeps q constant
        array([2., 2., 2.])
    """
    return _length_map(*_trajectory_args(activation, sigma_w2, sigma_b2, q0, depth, bias_mean, alpha,
                                         first_sigma_w2, dropout))


def layer_chis(activation: str, sigma_w2: float, sigma_b2: float, q0: float, depth: int, *,
               bias_mean: float = 0.0, alpha: float = 0.3, first_sigma_w2: float | None = None,
               dropout: float = 0.0) -> np.ndarray:
    """chi at each hidden layer along the transient: chi^l = sigma_w2/(1-p) E[phi'(bias_mean + sqrt(q^l) z)^2].

    E(dL/da_{l-1})^2 = chi^l E(dL/da_l)^2 for hidden layers l >= 2 (a_l = phi(h^l), the layer outputs
    vgrad records). It tends to chi_1 as q^l -> q*, but the first layers of a real net are still on
    the way there. Entry l-1 is chi^l, l = 1 .. depth (chi^1 is reported but enters no ratio of
    hidden layers).
    """
    args = _trajectory_args(activation, sigma_w2, sigma_b2, q0, depth, bias_mean, alpha, first_sigma_w2,
                            dropout)
    name, a, b, p, sw2 = args[:5]
    return sw2 / (1.0 - p) * _d2_along(name, a, b, _length_map(*args))


def predicted_grad_profile(activation: str, sigma_w2: float, sigma_b2: float, q0: float, depth: int, *,
                           bias_mean: float = 0.0, alpha: float = 0.3, first_sigma_w2: float | None = None,
                           dropout: float = 0.0) -> np.ndarray:
    """Predicted RMS(dL/da_l) / RMS(dL/da_depth) for hidden layers l = 1 .. depth (input side first).

    profile[l-1] = sqrt(chi^{l+1} * ... * chi^depth) from `layer_chis`; the last entry is 1. Holds in
    the wide limit, averaged over random initialisations (a net 8 units wide scatters around it by
    tens of percent per layer).

        >>> predicted_grad_profile("linear", 0.25, 0.0, 1.0, 3)   # sqrt(0.25) per layer
        array([0.25, 0.5 , 1.  ])
    """
    chis = layer_chis(activation, sigma_w2, sigma_b2, q0, depth, bias_mean=bias_mean, alpha=alpha,
                      first_sigma_w2=first_sigma_w2, dropout=dropout)
    sq = np.ones(chis.size)
    sq[:-1] = np.cumprod(chis[1:][::-1])[::-1]
    return np.sqrt(sq)


# --- public API: the input-output Jacobian ------------------------------------------------------


@dataclass(frozen=True)
class JacobianPrediction:
    """Spectrum of J J^T, J = d x^L / d x^0 = prod_l D_l W_l (Pennington, Schoenholz & Ganguli 2017).

    mean_sq_singular = chi_1^L = (sigma_w2 mu1)^L, the mean squared singular value;
    var_sq_singular = mean^2 * L (mu2/mu1^2 - 1 - s1), their variance across the spectrum, with
    mu_k = E[phi'(u)^(2k)] at q and s1 = -1 for Gaussian, 0 for orthogonal weights;
    relative_var = var / mean^2 ("dynamical isometry" when it stays O(1) as L grows: orthogonal
    weights with mu2 = mu1^2, i.e. phi' nearly constant over the pre-activations, e.g. tanh at q* -> 0).
    """

    activation: str
    sigma_w2: float
    sigma_b2: float
    depth: int
    weights: str
    q: float
    mu1: float
    mu2: float
    s1: float
    mean_sq_singular: float
    second_moment: float
    var_sq_singular: float
    relative_var: float


def jacobian_spectrum(activation: str, sigma_w2: float, sigma_b2: float, depth: int, *,
                      weights: str = "gaussian", bias_mean: float = 0.0, alpha: float = 0.3,
                      q: float | None = None, q_init: float = 1.0) -> JacobianPrediction:
    """Predicted mean and variance of the squared singular values of the input-output Jacobian.

    Free probability: the S-transform of J J^T is the product of those of the L matrices D_l^2 and
    W_l W_l^T, S(z) = (1/m1)(1 - (var/m1^2) z + ...), so relative variances add up:
    var/mean^2 = L (mu2/mu1^2 - 1) + L (1 for Gaussian W, whose W W^T is Marchenko-Pastur; 0 for
    orthogonal W). That is Pennington et al. (2017)'s result: m1 = (sigma_w2 mu1)^L,
    m2 = (sigma_w2 mu1)^(2L) L (mu2/mu1^2 + 1/L - 1 - s1), s1 = -1 (Gaussian) or 0 (orthogonal).
    A linear orthogonal net is an exact isometry (Saxe et al. 2013).
    Regime: width -> infinity at fixed depth (checked by numpy Monte Carlo at width 300-400, depth
    4-8: mean to the scatter of single nets, var/mean^2 within ~3 %), every layer's pre-activations
    at variance q (default q*: the input already at the fixed point). With q* = inf the mu_k take
    their q -> inf limits.

        >>> j = jacobian_spectrum("linear", 1.0, 0.0, 10, weights="orthogonal")
        >>> j.mean_sq_singular, j.relative_var   # an orthogonal linear net is an isometry
        (1.0, 0.0)
    """
    name, a, b, _ = _common(activation, alpha, bias_mean)
    sw2 = _number("sigma_w2", sigma_w2)
    sb2 = _number("sigma_b2", sigma_b2)
    n = _integer("depth", depth)
    if weights not in ("gaussian", "orthogonal"):
        raise ValueError(f"weights: expected 'gaussian' or 'orthogonal', got {weights!r}")
    qq = mean_field(name, sw2, sb2, bias_mean=b, alpha=a, q_init=q_init).q_star if q is None else _number("q", q)
    if math.isfinite(qq):
        mom = _moments(name, a, b, np.array([qq]))
        mu1, mu2 = float(mom["d2"][0]), float(mom["d4"][0])
    else:
        left, right = _tail_slopes(name, a)
        mu1, mu2 = (left**2 + right**2) / 2.0, (left**4 + right**4) / 2.0
    s1 = -1.0 if weights == "gaussian" else 0.0
    rel = max(n * (mu2 / mu1**2 - 1.0 - s1), 0.0) if mu1 > 0 else math.nan  # >= 0 up to rounding
    with np.errstate(over="ignore", invalid="ignore"):  # deep chaotic nets overflow to inf, never raise
        mean = np.float64(sw2 * mu1) ** n
        mean2 = mean * mean
    return JacobianPrediction(activation=name, sigma_w2=sw2, sigma_b2=sb2, depth=n, weights=weights, q=qq,
                              mu1=mu1, mu2=mu2, s1=s1, mean_sq_singular=float(mean),
                              second_moment=float(mean2 * (1 + rel)), var_sq_singular=float(mean2 * rel),
                              relative_var=rel)


# --- public API: what a configuration implies ---------------------------------------------------


def weight_variance(initializer: str, fan_in: int, fan_out: int, *, init_std: float = 0.05,
                    init_limit: float = 0.05, init_gain: float = 1.0) -> float:
    """sigma_w2 = fan_in * Var(W) of a fan_in x fan_out kernel from one of vgrad's initializers.

    Keras 3: glorot_* Var = 2/(fan_in+fan_out); he_* 2/fan_in; lecun_* 1/fan_in (the *_normal ones are
    truncated at 2 std with the std rescaled by 1/0.8796, so the variance is exactly that);
    orthogonal 1/max(fan_in, fan_out) (orthonormal rows or columns); random_normal init_std^2 (not
    truncated); random_uniform init_limit^2/3; glorot_bengio_standard U[+-1/sqrt(fan_in)]: 1/(3 fan_in).
    `init_gain` multiplies the variance.

        >>> weight_variance("he_normal", 2, 8), weight_variance("orthogonal", 2, 8)
        (2.0, 0.25)
    """
    if not isinstance(initializer, str) or initializer not in INITIALIZERS:
        raise ValueError(f"initializer: expected one of {', '.join(INITIALIZERS)}, got {initializer!r}")
    n_in, n_out = _integer("fan_in", fan_in), _integer("fan_out", fan_out)
    std = _number("init_std", init_std, low_open=True)
    limit = _number("init_limit", init_limit, low_open=True)
    gain = _number("init_gain", init_gain)
    if initializer.startswith("glorot_") and initializer != "glorot_bengio_standard":
        var = 2.0 / (n_in + n_out)
    elif initializer.startswith("he_"):
        var = 2.0 / n_in
    elif initializer.startswith("lecun_"):
        var = 1.0 / n_in
    elif initializer == "orthogonal":
        var = 1.0 / max(n_in, n_out)
    elif initializer == "random_normal":
        var = std * std
    elif initializer == "random_uniform":
        var = limit * limit / 3.0
    else:  # glorot_bengio_standard
        var = 1.0 / (3.0 * n_in)
    return gain * n_in * var


def applies(config: Any) -> tuple[bool, str]:
    """Whether mean-field theory at initialisation describes this RunConfig, with a one-sentence reason.

    False for recurrent nets (weights shared over time: not this theory), batch normalisation (it
    renormalises every layer, so the length map is not the one here) and residual connections (they
    add the identity to each block's Jacobian). Dropout: True but approximate - q* and chi_1 include
    its 1/(1-p) (training mode), while the predicted trainable depth is only indicative.
    """
    if getattr(config, "family", "mlp") == "rnn":
        return False, ("Recurrent nets reuse one weight matrix at every time step; this mean-field theory "
                       "is for deep feed-forward nets with independent layers.")
    if getattr(config, "batch_norm", "off") != "off":
        return False, ("Batch normalisation rescales every layer's pre-activations from batch statistics, "
                       "which the mean-field length map does not describe.")
    if getattr(config, "residual_every", 0) > 0:
        return False, ("Residual connections add the identity to each block's Jacobian, so gradients "
                       "do not follow the plain-network chi_1 per layer.")
    units = getattr(config, "units", 0)
    if getattr(config, "dropout", 0.0) > 0:
        return True, (f"Approximately: dropout's 1/(1-p) is folded into q and chi_1, but dropout also removes "
                      f"the critical point, and {units} units per layer scatter around the wide-net average.")
    return True, (f"Mean-field theory predicts the average over random initialisations of this plain "
                  f"feed-forward net; with {units} units per layer single runs scatter around it.")


def _config_params(config: Any) -> dict[str, Any]:
    gain = float(getattr(config, "init_gain", 1.0))
    kw = {"init_std": config.init_std, "init_limit": config.init_limit, "init_gain": gain}
    return {
        "activation": config.activation,
        "sigma_w2": weight_variance(config.initializer, config.units, config.units, **kw),
        "first_sigma_w2": weight_variance(config.initializer, config.n_features, config.units, **kw),
        "sigma_b2": float(getattr(config, "bias_std", 0.0)) ** 2,
        "bias_mean": float(config.bias_init),
        "alpha": float(config.leaky_alpha),
        "dropout": float(getattr(config, "dropout", 0.0)),
    }


def from_config(config: Any) -> MeanField | None:
    """The MeanField of a RunConfig's hidden layers (units x units kernels), or None when `applies` says no.

    sigma_w2 = weight_variance(initializer, units, units) (times init_gain); sigma_b2 = bias_std^2
    (random-normal biases, 0 if the config has no bias_std); bias_init is the constant bias_mean, not
    a variance; leaky_alpha is alpha; dropout is passed on. q_init is the first layer's q^1 for inputs
    of mean square 1 (standardised features): first_sigma_w2 + sigma_b2.
    """
    if not applies(config)[0]:
        return None
    p = _config_params(config)
    return mean_field(p["activation"], p["sigma_w2"], p["sigma_b2"], bias_mean=p["bias_mean"], alpha=p["alpha"],
                      dropout=p["dropout"], q_init=p["first_sigma_w2"] + p["sigma_b2"])


def profile_from_config(config: Any, *, q0: float = 1.0) -> np.ndarray | None:
    """`predicted_grad_profile` for a RunConfig's hidden layers (None when `applies` says no).

    `q0` is the mean squared input feature (1 for standardised data).
    """
    if not applies(config)[0]:
        return None
    p = _config_params(config)
    return predicted_grad_profile(p["activation"], p["sigma_w2"], p["sigma_b2"], q0, config.hidden_layers,
                                  bias_mean=p["bias_mean"], alpha=p["alpha"], first_sigma_w2=p["first_sigma_w2"],
                                  dropout=p["dropout"])
