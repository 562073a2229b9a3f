"""RunConfig: one validated, serialisable description of an experiment.

Every field has a default, a documented range and a one-line help text (see FIELDS).
Invalid values raise ConfigError, whose message names the field and what it accepts.

    >>> from vgrad import RunConfig
    >>> cfg = RunConfig(hidden_layers=16, activation="relu", initializer="he_normal")
    >>> RunConfig.from_json(cfg.to_json()) == cfg
    True
    >>> cfg.with_values(units="16").units     # text values are parsed as in a link or on the CLI
    16

Links (query strings) are written and read by vgrad.links.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from vgrad import datasets
from vgrad.text import short

ACTIVATIONS = (
    "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "selu",
    "gelu", "swish", "softsign", "linear",
)
INITIALIZERS = (
    "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform",
    "lecun_normal", "orthogonal", "random_normal", "random_uniform", "glorot_bengio_standard",
)
OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adagrad", "adam", "adamw")
DATASETS = (*datasets.DATASETS, "csv")  # "csv": a table uploaded to the service (data_id)
MISSING_VALUES = ("drop", "impute")
FAMILIES = ("mlp", "rnn")
CELLS = ("simple_rnn", "lstm", "gru")
BATCH_NORM = ("off", "before", "after")
SPECTRUM = ("start", "snapshots", "off")


class ConfigError(ValueError):
    """A RunConfig field has a value outside what it accepts. `field` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Field:
    """How one RunConfig field is checked and described."""

    kind: type
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""
    group: str = ""
    pattern: str = ""  # free text (a str field without choices) must match this regular expression
    text: str = ""  # what the pattern accepts, for people

    def describe(self) -> str:
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.kind is str:
            return self.text
        if self.kind is bool:
            return "true or false"
        return f"{'an integer' if self.kind is int else 'a number'} from {_fmt(self.low)} to {_fmt(self.high)}"


def _fmt(x: float | None) -> str:
    if x is None:
        return "?"
    return f"{x:g}"


# Field name -> rule. The order is the order of the UI groups and of the docs.
FIELDS: dict[str, Field] = {
    # Data
    "dataset": Field(str, choices=DATASETS, group="Data", help="a data set that ships (see `vgrad datasets`), "
                     "or csv: a table uploaded to the service"),
    "data_id": Field(str, group="Data", pattern=r"([0-9a-f]{64})?", text="a sha256 hex digest (64 characters) or empty",
                     help="the uploaded table (dataset=csv): its content hash"),
    "target": Field(str, group="Data", pattern=r"[^\x00-\x1f]{0,200}", text="a column name (at most 200 characters)",
                    help="the uploaded table's target column (empty: the last one)"),
    "missing": Field(str, choices=MISSING_VALUES, group="Data",
                     help="rows with missing cells of an uploaded table: drop them or impute (median / most frequent)"),
    "n_samples": Field(int, 20, 20000, group="Data",
                       help="examples generated (train + validation); a bundled table: a seeded subset of its rows"),
    "n_features": Field(int, 2, 1000, group="Data", help="input features (set by the data set where it is fixed)"),
    "n_classes": Field(int, 0, 100, group="Data",
                       help="classes of make_classification (2-10); set by the data set otherwise (0 = regression)"),
    "n_informative": Field(int, 0, 1000, group="Data",
                           help="make_classification informative features (0 = n_features for 2-3, else half)"),
    "n_clusters_per_class": Field(int, 1, 10, group="Data", help="make_classification clusters per class"),
    "class_sep": Field(float, 0.1, 10.0, group="Data", help="make_classification class separation"),
    "flip_y": Field(float, 0.0, 0.5, group="Data", help="fraction of labels flipped at random (noise)"),
    "noise": Field(float, 0.0, 1.0, group="Data", help="noise of moons, circles and the Playground sets"),
    "data_seed": Field(int, 0, 2**31 - 1, group="Data", help="random_state of the generator and the split"),
    "val_fraction": Field(float, 0.05, 0.5, group="Data", help="share held out for validation"),
    "standardize": Field(bool, group="Data", help="scale features to mean 0, std 1 (fit on train)"),
    # Architecture
    "family": Field(str, choices=FAMILIES, group="Architecture", help="feed-forward (mlp) or recurrent (rnn)"),
    "hidden_layers": Field(int, 1, 64, group="Architecture", help="hidden Dense layers (mlp)"),
    "units": Field(int, 1, 256, group="Architecture", help="units per hidden layer or recurrent cell"),
    "activation": Field(str, choices=ACTIVATIONS, group="Architecture", help="hidden activation (mlp; simple_rnn cell)"),
    "leaky_alpha": Field(float, 0.0, 1.0, group="Architecture", help="negative slope of leaky_relu"),
    "initializer": Field(str, choices=INITIALIZERS, group="Architecture", help="kernel initializer"),
    "init_std": Field(float, 1e-6, 10.0, group="Architecture", help="std of random_normal"),
    "init_limit": Field(float, 1e-6, 10.0, group="Architecture", help="limit of random_uniform"),
    "init_gain": Field(float, 0.01, 1000.0, group="Architecture",
                       help="multiplies the initializer's variance (sigma_w^2 = gain x the initializer's)"),
    "bias_init": Field(float, -10.0, 10.0, group="Architecture", help="initial bias (the mean, if bias_std > 0)"),
    "bias_std": Field(float, 0.0, 10.0, group="Architecture",
                      help="std of random normal hidden-layer biases (0 = every bias is bias_init)"),
    "cell": Field(str, choices=CELLS, group="Architecture", help="recurrent cell (rnn)"),
    "rnn_layers": Field(int, 1, 4, group="Architecture", help="stacked recurrent layers (rnn)"),
    "seq_len": Field(int, 2, 200, group="Architecture", help="time steps; the label depends on step 0 only (rnn)"),
    "seq_noise": Field(float, 0.0, 5.0, group="Architecture", help="std of the noise filling later steps (rnn)"),
    "recurrent_scale": Field(float, 0.01, 10.0, group="Architecture", help="gain of the orthogonal recurrent init = its singular values (rnn)"),
    # Remedies
    "batch_norm": Field(str, choices=BATCH_NORM, group="Remedies", help="BatchNormalization before or after the activation"),
    "residual_every": Field(int, 0, 64, group="Remedies", help="identity skip around every k hidden layers (0 = off)"),
    "dropout": Field(float, 0.0, 0.9, group="Remedies", help="dropout rate after each hidden layer"),
    "l2": Field(float, 0.0, 1.0, group="Remedies", help="L2 penalty on kernels"),
    "l1": Field(float, 0.0, 1.0, group="Remedies", help="L1 penalty on kernels"),
    "clipvalue": Field(float, 0.0, 1000.0, group="Remedies", help="clip each gradient element to ±v (0 = off)"),
    "clipnorm": Field(float, 0.0, 1000.0, group="Remedies", help="clip each variable's gradient norm (0 = off)"),
    "global_clipnorm": Field(float, 0.0, 1000.0, group="Remedies", help="clip the global gradient norm (0 = off)"),
    # Training
    "optimizer": Field(str, choices=OPTIMIZERS, group="Training", help="update rule"),
    "learning_rate": Field(float, 1e-6, 100.0, group="Training", help="step size"),
    "batch_size": Field(int, 1, 4096, group="Training", help="examples per step"),
    "epochs": Field(int, 1, 2000, group="Training", help="passes over the training set"),
    "steps": Field(int, 0, 100000, group="Training", help="stop after this many steps (0 = run all epochs)"),
    "seed": Field(int, 0, 2**31 - 1, group="Training", help="weights, dropout and shuffling; same seed, same run"),
    "snapshot_every": Field(int, 0, 100000, group="Training", help="keep full kernel gradients every n steps (0 = auto)"),
    "spectrum": Field(str, choices=SPECTRUM, group="Training",
                      help="singular values of the hidden layers' Jacobian (mlp): at step 0, also at every "
                           "snapshot step, or never"),
}


@dataclass(frozen=True)
class RunConfig:
    """An experiment. Defaults are the original notebook's deep sigmoid network.

    Data: `make_classification(n_samples=100, n_features=2, ...random_state=2121)` split
    75/25 with random_state 2121; 8 sigmoid Dense(8) layers + Dense(1, sigmoid);
    Adam(lr=0.1), batch 32. The notebook trained one epoch; the default here is 30.
    """

    dataset: str = "classification"
    data_id: str = ""
    target: str = ""
    missing: str = "drop"
    n_samples: int = 100
    n_features: int = 2
    n_classes: int = 2
    n_informative: int = 0
    n_clusters_per_class: int = 1
    class_sep: float = 1.0
    flip_y: float = 0.01
    noise: float = 0.1
    data_seed: int = 2121
    val_fraction: float = 0.25
    standardize: bool = False
    family: str = "mlp"
    hidden_layers: int = 8
    units: int = 8
    activation: str = "sigmoid"
    leaky_alpha: float = 0.3
    initializer: str = "glorot_uniform"
    init_std: float = 0.05
    init_limit: float = 0.05
    init_gain: float = 1.0
    bias_init: float = 0.0
    bias_std: float = 0.0
    cell: str = "lstm"
    rnn_layers: int = 1
    seq_len: int = 20
    seq_noise: float = 1.0
    recurrent_scale: float = 1.0
    batch_norm: str = "off"
    residual_every: int = 0
    dropout: float = 0.0
    l2: float = 0.0
    l1: float = 0.0
    clipvalue: float = 0.0
    clipnorm: float = 0.0
    global_clipnorm: float = 0.0
    optimizer: str = "adam"
    learning_rate: float = 0.1
    batch_size: int = 32
    epochs: int = 30
    steps: int = 0
    seed: int = 0
    snapshot_every: int = 0
    spectrum: str = "start"

    def __post_init__(self) -> None:
        for name, rule in FIELDS.items():
            object.__setattr__(self, name, _check(name, rule, getattr(self, name)))
        self._check_data()
        if self.family == "rnn" and self.dataset != "classification":
            raise ConfigError("dataset", "the rnn family uses the classification sequence task")
        if self.family == "rnn" and self.activation == "prelu":
            raise ConfigError("activation", "prelu is a layer with weights, not a recurrent cell activation; "
                              "use leaky_relu for the rnn family")
        clips = [n for n in ("clipvalue", "clipnorm", "global_clipnorm") if getattr(self, n) > 0]
        if len(clips) > 1:
            raise ConfigError(clips[1], f"set only one of clipvalue, clipnorm, global_clipnorm (got {', '.join(clips)})")
        n_val = math.ceil(self.n_samples * self.val_fraction)
        if n_val < 2 or self.n_samples - n_val < 2:
            raise ConfigError("val_fraction", "leaves fewer than 2 examples for training or validation")

    def _check_data(self) -> None:
        """Fields a data set fixes are set to its values; the rest must fit the generator."""
        if self.dataset == "csv":
            if not self.data_id:
                raise ConfigError("data_id", "dataset=csv needs the uploaded table's data_id")
            return
        spec = datasets.DATASETS[self.dataset]
        fixed = {"n_features": spec.n_features, "n_classes": 0 if spec.task == "regression" else spec.n_classes}
        for name, value in fixed.items():
            if value is not None:
                object.__setattr__(self, name, value)
        if spec.n_rows is not None and self.n_samples > spec.n_rows:
            object.__setattr__(self, "n_samples", spec.n_rows)
        if self.dataset == "classification":
            if not 2 <= self.n_classes <= 10:
                raise ConfigError("n_classes", f"make_classification makes 2 to 10 classes, got {self.n_classes}")
            informative = self.n_informative or datasets.default_informative(self.n_features)
            if informative > self.n_features:
                raise ConfigError("n_informative", f"at most n_features = {self.n_features}, got {informative}")
            if self.n_classes * self.n_clusters_per_class > 2 ** informative:
                raise ConfigError("n_classes", f"{self.n_classes} classes x {self.n_clusters_per_class} clusters "
                                  f"need more than {informative} informative features (at most 2^informative "
                                  "clusters)")
            if self.n_samples < self.n_classes * self.n_clusters_per_class:
                raise ConfigError("n_samples", "fewer examples than classes x clusters per class")

    # --- derived -------------------------------------------------------------
    @property
    def task(self) -> str:
        """binary, multiclass or regression (n_classes 0)."""
        return "regression" if self.n_classes == 0 else ("binary" if self.n_classes == 2 else "multiclass")

    @property
    def n_train(self) -> int:
        """Training examples after the split (sklearn rounds the test share up)."""
        return self.n_samples - math.ceil(self.n_samples * self.val_fraction)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.n_train / self.batch_size)

    @property
    def total_steps(self) -> int:
        per_epochs = self.epochs * self.steps_per_epoch
        return min(per_epochs, self.steps) if self.steps else per_epochs

    # --- (de)serialisation --------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def changed(self) -> dict[str, Any]:
        """Fields that differ from the defaults."""
        base = RunConfig()
        return {k: v for k, v in self.to_dict().items() if getattr(base, k) != v}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Any) -> RunConfig:
        """Build from a mapping of field -> value (values may be strings)."""
        if not isinstance(data, dict):
            raise ConfigError("config", f"expected a mapping of field names to values, got {type(data).__name__}")
        unknown = [k for k in data if k not in FIELDS]
        if unknown:
            raise ConfigError(str(unknown[0])[:60], "unknown field; known fields: " + ", ".join(FIELDS))
        return cls(**{k: parse_value(k, v) for k, v in data.items()})

    @classmethod
    def from_json(cls, text: str | bytes) -> RunConfig:
        try:
            data = json.loads(text)
        except (ValueError, TypeError, RecursionError) as exc:
            raise ConfigError("config", f"not valid JSON ({str(exc)[:80]})") from None
        return cls.from_dict(data)

    def with_values(self, **changes: Any) -> RunConfig:
        """dataclasses.replace, but string values are parsed like URL values."""
        return RunConfig.from_dict({**self.to_dict(), **changes})


def parse_value(name: str, value: Any) -> Any:
    """Turn a text value (URL, CLI) into the field's type; other values pass through to _check."""
    rule = FIELDS.get(name)
    if rule is None:
        raise ConfigError(str(name)[:60], "unknown field")
    if not isinstance(value, str):
        return value
    text = value.strip()
    if rule.kind is not str and not text.isascii():  # float() would read "٣" as 3
        raise ConfigError(name, f"expected {rule.describe()}, got {text[:40]!r}")
    if rule.kind is bool:
        low = text.lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ConfigError(name, f"expected true or false, got {text[:40]!r}")
    if rule.kind is int:
        try:
            as_float = float(text)
        except (ValueError, OverflowError):
            raise ConfigError(name, f"expected {rule.describe()}, got {text[:40]!r}") from None
        if not math.isfinite(as_float) or as_float != int(as_float):
            raise ConfigError(name, f"expected {rule.describe()}, got {text[:40]!r}")
        return int(as_float)
    if rule.kind is float:
        try:
            return float(text)
        except (ValueError, OverflowError):
            raise ConfigError(name, f"expected {rule.describe()}, got {text[:40]!r}") from None
    return text


def _check(name: str, rule: Field, value: Any) -> Any:
    if rule.kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float) and value in (0, 1):
            return bool(value)
        raise ConfigError(name, f"expected true or false, got {short(value)}")
    if rule.kind is str:
        if rule.choices:
            if isinstance(value, str) and value.strip().lower() in rule.choices:
                return value.strip().lower()
        elif isinstance(value, str) and re.fullmatch(rule.pattern, value.strip()):
            return value.strip()
        raise ConfigError(name, f"expected {rule.describe()}, got {short(value)}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(name, f"expected {rule.describe()}, got {short(value)}")
    if rule.kind is int:
        if isinstance(value, float):
            if not math.isfinite(value) or value != int(value):
                raise ConfigError(name, f"expected {rule.describe()}, got {short(value)}")
            value = int(value)
    else:
        try:
            value = float(value)
        except OverflowError:
            raise ConfigError(name, f"expected {rule.describe()}, got a number too large") from None
        if not math.isfinite(value):
            raise ConfigError(name, f"expected {rule.describe()}, got {short(value)}")
    if not (rule.low <= value <= rule.high):
        raise ConfigError(name, f"expected {rule.describe()}, got {short(value)}")
    return value


def value_text(value: Any) -> str:
    """A field value as link or CLI text (floats round-trip exactly)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)
