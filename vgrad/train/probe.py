"""What GradientMonitor measures on a Keras model, and the compiled measurement itself.

    tracked, skipped = find_layers(model)             # kernel layers (declaration order), names of the rest
    probe = Probe(model, tracked, x, y, sample_weight)  # traces once; ProbeError names a bad argument
    probe.kept                                        # the measured layers, in forward-call order
    values = probe.measure().numpy()                  # [loss, global norm, layers x LAYER_STATS...]
    step = probe.beside(model.train_step)             # a train step that measures first (read: taken())
    probe.set_mode(MEASURE)                           # ... in its next call (PLAIN, MEASURE, SNAPSHOT)

The measurement is the gradient `fit`'s train step computes for the probe batch: `model(x,
training=True)` and the compiled loss with its weights, sample weights and `model.losses`
(regularisation), run inside a Keras StatelessScope: every variable is read from a mapping and no
write reaches a variable, so BatchNorm statistics, seed generators, metrics and the optimizer stay
as they were. Dropout draws from the seed states recorded when the probe is made, so every
measurement uses the same masks. Layer outputs (activations, dL/da) are caught by wrapping each
kernel layer's `call` while the function traces; the order of those calls orders the layers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from vgrad.records import LAYER_STATS, Layer
from vgrad.train.stats import layer_stats

try:  # see write()
    from tensorflow.python.ops.gen_resource_variable_ops import assign_variable_op as _assign_op
except ImportError:
    _assign_op = None

KERNELS = ("kernel", "embeddings", "depthwise_kernel")  # the weight matrix a layer's gradient is read off
HEAD = 2  # loss and global norm lead the measurement vector
SLOTS = 64  # measurements beside training steps kept in the graph between two reads (Probe.beside)
PLAIN, MEASURE, SNAPSHOT = 0, 1, 2  # what a beside() step does besides training (Probe.set_mode)
NO_LOSS = "model: it has no loss to differentiate; compile it with loss=... (or add one with add_loss)"


class ProbeError(ValueError):
    """The probe batch, the model or its loss cannot be measured; the message starts with the argument."""


@dataclass
class Tracked:
    """One layer with a trainable kernel; `name` is its path in nested models ("encoder/dense")."""

    layer: keras.layers.Layer
    name: str
    kernel: Any
    bias: Any
    activation: str

    def describe(self, index: int) -> Layer:
        shape = tuple(int(d) for d in self.kernel.shape)
        units = next((getattr(self.layer, a) for a in ("units", "filters", "output_dim")
                      if isinstance(getattr(self.layer, a, None), int)), shape[-1])
        return Layer(name=self.name[:200], index=index, kind=snake_case(type(self.layer).__name__),
                     units=int(units), activation=self.activation, fan_in=int(np.prod(shape[:-1])))


def snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _variable(value: Any) -> Any:
    return value if isinstance(value, keras.Variable) else None


def kernel_and_bias(layer: keras.layers.Layer) -> tuple[Any, Any, bool]:
    """(kernel, bias, from_cell): a recurrent layer's are its cell's input kernel and bias."""
    cell = getattr(layer, "cell", None)
    if cell is not None and _variable(getattr(cell, "kernel", None)) is not None:
        return cell.kernel, _variable(getattr(cell, "bias", None)), True
    for attr in KERNELS:
        kernel = _variable(getattr(layer, attr, None))
        if kernel is not None:
            return kernel, _variable(getattr(layer, "bias", None)), False
    return None, None, False


def activation_name(layer: keras.layers.Layer) -> str:
    act = getattr(layer, "activation", None)
    if act is None and getattr(layer, "cell", None) is not None:
        act = getattr(layer.cell, "activation", None)
    if act is None:
        return "linear"
    return str(getattr(act, "__name__", None) or snake_case(type(act).__name__))[:60]


def find_layers(model: keras.Model) -> tuple[list[Tracked], list[str]]:
    """Layers with a trainable kernel, nested models and wrappers included, in declaration order; and
    the names of the leaf layers without one (or frozen), which are not measured."""
    trainable = {id(v) for v in model.trainable_variables}
    tracked: list[Tracked] = []
    skipped: list[str] = []
    seen: set[int] = set()

    def visit(parent: keras.layers.Layer, prefix: str) -> None:
        for layer in parent._flatten_layers(include_self=False, recursive=False):
            if id(layer) in seen or isinstance(layer, keras.layers.InputLayer):
                continue
            seen.add(id(layer))
            name = prefix + layer.name
            kernel, bias, from_cell = kernel_and_bias(layer)
            if kernel is not None:
                if id(kernel) in trainable:
                    bias = bias if bias is not None and id(bias) in trainable else None
                    tracked.append(Tracked(layer, name, kernel, bias, activation_name(layer)))
                else:
                    skipped.append(name)
                if from_cell:
                    continue
            children = layer._flatten_layers(include_self=False, recursive=False)
            if children:
                visit(layer, name + "/")
            elif kernel is None:
                skipped.append(name)

    visit(model, "")
    return tracked, skipped


def seed_variables(model: keras.Model) -> list:
    """The state variables of every seed generator in the model (what Dropout draws its masks from)."""
    found: dict[int, Any] = {}
    for layer in model._flatten_layers(include_self=True):
        for generator in getattr(layer, "_seed_generators", ()):
            found[id(generator.state)] = generator.state
    for v in model.non_trainable_variables:
        if v.path.endswith("seed_generator_state"):
            found.setdefault(id(v), v)
    return list(found.values())


# --- the probe batch ---------------------------------------------------------------------
def to_tensors(value: Any, argument: str) -> Any:
    """A probe structure (arrays, lists, dicts of arrays) as tensors; floats as Keras' floatx, as fit does."""
    if value is None:
        return None

    def convert(leaf: Any) -> tf.Tensor:
        try:
            t = tf.convert_to_tensor(leaf)
        except (ValueError, TypeError) as exc:
            raise TypeError(f"{argument}: expected arrays (numpy, tensors, or lists or dicts of them), "
                            f"got {type(leaf).__name__} ({first_line(exc)})") from None
        if t.dtype.is_floating and t.dtype.name != keras.backend.floatx():
            t = tf.cast(t, keras.backend.floatx())
        if t.shape.rank == 0:
            raise ValueError(f"{argument}: expected a batch (an array with a first axis), got a scalar")
        return t

    return keras.tree.map_structure(convert, value)


def batch_rows(value: Any) -> set[int]:
    return {int(t.shape[0]) for t in keras.tree.flatten(value)} if value is not None else set()


def class_weights(y: Any, class_weight: dict) -> tf.Tensor:
    """Sample weights from a class weight dict, as `fit(class_weight=...)` makes them."""
    leaves = keras.tree.flatten(y)
    if len(leaves) != 1:
        raise ValueError("class_weight: works with a single target array only (as in fit); use sample_weight")
    labels = np.asarray(leaves[0])
    if labels.ndim > 1:
        labels = labels.argmax(-1) if labels.shape[-1] != 1 else labels.squeeze(-1)
    labels = np.round(labels).astype("int64").reshape(-1)
    weights = [float(class_weight.get(int(c), 1.0)) for c in labels]
    return tf.constant(weights, dtype=keras.backend.floatx())


def check_inputs(model: keras.Model, x: Any) -> None:
    """For a model with declared inputs (functional, Sequential with an Input), the probe's arrays must
    match them in number, names and shape; ProbeError says how they differ."""
    try:
        specs = list(model.inputs or [])
    except (AttributeError, ValueError):
        return
    if not specs:
        return
    names = [s.name for s in specs]
    if isinstance(x, dict):
        if set(x) != set(names):
            raise ProbeError(f"x: the model's inputs are named {', '.join(names)}; the probe dict has keys "
                             f"{', '.join(map(str, x))}")
        leaves = [x[n] for n in names]
        if any(keras.tree.is_nested(v) for v in leaves):
            return
    else:
        leaves = keras.tree.flatten(x)
        if len(leaves) != len(specs):
            raise ProbeError(f"x: the model takes {len(specs)} input{'s' * (len(specs) > 1)} "
                             f"({', '.join(names)}), the probe has {len(leaves)} "
                             f"array{'s' * (len(leaves) > 1)}")
    for name, spec, leaf in zip(names, specs, leaves, strict=True):
        want, got = tuple(spec.shape), tuple(leaf.shape)
        differs = any(w is not None and w != g for w, g in zip(want[1:], got[1:], strict=False))
        if len(want) != len(got) or differs:
            which = f"input {name!r} takes" if len(specs) > 1 else "input has"
            raise ProbeError(f"x: the model's {which} shape {_shape(want)} (batch first), the probe's "
                             f"array has shape {_shape(got)}")


def _shape(shape: tuple) -> str:
    text = ", ".join("None" if d is None else str(d) for d in shape)
    return f"({text},)" if len(shape) == 1 else f"({text})"


def first_line(exc: BaseException) -> str:
    """The sentence of an error: the first line, or for TensorFlow's runtime errors the last line that
    is neither a traceback nor a node name."""
    lines = [s.strip() for s in str(getattr(exc, "message", None) or exc).splitlines() if s.strip()]
    if isinstance(exc, tf.errors.OpError):
        noise = ("[[", "File ", "Detected at node", "Graph execution error")
        lines = [s for s in lines if not s.startswith(noise)][-1:]
    line = re.sub(r"^(\{\{[^}]*\}\}\s*)+", "", lines[0]) if lines else ""  # {{function_node ...}}
    return (line or type(exc).__name__)[:300]


# --- catching layer outputs while a forward pass traces -------------------------------------
class _Calls:
    """Which tracked layers a forward pass called, in order, and each one's first output."""

    def __init__(self, tracked: list[Tracked]):
        self.tracked = tracked
        self.order: list[int] = []
        self.outputs: dict[int, Any] = {}

    @contextmanager
    def hooked(self) -> Iterator[_Calls]:
        saved = []
        for i, t in enumerate(self.tracked):
            saved.append(t.layer.__dict__.get("call"))
            object.__setattr__(t.layer, "call", self._wrap(i, t.layer.call))
        try:
            yield self
        finally:
            for t, before in zip(self.tracked, saved, strict=True):
                t.layer.__dict__.pop("call", None)
                if before is not None:
                    object.__setattr__(t.layer, "call", before)

    def _wrap(self, i: int, call):
        def hooked_call(*args, **kwargs):
            if i not in self.order:
                self.order.append(i)
            out = call(*args, **kwargs)
            if i not in self.outputs:
                first = next(iter(keras.tree.flatten(out)), None)
                self.outputs[i] = first if tf.is_tensor(first) and first.dtype.is_floating else None
            return out
        return hooked_call


def branch(index: tf.Tensor, branches: list[Callable]) -> None:
    """tf.switch_case kept a Case op (not lowered to switch and merge ops): a branch not taken costs
    nothing, where the lowered form passes its dead value through every op of the measurement (0.1 ms
    a step on a small CNN, a step being 1.4 ms). TensorFlow's own function, not public: if it moves,
    the lowered form."""
    try:
        from tensorflow.python.ops.cond_v2 import indexed_case
    except ImportError:
        tf.switch_case(index, branches)
    else:
        indexed_case(index, branches, lower_using_switch_merge=False)


def write(variable: tf.Variable, value: tf.Tensor) -> None:
    """variable := value, eagerly, as one op: 13 us where `assign` takes 160 (it converts the value and
    reads the variable back), which three times in ten steps was 1% of a small CNN's training. The op's
    wrapper is TensorFlow's own, not public: if it moves, `assign`."""
    if _assign_op is None:
        variable.assign(value, read_value=False)
    else:
        _assign_op(variable.handle, value)


# --- the compiled measurement ------------------------------------------------------------------
class Probe:
    """The compiled, side-effect-free gradient of `model`'s training loss on one probe batch.

    Args:
        model: a built, compiled Keras model.
        tracked: its kernel layers (find_layers).
        x, y, sample_weight: the probe batch, as tensors (to_tensors).
        training: True for fit's semantics (BatchNorm batch statistics, Dropout on), False for inference.

    Tracing (here, once) finds the call order and raises ProbeError for a probe the model or its loss
    cannot take, or a loss with no gradient. `measure()` returns one float32 vector: loss, global
    gradient norm, then len(kept) x len(LAYER_STATS) statistics; it also copies the kernels so the next
    measurement's update_ratio is against them. `snapshot()` copies them without measuring.
    """

    def __init__(self, model: keras.Model, tracked: list[Tracked], x: Any, y: Any, sample_weight: Any,
                 training: bool = True):
        self.model, self.tracked, self.training = model, tracked, training
        self.args = (x, y, sample_weight)
        self.seed_vars = seed_variables(model)
        self.seed_values = [tf.constant(np.array(v.numpy())) for v in self.seed_vars]
        self.kept: list[Tracked] = []
        self.unused: list[str] = []
        self.no_grad: list[int] = []  # positions in `kept` of kernels without a gradient (NaN rows)
        self._vars = list(model.trainable_variables)
        seeds = {id(v) for v in self.seed_vars}
        self._state = [*self._vars, *(v for v in model.non_trainable_variables if id(v) not in seeds)]
        self._shadows = [tf.Variable(tf.convert_to_tensor(t.kernel), trainable=False) for t in tracked]
        self._error: ProbeError | None = None
        # autograph off, as in fit (Keras' train step is do_not_convert): a user's `call` runs as it would
        # there, and tracing takes a third less time (a second less for the first one in a process)
        self._measure = tf.function(lambda: self._graph(*self.args), autograph=False)
        self._snapshot = tf.function(self._copy_kernels, autograph=False)
        self._order: list[int] = []
        self._out: tf.Variable | None = None  # what measurements beside training steps wrote (beside)
        self._tags: tf.Variable | None = None
        self._calls: tf.Variable | None = None
        self._mode: tf.Variable | None = None
        self._mode_now = PLAIN
        # Trace now (order, errors). The probe batch is captured, not passed, and the traced function
        # is called directly: a third of a millisecond less per measurement than tf.function's
        # dispatch of the batch as arguments.
        self._traced = self._measure.get_concrete_function()
        if self._error is not None:
            raise self._error
        self._copy = self._snapshot.get_concrete_function()
        try:  # and runs once, for the errors only running finds (a dtype the loss cannot cast)
            self.measure()
        except tf.errors.OpError as exc:
            raise ProbeError(f"x, y: the model or its loss fails on the probe batch "
                             f"({first_line(exc)})") from None

    def measure(self) -> tf.Tensor:
        return self._traced()

    def beside(self, train_step: Callable) -> Callable:
        """`train_step` for Keras' train function (`model._make_function`) that measures or copies the
        kernels first, as `set_mode` said before the call: PLAIN (the step alone), MEASURE or SNAPSHOT.

        The measurement reads the weights the last step left before this step changes them (Keras'
        automatic control dependencies order the reads before the step's updates); the rest of it
        depends on nothing the step computes, so TensorFlow runs it beside the step, on another core
        when there is one. It calls measure()'s own traced function (embedded, not traced again), so
        the fused train function traces little slower than Keras' own. The n-th measuring call (from 0)
        writes its vector to row n % SLOTS of a buffer and n to the same row of a tag buffer: `taken()`
        reads both, two transfers for up to SLOTS measurements.
        """
        if self._out is None:
            width = int(self._traced.structured_outputs.shape[0])
            self._out = tf.Variable(tf.fill([SLOTS, width], np.float32("nan")), trainable=False)
            self._tags = tf.Variable(tf.fill([SLOTS], tf.constant(-1, tf.int64)), trainable=False)
            self._calls = tf.Variable(tf.constant(0, tf.int64), trainable=False)
            self._mode = tf.Variable(tf.constant(PLAIN, tf.int32), trainable=False)
            self._modes = {m: tf.constant(m, tf.int32) for m in (PLAIN, MEASURE, SNAPSHOT)}

        def measured() -> None:
            n = self._calls.assign_add(1) - 1
            slot = tf.reshape(n % SLOTS, [1, 1])
            self._out.scatter_nd_update(slot, self._traced()[None])  # the traced measurement, called
            self._tags.scatter_nd_update(slot, tf.reshape(n, [1]))

        def step(data: Any) -> Any:
            branch(self._mode.read_value(), [lambda: None, measured, self._copy])  # PLAIN, MEASURE, SNAPSHOT
            return train_step(data)

        return step

    def set_mode(self, mode: int) -> None:
        """What the next call of the beside() step does besides the step: PLAIN, MEASURE or SNAPSHOT."""
        if mode != self._mode_now:
            write(self._mode, self._modes[mode])
            self._mode_now = mode

    def calls(self) -> int:
        """How many measuring calls of the beside() step have begun (read from the graph's own counter)."""
        return int(self._calls.numpy()) if self._calls is not None else 0

    def taken(self) -> tuple[np.ndarray, np.ndarray]:
        """(vectors [SLOTS, width], tags [SLOTS]): row n % SLOTS holds the n-th beside() call's
        measurement when its tag is n."""
        return self._out.numpy(), self._tags.numpy()

    def snapshot(self) -> None:
        self._copy()

    @property
    def seeds(self) -> dict[str, np.ndarray]:
        """The seed generator states every measurement's dropout masks are drawn from (path -> state)."""
        return {v.path: np.array(s) for v, s in zip(self.seed_vars, self.seed_values, strict=True)}

    def _copy_kernels(self) -> None:
        for i in self._order:
            self._shadows[i].assign(tf.convert_to_tensor(self.tracked[i].kernel))

    def _fail(self, message: str) -> tf.Tensor:
        self._error = ProbeError(message)
        return tf.zeros([HEAD])

    def _read(self) -> list[tf.Tensor]:
        return [tf.convert_to_tensor(v) for v in self._state]

    def _graph(self, x: Any, y: Any, sample_weight: Any) -> tf.Tensor:
        return self._vector(self._read(), x, y, sample_weight)

    def _vector(self, state: list[tf.Tensor], x: Any, y: Any, sample_weight: Any) -> tf.Tensor:
        """The measurement at `state` (the values of `_state`: trainable variables first)."""
        model, graph = self.model, tf.compat.v1.get_default_graph()
        values = state[:len(self._vars)]
        mapping = [*zip(self._state, state, strict=True), *zip(self.seed_vars, self.seed_values, strict=True)]
        calls = _Calls(self.tracked)
        with tf.GradientTape() as tape:
            tape.watch(values)
            with keras.StatelessScope(state_mapping=mapping, collect_losses=True):
                try:
                    with calls.hooked():
                        if getattr(model, "_call_has_training_arg", True):
                            y_pred = model(x, training=self.training)
                        else:
                            y_pred = model(x)
                except Exception as exc:  # noqa: BLE001 - any failure of the user's model on the probe
                    return self._fail(f"x: the model cannot be called on the probe batch ({first_line(exc)})")
                try:
                    compute = getattr(model, "_compute_loss", model.compute_loss)
                    loss = compute(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                   training=self.training)
                except Exception as exc:  # noqa: BLE001
                    if "No loss to compute" in str(exc):
                        return self._fail(NO_LOSS)
                    return self._fail(f"y: the model's loss cannot be computed on the probe batch "
                                      f"({first_line(exc)})")
            if loss is None:
                return self._fail(NO_LOSS)
        outputs = {i: a for i, a in calls.outputs.items()  # not those inside a loop's own graph
                   if a is not None and getattr(a, "graph", None) is graph}
        act_idx = sorted(outputs)
        grads = tape.gradient(loss, [*values, *(outputs[i] for i in act_idx)])
        var_grads, act_grads = grads[:len(values)], dict(zip(act_idx, grads[len(values):], strict=True))
        position = {id(v): k for k, v in enumerate(self._vars)}
        kernel_grad = {i: var_grads[position[id(self.tracked[i].kernel)]] for i in calls.order}
        if calls.order and all(g is None for g in kernel_grad.values()):
            return self._fail("loss: it has no gradient with respect to any kernel (is it computed "
                              "through argmax, rounding or a cast to integers?); GradientMonitor needs a "
                              "differentiable loss")
        self._order = list(calls.order)
        self.kept = [self.tracked[i] for i in calls.order]
        self.unused = [t.name for i, t in enumerate(self.tracked) if i not in calls.order]
        if not self.kept:
            return self._fail("model: none of its layers with a kernel ran in a forward pass on the "
                              "probe batch")
        self.no_grad = [k for k, i in enumerate(calls.order) if kernel_grad[i] is None]

        def grad_of(var: Any) -> Any:
            g = None if var is None else var_grads[position[id(var)]]
            return None if g is None else tf.convert_to_tensor(g)

        k_grads = [grad_of(self.tracked[i].kernel) for i in calls.order]
        k_grads = [tf.zeros_like(values[position[id(t.kernel)]]) if g is None else g
                   for g, t in zip(k_grads, self.kept, strict=True)]
        b_grads = [grad_of(t.bias) for t in self.kept]
        acts = [outputs.get(i) for i in calls.order]
        a_grads = [None if act_grads.get(i) is None else tf.convert_to_tensor(act_grads[i])
                   for i in calls.order]
        news = [values[position[id(t.kernel)]] for t in self.kept]
        olds = [tf.convert_to_tensor(self._shadows[i]) for i in calls.order]
        stats = layer_stats(k_grads, b_grads, acts, a_grads, [t.activation for t in self.kept], olds, news)
        if "weight_norm" in LAYER_STATS:  # of the kernels the gradient is taken at: after the update
            k = list(LAYER_STATS).index("weight_norm")
            weights = tf.stack([tf.norm(tf.cast(w, tf.float32)) for w in news])[:, None]
            stats = tf.concat([stats[:, :k], weights, stats[:, k + 1:]], 1)
        for i, new in zip(calls.order, news, strict=True):
            self._shadows[i].assign(new)
        norm = tf.linalg.global_norm([g for g in var_grads if g is not None])
        head = tf.stack([tf.cast(loss, tf.float32), tf.cast(norm, tf.float32)])
        assert stats.shape[-1] == len(LAYER_STATS)
        return tf.concat([head, tf.reshape(tf.cast(stats, tf.float32), [-1])], 0)
