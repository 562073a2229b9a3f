"""Run a sweep's tasks (vgrad.sweep.Task): stacked cells as one model, the others with vgrad.train.

    from vgrad.train.sweep_cells import run_task
    runs = run_task(task)           # [CellRun(cell, measures), ...]: one Measure per seed

`run_task` is what every executor (vgrad.executors: inline, local process pool, Ray) calls in its
worker; it sets TensorFlow's threads (VGRAD_TF_THREADS, default 1) the first time it runs in a process.
"""

from __future__ import annotations

import math
import time

from vgrad.sweep import CellRun, Measure, Task

_READY = {"done": False}


def setup() -> None:
    """vgrad's TensorFlow settings for this process (one intra-op thread unless VGRAD_TF_THREADS says)."""
    if not _READY["done"]:
        import os

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        from vgrad.train import tfsetup

        tfsetup.configure()
        _READY["done"] = True


def run_task(task: Task, should_stop=None) -> list[CellRun]:
    """Train (or, in init mode, measure at initialisation) every cell of `task`."""
    setup()
    if task.stacked:
        try:
            return _stacked(task, should_stop)
        except Exception:  # a stack that cannot be built trains its cells one at a time instead
            pass
    return [_sequential(cell, task, should_stop) for cell in task.cells]


def _stacked(task: Task, should_stop) -> list[CellRun]:
    from vgrad.train.stacked import Stack

    t0 = time.perf_counter()
    configs = [cfg for cell in task.cells for cfg in cell.configs]
    stack = Stack(configs)
    nets = stack.measure_init() if task.mode == "init" else stack.train(should_stop)
    seconds = (time.perf_counter() - t0) / max(1, len(task.cells))
    out, k = [], 0
    for cell in task.cells:
        measures = []
        for cfg in cell.configs:
            net = nets[k] if k < len(nets) else None
            k += 1
            if net is None:  # stopped before the first step
                measures.append(Measure(seed=cfg.seed, engine="stacked", status="cancelled", steps=0))
                continue
            if task.mode == "init":
                measures.append(Measure.of(cfg.seed, "stacked", "finished", 0, net.grad_start, None,
                                           net.loss_start, None, None))
                continue
            status = "diverged" if net.diverged else ("finished" if net.steps == cfg.total_steps else "cancelled")
            measures.append(Measure.of(cfg.seed, "stacked", status, net.steps, net.grad_start, net.grad_end,
                                       net.loss_start, net.final(), net.steps_to_loss(task.threshold)))
        out.append(CellRun(cell.index, tuple(measures), seconds))
    return out


def _sequential(cell, task: Task, should_stop) -> CellRun:
    from vgrad.train.engine import train

    t0 = time.perf_counter()
    measures = []
    for cfg in cell.configs:
        run = train(cfg, should_stop=should_stop)
        if not run.steps:
            measures.append(Measure(seed=cfg.seed, engine="sequential", status=str(run.status), steps=0,
                                    message=run.message))
            continue
        first = run.steps[0]
        if task.mode == "init":
            measures.append(Measure.of(cfg.seed, "sequential", "finished", 0, first.grad_norm, None, first.loss,
                                       None, None))
            continue
        final = {k: v for k, v in run.final_metrics().items() if not (isinstance(v, float) and math.isnan(v))}
        measures.append(Measure.of(cfg.seed, "sequential", str(run.status), len(run.steps), first.grad_norm,
                                   run.steps[-1].grad_norm, first.loss, final, run.steps_to_loss(task.threshold),
                                   run.message if str(run.status) == "failed" else ""))
    return CellRun(cell.index, tuple(measures), time.perf_counter() - t0)
