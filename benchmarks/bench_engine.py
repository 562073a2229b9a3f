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


def plain_fit_steps_per_second(config, warm: bool = False) -> float:
    """model.fit on a fresh model; warm=True first fits one epoch so its tracing is excluded."""
    import keras

    from vgrad.data import load
    from vgrad.models import make_optimizer, plain_model

    data = load(config)
    model = plain_model(config)
    model.compile(optimizer=make_optimizer(config), loss="binary_crossentropy", metrics=["accuracy"])
    if warm:
        model.fit(data.x_train, data.y_train, batch_size=config.batch_size, epochs=1, verbose=0)
    t0 = time.perf_counter()
    model.fit(data.x_train, data.y_train, batch_size=config.batch_size, epochs=config.epochs,
              shuffle=True, verbose=0)
    seconds = time.perf_counter() - t0
    keras.backend.clear_session()
    return config.total_steps / seconds


def vgrad_steps_per_second(config, warm: bool = False) -> tuple[float, str]:
    """vgrad.train end to end; warm=True traces the compiled loop first (excluded from the time)."""
    from vgrad.engine import Trainer

    trainer = Trainer(config)
    if warm:
        trainer._trace()
    records: list[dict] = []
    t0 = time.perf_counter()
    try:
        trainer.run(records.append, lambda: False, None)
    finally:
        trainer.close()
    seconds = time.perf_counter() - t0
    steps = sum(1 for r in records if r["kind"] == "step")
    return steps / seconds, records[-1]["status"]


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
    plain_fit_steps_per_second(RunConfig(epochs=1))

    workloads = {
        "notebook (75 ex, 8x8 sigmoid, batch 32)": RunConfig(epochs=60 if args.quick else 300),
        "bigger (5,000 ex, 32x64 relu, batch 32)": RunConfig(
            n_samples=5000, n_features=20, hidden_layers=32, units=64, activation="relu",
            initializer="he_normal", learning_rate=0.001, standardize=True, epochs=1 if args.quick else 3),
    }
    exact = RunConfig(epochs=1)
    t0 = time.perf_counter()
    plain_fit_steps_per_second(exact)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    train(exact)
    ours_s = time.perf_counter() - t0
    print(f"\nthe notebook's exact run (1 epoch, 3 steps), wall time: plain fit {fit_s:.2f} s, "
          f"vgrad {ours_s:.2f} s ({fit_s / ours_s:.1f}x)")
    for warm, title in ((False, "end to end (fresh model, each side pays its own tracing)"),
                        (True, "steady state (after each side has traced)")):
        print(f"\n{title}\nworkload                                   plain fit  vgrad(instrumented)  ratio")
        for name, config in workloads.items():
            fit = plain_fit_steps_per_second(config, warm)
            ours, status = vgrad_steps_per_second(config, warm)
            print(f"{name:42s} {fit:8.0f}/s  {ours:12.0f}/s       {ours / fit:5.2f}x  ({status})")

    print("\nfirst step record after train(), TensorFlow warm")
    for depth in (8, 32, 64):
        seconds = first_record_seconds(RunConfig(hidden_layers=depth, epochs=2))
        print(f"  depth {depth:2d}: {seconds:.2f} s")


if __name__ == "__main__":
    main()
