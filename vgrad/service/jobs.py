"""JobManager: a FIFO queue of trainings run by a bounded pool of threads sharing one TensorFlow.

    manager = JobManager(Settings(workers=2))
    manager.start()                                  # workers + warm-up + reaper threads
    job = manager.submit(RunConfig(epochs=1), client="tab-1")
    manager.records(job.id, offset=0)                # status and the records' JSON from an offset
    manager.control(job.id, Action.PAUSE)            # pause / resume / step / stop

Each worker calls `vgrad.train.engine.train(config, on_record=..., should_stop=..., pace=...)`.
Pause and single step work through `pace` (it blocks while paused and returns 1 per step
request); stop through `should_stop`. Each record is serialised once, as it arrives: a read
answers with the stored JSON text. A queued or running job nobody has polled for
`abandon_seconds` is cancelled; a finished job's records are freed `retention_seconds` after its
last poll, and at most `keep_finished` finished jobs are remembered.
"""

from __future__ import annotations

import itertools
import os
import secrets
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from vgrad.config import RunConfig
from vgrad.records import Action, Record, Status, StatusRecord, StepRecord, size
from vgrad.service.settings import Settings

# Keras' global state grows a little with every model built; it is cleared when the pool is idle
# and at least this many jobs finished since the last clear.
CLEAR_EVERY = 20
# The warm-up run: imports TensorFlow and builds/executes the whole training path once.
WARM_CONFIG = RunConfig(epochs=1, steps=1, hidden_layers=1, units=2, n_samples=20)
# Traced after the warm-up (in the background, the service is ready already).
PRECOMPILE = ("notebook-deep-sigmoid", "notebook-shallow-sigmoid", "notebook-deep-relu")


class JobError(Exception):
    """A request the manager refuses. `status` is the HTTP code that fits (404, 409, 410, 429)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class Job:
    id: str
    client: str
    label: str
    config: RunConfig
    created: float = field(default_factory=time.time)
    status: Status = Status.QUEUED  # then running, then the status record's
    message: str = ""
    step: int = 0  # steps done
    records: list[str] = field(default_factory=list)  # each record's JSON, in order
    size: int = 0  # numbers held in records (for the memory budget)
    dropped: bool = False  # records freed after the retention time
    started: float | None = None
    finished: float | None = None
    polled: float = field(default_factory=time.monotonic)
    paused: bool = False
    step_credits: int = 0
    stop_requested: bool = False
    stop_reason: str = ""
    cond: threading.Condition = field(default_factory=threading.Condition, repr=False)

    @property
    def done(self) -> bool:
        return self.status.final

    def pace(self) -> int | None:
        """Asked by the engine before a step (once its last answer is used up): blocks while paused."""
        with self.cond:
            while self.paused and self.step_credits == 0 and not self.stop_requested:
                self.cond.wait(0.5)
            if self.paused and self.step_credits > 0:
                self.step_credits -= 1
                return 1
            return None


class JobManager:
    """The queue, the worker threads and the bookkeeping of every job."""

    def __init__(self, settings: Settings, train: Callable | None = None):
        self.settings = settings
        self.limits = settings.limits
        self._train = train
        self._cv = threading.Condition()
        self._jobs: dict[str, Job] = {}
        self._queue: list[Job] = []  # FIFO of queued jobs
        self._finished: OrderedDict[str, Job] = OrderedDict()  # oldest first
        self._stored = 0  # numbers held by finished jobs' records
        self._closing = False
        self.precompiling = True  # until the presets in PRECOMPILE are traced (or skipped)
        self._counter = itertools.count(1)
        self.ready = threading.Event()  # set when TensorFlow is imported and warm
        self.warm_error = ""
        self.tensorflow = ""
        self._threads: list[threading.Thread] = []
        self._since_clear = 0

    # --- lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        """Start the warm-up, the workers and the reaper (all daemon threads)."""
        targets = [("vgrad-warm", self._warm), ("vgrad-reaper", self._reap)]
        targets += [(f"vgrad-worker-{i + 1}", self._work) for i in range(self.settings.workers)]
        for name, target in targets:
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def close(self) -> None:
        """Stop every job and let the workers end."""
        with self._cv:
            self._closing = True
            for job in list(self._jobs.values()):
                if not job.done:
                    self._request_stop(job, "the service is shutting down")
            self._cv.notify_all()

    def _warm(self) -> None:
        try:
            if self._train is None:
                from vgrad.train.engine import train

                self._train = train
            from vgrad.train import tfsetup

            tfsetup.configure()
            if self.settings.warm:
                import tensorflow as tf

                self.tensorflow = tf.__version__
                run = self._train(WARM_CONFIG)
                if run.status != Status.FINISHED:
                    self.warm_error = f"warm-up run ended {run.status}: {run.message}"
        except Exception as exc:  # the service still answers and reports it
            self.warm_error = f"warm-up failed: {type(exc).__name__}: {exc}"
        finally:
            self.ready.set()
        try:
            if self.settings.warm and not self.warm_error:
                self._precompile()
        finally:
            self.precompiling = False

    def _precompile(self) -> None:
        """Trace the presets a class opens first, so their runs are compiled from step one."""
        from vgrad.presets import preset
        from vgrad.train.engine import precompile

        for name in PRECOMPILE:
            if self._closing:
                return
            try:
                precompile(preset(name))
            except Exception:  # noqa: BLE001 - an optimisation; the run itself would report the error
                pass

    # --- requests ------------------------------------------------------------------
    def submit(self, config: RunConfig, client: str, label: str = "") -> Job:
        """Queue a job; JobError(429) when the client or the queue is full."""
        lim = self.limits
        with self._cv:
            if self._closing:
                raise JobError(503, "the service is shutting down")
            mine = sum(1 for j in self._jobs.values() if j.client == client and not j.done)
            if mine >= lim.max_jobs_per_client:
                raise JobError(429, f"you already have {mine} jobs running or queued; the server allows at most "
                               f"{lim.max_jobs_per_client} per client (VGRAD_MAX_JOBS_PER_CLIENT). "
                               "Stop one or wait for one to finish.")
            if len(self._queue) >= lim.max_queued:
                raise JobError(429, f"the queue is full ({len(self._queue)} jobs waiting; at most {lim.max_queued}, "
                               "VGRAD_MAX_QUEUED). Try again in a minute.")
            job = Job(id=f"{next(self._counter)}-{secrets.token_hex(4)}", client=client, label=label, config=config)
            self._jobs[job.id] = job
            self._queue.append(job)
            self._cv.notify_all()
            return job  # "queued" even when a free worker takes it at once: answer without waiting

    def get(self, job_id: str, touch: bool = True) -> Job:
        with self._cv:
            job = self._jobs.get(job_id)
            if job is None:
                raise JobError(404, f"no job {str(job_id)[:40]!r}: unknown id, or finished and forgotten "
                               f"(the service keeps the last {self.settings.keep_finished} finished jobs)")
            if touch:
                self._touch(job)
            return job

    def jobs(self, client: str | None = None) -> list[Job]:
        with self._cv:
            found = [j for j in self._jobs.values() if client is None or j.client == client]
            if client is not None:
                for job in found:
                    self._touch(job)
            return sorted(found, key=lambda j: j.created)

    def records(self, job_id: str, offset: int = 0) -> tuple[Status, list[str]]:
        """The job's status and its records' JSON from `offset`; JobError(410) once they were freed.

        The status is read first, so a finished status always comes with the status record.
        """
        job = self.get(job_id)
        status = job.status
        if job.dropped:
            raise JobError(410, f"the records of job {job.id} were freed after {self.settings.retention_seconds:g} s "
                           "without a poll (VGRAD_RETENTION_SECONDS)")
        return status, job.records[max(0, offset):]

    def control(self, job_id: str, action: Action | str) -> Job:
        """pause, resume, step (one step, then paused) or stop a job."""
        try:
            action = Action(action)
        except ValueError:
            raise JobError(404, f"unknown action {str(action)[:20]!r}; use one of {', '.join(Action)}") from None
        job = self.get(job_id)
        if job.done:
            if action == Action.STOP:
                return job
            raise JobError(409, f"job {job.id} is already {job.status}; it cannot {action}")
        with job.cond:
            if action == Action.PAUSE:
                job.paused = True
            elif action == Action.RESUME:
                job.paused, job.step_credits = False, 0
            elif action == Action.STEP:
                job.paused = True
                job.step_credits += 1
            job.cond.notify_all()
        if action == Action.STOP:
            with self._cv:
                self._request_stop(job, "")
        return job

    def queue_position(self, job: Job) -> int | None:
        """1 = next to start; None when not queued."""
        with self._cv:
            if job.status != Status.QUEUED:
                return None
            try:
                return self._queue.index(job) + 1
            except ValueError:
                return None

    def counts(self) -> dict[str, int]:
        with self._cv:
            return {"running": self._running_count(), "queued": len(self._queue), "known": len(self._jobs)}

    # --- inside the lock -------------------------------------------------------------
    def _touch(self, job: Job) -> None:
        job.polled = time.monotonic()
        if job.id in self._finished:
            self._finished.move_to_end(job.id)

    def _running_count(self, client: str | None = None) -> int:
        return sum(1 for j in self._jobs.values() if j.status == Status.RUNNING and (client is None or j.client == client))

    def _request_stop(self, job: Job, reason: str) -> None:
        if job.status == Status.QUEUED:
            self._queue.remove(job)
            message = reason or "stopped by request before it started"
            job.records.append(StatusRecord(status=Status.CANCELLED, step=-1, message=message).to_json())
            self._finish(job, Status.CANCELLED, message)
            return
        with job.cond:
            job.stop_requested = True
            job.stop_reason = job.stop_reason or reason
            job.cond.notify_all()

    def _finish(self, job: Job, status: Status, message: str) -> None:
        job.status, job.message, job.finished = status, message, time.time()
        self._since_clear += 1
        self._finished[job.id] = job
        self._stored += job.size
        self._evict()
        self._cv.notify_all()

    def _evict(self) -> None:
        """Forget the oldest finished jobs beyond keep_finished; free records beyond max_stored."""
        while len(self._finished) > self.settings.keep_finished:
            _, old = self._finished.popitem(last=False)
            self._drop(old)
            self._jobs.pop(old.id, None)
        for old in list(self._finished.values()):
            if self._stored <= self.settings.max_stored:
                break
            self._drop(old)

    def _drop(self, job: Job) -> None:
        if not job.dropped:
            self._stored -= job.size
            job.records, job.size, job.dropped = [], 0, True

    def _next_job(self) -> Job | None:
        """The first queued job whose client is below its running limit."""
        for job in self._queue:
            if self._running_count(job.client) < self.limits.max_running:
                return job
        return None

    # --- threads -------------------------------------------------------------------
    def _work(self) -> None:
        self.ready.wait()
        while True:
            with self._cv:
                job = self._next_job()
                while job is None and not self._closing:
                    self._cv.wait()
                    job = self._next_job()
                if self._closing:
                    return
                self._queue.remove(job)
                job.status, job.started = Status.RUNNING, time.time()
                self._cv.notify_all()
            self._run(job)

    def _run(self, job: Job) -> None:
        def on_record(record: Record) -> None:
            if isinstance(record, StepRecord):
                job.step = record.step + 1
            elif (isinstance(record, StatusRecord) and job.stop_reason
                  and record.status == Status.CANCELLED):
                record = StatusRecord(status=record.status, step=record.step, message=job.stop_reason)
            job.size += size(record)
            job.records.append(record.to_json())
            if isinstance(record, StatusRecord):  # after the append: readers see the record first
                with self._cv:
                    self._finish(job, record.status, record.message)

        try:
            self._train(job.config, on_record=on_record, should_stop=lambda: job.stop_requested, pace=job.pace)
        except BaseException as exc:  # a crashing job must not take its worker down
            if not job.done:
                on_record(StatusRecord(status=Status.FAILED, step=job.step - 1,
                                       message=f"the training crashed: {type(exc).__name__}: {str(exc)[:500]}"))
        if not job.done:
            on_record(StatusRecord(status=Status.FAILED, step=job.step - 1,
                                   message="the training ended without a status record"))

    def _reap(self) -> None:
        """Cancel abandoned jobs, free old records (every second or so)."""
        s = self.settings
        every = max(0.05, min(1.0, s.abandon_seconds / 4, s.retention_seconds / 4))
        while not self._closing:
            time.sleep(every)
            now = time.monotonic()
            with self._cv:
                for job in list(self._jobs.values()):
                    idle = now - job.polled
                    if not job.done and not job.stop_requested and idle > s.abandon_seconds:
                        self._request_stop(job, f"cancelled: nobody polled this job for {s.abandon_seconds:g} s "
                                           "(VGRAD_ABANDON_SECONDS)")
                    elif job.done and not job.dropped and idle > s.retention_seconds:
                        self._drop(job)
                self._clear_if_idle()

    def _clear_if_idle(self) -> None:
        """keras.backend.clear_session() while no training (or engine trace thread) runs; under the lock."""
        keras = sys.modules.get("keras")
        if keras is None or self._since_clear < CLEAR_EVERY or self._running_count() or self.precompiling:
            return
        from vgrad.train.engine import tracing

        if tracing():
            return
        keras.backend.clear_session()
        self._since_clear = 0


def process_threads() -> int:
    """Threads of this process, native ones included where /proc tells (for /health)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()
