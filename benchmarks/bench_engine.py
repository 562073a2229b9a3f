"""Instrumented training vs plain Keras `model.fit`, same model, same data, same process.

    python benchmarks/bench_engine.py [--quick]

Alternates the two sides --repeat times (default 3) and prints the medians of steps per second
and of their ratios (this shared 2-core machine moves by +-30% from run to run), for the notebook's workload (75 training
examples, batch 32, 8 sigmoid layers) and a bigger one (5,000 samples, 32 layers x 64 units),
then the time from `train()` to its first step record at depths 8, 32 and 64.
Both sides start from a fresh model, so both pay their own tracing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _rates(stamps: list[float], start: float) -> tuple[float, float]:
    """(end-to-end steps/s from `start`, steady steps/s over the second half of the steps)."""
    half = len(stamps) // 2
    return len(stamps) / (stamps[-1] - start), (len(stamps) - 1 - half) / (stamps[-1] - stamps[half])


def plain_fit_rates(config) -> tuple[float, float]:
    """model.fit on a fresh model: end-to-end and second-half steps/s."""
    import keras

    from vgrad.train.data import load
    from vgrad.train.models import make_optimizer, plain_model

    data = load(config)
    model = plain_model(config)
    model.compile(optimizer=make_optimizer(config), loss="binary_crossentropy", metrics=["accuracy"])
    stamps: list[float] = []
    clock = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: stamps.append(time.perf_counter()))
    t0 = time.perf_counter()
    model.fit(data.x_train, data.y_train, batch_size=config.batch_size, epochs=config.epochs,
              shuffle=True, verbose=0, callbacks=[clock])
    keras.backend.clear_session()
    return _rates(stamps, t0)


class DefaultFit:
    """plain_fit_rates in a child process with TensorFlow's default settings (threads, graph rewrites),
    as a user's own `model.fit` runs; the baseline is the faster of it and the in-process fit."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, __file__, "--fit-worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def rates(self, config) -> tuple[float, float]:
        self.proc.stdin.write(config.to_json().replace("\n", " ") + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the default-settings fit worker died")
        return tuple(json.loads(line))

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(30)


def fit_worker() -> None:
    from vgrad import RunConfig

    plain_fit_rates(RunConfig(epochs=1))  # warm
    for line in sys.stdin:
        print(json.dumps(plain_fit_rates(RunConfig.from_json(line))), flush=True)


def vgrad_rates(config, warm: bool = False) -> tuple[float, float, str]:
    """vgrad.train, fully instrumented: end-to-end and second-half steps/s, and the run's status.

    Cold: nothing compiled for this architecture yet (it traces while it trains). Warm: an earlier
    training of the architecture (another seed) left its compiled step, as in the service.
    """
    from dataclasses import replace

    from vgrad.train import compiled
    from vgrad.train.engine import precompile, train

    compiled.clear()
    if warm:
        precompile(replace(config, seed=config.seed + 1))

    stamps: list[float] = []

    def on_record(record: dict) -> None:
        if record["kind"] == "step":
            stamps.append(time.perf_counter())

    t0 = time.perf_counter()
    run = train(config, on_record=on_record)
    return (*_rates(stamps, t0), run.status)


def first_record_seconds(config) -> float:
    from vgrad.train import compiled
    from vgrad.train.engine import train

    compiled.clear()  # cold: nothing traced for this architecture

    t0 = time.perf_counter()
    seen: list[float] = []

    def on_record(record: dict) -> None:
        if record["kind"] == "step" and not seen:
            seen.append(time.perf_counter() - t0)

    train(config, on_record=on_record, should_stop=lambda: bool(seen))
    return seen[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs (a smoke run, noisier figures)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="alternate fit and vgrad this many times per workload and report medians (default 3)")
    parser.add_argument("--fit-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fit_worker:
        return fit_worker()

    import tensorflow as tf

    from vgrad import RunConfig
    from vgrad.train import compiled, tfsetup
    from vgrad.train.engine import train

    default_fit = DefaultFit()
    tfsetup.configure()  # as the service and CLI run
    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs. vgrad runs with intra-op threads "
          f"{tf.config.threading.get_intra_op_parallelism_threads()}; `fit` is the faster of fit in this process "
          "(same settings) and fit in a child process with TensorFlow's defaults.")
    # Warm TensorFlow and Keras once (the service does this at start).
    train(RunConfig(epochs=1))
    plain_fit_rates(RunConfig(epochs=1))

    workloads = {
        "notebook (75 ex, 8x8 sigmoid, batch 32)": RunConfig(epochs=60 if args.quick else 300),
        "bigger (5,000 ex, 32x64 relu, batch 32)": RunConfig(
            n_samples=5000, n_features=20, hidden_layers=32, units=64, activation="relu",
            initializer="he_normal", learning_rate=0.001, standardize=True, epochs=1 if args.quick else 3),
    }
    exact = RunConfig(epochs=1)
    t0 = time.perf_counter()
    plain_fit_rates(exact)
    fit_s = time.perf_counter() - t0
    compiled.clear()
    t0 = time.perf_counter()
    train(exact)
    ours_s = time.perf_counter() - t0
    print(f"\nthe notebook's exact run (1 epoch, 3 steps), wall time: plain fit {fit_s:.2f} s, "
          f"vgrad {ours_s:.2f} s ({fit_s / ours_s:.1f}x)")
    repeat = 1 if args.quick else max(1, args.repeat)
    print(f"\nsteps/s, median of {repeat} alternating runs. End to end: fresh model, each side pays its own "
          "tracing; vgrad cold = first training of the architecture, warm = one traced before (the service "
          "keeps compiled steps). Steady: second half of the cold run.")
    print(f"{'workload':40s} {'fit':>5s} {'cold':>5s} {'ratio':>6s} {'warm':>5s} {'ratio':>6s} | "
          f"{'fit':>5s} {'vgrad':>5s} {'ratio':>6s}")
    for name, config in workloads.items():
        rows = []
        for _ in range(repeat):
            here, default = plain_fit_rates(config), default_fit.rates(config)
            fit_e2e, fit_steady = max(here[0], default[0]), max(here[1], default[1])
            cold_e2e, cold_steady, status = vgrad_rates(config)
            warm_e2e, _, _ = vgrad_rates(config, warm=True)
            steady = cold_steady
            rows.append((fit_e2e, cold_e2e, cold_e2e / fit_e2e, warm_e2e, warm_e2e / fit_e2e,
                         fit_steady, steady, steady / fit_steady))
        m = [statistics.median(col) for col in zip(*rows, strict=True)]
        print(f"{name:40s} {m[0]:5.0f} {m[1]:5.0f} {m[2]:5.2f}x {m[3]:5.0f} {m[4]:5.2f}x | "
              f"{m[5]:5.0f} {m[6]:5.0f} {m[7]:5.2f}x  ({status})")
        if repeat > 1:
            print("  ratios seen: " + ", ".join(f"{label} {min(r[i] for r in rows):.2f}-{max(r[i] for r in rows):.2f}x"
                                                for label, i in (("cold", 2), ("warm", 4), ("steady", 7))))

    default_fit.close()
    print(f"\nfirst step record after train(), TensorFlow warm (median of {repeat})")
    for depth in (8, 32, 64):
        seconds = statistics.median(first_record_seconds(RunConfig(hidden_layers=depth, epochs=2))
                                    for _ in range(repeat))
        print(f"  depth {depth:2d}: {seconds:.2f} s")


if __name__ == "__main__":
    main()
