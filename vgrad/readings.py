"""Automatic readings: short sentences about runs, computed from their records.

Every reading is a `Reading`: one sentence for people, a one-word `verdict`, and the numbers
the sentence was built from (so a test or a table can check them against the records).
Nothing here is hard-coded per preset; the same functions read any run.

    from vgrad.readings import run_readings, comparison_reading
    for r in run_readings(run):
        print(r.text)            # "first-layer gradient is 10^-4.4 of the last layer's: vanishing"
    comparison_reading("notebook", [deep, shallow, relu]).text

No TensorFlow: runs come from records (`vgrad.run.Run`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from vgrad.lessons import derivative_bound
from vgrad.presets import COMPARISONS
from vgrad.run import Run

LN2 = math.log(2.0)
# log10(last / first) at or above this: the gradient vanishes toward the input.
VANISHING_ORDERS = 2.0
# ... between SHRINKING_ORDERS and VANISHING_ORDERS: it shrinks; below -SHRINKING_ORDERS it grows.
SHRINKING_ORDERS = 1.0
# A loss within this of ln 2 that barely moved is "flat near ln 2" (a coin flip).
FLAT_TOLERANCE = 0.03
# A gradient over time kept above this share of the last step's counts as "kept".
TIME_KEPT_RATIO = 0.1
# Comparisons read the first layer's gradient over this first share of training.
EARLY_SHARE = 0.1


@dataclass(frozen=True)
class Reading:
    """One automatic reading: a sentence, a one-word verdict and the numbers behind them.

    `holds` is set by comparison readings: True when the runs show the expected pattern,
    False when they do not, None when there is not enough to say yet.
    """

    text: str
    verdict: str = ""
    numbers: dict[str, float] = field(default_factory=dict)
    holds: bool | None = None


# --- formatting ----------------------------------------------------------------


def power_text(ratio: float) -> str:
    """A ratio for people: 3.2e-5 -> '10^-4.5', 0.42 -> '0.42x', 250 -> '10^2.4'."""
    if ratio is None or not math.isfinite(ratio):
        return "undefined"
    if ratio <= 0:
        return "0"
    orders = math.log10(ratio)
    if abs(orders) < 1:
        return f"{ratio:.2g}x"
    return f"10^{orders:.1f}"


def num(v: float | None, digits: int = 3) -> str:
    if v is None or not math.isfinite(v):
        return "n/a"
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e4):
        return f"{v:.{max(1, digits - 1)}e}"
    return f"{v:.{digits}g}"


def _finite(v) -> bool:
    return v is not None and isinstance(v, int | float) and math.isfinite(v)


# --- the numbers -----------------------------------------------------------------


def first_last(values: Sequence[float | None]) -> tuple[int, int] | None:
    """Indices of the first and last finite entries of a per-layer list (None when fewer than 2)."""
    idx = [i for i, v in enumerate(values) if _finite(v)]
    if len(idx) < 2:
        return None
    return idx[0], idx[-1]


def step_record(run: Run, step: int = -1) -> dict | None:
    """The step record at list position `step` (default: the last one), or None."""
    if not run.steps:
        return None
    try:
        return run.steps[step]
    except IndexError:
        return None


def attenuation(run: Run, step: int = -1, stat: str = "grad_norm") -> dict[str, float]:
    """First vs last layer of a per-layer statistic at one step.

    Returns step, first, last, ratio (first / last) and orders (log10(last / first): 3.0 means
    the first layer gets 1000x less). Layers whose value is missing (e.g. dL/da of the output) are
    skipped. Empty dict when there is nothing to read.
    """
    rec = step_record(run, step)
    if rec is None:
        return {}
    values = rec.get(stat) or []
    ends = first_last(values)
    if ends is None:
        return {}
    first, last = float(values[ends[0]]), float(values[ends[1]])
    ratio = first / last if last > 0 else math.nan
    orders = math.log10(last / first) if first > 0 and last > 0 else (math.inf if last > 0 else math.nan)
    return {"step": float(rec["step"]), "first": first, "last": last, "ratio": ratio, "orders": orders,
            "first_layer": float(ends[0]), "last_layer": float(ends[1])}


def loss_start_end(run: Run) -> dict[str, float]:
    """Loss at the first step (the batch at initialisation) and at the end.

    The end is the last epoch's training loss on the full training set (the last step's batch
    loss when no epoch has ended yet).
    """
    if not run.steps:
        return {}
    start = run.steps[0].get("loss")
    if run.epochs and _finite(run.epochs[-1].get("loss")):
        end, source = run.epochs[-1]["loss"], 1.0
    else:
        end, source = run.steps[-1].get("loss"), 0.0
    if not (_finite(start) and _finite(end)):
        return {}
    return {"start": float(start), "end": float(end), "end_is_epoch": source, "steps": float(len(run.steps))}


def steps_to_loss(run: Run, threshold: float) -> int | None:
    """Optimizer steps done when an epoch's training loss first fell to `threshold` (None if never)."""
    for e in run.epochs:
        loss = e.get("loss")
        if _finite(loss) and loss <= threshold:
            return int(e["step"]) + 1
    return None


def first_layer_grad(run: Run, stat: str = "grad_norm") -> np.ndarray:
    """The first layer's statistic over the steps (nan where missing)."""
    return np.array([(s.get(stat) or [None])[0] if _finite((s.get(stat) or [None])[0]) else np.nan
                     for s in run.steps], dtype=float)


def time_attenuation(run: Run, step: int = -1) -> dict[str, float]:
    """‖dL/dx_t‖ at time step 0 vs the last time step (rnn runs).

    ratio (first / last) and orders (log10(last / first)) at training step `step` (default: the
    latest); start_ratio at the first training step; median_ratio over all training steps so far
    (the steady picture, which the verdicts use). Empty dict when nothing is recorded.
    """
    rec = step_record(run, step)
    if rec is None or not rec.get("input_grad_by_time"):
        return {}
    ratios = [_time_ratio(s) for s in run.steps]
    ratios = [r for r in ratios if r is not None]
    by_time = rec["input_grad_by_time"]
    now = _time_ratio(rec)
    if now is None or not ratios:
        return {}
    first, last = float(by_time[0]), float(by_time[-1])
    return {"step": float(rec["step"]), "first": first, "last": last, "ratio": now,
            "orders": math.log10(last / first) if first > 0 else math.inf, "seq_len": float(len(by_time)),
            "start_ratio": ratios[0], "median_ratio": float(np.median(ratios))}


def _time_ratio(rec: dict) -> float | None:
    by_time = rec.get("input_grad_by_time") or []
    if len(by_time) < 2 or not (_finite(by_time[0]) and _finite(by_time[-1])) or by_time[-1] <= 0:
        return None
    return float(by_time[0]) / float(by_time[-1])


def clip_setting(run: Run) -> tuple[str, float]:
    """('global_clipnorm', 1.0) style: which clipping the run used, ('', 0) for none."""
    for name in ("global_clipnorm", "clipnorm", "clipvalue"):
        value = getattr(run.config, name)
        if value:
            return name, float(value)
    return "", 0.0


def gradient_norms(run: Run) -> dict[str, float]:
    """Largest and median global gradient norm before and after clipping; steps clipped."""
    raw = np.array([s.get("global_norm", np.nan) for s in run.steps], dtype=float)
    clipped = np.array([s.get("global_norm_clipped", np.nan) for s in run.steps], dtype=float)
    ok = np.isfinite(raw) & np.isfinite(clipped)
    if not ok.any():
        return {}
    raw, clipped = raw[ok], clipped[ok]
    return {"max": float(raw.max()), "median": float(np.median(raw)), "max_clipped": float(clipped.max()),
            "steps_clipped": float(np.sum(clipped < raw * (1 - 1e-4))), "steps": float(raw.size)}


def sigma_history(run: Run, layer: int = 0) -> np.ndarray:
    """Largest singular value of a recurrent kernel over the steps (nan where missing)."""
    out = []
    for s in run.steps:
        vals = s.get("recurrent_sigma_max") or []
        out.append(vals[layer] if len(vals) > layer and _finite(vals[layer]) else np.nan)
    return np.array(out, dtype=float)


def sigma_threshold(activation: str) -> float:
    """Pascanu et al.'s 1/gamma: one over the bound of the recurrent activation's derivative."""
    return 1.0 / derivative_bound(activation)


# --- readings of one run -----------------------------------------------------------


def gradient_reading(run: Run, step: int = -1, stat: str = "grad_norm") -> Reading:
    """'first-layer gradient is 10^-4.4 of the last layer's: vanishing'."""
    a = attenuation(run, step, stat)
    what = "gradient" if stat == "grad_norm" else ("back-propagated gradient dL/da" if stat == "act_grad_rms" else stat)
    if not a:
        return Reading(f"no {what} recorded yet", "waiting")
    orders = a["orders"]
    if a["first"] == 0 and a["last"] == 0:
        text = (f"every recorded {what} from the first to the last layer is exactly 0 at step {int(a['step'])}: "
                "no signal reaches the weights (the forward signal died out or every unit is dead)")
        return Reading(text, "no gradient", a)
    if orders >= VANISHING_ORDERS:
        verdict = "vanishing"
    elif orders >= SHRINKING_ORDERS:
        verdict = "shrinking"
    elif orders <= -VANISHING_ORDERS:
        verdict = "exploding toward the input"
    elif orders <= -SHRINKING_ORDERS:
        verdict = "growing toward the input"
    else:
        verdict = "balanced"
    if a["first"] == 0:
        text = (f"first-layer {what} is exactly 0 while the last layer's is {num(a['last'])} "
                f"(step {int(a['step'])}): {verdict}")
    else:
        text = (f"first-layer {what} is {power_text(a['ratio'])} of the last layer's "
                f"({num(a['first'])} vs {num(a['last'])} at step {int(a['step'])}): {verdict}")
    return Reading(text, verdict, a)


def loss_reading(run: Run) -> Reading:
    """'loss fell from 0.69 to 0.05' / 'loss flat near ln 2 = 0.693'."""
    le = loss_start_end(run)
    if run.status in ("diverged", "failed"):
        where = f" after {len(run.steps)} steps" if run.steps else ""
        return Reading(f"the run {run.status}{where}: {run.message[:300]}", run.status, le)
    if not le:
        return Reading("no loss recorded yet", "waiting")
    start, end = le["start"], le["end"]
    if end <= 0.8 * start:
        verdict, text = "learned", f"loss fell from {start:.3g} to {end:.3g}"
    elif abs(end - LN2) <= FLAT_TOLERANCE and abs(end - start) <= max(0.1 * start, FLAT_TOLERANCE):
        verdict, text = "flat", f"loss flat near ln 2 = 0.693 ({start:.3g} -> {end:.3g}): no better than a coin flip"
    elif end > 1.05 * start:
        verdict, text = "rose", f"loss rose from {start:.3g} to {end:.3g}"
    else:
        verdict, text = "barely moved", f"loss barely moved: {start:.3g} -> {end:.3g}"
    return Reading(text, verdict, {**le, "ln2": LN2})


def accuracy_reading(run: Run) -> Reading:
    m = run.final_metrics()
    acc, val = m.get("accuracy"), m.get("val_accuracy")
    if not (_finite(acc) and _finite(val)):
        return Reading("no epoch finished yet", "waiting")
    verdict = "near chance" if val < 0.6 else ("learned" if val >= 0.8 else "partly learned")
    if acc - val >= 0.2:
        verdict = "memorised" if val < 0.6 else "overfit"
    meaning = {"memorised": "it memorised the training set and is near chance on new data",
               "overfit": "it fits the training set much better than new data"}.get(verdict, verdict)
    return Reading(f"final accuracy {acc:.0%} on training, {val:.0%} on validation: {meaning}", verdict,
                   {"accuracy": float(acc), "val_accuracy": float(val)})


def time_reading(run: Run, step: int = -1) -> Reading:
    """'gradient w.r.t. time step 0 is 10^-8 of step 39's: the simple_rnn loses the early signal'.

    The verdict uses the median ratio over training (one step can be noisy); the sentence gives
    the start, the median and the latest value.
    """
    t = time_attenuation(run, step)
    if not t:
        return Reading("no gradient through time recorded", "waiting")
    last_t = int(t["seq_len"]) - 1
    cell = run.layers[0]["kind"] if run.layers else run.config.cell
    if t["median_ratio"] >= TIME_KEPT_RATIO:
        verdict, tail = "kept", f"the {cell} keeps the early signal"
    else:
        verdict, tail = "vanishing", f"the {cell} loses the early signal"
    text = (f"gradient w.r.t. time step 0 is {power_text(t['median_ratio'])} of step {last_t}'s "
            f"(median over training; {power_text(t['start_ratio'])} at the start, "
            f"{power_text(t['ratio'])} at step {int(t['step'])}): {tail}")
    return Reading(text, verdict, t)


def clipping_reading(run: Run) -> Reading:
    """'clipping bounded the update norm at 1.0 while the unclipped norm reached 1e4'."""
    g = gradient_norms(run)
    if not g:
        return Reading("no gradient norms recorded yet", "waiting")
    kind, value = clip_setting(run)
    if not kind:
        spike = g["max"] / g["median"] if g["median"] > 0 else math.inf
        verdict = "spiking" if spike >= 10 else "steady"
        text = (f"no clipping: the global gradient norm reached {num(g['max'])} "
                f"(median {num(g['median'])}, {spike:.3g}x the median)")
        return Reading(text, verdict, {**g, "spike": spike, "clip": 0.0})
    what = {"global_clipnorm": "the global norm", "clipnorm": "each variable's norm",
            "clipvalue": "each gradient element"}[kind]
    text = (f"{kind}={value:g} clipped {what} on {int(g['steps_clipped'])} of {int(g['steps'])} steps: "
            f"the applied gradient norm stayed at most {num(g['max_clipped'])} "
            f"while the unclipped norm reached {num(g['max'])}")
    return Reading(text, "clipped" if g["steps_clipped"] else "never clipped", {**g, "clip": value})


def sigma_reading(run: Run, layer: int = 0) -> Reading:
    """Largest singular value of the recurrent kernel against Pascanu's 1/gamma."""
    sig = sigma_history(run, layer)
    sig = sig[np.isfinite(sig)]
    if not sig.size:
        return Reading("no recurrent kernel recorded", "waiting")
    act = run.layers[layer]["activation"] if run.layers else run.config.activation
    cell = run.layers[layer]["kind"] if run.layers else run.config.cell
    threshold = sigma_threshold(act)
    start, end, peak = float(sig[0]), float(sig[-1]), float(sig.max())
    if end < threshold:
        verdict = "below 1/gamma"
        meaning = "below it, gradients through time must vanish (Pascanu's sufficient condition)"
    else:
        verdict = "above 1/gamma"
        meaning = "above it, gradients through time can explode"
    text = (f"largest singular value of the recurrent kernel: {start:.3g} at the start, {end:.3g} at the end, "
            f"against 1/gamma = {threshold:.3g} for {act}; {meaning}")
    if cell != "simple_rnn":
        text += f" (the bound is for a plain recurrence; the {cell}'s gates change the path)"
    return Reading(text, verdict, {"start": start, "end": end, "max": peak, "threshold": threshold})


def run_readings(run: Run) -> list[Reading]:
    """The readings that apply to a run: gradient across layers, loss, accuracy; rnn: time, sigma, norms."""
    out = [gradient_reading(run), loss_reading(run), accuracy_reading(run)]
    if run.config.family == "rnn":
        out += [time_reading(run), sigma_reading(run), clipping_reading(run)]
    elif clip_setting(run)[0]:
        out.append(clipping_reading(run))
    return out


# --- comparisons -----------------------------------------------------------------------


def run_label(run: Run, i: int) -> str:
    c = run.config
    if c.family == "rnn":
        return f"{i + 1}: {c.cell} x{c.seq_len}"
    return f"{i + 1}: {c.hidden_layers}x{c.units} {c.activation}"


def comparison_table(runs: Sequence[Run], labels: Sequence[str] | None = None,
                     loss_threshold: float = 0.5) -> pd.DataFrame:
    """One row per run: status, steps, losses, accuracies, attenuation, first/last gradient,
    steps to reach `loss_threshold`, then the final gradient norm of every layer (by layer name)."""
    labels = list(labels) if labels else [run_label(r, i) for i, r in enumerate(runs)]
    rows = []
    for label, run in zip(labels, runs, strict=True):
        a = attenuation(run)
        m = run.final_metrics()
        reached = steps_to_loss(run, loss_threshold)
        row = {
            "run": label, "status": run.status, "steps": len(run.steps),
            "final loss": m.get("loss"), "train acc": m.get("accuracy"), "val acc": m.get("val_accuracy"),
            "attenuation (orders)": a.get("orders", math.nan),
            "first-layer grad": a.get("first", math.nan), "last-layer grad": a.get("last", math.nan),
            f"steps to loss <= {loss_threshold:g}": reached,
        }
        rec = step_record(run)
        if rec is not None:
            for layer, value in zip(run.layers, rec.get("grad_norm") or [], strict=False):
                row[f"grad {layer['name']}"] = value if _finite(value) else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def generic_comparison(runs: Sequence[Run], labels: Sequence[str]) -> Reading:
    """Any set of runs: which keeps the first layer's gradient best, which reaches the lowest loss."""
    att = [(attenuation(r).get("orders", math.nan), lab) for r, lab in zip(runs, labels, strict=True)]
    att = [(o, lab) for o, lab in att if not math.isnan(o)]
    losses = [(loss_start_end(r).get("end", math.nan), lab) for r, lab in zip(runs, labels, strict=True)]
    losses = [(v, lab) for v, lab in losses if math.isfinite(v)]
    if not att:
        return Reading("no gradients recorded yet", "waiting")
    worst, best = max(att), min(att)
    parts = [f"strongest attenuation: {worst[1]} (first layer 10^{-worst[0]:.1f} of the last)",
             f"weakest: {best[1]} (10^{-best[0]:.1f})"]
    numbers = {"max_orders": worst[0], "min_orders": best[0]}
    if losses:
        low = min(losses)
        parts.append(f"lowest final loss: {low[1]} ({low[0]:.3g})")
        numbers["min_loss"] = low[0]
    return Reading("; ".join(parts), "", numbers)


def _orders(run: Run, stat: str = "grad_norm", step: int = -1) -> float:
    return attenuation(run, step, stat).get("orders", math.nan)


def _first(run: Run) -> float:
    return early_first_grad(run)


def early_first_grad(run: Run, share: float = EARLY_SHARE) -> float:
    """Median first-layer gradient norm over the first `share` of the steps so far (at least one step).

    Comparisons use it rather than the last step's value: a net that has already fit the data has a
    small gradient because its loss is small, not because the gradient vanishes.
    """
    g = first_layer_grad(run)
    if not g.size:
        return math.nan
    early = g[:max(1, int(len(g) * share))]
    early = early[np.isfinite(early)]
    return float(np.median(early)) if early.size else math.nan


def _end_loss(run: Run) -> float:
    return loss_start_end(run).get("end", math.nan)


def _notebook(runs, labels) -> Reading:
    deep, others = runs[0], runs[1:]
    d = _orders(deep)
    o = [_orders(r) for r in others]
    if math.isnan(d) or any(math.isnan(x) for x in o):
        return Reading("waiting for gradients", "waiting")
    gap = d - max(o)
    holds = gap >= 1.0
    others_text = ", ".join(f"{lab}: 10^{-x:.1f}" for lab, x in zip(labels[1:], o, strict=True))
    text = (f"{labels[0]}: first-layer gradient 10^{-d:.1f} of the last layer's; {others_text}. "
            + (f"The deep sigmoid net attenuates {gap:.1f} orders of magnitude more."
               if holds else f"The gap is only {gap:.1f} orders of magnitude."))
    return Reading(text, "as expected" if holds else "not as expected", {"deep_orders": d, "gap": gap}, holds)


def _remedies(runs, labels) -> Reading:
    base = _first(runs[0])
    if not math.isfinite(base) or base <= 0:
        return Reading("waiting for the baseline's gradients", "waiting")
    parts, numbers, checks = [], {"baseline_first": base}, []
    for run, lab in zip(runs[1:], labels[1:], strict=True):
        f = _first(run)
        if not math.isfinite(f):
            continue
        gain = f / base
        numbers[f"gain {lab}"] = gain
        parts.append(f"{lab}: {power_text(gain)}")
        c = run.config
        if c.activation in ("relu", "leaky_relu", "prelu", "elu", "selu") or c.batch_norm != "off" or c.residual_every:
            checks.append(gain >= 3.0)
    text = ("first-layer gradient early in training (median of the first 10% of steps) against the baseline's "
            + num(base) + ": " + ", ".join(parts))
    holds = all(checks) if checks else None
    return Reading(text, "as expected" if holds else ("not as expected" if holds is False else ""), numbers, holds)


def _glorot(runs, labels) -> Reading:
    # Paper: at initialisation, dL/da shrinks toward the input with standard init, not with normalized.
    s, n = _orders(runs[0], "act_grad_rms", 0), _orders(runs[1], "act_grad_rms", 0)
    if math.isnan(s) or math.isnan(n):
        return Reading("waiting for the first step", "waiting")
    holds = s > n + 0.2
    text = (f"at initialisation dL/da at the first layer is 10^{-s:.1f} of the last hidden layer's with "
            f"{labels[0]}, 10^{-n:.1f} with {labels[1]}")
    return Reading(text, "as expected" if holds else "not as expected", {"standard_orders": s, "normalized_orders": n},
                   holds)


def _he(runs, labels) -> Reading:
    small, he = loss_reading(runs[0]), loss_reading(runs[1])
    if "waiting" in (small.verdict, he.verdict):
        return Reading("waiting for losses", "waiting")
    holds = small.verdict in ("flat", "barely moved") and he.verdict == "learned"
    text = f"{labels[0]}: {small.text}; {labels[1]}: {he.text}"
    return Reading(text, "as expected" if holds else "not as expected",
                   {"small_end": small.numbers["end"], "he_end": he.numbers["end"],
                    "small_orders": _orders(runs[0]), "he_orders": _orders(runs[1])}, holds)


def _lower_loss_bigger_grad(runs, labels, what: str) -> Reading:
    (plain, fix), (lp, lf) = runs[:2], labels[:2]
    broken = [(lab, r) for lab, r in ((lp, plain), (lf, fix)) if r.status in ("diverged", "failed")]
    if broken:
        text = "; ".join(f"{lab} {r.status} after {len(r.steps)} steps: {r.message[:200]}" for lab, r in broken)
        return Reading(text, "not as expected", {}, False)
    lp_end, lf_end, gp, gf = _end_loss(plain), _end_loss(fix), _first(plain), _first(fix)
    if not all(math.isfinite(v) for v in (lp_end, lf_end, gp, gf)) or gp <= 0:
        return Reading("waiting for both runs", "waiting")
    holds = lf_end < lp_end and gf > gp
    text = (f"final training loss {lp_end:.3g} ({lp}) vs {lf_end:.3g} ({lf}); first-layer gradient early in "
            f"training {num(gp)} vs {num(gf)} ({power_text(gf / gp)}) {what}")
    return Reading(text, "as expected" if holds else "not as expected",
                   {"plain_loss": lp_end, "fixed_loss": lf_end, "plain_first": gp, "fixed_first": gf}, holds)


def _rnn(runs, labels) -> Reading:
    times = [time_attenuation(r) for r in runs]
    accs = [r.final_metrics().get("val_accuracy") for r in runs]
    if not all(times) or not all(_finite(a) for a in accs):
        return Reading("waiting for the recurrent runs", "waiting")
    simple = [i for i, r in enumerate(runs) if r.config.cell == "simple_rnn"]
    # The LSTM is the expected bridge (the GRU may or may not recover, see COMPARISONS["rnn"]);
    # without an LSTM, any gated cell is compared.
    gated = ([i for i, r in enumerate(runs) if r.config.cell == "lstm"]
             or [i for i, r in enumerate(runs) if r.config.cell != "simple_rnn"])
    parts = [f"{lab}: time step 0 gets {power_text(t['median_ratio'])} of the last step's gradient "
             f"(median), val acc {a:.0%}" for lab, t, a in zip(labels, times, accs, strict=True)]
    holds = None
    if simple and gated:
        holds = (max(times[i]["median_ratio"] for i in simple) < min(times[i]["median_ratio"] for i in gated)
                 and max(accs[i] for i in simple) < min(accs[i] for i in gated))
    return Reading("; ".join(parts), "as expected" if holds else ("not as expected" if holds is False else ""),
                   {f"median ratio {lab}": t["median_ratio"] for lab, t in zip(labels, times, strict=True)}, holds)


def _clipping(runs, labels) -> Reading:
    norms = [gradient_norms(r) for r in runs]
    if not all(norms):
        return Reading("waiting for gradient norms", "waiting")
    clipped = [(r, g, lab) for r, g, lab in zip(runs, norms, labels, strict=True) if clip_setting(r)[0]]
    free = [(r, g, lab) for r, g, lab in zip(runs, norms, labels, strict=True) if not clip_setting(r)[0]]
    parts = [clipping_reading(r).text for r in runs]
    holds = None
    if clipped and free:
        holds = all(clip_setting(r)[0] != "global_clipnorm" or g["max_clipped"] <= clip_setting(r)[1] * 1.001
                    for r, g, _ in clipped) and max(g["max"] for _, g, _ in free) > 1.0
    text = "; ".join(f"{lab}: {p}" for lab, p in zip(labels, parts, strict=True))
    return Reading(text, "as expected" if holds else ("not as expected" if holds is False else ""),
                   {f"max {lab}": g["max"] for lab, g in zip(labels, norms, strict=True)}, holds)


_VERDICTS = {
    "notebook": _notebook,
    "remedies": _remedies,
    "glorot-bengio": _glorot,
    "he-init": _he,
    "batchnorm": lambda runs, labels: _lower_loss_bigger_grad(runs, labels, "with BatchNorm"),
    "residual": lambda runs, labels: _lower_loss_bigger_grad(runs, labels, "with shortcuts"),
    "rnn": _rnn,
    "clipping": _clipping,
}


def comparison_reading(name: str, runs: Sequence[Run], labels: Sequence[str] | None = None) -> Reading:
    """The automatic verdict for a comparison in COMPARISONS (runs in the order of its presets).

    When the runs do not line up with the comparison (another count), or `name` is not a known
    comparison, a generic reading of the runs is returned (holds None).
    """
    labels = list(labels) if labels else [run_label(r, i) for i, r in enumerate(runs)]
    comp = COMPARISONS.get(name)
    if comp is None or len(runs) != len(comp.presets) or name not in _VERDICTS or not runs:
        return generic_comparison(runs, labels) if runs else Reading("no runs", "waiting")
    return _VERDICTS[name](list(runs), labels)


def recurrent_reading(runs: Sequence[Run], labels: Sequence[str]) -> Reading:
    """SimpleRNN vs gated cells, any number of runs: does the SimpleRNN lose time step 0 and the task?"""
    return _rnn(list(runs), list(labels)) if runs else Reading("no runs", "waiting")


def clipping_comparison(runs: Sequence[Run], labels: Sequence[str]) -> Reading:
    """Clipped vs unclipped runs, any number: did clipping bound every applied update?"""
    return _clipping(list(runs), list(labels)) if runs else Reading("no runs", "waiting")
