"""The record stream: every record kind as a frozen dataclass, and the Status and Action names.

The engine emits records, the service serialises them, clients and `Run` parse them and
dispatch on their type. On the wire and in saved runs a record is one JSON object whose
`kind` names its class; `parse()` validates such an object field by field (types, ranges,
lengths, finite numbers) and raises RecordError naming the first problem.

    rec = StepRecord(step=0, epoch=0, loss=0.69, global_norm=1.2, ...)
    text = rec.to_json()                 # '{"kind":"step","step":0,...}'
    parse(json.loads(text)) == rec       # True

In order of appearance in a run:

- `start`: the layers (input -> output), data sizes, steps and the learning rate.
- `data` (2-feature mlp data): up to DATA_POINTS_LIMIT training points and their labels.
- `weights`: the first layer's kernel, `when` initial and final (the notebook's flawed
  "gradient" estimate is (initial - final) / lr; see vgrad.lessons).
- `step`: one optimizer step, statistics of that step's batch before the update: the loss the
  gradient is of (penalties included), the global gradient norm before and after clipping, and
  one tuple per statistic in LAYER_STATS (one value per instrumented layer, None where not
  measurable). rnn also: ‖dL/dx_t‖ per time step and each recurrent kernel's largest singular value.
- `snapshot`: a full kernel-gradient matrix (fan_in x fan_out) at a bounded cadence.
- `epoch`: loss and accuracy (R² for regression) on the full training and validation sets after an epoch.
- `boundary` (2-feature mlp data, at most BOUNDARY_LIMIT per run): the prediction on a grid.
- `spectrum` (mlp, 2+ hidden layers, no skip connections): singular values of the Jacobian of the last
  hidden layer's output with respect to the first's, on a probe batch (inference mode), at step 0.
- `confusion` (classification): counts of true x predicted class on both sets, after the last step.
- `status`: the last record: how the run ended (Status), its last step and a sentence.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, Literal

import pydantic
from pydantic import Field, TypeAdapter

# Per-layer statistics in a step record; each is a tuple over the instrumented layers.
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
    "weight_norm": "L2 norm of the kernel W the gradient is taken at (an L2 penalty adds 2 x l2 x W to dL/dW)",
}
# Statistics a step record may lack (records written before they existed).
OPTIONAL_STATS = ("weight_norm",)

BOUNDARY_LIMIT = 60
BOUNDARY_GRID = 41
DATA_POINTS_LIMIT = 500
# Bounds a record may not exceed (a file or a service answer that does is refused).
MAX_LAYERS = 1024
MAX_STEP = 10**9
MAX_MATRIX_ROWS = 8192
MAX_TEXT = 2000


class Status(StrEnum):
    """Where a job or run is: queued and running are active, the rest are final."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    DIVERGED = "diverged"
    FAILED = "failed"

    @property
    def final(self) -> bool:
        return self not in (Status.QUEUED, Status.RUNNING)


FINAL = frozenset(s for s in Status if s.final)


class Action(StrEnum):
    """What a client may ask of a job."""

    PAUSE = "pause"
    RESUME = "resume"
    STEP = "step"  # one step, then stay paused
    STOP = "stop"


class RecordError(ValueError):
    """A record (or a run file's part) is not valid; the message names the first problem.

    `location` is the field at fault ("grad_norm.3"), `problem` what is wrong with it."""

    def __init__(self, message: str, location: str = "", problem: str = ""):
        super().__init__(message)
        self.location = location
        self.problem = problem or message


# --- field types ------------------------------------------------------------------------
Count = Annotated[int, Field(ge=0, le=MAX_STEP)]
StepNo = Annotated[int, Field(ge=-1, le=MAX_STEP)]
Num = Annotated[float, Field(allow_inf_nan=False)]
MaybeNum = Num | None
AnyNum = Annotated[float, Field(allow_inf_nan=True)] | None  # final weights of a diverged run
Text = Annotated[str, Field(max_length=MAX_TEXT)]
Name = Annotated[str, Field(max_length=200)]
PerLayer = Annotated[tuple[MaybeNum, ...], Field(max_length=MAX_LAYERS)]
Vector = Annotated[tuple[Num, ...], Field(max_length=MAX_MATRIX_ROWS)]
Matrix = Annotated[tuple[Annotated[tuple[Num, ...], Field(max_length=MAX_MATRIX_ROWS)], ...],
                   Field(max_length=MAX_MATRIX_ROWS)]
RawMatrix = Annotated[tuple[Annotated[tuple[AnyNum, ...], Field(max_length=MAX_MATRIX_ROWS)], ...],
                      Field(max_length=MAX_MATRIX_ROWS)]

_RECORD = dict(frozen=True, slots=True, kw_only=True)


class _Record:
    """JSON for every record kind (the `kind` field names the class)."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON object (NaN and infinities become null)."""
        return _adapter().dump_python(self, mode="json")

    def to_json(self) -> str:
        return _adapter().dump_json(self).decode("utf-8")

    @classmethod
    def from_dict(cls, data: Any):
        """Validate a JSON object of this kind; RecordError names the first problem."""
        rec = parse(data)
        if not isinstance(rec, cls):
            raise RecordError(f"expected a {cls.__name__}, got a {type(rec).__name__}")
        return rec

    @classmethod
    def from_json(cls, text: str | bytes):
        return cls.from_dict(_loads(text))


@dataclass(**_RECORD)
class Layer:
    """One instrumented layer: `index` 0 is nearest the input."""

    name: Name
    index: Annotated[int, Field(ge=0, le=MAX_LAYERS)]
    kind: Name  # dense, simple_rnn, lstm, gru, output, or a Keras class name (GradientMonitor)
    units: Annotated[int, Field(ge=0, le=10**9)]
    activation: Name
    fan_in: Annotated[int, Field(ge=0, le=10**12)]


@dataclass(**_RECORD)
class StartRecord(_Record):
    kind: Literal["start"] = "start"
    layers: Annotated[tuple[Layer, ...], Field(max_length=MAX_LAYERS)]
    n_train: Count
    n_val: Count
    steps_per_epoch: Annotated[int, Field(ge=1, le=MAX_STEP)]
    total_steps: Count
    family: Name
    seq_len: Count = 0
    lr: Num = 0.0
    stats: tuple[Name, ...] = tuple(LAYER_STATS)
    task: Literal["binary", "multiclass", "regression"] = "binary"
    classes: Annotated[tuple[Name, ...], Field(max_length=1000)] = ()  # class names (classification)
    n_features: Count = 0
    input_q: MaybeNum = None  # mean squared input feature of the training set (mean-field theory's q0)


@dataclass(**_RECORD)
class DataRecord(_Record):
    kind: Literal["data"] = "data"
    x: Annotated[tuple[tuple[Num, Num], ...], Field(max_length=DATA_POINTS_LIMIT)]
    y: Annotated[tuple[int | Num, ...], Field(max_length=DATA_POINTS_LIMIT)]


@dataclass(**_RECORD)
class WeightsRecord(_Record):
    kind: Literal["weights"] = "weights"
    when: Literal["initial", "final"]
    layer_index: Annotated[int, Field(ge=0, le=MAX_LAYERS)] = 0
    kernel: RawMatrix


@dataclass(**_RECORD)
class StepRecord(_Record):
    kind: Literal["step"] = "step"
    step: Count
    epoch: Count
    loss: Num
    global_norm: Num
    global_norm_clipped: MaybeNum = None  # None where clipping is not known (GradientMonitor)
    grad_norm: PerLayer
    grad_mean_abs: PerLayer
    grad_max_abs: PerLayer
    bias_grad_norm: PerLayer
    bias_grad_mean_abs: PerLayer
    bias_grad_max_abs: PerLayer
    act_grad_rms: PerLayer
    act_mean: PerLayer
    act_std: PerLayer
    act_saturated: PerLayer
    act_dead: PerLayer
    update_ratio: PerLayer
    weight_norm: PerLayer = ()
    input_grad_by_time: Annotated[tuple[MaybeNum, ...], Field(max_length=MAX_MATRIX_ROWS)] | None = None
    recurrent_sigma_max: PerLayer | None = None

    def stat(self, name: str) -> tuple[float | None, ...]:
        """The per-layer tuple of a LAYER_STATS statistic (Nones for an optional one not recorded)."""
        if name not in LAYER_STATS:
            raise KeyError(f"unknown statistic {name!r}; known: {', '.join(LAYER_STATS)}")
        values = getattr(self, name)
        return values if values or name not in OPTIONAL_STATS else (None,) * len(self.grad_norm)


@dataclass(**_RECORD)
class SnapshotRecord(_Record):
    kind: Literal["snapshot"] = "snapshot"
    step: Count
    layer_index: Annotated[int, Field(ge=0, le=MAX_LAYERS)]
    grad: Matrix


@dataclass(**_RECORD)
class EpochRecord(_Record):
    kind: Literal["epoch"] = "epoch"
    epoch: Count
    step: Count
    loss: MaybeNum = None
    accuracy: MaybeNum = None
    val_loss: MaybeNum = None
    val_accuracy: MaybeNum = None
    r2: MaybeNum = None  # regression: coefficient of determination (accuracy is None)
    val_r2: MaybeNum = None


@dataclass(**_RECORD)
class BoundaryRecord(_Record):
    kind: Literal["boundary"] = "boundary"
    step: Count
    epoch: Count
    xs: Vector
    ys: Vector
    prob: Matrix  # len(ys) rows x len(xs) columns: P(class 1); multi-class: the winner's P; regression: the prediction
    label: Annotated[tuple[tuple[int, ...], ...], Field(max_length=MAX_MATRIX_ROWS)] | None = None  # multi-class winner


@dataclass(**_RECORD)
class SpectrumRecord(_Record):
    kind: Literal["spectrum"] = "spectrum"
    step: Count  # the weights the step's gradient is taken at (0: initialisation)
    first_layer: Annotated[int, Field(ge=0, le=MAX_LAYERS)]  # d a_last / d a_first
    last_layer: Annotated[int, Field(ge=0, le=MAX_LAYERS)]
    examples: Annotated[int, Field(ge=1, le=MAX_MATRIX_ROWS)]
    values: Vector  # every example's singular values, pooled


@dataclass(**_RECORD)
class ConfusionRecord(_Record):
    kind: Literal["confusion"] = "confusion"
    step: Count
    classes: Annotated[tuple[Name, ...], Field(max_length=1000)]
    train: Annotated[tuple[tuple[Count, ...], ...], Field(max_length=1000)]  # rows: true class, columns: predicted
    val: Annotated[tuple[tuple[Count, ...], ...], Field(max_length=1000)]


@dataclass(**_RECORD)
class StatusRecord(_Record):
    kind: Literal["status"] = "status"
    status: Status
    step: StepNo = -1  # the last step done (-1: none)
    message: Text = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))
        if not self.status.final:
            raise ValueError(f"a status record ends a run: one of {', '.join(sorted(FINAL))}")


Record = (StartRecord | DataRecord | WeightsRecord | StepRecord | SnapshotRecord | EpochRecord
          | BoundaryRecord | SpectrumRecord | ConfusionRecord | StatusRecord)
KINDS: dict[str, type] = {c.__dataclass_fields__["kind"].default: c for c in Record.__args__}


@cache
def _adapter() -> TypeAdapter:
    return TypeAdapter(Annotated[Record, Field(discriminator="kind")])


def parse(data: Any) -> Record:
    """A record from its JSON object (or an already typed record), validated; RecordError if not one."""
    if isinstance(data, tuple(KINDS.values())):
        return data
    if not isinstance(data, dict):
        raise RecordError(f"a record is a JSON object, got {type(data).__name__}")
    kind = data.get("kind")
    if kind not in KINDS:
        raise RecordError(f"unknown record kind {str(kind)[:40]!r}; known: {', '.join(KINDS)}")
    try:
        return _adapter().validate_python(data)
    except pydantic.ValidationError as exc:
        where, why = describe_error(exc, tagged=True)
        raise RecordError(f"{kind} record: {where or 'value'}: {why}", where, why) from None


def parse_json(text: str | bytes) -> Record:
    return parse(_loads(text))


def describe_error(exc: pydantic.ValidationError, tagged: bool = False) -> tuple[str, str]:
    """The first problem of a validation error: (location 'field.3.name', what is wrong). `tagged`:
    the error of a union on `kind`, whose location starts with the kind."""
    err = exc.errors(include_url=False)[0]
    loc = [str(p) for p in err.get("loc", ())][1 if tagged else 0:]
    msg = str(err.get("msg", "invalid"))[:200].replace("valid tuple", "list")
    return ".".join(loc), msg


def size(record: Record) -> int:
    """About how many numbers a record holds (matrices counted as rows x columns)."""
    n = 0
    for f in fields(record):
        value = getattr(record, f.name)
        if isinstance(value, tuple):
            n += len(value) * (len(value[0]) if value and isinstance(value[0], tuple) else 1)
        else:
            n += 1
    return n


def record_schema() -> dict:
    """The JSON schema of a record (one of the kinds), for docs and /docs."""
    return _adapter().json_schema()


def field_names(kind: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(kind))


def _loads(text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except (ValueError, TypeError, RecursionError) as exc:
        raise RecordError(f"not valid JSON ({str(exc)[:80]})") from None
