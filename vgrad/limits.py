"""Server-side limits on what one run may cost, read from environment variables.

A shared server must refuse runs that would take all its memory or CPU, whatever the URL or
file they came from. `check(config, limits)` raises LimitError with a sentence that names
the limit, the run's value and the variable that sets it. No TensorFlow needed.

Variable                     Default      What it bounds
VGRAD_MAX_PARAMS             500000       trainable + BatchNorm parameters of the network
VGRAD_MAX_LAYER_UNITS        4096         hidden layers x units (rnn: recurrent layers x units)
VGRAD_MAX_SAMPLES            10000        n_samples (train + validation examples)
VGRAD_MAX_STEPS              20000        optimizer steps (epochs x steps per epoch, or `steps`)
VGRAD_MAX_WORK               50000000000  parameters x examples processed (x seq_len for rnn)
VGRAD_MAX_JOBS_PER_CLIENT    8            running + queued jobs of one browser session
VGRAD_MAX_RUNNING            2            jobs of one browser session training at the same time
VGRAD_MAX_JOBS_PER_ADDRESS   16           running + queued jobs of all sessions from one address
VGRAD_MAX_QUEUED             64           jobs waiting in the queue, all sessions together

Who a job belongs to is decided by the Streamlit process, not by the caller: it sends its session
id and the browser's address with each submission (see vgrad.service.jobs), so a person opening
many tabs still counts once per address. The queue is served round-robin: across addresses
first, then across the sessions of an address, so one backlog delays another's next job by at
most one job.

Snapshot memory needs no variable of its own: the engine keeps at most
max(vgrad.train.engine.SNAPSHOT_BUDGET, 2 x parameters) gradient numbers per run, so
VGRAD_MAX_PARAMS bounds it. Every preset in vgrad.presets passes the defaults.

    >>> check(RunConfig(hidden_layers=64, units=256), Limits())
    Traceback (most recent call last):
    ...
    vgrad.limits.LimitError: this run has 4.15M parameters; the server allows at most 500k (VGRAD_MAX_PARAMS). Use fewer layers or units.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

from vgrad.config import RunConfig

# Field name -> environment variable.
ENV = {
    "max_params": "VGRAD_MAX_PARAMS",
    "max_layer_units": "VGRAD_MAX_LAYER_UNITS",
    "max_samples": "VGRAD_MAX_SAMPLES",
    "max_steps": "VGRAD_MAX_STEPS",
    "max_work": "VGRAD_MAX_WORK",
    "max_jobs_per_client": "VGRAD_MAX_JOBS_PER_CLIENT",
    "max_running": "VGRAD_MAX_RUNNING",
    "max_jobs_per_address": "VGRAD_MAX_JOBS_PER_ADDRESS",
    "max_queued": "VGRAD_MAX_QUEUED",
}


class LimitError(ValueError):
    """A run is larger than the server allows; the message names the limit. `name` is its variable."""

    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name = name


@dataclass(frozen=True)
class Limits:
    max_params: int = 500_000
    max_layer_units: int = 4096
    max_samples: int = 10_000
    max_steps: int = 20_000
    max_work: int = 50_000_000_000
    max_jobs_per_client: int = 8
    max_running: int = 2
    max_jobs_per_address: int = 16
    max_queued: int = 64

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Limits:
        """Defaults overridden by the VGRAD_MAX_* variables; a bad value raises ValueError naming it."""
        env = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            var = ENV[f.name]
            if env.get(var, "").strip():
                values[f.name] = env_int(var, env[var], low=1)
        return cls(**values)

    def to_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def env_int(name: str, text: str, low: int = 0) -> int:
    """Parse a whole-number environment variable (underscores and 1e6 style allowed)."""
    try:
        value = float(text.replace("_", "").strip())
        if value != int(value):
            raise ValueError
        value = int(value)
    except (ValueError, OverflowError):
        raise ValueError(f"{name} must be a whole number >= {low}, got {text[:40]!r}") from None
    if value < low:
        raise ValueError(f"{name} must be a whole number >= {low}, got {text[:40]!r}")
    return value


def count_params(config: RunConfig) -> int:
    """Parameters of the network `vgrad.train.models.build(config)` makes (BatchNorm statistics included)."""
    c = config
    if c.family == "rnn":
        total, width = 0, c.n_features
        for _ in range(c.rnn_layers):
            if c.cell == "simple_rnn":
                total += c.units * (width + c.units + 1)
            elif c.cell == "lstm":
                total += 4 * c.units * (width + c.units + 1)
            else:  # keras GRU, reset_after=True: two bias vectors
                total += 3 * c.units * (width + c.units + 2)
            width = c.units
        return total + outputs(c) * (width + 1)
    total, width = 0, c.n_features
    for _ in range(c.hidden_layers):
        total += width * c.units + c.units
        if c.batch_norm != "off":
            total += 4 * c.units  # gamma, beta, moving mean, moving variance
        if c.activation == "prelu":
            total += c.units
        width = c.units
    if 0 < c.residual_every <= c.hidden_layers and c.n_features != c.units:
        total += c.n_features * c.units  # the first block's projection shortcut
    return total + outputs(c) * (width + 1)


def outputs(config: RunConfig) -> int:
    """Units of the output layer: one per class for multi-class, else one."""
    return config.n_classes if config.task == "multiclass" else 1


def layer_units(config: RunConfig) -> int:
    layers = config.rnn_layers if config.family == "rnn" else config.hidden_layers
    return layers * config.units


def work(config: RunConfig) -> int:
    """A compute proxy: parameters x examples processed (x time steps for rnn)."""
    examples = min(config.total_steps * config.batch_size, config.epochs * config.n_train)
    per_example = config.seq_len if config.family == "rnn" else 1
    return count_params(config) * examples * per_example


def check(config: RunConfig, limits: Limits) -> None:
    """Raise LimitError when `config` exceeds any of `limits`; the first one found is explained."""
    params = count_params(config)
    if params > limits.max_params:
        raise LimitError("VGRAD_MAX_PARAMS", f"this run has {human(params)} parameters; the server allows at "
                         f"most {human(limits.max_params)} (VGRAD_MAX_PARAMS). Use fewer layers or units.")
    units = layer_units(config)
    if units > limits.max_layer_units:
        raise LimitError("VGRAD_MAX_LAYER_UNITS", f"this run has layers x units = {units}; the server allows at "
                         f"most {limits.max_layer_units} (VGRAD_MAX_LAYER_UNITS). Use fewer layers or units.")
    if config.n_samples > limits.max_samples:
        raise LimitError("VGRAD_MAX_SAMPLES", f"this run asks for {config.n_samples} samples; the server allows "
                         f"at most {limits.max_samples} (VGRAD_MAX_SAMPLES). Lower n_samples.")
    steps = config.total_steps
    if steps > limits.max_steps:
        raise LimitError("VGRAD_MAX_STEPS", f"this run has {human(steps)} steps (epochs x steps per epoch = "
                         f"{config.epochs} x {config.steps_per_epoch}); the server allows at most "
                         f"{human(limits.max_steps)} (VGRAD_MAX_STEPS). Use fewer epochs, a larger batch, or `steps`.")
    cost = work(config)
    if cost > limits.max_work:
        raise LimitError("VGRAD_MAX_WORK", f"this run would process {human(cost)} parameter-examples; the server "
                         f"allows at most {human(limits.max_work)} (VGRAD_MAX_WORK). Use a smaller network, "
                         "fewer epochs or fewer samples.")


def human(n: float) -> str:
    """1234 -> '1234', 1_200_000 -> '1.2M', 500_000 -> '500k'."""
    for size, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e4, "k")):
        if abs(n) >= size:
            scale = 1e3 if suffix == "k" else size
            return f"{n / scale:.3g}{suffix}"
    return str(int(n))
