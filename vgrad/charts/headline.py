"""Headline numbers of a run: status, progress, speed, attenuation, accuracy.

    h = headline(run, steps_per_second=42.0)
    h.attenuation_text    # '4.4 orders (first layer 25,000x smaller)'
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vgrad.run import Run, attenuation_orders


@dataclass(frozen=True)
class Headline:
    status: str
    step: int               # steps done (last step + 1)
    total_steps: int
    epoch: int              # epochs done
    epochs: int
    steps_per_second: float | None
    attenuation: float      # orders of magnitude, first -> last layer (nan if unknown)
    accuracy: float         # last epoch's training accuracy
    val_accuracy: float
    message: str

    @property
    def progress(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0

    @property
    def attenuation_text(self) -> str:
        return attenuation_text(self.attenuation)


def attenuation_text(orders: float) -> str:
    """'4.4 orders' with the factor spelled out; handles nan and inf."""
    if orders is None or math.isnan(orders):
        return "n/a"
    if math.isinf(orders):
        return "∞ (first layer's gradient is 0)"
    factor = 10 ** abs(orders)
    size = f"{factor:,.0f}x" if factor < 1e6 else f"10^{abs(orders):.1f}x"
    way = "smaller" if orders >= 0 else "larger"
    return f"{orders:.1f} orders ({size} {way} at the input)"


def pct(v: float) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{100 * v:.1f}%"


def headline(run: Run, steps_per_second: float | None = None, stat: str = "grad_norm") -> Headline:
    start = run.info.get("start", {})
    total = int(start.get("total_steps") or run.config.total_steps)
    spe = int(start.get("steps_per_epoch") or run.config.steps_per_epoch) or 1
    last = run.steps[-1] if run.steps else None
    orders = attenuation_orders([v for v in (last or {}).get(stat) or [] if v is not None]) if last else math.nan
    metrics = run.final_metrics()
    return Headline(
        status=run.status, step=run.last_step + 1, total_steps=total,
        epoch=len(run.epochs), epochs=math.ceil(total / spe),
        steps_per_second=steps_per_second, attenuation=orders,
        accuracy=metrics.get("accuracy", math.nan), val_accuracy=metrics.get("val_accuracy", math.nan),
        message=run.message,
    )


def divergence_banner(run: Run) -> str | None:
    """A sentence for a banner when the run diverged or failed, else None."""
    if run.status == "diverged":
        return "Training diverged. " + (run.message or f"at step {run.last_step + 1}")
    if run.status == "failed":
        return "Training failed: " + (run.message or "unknown error")
    return None
