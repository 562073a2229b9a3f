"""GradientMonitor's cost: `model.fit` alone, with TensorBoard(histogram_freq=1), and with the monitor.

    python benchmarks/bench_callback.py [--quick] [--repeat 3]

Three workloads: a small CNN on sklearn's digits for 6 epochs (342 steps) and for 100 (5,700 steps),
and the notebook MLP (3 steps an epoch, 100 epochs; vgrad's default RunConfig: make_classification,
75 training examples, 8 sigmoid Dense(8) + Dense(1, sigmoid), Adam 0.1, batch
32). Each side trains a fresh model from the same seed, end to end (each pays its own tracing), in
this process with vgrad's TensorFlow settings (`tfsetup.configure()`), alternating the sides
--repeat times. Printed: the median wall time of each side end to end; the median CPU time of this
process per epoch after the first (the steady cost, robust to other users of a shared machine)
and the median wall time of those epochs; and the medians of the per-repeat ratios. The monitor's
probe is 32 training examples; TensorBoard writes to a temporary directory. Where the monitor
measures (beside the steps inside Keras' train function, or between them) follows its own rule
(callback.BESIDE_FRESH): every=1 beside on all three; every=10 beside on the 100-epoch CNN only.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SIDES = ("fit", "tensorboard", "every=1", "every=10")


def digits_cnn():
    """(model builder, x, y, fit arguments): 1,797 8x8 digits, two small convolutions, batch 32."""
    import keras
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images[..., None] / 16.0).astype("float32")
    y = digits.target.astype("int32")

    def build():
        L = keras.layers
        model = keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(8, 3, activation="relu"), L.MaxPooling2D(),
                                  L.Conv2D(16, 2, activation="relu"), L.Flatten(),
                                  L.Dense(32, activation="relu"), L.Dense(10, activation="softmax")],
                                 name="digits_cnn")
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model

    return build, x, y


def notebook_mlp():
    """The notebook's network and data, as vgrad's default RunConfig builds them."""
    from vgrad import RunConfig
    from vgrad.train.data import load
    from vgrad.train.models import make_optimizer, plain_model

    config = RunConfig()
    data = load(config)

    def build():
        model = plain_model(config)
        model.compile(optimizer=make_optimizer(config), loss="binary_crossentropy", metrics=["accuracy"])
        return model

    return build, data.x_train, data.y_train


def fit_seconds(build, x, y, epochs: int, side: str) -> tuple[float, float, float]:
    """One fit on a fresh model (same seed every time) with `side`'s callbacks: (wall seconds end to end,
    median CPU seconds of this process per epoch after the first, from one epoch's start to the next's,
    and the median wall seconds of those epochs).
    CPU time counts the work done, whatever the machine's other users take of its two cores."""
    import keras

    from vgrad import GradientMonitor

    keras.utils.set_random_seed(0)
    model = build()
    stamps: list[float] = []
    walls: list[float] = []

    def stamp(*_) -> None:
        stamps.append(time.process_time())
        walls.append(time.perf_counter())

    clock = keras.callbacks.LambdaCallback(on_epoch_begin=stamp, on_train_end=stamp)
    with tempfile.TemporaryDirectory() as logs:
        callbacks = {
            "fit": [],
            "tensorboard": [keras.callbacks.TensorBoard(log_dir=logs, histogram_freq=1)],
            "every=1": [GradientMonitor(x[:32], y[:32], every=1)],
            "every=10": [GradientMonitor(x[:32], y[:32], every=10)],
        }[side]
        t0 = time.perf_counter()
        model.fit(x, y, batch_size=32, epochs=epochs, verbose=0, callbacks=[*callbacks, clock])
        seconds = time.perf_counter() - t0
    keras.backend.clear_session()
    epoch_times = [b - a for a, b in zip(stamps[1:-1], stamps[2:], strict=True)]  # epochs 2..n
    epoch_walls = [b - a for a, b in zip(walls[1:-1], walls[2:], strict=True)]
    median = lambda v: statistics.median(v) if v else math.nan  # noqa: E731
    return seconds, median(epoch_times), median(epoch_walls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs and one repeat (a smoke run)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="alternate the sides this many times (default 3)")
    args = parser.parse_args()

    from vgrad.train import tfsetup

    tfsetup.configure()  # one setting for every side (and TensorFlow imported without its notices)
    import tensorflow as tf
    repeat = 1 if args.quick else max(1, args.repeat)
    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs, intra-op threads "
          f"{tf.config.threading.get_intra_op_parallelism_threads()}; fresh model per fit, medians of "
          f"{repeat} alternating runs; ratios are medians of per-repeat ratios.")
    workloads = {
        "digits CNN (1,797 ex, batch 32)": (digits_cnn(), 2 if args.quick else 6),
        "digits CNN, 100 epochs": (digits_cnn(), 2 if args.quick else 100),
        "notebook MLP (75 ex, 8x8 sigmoid, batch 32)": (notebook_mlp(), 40 if args.quick else 100),
    }
    for (build, x, y), _ in workloads.values():
        fit_seconds(build, x, y, 1, "every=1")  # warm TensorFlow and Keras once per workload
    print(f"\n{'workload':44s} {'steps':>5s} " + " ".join(f"{s:>11s}" for s in SIDES)
          + f" | {'TB/fit':>6s} {'e1/fit':>6s} {'e10/fit':>7s} {'e1/TB':>6s}")
    for name, ((build, x, y), epochs) in workloads.items():
        rows = []
        for i in range(repeat):  # alternate, and rotate which side goes first
            order = SIDES[i % len(SIDES):] + SIDES[:i % len(SIDES)]
            rows.append({side: fit_seconds(build, x, y, epochs, side) for side in order})
        steps = epochs * -(-len(x) // 32)
        for k, label in ((0, "end to end"), (1, "CPU per epoch"), (2, "wall per epoch")):
            med = {side: statistics.median(r[side][k] for r in rows) for side in SIDES}

            def ratio(a: str, b: str, rows=rows, k=k) -> float:
                return statistics.median(r[a][k] / r[b][k] for r in rows)

            unit = "s" if k == 0 else "ms"
            scale = 1 if k == 0 else 1000
            cells = " ".join(f"{med[s] * scale:9.2f}{unit:2s}" for s in SIDES)
            print(f"{name + ', ' + label:44s} {steps:5d} " + cells
                  + f" | {ratio('tensorboard', 'fit'):5.2f}x {ratio('every=1', 'fit'):5.2f}x "
                  f"{ratio('every=10', 'fit'):6.2f}x {ratio('every=1', 'tensorboard'):5.2f}x")
            if repeat > 1:
                seen = {f"{a}/{b}": [r[a][k] / r[b][k] for r in rows] for a, b in
                        (("tensorboard", "fit"), ("every=1", "fit"), ("every=10", "fit"))}
                print("    ratios seen: "
                      + ", ".join(f"{key} {min(v):.2f}-{max(v):.2f}x" for key, v in seen.items()))
        print(f"    one measurement {measurement_ms(build, x, y):.2f} ms, one training step "
              f"{step_ms(build, x, y):.2f} ms (train_on_batch; medians of 200)")


def measurement_ms(build, x, y, n: int = 200) -> float:
    """Median time of one compiled measurement on the 32-example probe."""
    import keras

    from vgrad import GradientMonitor

    keras.utils.set_random_seed(0)
    model = build()
    model.fit(x[:32], y[:32], batch_size=32, epochs=1, verbose=0)
    monitor = GradientMonitor(x[:32], y[:32])
    monitor.set_model(model)
    monitor.measure()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        monitor.measure()
        times.append(time.perf_counter() - t0)
    keras.backend.clear_session()
    return 1000 * statistics.median(times)


def step_ms(build, x, y, n: int = 200) -> float:
    """Median time of one compiled training step (train_on_batch, batch 32)."""
    import keras

    keras.utils.set_random_seed(0)
    model = build()
    model.train_on_batch(x[:32], y[:32])
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        model.train_on_batch(x[:32], y[:32])
        times.append(time.perf_counter() - t0)
    keras.backend.clear_session()
    return 1000 * statistics.median(times)


if __name__ == "__main__":
    main()
