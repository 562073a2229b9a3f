"""Where a sweep's tasks run: this process (one thread or a few), a local process pool, or a Ray cluster.

    from vgrad.executors import LocalExecutor, RayExecutor, ThreadExecutor
    from vgrad.train.sweep_cells import run_task        # the runner: Task -> [CellRun]
    result = run_sweep(spec, LocalExecutor(run_task, workers=2), on_cell=print)
    result = run_sweep(spec, ThreadExecutor(run_task, workers=2), on_cell=print, workers=2)
    result = run_sweep(spec, RayExecutor(run_task, address="10.0.0.5:6379"), on_cell=print)

Every executor has `run(tasks, on_result, should_stop)`: it calls `on_result(cell_run)` for each
finished cell as it arrives and returns when all are done, or soon after `should_stop()` turns True
(running tasks are cancelled). The runner is passed in (a module-level function, pickled by name),
so this module imports no TensorFlow: the workers do. Each worker trains with one TensorFlow
intra-op thread (VGRAD_TF_THREADS=1) unless told otherwise; the cores are used by the workers.
Ray is imported only by RayExecutor.run.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
import types
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from vgrad.sweep import CellRun, Task

Runner = Callable[..., list[CellRun]]
OnResult = Callable[[CellRun], None]
ShouldStop = Callable[[], bool]
# How often a waiting executor checks should_stop().
POLL_SECONDS = 0.2
# The project root, put on the workers' PYTHONPATH so a Ray worker started elsewhere imports vgrad.
ROOT = str(Path(__file__).resolve().parents[1])


def worker_env(threads: int = 1) -> dict[str, str]:
    """Environment of a worker process: TensorFlow's threads and log level, vgrad importable."""
    path = os.environ.get("PYTHONPATH", "")
    return {"VGRAD_TF_THREADS": str(threads), "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
            "PYTHONPATH": ROOT + (os.pathsep + path if path else "")}


class InlineExecutor:
    """Runs the tasks one after the other in this process (tests, a single worker, the service)."""

    def __init__(self, runner: Runner):
        self.runner = runner

    def run(self, tasks: Sequence[Task], on_result: OnResult, should_stop: ShouldStop) -> None:
        for task in tasks:
            if should_stop():
                return
            for cell_run in self.runner(task, should_stop):
                on_result(cell_run)


class ThreadExecutor:
    """`workers` threads of this process share the tasks, as the training service's worker pool does:
    no process start and no second TensorFlow import, and TensorFlow's kernels release the GIL, so two
    stacks train on two cores at once. on_result is called from the calling thread only."""

    def __init__(self, runner: Runner, workers: int = 2):
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers: expected a whole number >= 1, got {workers!r}")
        self.runner = runner
        self.workers = workers

    def run(self, tasks: Sequence[Task], on_result: OnResult, should_stop: ShouldStop) -> None:
        from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

        if min(self.workers, len(tasks)) <= 1:
            InlineExecutor(self.runner).run(tasks, on_result, should_stop)
            return
        with ThreadPoolExecutor(self.workers, thread_name_prefix="vgrad-sweep") as pool:
            pending = {pool.submit(self.runner, task, should_stop) for task in tasks}
            try:
                while pending:
                    finished, pending = wait(pending, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                    for future in finished:
                        for cell_run in future.result():
                            on_result(cell_run)
                    if should_stop():
                        return
            finally:
                for future in pending:
                    future.cancel()


def _init_worker(env: dict[str, str]) -> None:
    os.environ.update(env)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle


class LocalExecutor:
    """A pool of `workers` processes on this machine (spawned: TensorFlow does not survive a fork).

    workers=1 runs the tasks in this process instead (no process start, no second TensorFlow import).
    """

    def __init__(self, runner: Runner, workers: int | None = None, threads: int = 1):
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise ValueError(f"workers: expected a whole number >= 1, got {workers!r}")
        self.runner = runner
        self.workers = workers or os.cpu_count() or 1
        self.threads = threads

    def run(self, tasks: Sequence[Task], on_result: OnResult, should_stop: ShouldStop) -> None:
        n = min(self.workers, len(tasks))
        if n <= 1:
            os.environ.setdefault("VGRAD_TF_THREADS", str(self.threads))
            InlineExecutor(self.runner).run(tasks, on_result, should_stop)
            return
        with _main_kept_from_workers(self.runner):
            pool = multiprocessing.get_context("spawn").Pool(n, initializer=_init_worker,
                                                             initargs=(worker_env(self.threads),))
        try:
            results = pool.imap_unordered(self.runner, tasks)
            while True:
                try:
                    runs = results.next(timeout=POLL_SECONDS)
                except multiprocessing.TimeoutError:
                    if should_stop():
                        return
                    continue
                except StopIteration:
                    break
                for cell_run in runs:
                    on_result(cell_run)
                if should_stop():
                    return
            pool.close()
            pool.join()
        finally:
            pool.terminate()


@contextmanager
def _main_kept_from_workers(runner: Runner) -> Iterator[None]:
    """While the pool spawns its workers, a stand-in __main__ with no file: a spawned worker imports the
    parent's __main__ first, and a script without an `if __name__ == "__main__":` guard would run its
    sweep again in every worker (multiprocessing's bootstrapping error, and a pool that respawns them for
    ever); a Streamlit page script would run too. vgrad's runners need none of it. A runner defined in
    __main__ itself keeps the usual behaviour (its workers must import it)."""
    main = sys.modules.get("__main__")
    if main is None or getattr(getattr(runner, "func", runner), "__module__", None) == "__main__":  # partial too
        yield
        return
    sys.modules["__main__"] = types.ModuleType("__main__")  # no __file__, no __spec__: nothing to import
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def vgrad_sweep_task(runner: Runner, task: Task) -> list[CellRun]:
    """A Ray task (its worker process is titled ray::vgrad_sweep_task while it runs)."""
    return runner(task)


class RayExecutor:
    """Tasks as Ray tasks on the cluster at `address` ("HOST:PORT", or "auto" for the one this machine
    belongs to). One CPU and one TensorFlow thread per task; results stream back as tasks finish
    (ray.wait); a task whose worker dies is run again (Ray's max_retries). When this process is
    already connected (ray.init by the caller, e.g. the service), that connection is used and kept."""

    def __init__(self, runner: Runner, address: str, max_retries: int = 3, threads: int = 1):
        if not isinstance(address, str) or not address.strip():
            raise ValueError("address: expected a Ray cluster address (HOST:PORT or auto)")
        self.runner = runner
        self.address = address.strip()
        self.max_retries = max_retries
        self.threads = threads

    def run(self, tasks: Sequence[Task], on_result: OnResult, should_stop: ShouldStop) -> None:
        try:
            import ray
        except ImportError:
            raise RuntimeError("the Ray executor needs the ray package (pip install -r requirements.txt)") from None
        ours = not ray.is_initialized()
        if ours:
            _reachable(self.address)  # ray.init would retry an unreachable address for minutes
            try:
                ray.init(address=self.address, logging_level="ERROR", log_to_driver=False, configure_logging=False)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                raise connect_error(self.address, exc) from None
        try:
            remote = ray.remote(vgrad_sweep_task).options(
                num_cpus=1, max_retries=self.max_retries, runtime_env={"env_vars": worker_env(self.threads)})
            pending = [remote.remote(self.runner, task) for task in tasks]
            while pending:
                ready, pending = ray.wait(pending, num_returns=1, timeout=POLL_SECONDS)
                for ref in ready:
                    for cell_run in ray.get(ref):
                        on_result(cell_run)
                if should_stop():
                    for ref in pending:
                        ray.cancel(ref, force=True)
                    return
        finally:
            if ours:
                ray.shutdown()


def _reachable(address: str, timeout: float = 5.0) -> None:
    """RuntimeError unless HOST:PORT accepts a TCP connection ("auto" and ray:// are left to Ray)."""
    host, sep, port = address.rpartition(":")
    if address == "auto" or "://" in address or not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout).close()
    except OSError as exc:
        raise RuntimeError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}") from None


def connect_error(address: str, exc: BaseException) -> RuntimeError:
    """ray.init's failure once the address answered, as one sentence. A Ray driver (the CLI, the service)
    needs a Ray node on its own machine, so the usual cause is that this machine is not one."""
    cause = exc.__cause__ if isinstance(exc.__cause__, BaseException) else None
    detail = " ".join(((str(exc).strip().splitlines() or [""])[0], f"({str(cause).strip()[:200]})" if cause else ""))
    head = "HEAD_IP:6379" if address == "auto" or "://" in address else address
    return RuntimeError(f"cannot connect to the Ray cluster at {address}: {detail.strip()[:400]}; a Ray driver needs a "
                        f"Ray node on its own machine: run `ray start --address {head}` here first (or run this on "
                        "the head)")


def executor(runner: Runner, address: str | None = None, workers: int | None = None):
    """A RayExecutor when `address` (or VGRAD_RAY_ADDRESS) is set, else a LocalExecutor."""
    from vgrad import settings

    address = address or settings.get("VGRAD_RAY_ADDRESS")
    if address:
        return RayExecutor(runner, address)
    return LocalExecutor(runner, workers)

