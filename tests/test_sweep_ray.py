"""Sweeps on a real Ray cluster: a head started here (`ray start --head`), reached by its address.

Skipped only when ray cannot be imported (CI installs requirements.txt, so it runs there).
"""

import os
import signal
import threading
import time

import psutil
import pytest

ray = pytest.importorskip("ray", reason="ray is not installed (pip install -r requirements.txt)")

from tests.ray_head import RayHead  # noqa: E402
from vgrad import RunConfig  # noqa: E402
from vgrad.executors import InlineExecutor, RayExecutor  # noqa: E402
from vgrad.sweep import make_spec, run_sweep  # noqa: E402
from vgrad.train.sweep_cells import run_task  # noqa: E402


@pytest.fixture(scope="module")
def ray_address():
    with RayHead(num_cpus=2) as head:
        yield head.address


def test_a_sweep_on_ray_equals_the_same_sweep_in_this_process(ray_address):
    spec = make_spec(RunConfig(activation="tanh", hidden_layers=3), ["init_gain=0.5,2"], seeds=2, steps=12)
    seen = []
    result = run_sweep(spec, RayExecutor(run_task, ray_address), on_cell=seen.append, workers=2)  # two tasks
    assert result.complete and sorted(c.cell for c in seen) == [0, 1]
    assert not ray.is_initialized()  # the executor connected, and disconnects when done
    here = run_sweep(spec, InlineExecutor(run_task), workers=2)
    assert [c.measures for c in result.cells] == [c.measures for c in here.cells]
    assert {m.engine for c in result.cells for m in c.measures} == {"stacked"}
    with pytest.raises(RuntimeError, match="cannot reach the Ray cluster at 127.0.0.1:1"):
        run_sweep(spec, RayExecutor(run_task, "127.0.0.1:1"))


def test_a_worker_killed_mid_sweep_is_retried_and_every_cell_arrives(ray_address):
    """(Connected by this process first, as the service would be: the executor keeps that connection.)"""
    ray.init(address=ray_address, logging_level="ERROR", log_to_driver=False, configure_logging=False)
    spec = make_spec(RunConfig(activation="tanh"), ["hidden_layers=12,16", "init_gain=0.5,1.5,3"], steps=300)
    out = {}
    runner = threading.Thread(target=lambda: out.update(
        result=run_sweep(spec, RayExecutor(run_task, ray_address, max_retries=3), workers=2)))
    runner.start()
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and runner.is_alive() and time.monotonic() < deadline:
        for proc in psutil.process_iter(["cmdline"]):
            if (proc.info["cmdline"] or [""])[0].startswith("ray::vgrad_sweep_task"):
                os.kill(proc.pid, signal.SIGKILL)  # the worker process running a task
                killed = proc.pid
                break
        time.sleep(0.05)
    runner.join(240)
    try:
        assert killed is not None, "no task was seen running"
        result = out["result"]
        assert result.complete and sorted(c.cell for c in result.cells) == list(range(6))
        assert all(m.status == "finished" and m.steps == 300 for c in result.cells for m in c.measures)
        assert ray.is_initialized()
    finally:
        ray.shutdown()
