"""Instrumented training vs plain Keras `model.fit`, same model, same data, same process.

    python benchmarks/bench_engine.py [--quick]

Prints steps per second of each and their ratio, for the notebook's workload (75 training
examples, batch 32, 8 sigmoid layers) and a bigger one (5,000 samples, 32 layers x 64 units),
then the time from `train()` to its first step record at depths 8, 32 and 64.
Both sides start from a fresh model, so both pay their own tracing.
"""

from __future__ import annotations

import argparse
import os
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

    from vgrad.data import load
    from vgrad.models import make_optimizer, plain_model

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


def vgrad_rates(config) -> tuple[float, float, str]:
    """vgrad.train, fully instrumented: end-to-end and second-half steps/s, and the run's status."""
    from vgrad.engine import train

    stamps: list[float] = []

    def on_record(record: dict) -> None:
        if record["kind"] == "step":
            stamps.append(time.perf_counter())

    t0 = time.perf_counter()
    run = train(config, on_record=on_record)
    return (*_rates(stamps, t0), run.status)


def first_record_seconds(config) -> float:
    from vgrad.engine import train

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
    args = parser.parse_args()

    import tensorflow as tf

    from vgrad import RunConfig
    from vgrad.engine import train

    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs")
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
    t0 = time.perf_counter()
    train(exact)
    ours_s = time.perf_counter() - t0
    print(f"\nthe notebook's exact run (1 epoch, 3 steps), wall time: plain fit {fit_s:.2f} s, "
          f"vgrad {ours_s:.2f} s ({fit_s / ours_s:.1f}x)")
    print("\nsteps/s: end to end (fresh model, each side pays its own tracing) | steady (second half of the run)")
    print(f"{'workload':42s} {'fit':>7s} {'vgrad':>7s} {'ratio':>6s} | {'fit':>7s} {'vgrad':>7s} {'ratio':>6s}")
    for name, config in workloads.items():
        fit_e2e, fit_steady = plain_fit_rates(config)
        ours_e2e, ours_steady, status = vgrad_rates(config)
        print(f"{name:42s} {fit_e2e:7.0f} {ours_e2e:7.0f} {ours_e2e / fit_e2e:5.2f}x | "
              f"{fit_steady:7.0f} {ours_steady:7.0f} {ours_steady / fit_steady:5.2f}x  ({status})")

    print("\nfirst step record after train(), TensorFlow warm")
    for depth in (8, 32, 64):
        seconds = first_record_seconds(RunConfig(hidden_layers=depth, epochs=2))
        print(f"  depth {depth:2d}: {seconds:.2f} s")


if __name__ == "__main__":
    main()
