"""The TensorFlow settings vgrad trains with.

    tfsetup.configure()   # the service, the CLI and the benchmarks call it before TensorFlow runs an op

- One intra-op thread (VGRAD_TF_THREADS): a step of these small nets is hundreds of tiny ops, and
  splitting each across cores costs more than it saves (a 32x64 step: 1.2 ms instead of 2.2 ms).
  Concurrent trainings use the cores instead. Plain `model.fit` gains too.
- Graph rewrites that change rounding off (`same_ops_in_graph`), so eager and compiled steps
  agree bit for bit. `vgrad.train` applies this one itself.

Imported by a notebook that already ran TensorFlow ops, `configure` keeps the notebook's thread
settings (TensorFlow cannot change them then).
"""

from __future__ import annotations

import os

_DONE = {"graph": False}


def intra_op_threads() -> int:
    text = os.environ.get("VGRAD_TF_THREADS", "").strip() or "1"
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"VGRAD_TF_THREADS must be a whole number >= 0 (0 = TensorFlow's default), got {text[:40]!r}")
    return value


def configure() -> bool:
    """Set vgrad's thread settings; False if TensorFlow was already running (settings kept)."""
    import tensorflow as tf

    same_ops_in_graph()
    threads = intra_op_threads()
    if threads == 0:
        return True
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    except RuntimeError:  # the runtime is initialised
        return tf.config.threading.get_intra_op_parallelism_threads() == threads
    return True


def same_ops_in_graph() -> None:
    """Keep graph rewrites that change rounding off, so eager and compiled steps agree bit for bit
    (same seed, same run, whenever the switch to the compiled step happens)."""
    if not _DONE["graph"]:
        import tensorflow as tf

        tf.config.optimizer.set_experimental_options({"remapping": False, "arithmetic_optimization": False})
        _DONE["graph"] = True
