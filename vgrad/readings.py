"""Automatic readings: short sentences about runs, computed from their records (no TensorFlow).

Every reading is a `Reading`: one sentence for people, a one-word `verdict`, and the numbers
the sentence was built from (so a test or a table can check them against the records). The
numbers come from `vgrad.run.Run`; a comparison's verdict is the data in its preset
(`vgrad.presets.Comparison.checks`), evaluated by the one function `verdict`.

    from vgrad.readings import run_readings, comparison_reading
    for r in run_readings(run):
        print(r.text)            # "first-layer gradient is 10^-4.4 of the last layer's: vanishing"
    comparison_reading("notebook", [deep, shallow, relu]).holds
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from vgrad.config import ConfigError, parse_value
from vgrad.lessons import derivative_bound
from vgrad.presets import COMPARISONS, Check
from vgrad.records import Status
from vgrad.run import Run
from vgrad.text import MISSING, num, pct, power_text

LN2 = math.log(2.0)


def chance_loss(run: Run) -> tuple[float, str]:
    """The loss of a model that has learned nothing, and how to say it: ln 2 for two classes, ln k for k,
    1.0 for regression (the targets are standardised, so predicting their mean scores 1)."""
    if run.task == "regression":
        return 1.0, "1.0 (predicting the mean)"
    k = run.n_classes
    return math.log(k), f"ln {k} = {math.log(k):.3g}"
# log10(last / first) at or above this: the gradient vanishes toward the input.
VANISHING_ORDERS = 2.0
# ... between SHRINKING_ORDERS and VANISHING_ORDERS: it shrinks; below -SHRINKING_ORDERS it grows.
SHRINKING_ORDERS = 1.0
# A loss within this of ln 2 that barely moved is "flat near ln 2" (a coin flip).
FLAT_TOLERANCE = 0.03
# A gradient over time kept above this share of the last step's counts as "kept".
TIME_KEPT_RATIO = 0.1


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


# --- readings of one run -----------------------------------------------------------


def gradient_reading(run: Run, step: int | None = None, stat: str = "grad_norm") -> Reading:
    """'first-layer gradient is 10^-4.4 of the last layer's: vanishing'.

    With no `step`, the verdict is the median over the first 10% of the steps (a net that has fit its data
    has tiny gradients everywhere at the end, which is not a vanishing gradient), the sentence also gives
    the latest step's ratio."""
    if step is None:
        latest = gradient_reading(run, -1, stat)
        early = run.early_attenuation_orders(stat=stat)
        if len(run.steps) < 10 or not math.isfinite(early) or latest.verdict in ("waiting", "no gradient"):
            return latest
        verdict = _attenuation_verdict(early)
        text = (f"early in training the first-layer gradient was {power_text(10 ** -early)} of the last layer's: "
                f"{verdict}; at step {latest.numbers['step']:.0f} it is {latest.text.split(' is ', 1)[-1]}")
        return Reading(text, verdict, {**latest.numbers, "early_orders": early})
    a = run.attenuation(step, stat)
    what = "gradient" if stat == "grad_norm" else ("back-propagated gradient dL/da" if stat == "act_grad_rms" else stat)
    if a is None:
        return Reading(f"no {what} recorded yet", "waiting")
    numbers = {"step": float(a.step), "first": a.first, "last": a.last, "ratio": a.ratio, "orders": a.orders,
               "first_layer": float(a.first_layer), "last_layer": float(a.last_layer)}
    if a.first == 0 and a.last == 0:
        text = (f"every recorded {what} from the first to the last layer is exactly 0 at step {a.step}: "
                "no signal reaches the weights (the forward signal died out or every unit is dead)")
        return Reading(text, "no gradient", numbers)
    verdict = _attenuation_verdict(a.orders)
    if a.first == 0:
        text = f"first-layer {what} is exactly 0 while the last layer's is {num(a.last)} (step {a.step}): {verdict}"
    else:
        text = (f"first-layer {what} is {power_text(a.ratio)} of the last layer's "
                f"({num(a.first)} vs {num(a.last)} at step {a.step}): {verdict}")
    return Reading(text, verdict, numbers)


def _attenuation_verdict(orders: float) -> str:
    if orders >= VANISHING_ORDERS:
        return "vanishing"
    if orders >= SHRINKING_ORDERS:
        return "shrinking"
    if orders <= -VANISHING_ORDERS:
        return "exploding toward the input"
    if orders <= -SHRINKING_ORDERS:
        return "growing toward the input"
    return "balanced"


def loss_reading(run: Run) -> Reading:
    """'loss fell from 0.69 to 0.05' / 'loss flat near ln 2 = 0.693'."""
    le = run.loss_start_end()
    if run.status in (Status.DIVERGED, Status.FAILED):
        where = f" after {len(run.steps)} steps" if run.steps else ""
        return Reading(f"the run {run.status}{where}: {run.message[:300]}", str(run.status), le)
    if not le:
        return Reading("no loss recorded yet", "waiting")
    start, end = le["start"], le["end"]
    chance, chance_text = chance_loss(run)
    if end <= 0.8 * start:
        verdict, text = "learned", f"loss fell from {start:.3g} to {end:.3g}"
    elif abs(end - chance) <= FLAT_TOLERANCE * max(1.0, chance / LN2) and abs(end - start) <= max(0.1 * start,
                                                                                                   FLAT_TOLERANCE):
        guess = "a coin flip" if run.task == "binary" else ("guessing" if run.task == "multiclass" else "the mean")
        verdict, text = "flat", f"loss flat near {chance_text} ({start:.3g} -> {end:.3g}): no better than {guess}"
    elif end > 1.05 * start:
        verdict, text = "rose", f"loss rose from {start:.3g} to {end:.3g}"
    else:
        verdict, text = "barely moved", f"loss barely moved: {start:.3g} -> {end:.3g}"
    return Reading(text, verdict, {**le, "chance": chance})


def accuracy_reading(run: Run) -> Reading:
    """'final accuracy 95% on training, 93% on validation: learned' (R² for regression)."""
    m = run.final_metrics()
    if run.task == "regression":
        r2, val = m["r2"], m["val_r2"]
        if not (math.isfinite(r2) and math.isfinite(val)):
            return Reading("no epoch finished yet", "waiting")
        verdict = "no better than the mean" if val < 0.1 else ("learned" if val >= 0.7 else "partly learned")
        return Reading(f"final R² {r2:.2f} on training, {val:.2f} on validation (1 = perfect, 0 = the mean): "
                       f"{verdict}", verdict, {"r2": r2, "val_r2": val})
    acc, val = m["accuracy"], m["val_accuracy"]
    if not (math.isfinite(acc) and math.isfinite(val)):
        return Reading("no epoch finished yet", "waiting")
    chance = 1.0 / (len(run.start.classes) if run.start is not None and run.start.classes else 2)
    near = chance + 0.1 * (1 - chance) * 2  # 0.6 for two classes
    verdict = "near chance" if val < near else ("learned" if val >= 0.8 else "partly learned")
    if acc - val >= 0.2:
        verdict = "memorised" if val < near else "overfit"
    meaning = {"memorised": "it memorised the training set and is near chance on new data",
               "overfit": "it fits the training set much better than new data"}.get(verdict, verdict)
    return Reading(f"final accuracy {acc:.0%} on training, {val:.0%} on validation: {meaning}", verdict,
                   {"accuracy": acc, "val_accuracy": val})


def time_reading(run: Run, step: int = -1) -> Reading:
    """'gradient w.r.t. time step 0 is 10^-8 of step 39's: the simple_rnn loses the early signal'.

    The verdict uses the median ratio over training (one step can be noisy); the sentence gives
    the start, the median and the latest value.
    """
    t = run.time_attenuation(step)
    if not t:
        return Reading("no gradient through time recorded", "waiting")
    last_t = int(t["seq_len"]) - 1
    cell = run.layers[0].kind if run.layers else run.config.cell
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
    g = run.gradient_norms()
    if not g:
        return Reading("no gradient norms recorded yet", "waiting")
    kind, value = run.clip_setting()
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


def sigma_threshold(activation: str) -> float:
    """Pascanu et al.'s 1/gamma: one over the bound of the recurrent activation's derivative."""
    return 1.0 / derivative_bound(activation)


def sigma_reading(run: Run, layer: int = 0) -> Reading:
    """Largest singular value of the recurrent kernel against Pascanu's 1/gamma."""
    sig = run.sigma_history(layer)
    sig = sig[np.isfinite(sig)]
    if not sig.size:
        return Reading("no recurrent kernel recorded", "waiting")
    act = run.layers[layer].activation if run.layers else run.config.activation
    cell = run.layers[layer].kind if run.layers else run.config.cell
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


def divergence_banner(run: Run) -> str | None:
    """A sentence for a banner when the run diverged or failed, else None."""
    if run.status == Status.DIVERGED:
        return "Training diverged. " + (run.message or f"at step {run.last_step + 1}")
    if run.status == Status.FAILED:
        return "Training failed: " + (run.message or "unknown error")
    return None


def run_readings(run: Run) -> list[Reading]:
    """The readings that apply to a run: gradient across layers, loss, accuracy; rnn: time, sigma, norms."""
    out = [gradient_reading(run), loss_reading(run), accuracy_reading(run)]
    if run.config.family == "rnn":
        out += [time_reading(run), sigma_reading(run), clipping_reading(run)]
    elif run.clip_setting()[0]:
        out.append(clipping_reading(run))
    return out


# --- measures: what a comparison's checks read off each run -------------------------------

@dataclass(frozen=True)
class Measure:
    """A number (or a word) read off one run, with how to say it."""

    label: str
    read: Callable[[Run], float | str]
    show: Callable[[float | str], str] = num
    says: Callable[[Run], str] | None = None  # a longer phrase per run (e.g. the loss reading)


def _orders_as_power(orders: float | str) -> str:
    return power_text(10 ** -orders) if isinstance(orders, float) and math.isfinite(orders) else num(orders)


def _clip_overshoot(run: Run) -> float:
    kind, value = run.clip_setting()
    g = run.gradient_norms()
    if not g:
        return math.nan
    return g["max_clipped"] / value - 1 if kind == "global_clipnorm" else 0.0


MEASURES: dict[str, Measure] = {
    "attenuation": Measure("first-layer gradient relative to the last layer's at the latest step",
                           lambda r: r.attenuation_orders(), _orders_as_power),
    "act_grad_attenuation_at_start": Measure(
        "dL/da at the first layer relative to the last hidden layer's at initialisation",
        lambda r: r.attenuation_orders(0, "act_grad_rms"), _orders_as_power),
    "early_first_grad": Measure("first-layer gradient early in training (median of the first 10% of steps)",
                                Run.early_first_grad),
    "early_first_act_grad": Measure("back-propagated gradient dL/da at the first layer early in training (median "
                                    "of the first 10% of steps)",
                                    lambda r: r.early_first_grad(stat="act_grad_rms")),
    "final_loss": Measure("final training loss", Run.final_loss),
    "loss_verdict": Measure("loss", lambda r: loss_reading(r).verdict if loss_reading(r).verdict != "waiting"
                            else math.nan, str, says=lambda r: loss_reading(r).text),
    "status": Measure("status", lambda r: str(r.status), str),
    "val_accuracy": Measure("final validation accuracy", lambda r: r.final_metrics()["val_accuracy"], pct),
    "time_kept": Measure("gradient reaching time step 0 relative to the last step (median over training)",
                         lambda r: r.time_attenuation().get("median_ratio", math.nan), power_text),
    "clip_overshoot": Measure("largest applied gradient norm over the clip value, minus 1", _clip_overshoot),
    "max_norm": Measure("largest unclipped global gradient norm", lambda r: r.gradient_norms().get("max", math.nan)),
    "spectrum_spread": Measure("spread of the Jacobian's squared singular values at step 0 (variance / mean²)",
                               lambda r: r.spectrum_spread()),
}

_TESTS = {
    "gap": (lambda a, b, v: a - b >= v, "exceeds {other} by at least {value}"),
    "ratio": (lambda a, b, v: b > 0 and a / b >= v, "is at least {value}x {other}"),
    "near": (lambda a, b, v: b > 0 and a > 0 and 1 / v <= a / b <= v, "is within {value}x of {other}"),
    "less": (lambda a, b, v: a < b, "is below {other}"),
    "more": (lambda a, b, v: a > b, "is above {other}"),
    "at_most": (lambda a, b, v: a <= v, "is at most {value}"),
    "above": (lambda a, b, v: a > v, "is above {value}"),
    "in": (lambda a, b, v: a in v, "is {value}"),
    "not_in": (lambda a, b, v: a not in v, "is not {value}"),
}


def select(selector: tuple[int, ...] | str, runs: Sequence[Run]) -> list[int]:
    """Positions of the runs a Check selects (see vgrad.presets.Check)."""
    if isinstance(selector, tuple):
        return [i for i in selector if 0 <= i < len(runs)]
    for alternative in selector.split("|"):
        chosen = [i for i, r in enumerate(runs) if all(_matches(r, cond) for cond in alternative.split("&"))]
        if chosen:
            return chosen
    return []


def _matches(run: Run, condition: str) -> bool:
    negate = "!=" in condition
    name, _, text = condition.partition("!=" if negate else "=")
    try:
        equal = getattr(run.config, name) == parse_value(name, text)
    except (ConfigError, AttributeError):
        return False
    return equal != negate


def verdict(checks: Sequence[Check], runs: Sequence[Run], labels: Sequence[str]) -> Reading:
    """Evaluate a comparison's checks on its runs: holds True / False, or None while waiting."""
    parts, numbers, results = [], {}, []
    for check in checks:
        measure = MEASURES[check.measure]
        mine, others = select(check.runs, runs), select(check.against, runs) if check.against else []
        if not mine or (check.against and not others):
            continue  # the runs this check is about are not in this set
        values = {i: measure.read(runs[i]) for i in {*mine, *others}}
        for i, v in values.items():
            if isinstance(v, float):
                numbers[f"{check.measure} {labels[i]}"] = v
        if any(isinstance(v, float) and math.isnan(v) for v in values.values()):
            results.append(None)
            continue
        test, phrase = _TESTS[check.test]
        ok = all(test(values[i], values[j] if others else None, check.value) for i in mine for j in (others or [0]))
        results.append(ok)
        said = ", ".join(f"{labels[i]}: {measure.says(runs[i])}" if measure.says else
                         f"{labels[i]} {measure.show(values[i])}" for i in dict.fromkeys([*mine, *others]))
        value = ("/".join(check.value) if isinstance(check.value, tuple) else f"{check.value:g}")
        rule = phrase.format(other=" / ".join(labels[j] for j in others) or "-", value=value)
        parts.append(f"{measure.label}: {said} ({'' if ok else 'not: '}{_first_label(mine, labels)} {rule})")
    if not results:
        return Reading("these runs are not the ones the checks are about", "", numbers)
    if any(r is False for r in results):
        holds = False
    elif any(r is None for r in results):
        return Reading("; ".join(parts) or "waiting for the runs", "waiting", numbers)
    else:
        holds = True
    return Reading("; ".join(parts), "as expected" if holds else "not as expected", numbers, holds)


def _first_label(mine: list[int], labels: Sequence[str]) -> str:
    return labels[mine[0]] if len(mine) == 1 else "each of " + ", ".join(labels[i] for i in mine)


# --- comparisons -----------------------------------------------------------------------


def run_label(run: Run, i: int) -> str:
    c = run.config
    if c.family == "rnn":
        return f"{i + 1}: {c.cell} x{c.seq_len}"
    return f"{i + 1}: {c.hidden_layers}x{c.units} {c.activation}"


def comparison_reading(name: str, runs: Sequence[Run], labels: Sequence[str] | None = None) -> Reading:
    """The verdict of COMPARISONS[name] on its runs (in the order of its presets).

    Checks that select runs by position need exactly the comparison's runs; otherwise (another
    count, or no such comparison) a generic reading of the runs is returned (holds None).
    """
    labels = list(labels) if labels else [run_label(r, i) for i, r in enumerate(runs)]
    if not runs:
        return Reading("no runs", "waiting")
    comp = COMPARISONS.get(name)
    by_position = comp is not None and any(isinstance(c.runs, tuple) for c in comp.checks)
    if comp is None or not comp.checks or (by_position and len(runs) != len(comp.presets)):
        return generic_comparison(runs, labels)
    return verdict(comp.checks, runs, labels)


def comparison_table(runs: Sequence[Run], labels: Sequence[str] | None = None,
                     loss_threshold: float = 0.5) -> pd.DataFrame:
    """One row per run: status, steps, losses, accuracies, attenuation, first/last gradient,
    steps to reach `loss_threshold`, then the final gradient norm of every layer (by layer name)."""
    labels = list(labels) if labels else [run_label(r, i) for i, r in enumerate(runs)]
    rows = []
    for label, run in zip(labels, runs, strict=True):
        a = run.attenuation()
        m = run.final_metrics()
        row = {
            "run": label, "status": str(run.status), "steps": len(run.steps),
            "final loss": m["loss"],
            "train acc": m["accuracy"] if run.task != "regression" else m["r2"],
            "val acc": m["val_accuracy"] if run.task != "regression" else m["val_r2"],
            "attenuation (orders)": a.orders if a else math.nan,
            "first-layer grad": a.first if a else math.nan, "last-layer grad": a.last if a else math.nan,
            f"steps to loss <= {loss_threshold:g}": run.steps_to_loss(loss_threshold),
        }
        rec = run.step_record()
        if rec is not None:
            for layer, value in zip(run.layers, rec.grad_norm, strict=False):
                row[f"grad {layer.name}"] = value if value is not None else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def generic_comparison(runs: Sequence[Run], labels: Sequence[str]) -> Reading:
    """Any set of runs: which keeps the first layer's gradient best, which reaches the lowest loss."""
    att = [(r.attenuation_orders(), lab) for r, lab in zip(runs, labels, strict=True)]
    att = [(o, lab) for o, lab in att if not math.isnan(o)]
    losses = [(r.final_loss(), lab) for r, lab in zip(runs, labels, strict=True)]
    losses = [(v, lab) for v, lab in losses if math.isfinite(v)]
    if not att:
        return Reading("no gradients recorded yet", "waiting")
    worst, best = max(att), min(att)
    parts = [f"strongest attenuation: {worst[1]} (first layer {_orders_as_power(worst[0])} of the last)",
             f"weakest: {best[1]} ({_orders_as_power(best[0])})"]
    numbers = {"max_orders": worst[0], "min_orders": best[0]}
    if losses:
        low = min(losses)
        parts.append(f"lowest final loss: {low[1]} ({low[0]:.3g})")
        numbers["min_loss"] = low[0]
    return Reading("; ".join(parts), "", numbers)


def recurrent_reading(runs: Sequence[Run], labels: Sequence[str]) -> Reading:
    """SimpleRNN vs gated cells, any number of runs: does the SimpleRNN lose time step 0 and the task?"""
    return verdict(COMPARISONS["rnn"].checks, runs, labels) if runs else Reading("no runs", "waiting")


def clipping_comparison(runs: Sequence[Run], labels: Sequence[str]) -> Reading:
    """Clipped vs unclipped runs, any number: did clipping bound every applied update?"""
    return verdict(COMPARISONS["clipping"].checks, runs, labels) if runs else Reading("no runs", "waiting")



# --- theory beside measurement ----------------------------------------------------------------

@dataclass(frozen=True)
class TheoryView:
    """What mean-field theory predicts for a run at initialisation, next to what step 0 measured.

    `applies` False comes with `reason` (BatchNorm, residual, recurrent). `predicted` and `measured` are
    RMS dL/da per hidden layer relative to the last hidden layer (input side first); `spread` is the
    scatter in orders of magnitude expected of one net of this width at the first layer.
    """

    applies: bool
    reason: str
    mean_field: object | None = None  # vgrad.theory.MeanField
    predicted: tuple[float, ...] = ()
    measured: tuple[float, ...] = ()
    spread: float = math.nan
    reading: Reading | None = None
    spectrum_mean: float = math.nan  # predicted mean squared singular value of d a_last / d a_first
    spectrum_std: float = math.nan  # and the predicted standard deviation of the squared values

    @property
    def headline(self) -> str:
        return phase_text(self.mean_field if self.applies else None)


def phase_text(mf) -> str:
    """'ordered phase (χ₁ 0.82 per layer), ξ_c 5.2 layers: trainable to ~31 layers' for a MeanField."""
    if mf is None:
        return "mean-field theory does not describe this net at initialisation"
    xi = "∞" if math.isinf(mf.xi_c) else (num(mf.xi_c) if math.isfinite(mf.xi_c) else MISSING)
    depth = ("any depth" if math.isinf(mf.trainable_depth) else
             f"~{mf.trainable_depth:.0f} layers" if math.isfinite(mf.trainable_depth) else MISSING)
    return f"{mf.phase} phase (χ₁ {mf.chi_1:.3g} per layer), ξ_c {xi} layers: trainable to {depth}"


def config_phase(config) -> str:
    """phase_text of a RunConfig (vgrad.theory.from_config; cached there)."""
    from vgrad import theory

    return phase_text(theory.from_config(config))


def theory_view(run: Run) -> TheoryView:
    """Theory's per-layer dL/da at step 0 against the measured one, with a one-line reading."""
    from vgrad import theory

    ok, reason = theory.applies(run.config)
    if not ok:
        return TheoryView(False, reason)
    mf = theory.from_config(run.config)
    q0 = run.start.input_q if run.start is not None and run.start.input_q is not None else 1.0
    predicted = theory.profile_from_config(run.config, q0=q0)
    c = run.config
    mean, std = math.nan, math.nan
    if c.hidden_layers >= 2:  # the spectrum's d a_last / d a_first spans hidden_layers - 1 layers
        chis = theory.layer_chis(c.activation, mf.sigma_w2, mf.sigma_b2, q0, c.hidden_layers, bias_mean=mf.bias_mean,
                                 alpha=mf.alpha, dropout=mf.dropout,
                                 first_sigma_w2=theory.weight_variance(c.initializer, c.n_features, c.units,
                                                                       init_std=c.init_std, init_limit=c.init_limit,
                                                                       init_gain=c.init_gain))
        mean = float(np.prod(chis[1:]))
        spec = theory.jacobian_spectrum(c.activation, mf.sigma_w2, mf.sigma_b2, c.hidden_layers - 1,
                                        weights="orthogonal" if c.initializer == "orthogonal" else "gaussian",
                                        bias_mean=mf.bias_mean, alpha=mf.alpha)
        std = mean * math.sqrt(spec.relative_var) if math.isfinite(spec.relative_var) else math.nan
    view = TheoryView(True, reason, mf, tuple(float(v) for v in predicted), spectrum_mean=mean, spectrum_std=std)
    first = run.step_record(0)
    depth = run.config.hidden_layers
    if first is None or depth < 2:
        return view
    rms = first.act_grad_rms[:depth]
    if any(v is None or not v > 0 for v in rms):
        return TheoryView(True, reason, mf, view.predicted, spectrum_mean=mean, spectrum_std=std, reading=Reading(
            "the measured dL/da is exactly 0 at some layer at step 0 (dead units or underflow): theory's line "
            "has nothing to compare with there", "no gradient"))
    measured = tuple(float(v) / float(rms[-1]) for v in rms)
    # One net of width N: each layer's squared-gradient ratio scatters by about sqrt(2/N); over the
    # layers between the first and the last the log-scatter adds up.
    spread = math.sqrt(2.0 * (depth - 1) / max(1, run.config.units)) / math.log(10)
    p, m = math.log10(predicted[0]), math.log10(measured[0])
    agrees = abs(p - m) <= 2 * spread
    text = (f"theory predicts {power_text(predicted[0])} at the first layer (relative to the last hidden layer), "
            f"measured {power_text(measured[0])}: " + (f"agrees within the spread expected at width "
                                                       f"{run.config.units}" if agrees else
                                                       f"off by {abs(p - m):.1f} orders, more than the "
                                                       f"±{2 * spread:.1f} expected at width {run.config.units}"))
    return TheoryView(True, reason, mf, view.predicted, measured, spread,
                      Reading(text, "agrees" if agrees else "differs",
                              {"predicted_orders": p, "measured_orders": m, "spread": spread}, agrees),
                      mean, std)


# --- notices: states a picture alone does not explain --------------------------------------------

def notices(run: Run) -> list[Reading]:
    """Sentences for what a chart shows but does not say: exactly-zero gradients (white heatmap cells),
    dead ReLUs, underflow, an infinite attenuation, clipping that never engaged, a penalty that is most
    of dL/dW, dropout on a vanishing net. Empty when nothing needs saying."""
    out: list[Reading] = []
    rec = run.step_record()
    if rec is None:
        return out
    names = [layer.name for layer in run.layers]
    zero = [names[i] for i, v in enumerate(rec.grad_norm) if v == 0 and i < len(names)]
    dead = [names[i] for i, v in enumerate(rec.act_dead) if v is not None and v >= 0.999 and i < len(names)]
    if zero:
        why = ("every unit of " + ", ".join(dead) + " is dead (a ReLU outputs 0 for every example, so no "
               "gradient passes back through it)") if dead else (
              "the gradient underflowed: it is smaller than float32 can hold (about 1e-38) after so many "
              "small factors")
        out.append(Reading(f"dL/dW is exactly 0 at {', '.join(zero[:4])}{' …' if len(zero) > 4 else ''} "
                           f"(white cells in the heatmap): {why}. An attenuation of ∞ means the same: the first "
                           "layer's gradient is 0, not merely small.", "zero gradient", {"layers": float(len(zero))}))
    elif dead:
        out.append(Reading(f"{', '.join(dead[:4])}: every unit is dead (output 0 on the whole batch): those layers "
                           "pass no gradient back. A smaller learning rate, He init or leaky_relu avoids it.",
                           "dead units", {"layers": float(len(dead))}))
    else:
        mostly = [names[i] for i, v in enumerate(rec.act_dead) if v is not None and v >= 0.5 and i < len(names)]
        if mostly:
            out.append(Reading(f"more than half the units of {', '.join(mostly[:4])} are dead: they pass no "
                               "gradient back.", "dead units", {"layers": float(len(mostly))}))
    kind, value = run.clip_setting()
    norms = run.gradient_norms()
    if kind and norms and norms["steps_clipped"] == 0:
        out.append(Reading(f"{kind}={value:g} never engaged: the gradient never exceeded it, so this run is the "
                           "same as without clipping. Clipping bounds exploding gradients; it cannot make a "
                           "vanishing one bigger.", "clipping idle", {"max": norms["max"]}))
    penalty = run.config.l2
    if penalty > 0 and rec.weight_norm and rec.weight_norm[0] and rec.grad_norm[0]:
        share = 2 * penalty * rec.weight_norm[0] / rec.grad_norm[0]
        if share >= 0.5:
            out.append(Reading(f"about {min(share, 1):.0%} of the first layer's dL/dW is the L2 penalty's own "
                               f"gradient 2 × {penalty:g} × W, not signal from the loss: read dL/da (the "
                               "back-propagated gradient) to see whether the loss reaches that layer.",
                               "penalty dominates", {"share": share}))
    early = run.early_attenuation_orders(stat="act_grad_rms")
    if run.config.dropout > 0 and math.isfinite(early) and early >= VANISHING_ORDERS:
        out.append(Reading("dropout regularises (it makes units work without each other); it does not make a "
                           "vanishing gradient bigger: here dL/da still shrinks "
                           f"{early:.1f} orders of magnitude toward the input.", "dropout", {"orders": early}))
    return out
