"""The service's Ray executor: every job's training, and every sweep work item, on a Ray cluster.

    executor = RayJobs("10.0.0.5:6379")            # VGRAD_EXECUTOR=ray, VGRAD_RAY_ADDRESS (default auto)
    executor.start()                               # connects once, in the background (health() says how)
    manager = JobManager(settings, executor=executor)
    # each worker thread of the manager then calls, for a job:
    executor.run(job, on_record, should_stop, pace)        # records arrive through on_record, in order
    executor.run_task(run_task, task, should_stop)         # a sweep's task -> [CellRun]

A job's training is one Ray task, `vgrad.train.remote.vgrad_train_job`, a streaming generator (one
CPU, one TensorFlow thread): the worker thread reads its records as they are made and hands them to
`on_record`, exactly as a local training does, so no client can tell where it ran. Pause, single step
and stop reach the task through one small actor per service, `JobControl` (no CPU): a thread per
running job pushes the job's state to it as soon as it changes, and the task long-polls it.

When a Ray worker dies mid-job (its process is killed, its node is lost), the job ends `failed` with
a sentence saying so; a job whose worker died before it streamed a single record is started again
once, from scratch. A stopped job whose worker no longer answers is killed after STOP_GRACE_SECONDS.
Nothing blocks for ever: every wait has a timeout and re-checks the job.

When the cluster cannot be reached at start, the service logs one line and trains in its own worker
threads instead (`usable()` is False; /health shows `executor: local` and the reason). When it stops
answering later, the same: new jobs train here, a job whose stream went silent ends `failed` after
LOST_SECONDS, and the service process outlives the cluster (Ray would end a driver after a minute). Sweep work
items go through vgrad.executors.RayExecutor on the same connection (Ray's task retries for lost
workers).

Ray is imported only when the executor starts; TensorFlow never (the Ray workers import it).
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from vgrad.executors import RayExecutor, _reachable, connect_error, worker_env
from vgrad.records import Record, Status, StatusRecord

# How often a waiting worker thread looks at its job (stop, a dead stream).
POLL_SECONDS = 0.1
# A stopped job's training gets this long to end on its own before its Ray task is killed.
STOP_GRACE_SECONDS = 10.0
# The control link re-sends an unchanged state this often (an actor restarted by Ray starts empty).
KEEPALIVE_SECONDS = 1.0
# How often /health's view of the cluster (reachable, CPUs, nodes) is refreshed.
MONITOR_SECONDS = 5.0
# How long the first connection (ray.init and the control actor's start) may take.
CONNECT_SECONDS = 60.0
# A running job whose cluster has not answered for this long ends `failed` (its records cannot come).
LOST_SECONDS = 10.0
LOST_TEXT = ("the Ray cluster at {address} stopped answering; new trainings run in this service until it "
             "answers again (after a new head, restart the service)")
# Ray ends a driver process whose cluster head has not answered for a minute; the service is a driver
# and must outlive its cluster (its other sessions, its local jobs), so it asks for this long instead.
DRIVER_PATIENCE_SECONDS = 1_000_000_000


class JobControl:
    """The control state of every running job (a Ray actor, async: many long polls at once).

    set(key, state) from the service; wait(key, version, timeout) from the job's task: returns at once
    when the state's version differs from `version`, else when it changes or after `timeout` seconds.
    A state is (version, paused, steps granted so far, stop)."""

    def __init__(self) -> None:
        self.states: dict[str, tuple] = {}
        self.changed: dict[str, asyncio.Event] = {}

    async def ping(self) -> bool:
        return True

    async def set(self, key: str, state: tuple) -> None:
        old = self.states.get(key)
        self.states[key] = state
        if old is None or old[0] != state[0]:
            event = self.changed.pop(key, None)
            if event is not None:
                event.set()

    async def wait(self, key: str, version: int, timeout: float) -> tuple | None:
        state = self.states.get(key)
        if state is None or state[0] == version:
            event = self.changed.setdefault(key, asyncio.Event())
            try:
                await asyncio.wait_for(event.wait(), timeout)
            except TimeoutError:
                pass
        return self.states.get(key)

    async def forget(self, key: str) -> None:
        self.states.pop(key, None)
        event = self.changed.pop(key, None)
        if event is not None:
            event.set()


class _Link:
    """Forwards one running job's pause / step / stop to the control actor as they happen.

    Step requests move from the job to a running total sent with each state (job.step_credits goes
    back to 0): the remote training spends them, and a state received twice grants nothing twice."""

    def __init__(self, control: Any, job: Any):
        self.control, self.job = control, job
        self.version, self.granted, self.last = 0, 0, None
        self.closed = False
        self.lost = False  # the cluster stopped answering: nothing more is sent
        with job.cond:
            self.state = self._take()
        control.set.remote(job.id, self.state)
        self.thread = threading.Thread(target=self._forward, name=f"vgrad-ray-link-{job.id[-8:]}", daemon=True)
        self.thread.start()

    def _take(self) -> tuple:
        """The job's state now (under job.cond); a new version when it changed."""
        job = self.job
        self.granted += job.step_credits
        job.step_credits = 0
        now = (bool(job.paused), self.granted, bool(job.stop_requested))
        if now != self.last:
            self.version += 1
            self.last = now
        return (self.version, *now)

    def _changed(self) -> bool:
        job = self.job
        return job.step_credits > 0 or (bool(job.paused), self.granted, bool(job.stop_requested)) != self.last

    def _forward(self) -> None:
        job = self.job
        while not self.closed:
            with job.cond:  # control() and a stop notify it: no change waits for the keep-alive
                if not self._changed() and not self.closed:
                    job.cond.wait(KEEPALIVE_SECONDS)
                self.state = self._take()
            try:
                self.control.set.remote(job.id, self.state)
            except Exception:  # noqa: BLE001 - the cluster went away; the worker thread reports it
                time.sleep(POLL_SECONDS)

    def close(self) -> None:
        self.closed = True
        with self.job.cond:
            self.job.cond.notify_all()
        self.thread.join(5)
        if self.lost:
            return
        try:
            self.control.forget.remote(self.job.id)
        except Exception:  # noqa: BLE001
            pass


class RayJobs:
    """Runs the service's trainings and sweep work items on the Ray cluster at `address`."""

    name = "ray"

    def __init__(self, address: str = "auto", threads: int = 1):
        self.address = (address or "auto").strip()
        self.threads = threads
        self.connected = False
        self.error = ""  # why the cluster is not used: a sentence
        self.reachable: bool | None = None  # None until the first connection attempt ends
        self.cpus: float | None = None
        self.nodes: int | None = None
        self._attempted = threading.Event()
        self._unreachable_since: float | None = None  # the monitor's first miss since the cluster answered
        self._closing = False
        self._control: Any = None
        self._train_job: Any = None
        self._gcs = ""
        # Called with the cluster's CPUs after connecting and on every refresh (the service grows its
        # worker threads to match: JobManager.grow_workers); None: nothing is told.
        self.on_cpus: Callable[[int], Any] | None = None

    # --- lifecycle ---------------------------------------------------------------
    def start(self) -> None:
        """Connect to the cluster in the background (the service answers /health meanwhile)."""
        threading.Thread(target=self._connect, name="vgrad-ray-connect", daemon=True).start()

    def usable(self, timeout: float = CONNECT_SECONDS + 10) -> bool:
        """True when jobs run on the cluster (connected, and it answered at the last look); waits for the
        connection attempt made at start."""
        self._attempted.wait(timeout)
        return self._answering()

    def _answering(self) -> bool:
        """Connected, and the cluster answered at the monitor's last look."""
        return self.connected and self.reachable is not False

    def lost_for(self) -> float:
        """Seconds since the cluster stopped answering (0 while it answers)."""
        since = self._unreachable_since
        return 0.0 if since is None else time.monotonic() - since

    def close(self) -> None:
        self._closing = True

    def health(self) -> dict:
        """What /health shows: the executor in use and the cluster as last seen (lock-free)."""
        on_ray = self._answering() or not self._attempted.is_set()
        error = self.error or (LOST_TEXT.format(address=self.address) if self.connected and not on_ray else "")
        return {"executor": "ray" if on_ray else "local",
                "ray": {"address": self.address, "connected": self.connected, "reachable": self.reachable,
                        "cpus": self.cpus, "nodes": self.nodes, "error": error or None}}

    def _connect(self) -> None:
        try:
            try:
                import ray
            except ImportError:
                raise RuntimeError("the ray package is not installed (pip install -r requirements.txt)") from None
            _reachable(self.address)  # ray.init would retry an unreachable address for minutes
            os.environ["RAY_gcs_rpc_server_reconnect_timeout_s"] = str(DRIVER_PATIENCE_SECONDS)
            try:
                ray.init(address=self.address, logging_level="ERROR", log_to_driver=False, configure_logging=False)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                raise connect_error(self.address, exc) from None
            from vgrad.train.remote import vgrad_train_job

            self._control = ray.remote(JobControl).options(num_cpus=0, max_restarts=-1, max_task_retries=-1,
                                                           max_concurrency=1000).remote()
            ray.get(self._control.ping.remote(), timeout=CONNECT_SECONDS)
            self._train_job = ray.remote(vgrad_train_job).options(
                num_cpus=1, max_retries=0, runtime_env={"env_vars": worker_env(self.threads)})
            self._gcs = ray.get_runtime_context().gcs_address
            self._look()
            self.connected = True
            workers = self._tell_cpus()
            print(f"vgrad: trainings run on the Ray cluster at {self.address} ({self.cpus or 0:g} CPUs on "
                  f"{self.nodes or 0} nodes)" + (f"; {workers} jobs at once" if workers else ""),
                  file=sys.stderr, flush=True)
        except Exception as exc:  # noqa: BLE001 - any failure: one line, and the service trains locally
            text = str(exc) if isinstance(exc, RuntimeError) else f"{type(exc).__name__}: {str(exc)[:200]}"
            if not text.startswith(("cannot reach", "cannot connect")) and "ray package" not in text:
                text = f"cannot use the Ray cluster at {self.address}: {text}"
            self.error = f"{text}; trainings run in this service instead (VGRAD_EXECUTOR=local)"
            self.reachable = False
            print(f"vgrad: {self.error}", file=sys.stderr, flush=True)
        finally:
            self._attempted.set()
        if self.connected:
            threading.Thread(target=self._monitor, name="vgrad-ray-monitor", daemon=True).start()

    def _look(self) -> None:
        """Refresh reachable, CPUs and nodes (the monitor thread, every MONITOR_SECONDS)."""
        import ray

        try:
            _reachable(self._gcs or self.address, timeout=2.0)
        except Exception:  # noqa: BLE001 - shown in /health; new jobs train here meanwhile
            if self.reachable is not False:
                print(f"vgrad: {LOST_TEXT.format(address=self.address)}", file=sys.stderr, flush=True)
                self._unreachable_since = time.monotonic()
            self.reachable = False
            return
        try:
            self.cpus = float(ray.cluster_resources().get("CPU", 0.0))
            self.nodes = sum(1 for n in ray.nodes() if n.get("Alive"))
        except Exception:  # noqa: BLE001 - the counts stay as last seen
            pass
        self.reachable, self._unreachable_since = True, None

    def _monitor(self) -> None:
        while not self._closing:
            time.sleep(MONITOR_SECONDS)
            self._look()
            self._tell_cpus()

    def _tell_cpus(self) -> Any:
        if self.on_cpus is None or not self.reachable or not self.cpus:
            return None
        try:
            return self.on_cpus(int(self.cpus))
        except Exception:  # noqa: BLE001 - sizing is best effort; the jobs go on
            return None

    # --- work --------------------------------------------------------------------
    def run(self, job: Any, on_record: Callable[[Record], None], should_stop: Callable[[], bool],
            pace: Callable[[], int | None]) -> None:
        """Train `job.config` on the cluster; each record goes to on_record as it arrives, the status last.

        (should_stop and pace are the local path's: here the job's state travels through the control link.)"""
        import ray

        try:
            link = _Link(self._control, job)
        except Exception as exc:  # noqa: BLE001 - the cluster went away since the service connected
            on_record(StatusRecord(status=Status.FAILED, step=-1, message=(
                f"the Ray cluster at {self.address} did not take the job ({type(exc).__name__}: "
                f"{str(exc)[:200]}); train it again")))
            return
        try:
            for attempt in (1, 2):
                seen = [0]
                try:
                    self._stream(job, link, on_record, seen)
                    return
                except ray.exceptions.RayError as exc:
                    if seen[0] == 0 and attempt == 1 and not job.stop_requested and _lost(exc):
                        continue  # the worker died before this job made a record: start it again
                    on_record(StatusRecord(status=Status.FAILED, step=job.step - 1, message=_failure(exc, job.step)))
                    return
        finally:
            link.close()

    def _stream(self, job: Any, link: _Link, on_record: Callable[[Record], None], seen: list[int]) -> None:
        import ray

        with job.cond:
            state = link._take()
        stream = self._train_job.remote(job.config, job.id, self._control, state)
        stopped_at = None
        while True:
            ready, _ = ray.wait([stream], timeout=POLL_SECONDS)
            if not ready:
                if self.lost_for() > LOST_SECONDS:
                    link.lost = True
                    on_record(StatusRecord(status=Status.FAILED, step=job.step - 1, message=(
                        f"the Ray cluster at {self.address} stopped answering after {job.step} steps; train "
                        "it again (it trains in this service until the cluster answers)")))
                    return
                if job.stop_requested:
                    stopped_at = stopped_at or time.monotonic()
                    if time.monotonic() - stopped_at > STOP_GRACE_SECONDS:
                        ray.cancel(stream, force=True)
                        on_record(StatusRecord(status=Status.CANCELLED, step=job.step - 1, message=(
                            f"stopped by request after {job.step} steps (its Ray worker did not answer within "
                            f"{STOP_GRACE_SECONDS:g} s and was ended)")))
                        return
                continue
            try:
                ref = next(stream)
            except StopIteration:
                return
            for record in ray.get(ref):
                seen[0] += 1
                on_record(record)

    def run_task(self, runner: Callable, task: Any, should_stop: Callable[[], bool]) -> list:
        """A sweep's work item as one Ray task (vgrad.executors.RayExecutor on this connection): its
        CellRuns, or none when stopped first (the task is cancelled)."""
        out: list = []
        RayExecutor(runner, self.address, threads=self.threads).run([task], out.append, should_stop)
        return out


def _lost(exc: BaseException) -> bool:
    """The worker or its node died (not an error raised by the training itself)."""
    import ray

    return not isinstance(exc, ray.exceptions.RayTaskError)


def _failure(exc: BaseException, steps: int) -> str:
    """One sentence for a job whose Ray task failed."""
    import ray

    if isinstance(exc, ray.exceptions.RayTaskError):
        cause = exc.cause if isinstance(getattr(exc, "cause", None), BaseException) else exc
        first = (str(cause).strip().splitlines() or [""])[0][:300]
        return f"the training failed on the Ray cluster: {type(cause).__name__}: {first}"
    if isinstance(exc, ray.exceptions.OutOfMemoryError):
        return (f"the Ray worker training this run was ended after {steps} steps: its node ran out of memory; "
                "train it again")
    return (f"the Ray worker training this run died after {steps} steps ({type(exc).__name__}: its process was "
            "killed or its node was lost); train it again")


def from_settings(settings: Any) -> RayJobs | None:
    """The executor VGRAD_EXECUTOR asks for: a RayJobs for `ray`, None for `local` (the worker threads)."""
    if getattr(settings, "executor", "local") != "ray":
        return None
    return RayJobs(settings.ray_address or "auto")
