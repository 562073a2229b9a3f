"""Sweep throughput: the stacked engine against a loop of vgrad.train and a loop of plain Keras model.fit.

    python benchmarks/bench_sweep.py [--only stacked,threads,pool,train,fit,init] [--fit-cells N]

The grid: 12 init_gain values (0.5 to 3) x 8 depths (2 to 32 hidden layers), tanh, the notebook's
data (the default RunConfig data: 75 training examples, batch 32), 200 steps per cell, one seed.
Every side starts in this process with nothing compiled for these architectures, and trains each
cell from its own initial weights:

- stacked: vgrad.sweep.run_sweep in this process (InlineExecutor): a stack per depth;
- threads: the same through ThreadExecutor with 2 threads of this process (as the service's worker pool runs a
  sweep's tasks): two stacks at a time on the two cores;
- pool: the same through LocalExecutor with 2 worker processes (process start and TensorFlow import included);
- train: vgrad.train(config) per cell (fully instrumented; it reuses a depth's compiled step for the next gain);
- fit: plain_model(config).fit(...) per cell with the same optimizer (201 steps: 67 epochs of 3 batches).

Also: a 1,000-cell init-mode grid (seconds for the whole grid) and the size of a sweep's records
(JSON and CSV) per cell. One TensorFlow intra-op thread (VGRAD_TF_THREADS semantics), as the CLI.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

GAINS = "init_gain=0.5:3:12"
DEPTHS = "hidden_layers=2,4,6,8,12,16,24,32"
STEPS = 200


def spec():
    from vgrad import RunConfig
    from vgrad.sweep import make_spec

    return make_spec(RunConfig(activation="tanh"), [GAINS, DEPTHS], seeds=1, steps=STEPS)


def bench_stacked(workers: int = 1, threads: bool = False) -> dict:
    from vgrad.executors import InlineExecutor, LocalExecutor, ThreadExecutor
    from vgrad.sweep import run_sweep
    from vgrad.train.sweep_cells import run_task

    s = spec()
    if workers == 1:
        executor = InlineExecutor(run_task)
    else:
        executor = ThreadExecutor(run_task, workers) if threads else LocalExecutor(run_task, workers=workers)
    t0 = time.perf_counter()
    result = run_sweep(s, executor, workers=workers)
    seconds = time.perf_counter() - t0
    assert result.complete
    doc = result.to_json()
    with tempfile.TemporaryDirectory() as tmp:
        from vgrad.sweep import CsvLog

        log = CsvLog(os.path.join(tmp, "s.csv"), s)
        log.open()
        for cell in result.cells:
            log.append(cell)
        csv_bytes = os.path.getsize(os.path.join(tmp, "s.csv"))
    return {"cells": len(result.cells), "seconds": seconds, "cells_per_s": len(result.cells) / seconds,
            "json_bytes_per_cell": len(doc) / len(result.cells), "csv_bytes_per_cell": csv_bytes / len(result.cells),
            "engines": sorted({m.engine for c in result.cells for m in c.measures})}


def bench_train() -> dict:
    from vgrad.train.engine import train

    cells = spec().cells()
    t0 = time.perf_counter()
    for cell in cells:
        run = train(cell.config)
        assert run.status == "finished", run.message
    seconds = time.perf_counter() - t0
    return {"cells": len(cells), "seconds": seconds, "cells_per_s": len(cells) / seconds}


def bench_fit(limit: int | None = None) -> dict:
    import keras

    from vgrad.train.data import load
    from vgrad.train.models import make_optimizer, plain_model

    cells = spec().cells()
    if limit:  # every depth, the gains spread evenly
        step = max(1, len(cells) // limit)
        cells = cells[::step][:limit]
    t0 = time.perf_counter()
    for cell in cells:
        c = cell.config
        data = load(c)
        model = plain_model(c)
        model.compile(optimizer=make_optimizer(c), loss="binary_crossentropy", metrics=["accuracy"])
        model.fit(data.x_train, data.y_train, batch_size=c.batch_size, epochs=math.ceil(STEPS / c.steps_per_epoch),
                  shuffle=True, verbose=0)
        keras.backend.clear_session()
    seconds = time.perf_counter() - t0
    return {"cells": len(cells), "seconds": seconds, "cells_per_s": len(cells) / seconds}


def bench_init() -> dict:
    from vgrad import RunConfig
    from vgrad.executors import InlineExecutor
    from vgrad.sweep import make_spec, run_sweep
    from vgrad.train.sweep_cells import run_task

    s = make_spec(RunConfig(activation="tanh"), ["init_gain=0.1:4:100", "hidden_layers=1:10:10"], seeds=3,
                  mode="init")
    t0 = time.perf_counter()
    result = run_sweep(s, InlineExecutor(run_task))
    seconds = time.perf_counter() - t0
    return {"cells": len(result.cells), "seeds": 3, "seconds": seconds,
            "json_bytes": len(result.to_json()), "json_bytes_per_cell": len(result.to_json()) / len(result.cells)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="stacked,threads,pool,train,fit,init")
    parser.add_argument("--fit-cells", type=int, default=None, help="fit only this many cells (all depths)")
    args = parser.parse_args()
    from vgrad.train import tfsetup

    tfsetup.configure()
    parts = args.only.split(",")
    out: dict = {"grid": f"{GAINS} x {DEPTHS}, tanh, {STEPS} steps, default data"}
    for name in parts:
        if name == "stacked":
            out["stacked"] = bench_stacked(1)
        elif name == "threads":
            out["threads"] = bench_stacked(2, threads=True)
        elif name == "pool":
            out["pool"] = bench_stacked(2)
        elif name == "train":
            out["train"] = bench_train()
        elif name == "fit":
            out["fit"] = bench_fit(args.fit_cells)
        elif name == "init":
            out["init"] = bench_init()
        print(json.dumps({name: out.get(name)}), flush=True)
    for side in ("stacked", "threads"):
        for other in ("train", "fit"):
            if side in out and other in out:
                out[f"{side}_vs_{other}"] = out[side]["cells_per_s"] / out[other]["cells_per_s"]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
