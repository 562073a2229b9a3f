"""The TensorFlow settings vgrad trains with.

    tfsetup.configure()   # the service, the CLI and the benchmarks call it before TensorFlow runs an op

- One intra-op thread (VGRAD_TF_THREADS): a step of these small nets is hundreds of tiny ops, and
  splitting each across cores costs more than it saves (a 32x64 step: 1.2 ms instead of 2.2 ms).
  Concurrent trainings use the cores instead. Plain `model.fit` gains too.
- Graph rewrites that change rounding off (`same_ops_in_graph`), so eager and compiled steps
  agree bit for bit. `vgrad.train` applies this one itself.

Imported by a notebook that already ran TensorFlow ops, `configure` keeps the notebook's thread
settings (TensorFlow cannot change them then).

`configure` imports TensorFlow with its start-up notices kept off stderr (`import_quietly`): the
oneDNN line and absl's "before absl::InitializeLog()" warning, which TensorFlow 2.21 prints however
TF_CPP_MIN_LOG_LEVEL is set. Anything else printed there is passed on.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

NOTICES = re.compile(r"oneDNN custom operations are on|All log messages before absl::InitializeLog\(\)")

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


def import_quietly() -> None:
    """Import TensorFlow with stderr (the file descriptor: the notices come from C++) caught, then
    write back every line of it but the start-up notices (NOTICES)."""
    if "tensorflow" in sys.modules:
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable stderr: nothing to keep clean
        import tensorflow  # noqa: F401

        return
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            text = caught.read().decode("utf-8", errors="replace")
            kept = "".join(line for line in text.splitlines(keepends=True) if not NOTICES.search(line))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


def configure() -> bool:
    """Set vgrad's thread settings; False if TensorFlow was already running (settings kept)."""
    import_quietly()
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
