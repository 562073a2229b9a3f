"""JobManager: a fair queue of trainings run by a bounded pool of threads sharing one TensorFlow.

    manager = JobManager(Settings(workers=2))
    manager.start()                                  # workers + warm-up + reaper threads
    job = manager.submit(RunConfig(epochs=1), client="session-1", remote="10.0.0.7")
    manager.page(job.id, offset=0)                   # status and a bounded page of records' JSON
    manager.control(job.id, Action.PAUSE)            # pause / resume / step / stop

Each worker calls `vgrad.train.engine.train(config, on_record=..., should_stop=..., pace=...)`, or,
for a work item queued with `submit_task` (a sweep's tasks, vgrad.service.sweeps), the task runner
`vgrad.train.sweep_cells.run_task(task, should_stop)`: both in `_execute`, the one place a worker runs work.
Pause and single step work through `pace` (it blocks while paused and returns 1 per step
request); stop through `should_stop`. Each record is serialised once, as it arrives: a read
joins the stored JSON bytes of at most `page_bytes`.

Fairness: a job belongs to a client (a browser session) and a remote address, both given by the
Streamlit process. Caps: jobs per session, per address, queued in total (vgrad.limits). A free
worker takes the queued job of the address served longest ago, then of that address's session
served longest ago, then the session's oldest job: one backlog delays another's next job by at
most one job, however many sessions it spreads over.

Job ids start with this process's instance id, so an id from before a restart is told apart
from one forgotten after the retention time. A queued or running job nobody has polled for
`abandon_seconds` is cancelled, a job paused for `pause_seconds` while others wait too; a
finished job's records are freed `retention_seconds` after its last poll, and at most
`keep_finished` finished jobs are remembered.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vgrad.config import RunConfig
from vgrad.records import Action, Record, Status, StatusRecord, StepRecord, size
from vgrad.service.settings import Settings

# Keras' global state grows a little with every model built; it is cleared when the pool is idle
# and at least this many jobs finished since the last clear.
CLEAR_EVERY = 20
# At most this many worker threads, however many CPUs a Ray cluster has (grow_workers).
MAX_WORKERS = 256
# Records beyond VGRAD_MAX_STORED are freed oldest first, but not those of a job read this recently:
# a client still paging through a large run that just ended would lose its tail.
FREE_GRACE_SECONDS = 10.0
# The warm-up run: imports TensorFlow and builds/executes the whole training path once.
WARM_CONFIG = RunConfig(epochs=1, steps=1, hidden_layers=1, units=2, n_samples=20)
# Traced after the warm-up (in the background, the service is ready already).
PRECOMPILE = ("notebook-deep-sigmoid", "notebook-shallow-sigmoid", "notebook-deep-relu")


class JobError(Exception):
    """A request the manager refuses. `status` is the HTTP code that fits (404, 409, 410, 429);
    `reason` a word for programs (404: restarted, forgotten or unknown)."""

    def __init__(self, status: int, message: str, reason: str | None = None):
        super().__init__(message)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Slice:
    """A page of a job's records: their JSON, the offset after them, and whether more follow."""

    job: Job
    status: Status  # read before the records: a final status comes with the status record
    records: list[bytes]
    next: int
    more: bool


@dataclass
class Job:
    id: str
    client: str
    label: str
    config: RunConfig
    remote: str = ""  # the browser's address (or the caller's)
    seq: int = 0  # order of submission
    created: float = field(default_factory=time.time)
    status: Status = Status.QUEUED  # then running, then the status record's
    message: str = ""
    step: int = 0  # steps done
    records: list[bytes] = field(default_factory=list)  # each record's JSON (UTF-8), in order
    size: int = 0  # numbers held in records (for the memory budget)
    dropped: bool = False  # records freed after the retention time
    started: float | None = None
    finished: float | None = None
    polled: float = field(default_factory=time.monotonic)
    paused: bool = False
    paused_since: float | None = None  # monotonic time of the pause (or of the start, if paused then)
    step_credits: int = 0
    stop_requested: bool = False
    stop_reason: str = ""
    cond: threading.Condition = field(default_factory=threading.Condition, repr=False)
    # A work item that is not a training (submit_task): its payload, and who gets its result.
    task: Any = field(default=None, repr=False)
    on_done: Callable[[Any, str], None] | None = field(default=None, repr=False)

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

    def __init__(self, settings: Settings, train: Callable | None = None, run_task: Callable | None = None,
                 executor: Any = None):
        self.settings = settings
        self.limits = settings.limits
        self.workers = settings.workers  # worker threads (grow_workers adds more)
        self._worker_threads = 0  # started so far
        self._started = False
        self._train = train
        self._run_task = run_task  # runs submit_task's items (default vgrad.train.sweep_cells.run_task)
        # Runs the work elsewhere when usable (vgrad.service.ray_jobs.RayJobs); else these worker threads do.
        self.executor = executor
        self._cv = threading.Condition()
        self._jobs: dict[str, Job] = {}
        self._queue: list[Job] = []  # queued jobs, oldest first (the start order is _key's)
        self._finished: OrderedDict[str, Job] = OrderedDict()  # oldest first
        self._stored = 0  # numbers held by finished jobs' records
        self._running = 0  # read without the lock by counts()
        self._closing = False
        self.precompiling = True  # until the presets in PRECOMPILE are traced (or skipped)
        self.instance = secrets.token_hex(4)  # this process's id, the first part of every job id
        self._seq = 0
        self._served = 0  # starts so far; the round-robin's clock
        self._served_address: dict[str, int] = {}  # address -> the start that last served it
        self._served_client: dict[str, int] = {}
        self._positions: tuple[int, dict[str, int]] = (-1, {})  # (queue version, id -> position)
        self._version = 0  # changes whenever the queue or the round-robin's clock does
        self.ready = threading.Event()  # set when TensorFlow is imported and warm
        self.warm_error = ""
        self.tensorflow = ""
        self._threads: list[threading.Thread] = []
        self._since_clear = 0

    # --- lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        """Start the warm-up, the workers and the reaper (all daemon threads)."""
        for name, target in [("vgrad-warm", self._warm), ("vgrad-reaper", self._reap)]:
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        with self._cv:
            self._started = True
            self._start_workers()

    def _start_workers(self) -> None:
        """Start worker threads up to self.workers (under the lock)."""
        while self._worker_threads < self.workers:
            self._worker_threads += 1
            t = threading.Thread(target=self._work, name=f"vgrad-worker-{self._worker_threads}", daemon=True)
            t.start()
            self._threads.append(t)

    def grow_workers(self, wanted: int) -> int:
        """At least `wanted` worker threads (at most MAX_WORKERS; never fewer than now): how many there are.
        With a Ray cluster each running job holds a thread while its task trains there, so the service
        sizes them to the cluster's CPUs as it sees them (RayJobs.on_cpus)."""
        with self._cv:
            wanted = min(int(wanted), MAX_WORKERS)
            if self._closing or wanted <= self.workers:
                return self.workers
            self.workers = wanted
            if self._started:
                self._start_workers()
            self._cv.notify_all()
            return wanted

    def close(self) -> None:
        """Stop every job and let the workers end."""
        with self._cv:
            self._closing = True
            for job in list(self._jobs.values()):
                if not job.done:
                    self._request_stop(job, "the service is shutting down")
            self._cv.notify_all()

    def _warm(self) -> None:
        real = self._train is None  # else an injected train (tests): no TensorFlow to set up
        try:
            if real:
                from vgrad.train import tfsetup
                from vgrad.train.engine import train

                self._train = train
                tfsetup.configure()
            if real and self.settings.warm:
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
            if real and self.settings.warm and not self.warm_error:
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
    def submit(self, config: RunConfig, client: str, label: str = "", remote: str = "") -> Job:
        """Queue a job of session `client` from address `remote`; JobError(429) when the session, the
        address or the queue is full."""
        lim = self.limits
        with self._cv:
            if self._closing:
                raise JobError(503, "the service is shutting down")
            active = [j for j in self._jobs.values()
                      if not j.done and j.task is None and (j.client == client or j.remote == remote)]
            mine = sum(1 for j in active if j.client == client)
            if mine >= lim.max_jobs_per_client:
                raise JobError(429, f"you already have {mine} jobs running or queued; the server allows at most "
                               f"{lim.max_jobs_per_client} per browser session (VGRAD_MAX_JOBS_PER_CLIENT). "
                               "Stop one or wait for one to finish.")
            ours = sum(1 for j in active if j.remote == remote)
            if ours >= lim.max_jobs_per_address:
                raise JobError(429, f"{ours} jobs from your address are running or queued; the server allows at "
                               f"most {lim.max_jobs_per_address} per address (VGRAD_MAX_JOBS_PER_ADDRESS). "
                               "Stop one or wait for one to finish.")
            waiting = sum(1 for j in self._queue if j.task is None)
            if waiting >= lim.max_queued:
                raise JobError(429, f"the queue is full ({waiting} jobs waiting; at most {lim.max_queued}, "
                               "VGRAD_MAX_QUEUED). Try again in a minute.")
            self._seq += 1
            job = Job(id=f"{self.instance}-{self._seq}-{secrets.token_hex(4)}", client=client, label=label,
                      config=config, remote=remote, seq=self._seq)
            self._jobs[job.id] = job
            self._queue.append(job)
            self._version += 1
            self._cv.notify_all()
            return job  # "queued" even when a free worker takes it at once: answer without waiting

    def submit_task(self, task: Any, config: RunConfig, client: str, remote: str = "", label: str = "",
                    on_done: Callable[[Any, str], None] | None = None) -> Job:
        """Queue a work item that is not a training (a sweep's vgrad.sweep.Task) in the same fair queue and
        worker pool: a worker runs `run_task(task, should_stop)` and hands `on_done(result, error)` its
        result ("" or a sentence), in the worker thread. `config` is what it trains (for its cost).

        Its owner caps and follows it: an item is not counted against the job caps, not listed by
        jobs(), never abandoned by the reaper (stop it with control(id, "stop")), and forgotten when it
        ends (a stop before it starts ends it at once, without on_done)."""
        with self._cv:
            if self._closing:
                raise JobError(503, "the service is shutting down")
            self._seq += 1
            job = Job(id=f"{self.instance}-{self._seq}-{secrets.token_hex(4)}", client=client, label=label,
                      config=config, remote=remote, seq=self._seq, task=task, on_done=on_done)
            self._jobs[job.id] = job
            self._queue.append(job)
            self._version += 1
            self._cv.notify_all()
            return job

    def get(self, job_id: str, touch: bool = True) -> Job:
        with self._cv:
            job = self._jobs.get(job_id)
            if job is None:
                raise self._unknown(str(job_id))
            if touch:
                self._touch(job)
            return job

    def _unknown(self, job_id: str) -> JobError:
        """404 for an id this process does not know: from before a restart, forgotten, or never made."""
        shown = repr(job_id[:40])
        found = re.fullmatch(r"([0-9a-f]{8})-([0-9]{1,12})-[0-9a-f]{8}", job_id)
        if found and found[1] != self.instance:
            return JobError(404, f"job {shown} was lost: the training service restarted after it was submitted "
                            "(it crashed or was stopped)", "restarted")
        if found and int(found[2]) <= self._seq:
            return JobError(404, f"job {shown} ended and was forgotten: the service remembers the last "
                            f"{self.settings.keep_finished} finished jobs (VGRAD_KEEP_FINISHED)", "forgotten")
        return JobError(404, f"no job {shown}: unknown id", "unknown")

    def jobs(self, client: str | None = None) -> list[Job]:
        with self._cv:
            found = [j for j in self._jobs.values() if j.task is None and (client is None or j.client == client)]
            if client is not None:
                for job in found:
                    self._touch(job)
            return sorted(found, key=lambda j: j.created)

    def page(self, job_id: str, offset: int = 0, limit: int | None = None, max_bytes: int | None = None) -> Slice:
        """At most `limit` records from `offset`, and at most `max_bytes` of them (default page_bytes;
        one record always, however long); JobError(410) once they were freed.

        The status is read first, so a final status always comes with the status record (on the last page).
        """
        job = self.get(job_id)
        status = job.status
        if job.dropped:
            raise JobError(410, f"the records of job {job.id} were freed after {self.settings.retention_seconds:g} s "
                           "without a poll (VGRAD_RETENTION_SECONDS)")
        budget = min(max_bytes or self.settings.page_bytes, self.settings.max_page_bytes)
        records = job.records  # only ever appended to (freeing replaces the list)
        start = min(max(0, offset), len(records))
        end = len(records) if limit is None else min(len(records), start + max(1, limit))
        out: list[bytes] = []
        used = 0
        for i in range(start, end):
            rec = records[i]
            if out and used + len(rec) > budget:
                break
            out.append(rec)
            used += len(rec) + 1
        stop = start + len(out)
        return Slice(job, status, out, stop, stop < len(records))

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
                job.paused_since = job.paused_since or time.monotonic()
            elif action == Action.RESUME:
                job.paused, job.step_credits, job.paused_since = False, 0, None
            elif action == Action.STEP:
                job.paused = True
                job.step_credits += 1
                job.paused_since = time.monotonic()  # someone is stepping: not abandoned in a pause
            job.cond.notify_all()
        if action == Action.STOP:
            with self._cv:
                self._request_stop(job, "")
        return job

    def queue_position(self, job: Job) -> int | None:
        """1 = next to start (in the round-robin's order, running caps aside); None when not queued."""
        with self._cv:
            if job.status != Status.QUEUED:
                return None
            version, positions = self._positions
            if version != self._version:
                positions = self._start_order()
                self._positions = (self._version, positions)
            return positions.get(job.id)

    def counts(self) -> dict[str, int]:
        """Jobs running, queued and known; without the lock, so /health never waits for it."""
        return {"running": self._running, "queued": len(self._queue), "known": len(self._jobs)}

    # --- inside the lock -------------------------------------------------------------
    def _touch(self, job: Job) -> None:
        job.polled = time.monotonic()
        if job.id in self._finished:
            self._finished.move_to_end(job.id)

    def _running_count(self, client: str | None = None) -> int:
        return sum(1 for j in self._jobs.values() if j.status == Status.RUNNING and (client is None or j.client == client))

    def _running_by_client(self) -> Counter:
        return Counter(j.client for j in self._jobs.values() if j.status == Status.RUNNING)

    def _request_stop(self, job: Job, reason: str) -> None:
        if job.status == Status.QUEUED:
            self._queue.remove(job)
            message = reason or "stopped by request before it started"
            self._version += 1
            job.records.append(StatusRecord(status=Status.CANCELLED, step=-1, message=message).to_json().encode())
            self._finish(job, Status.CANCELLED, message)
            return
        with job.cond:
            job.stop_requested = True
            job.stop_reason = job.stop_reason or reason
            job.cond.notify_all()

    def _finish(self, job: Job, status: Status, message: str) -> None:
        if job.status == Status.RUNNING:
            self._running -= 1
        job.status, job.message, job.finished = status, message, time.time()
        self._since_clear += 1
        if job.task is not None:  # a work item is its owner's to remember
            self._jobs.pop(job.id, None)
            self._cv.notify_all()
            return
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
        now = time.monotonic()
        for old in list(self._finished.values()):
            if self._stored <= self.settings.max_stored:
                break
            if now - old.polled >= FREE_GRACE_SECONDS:
                self._drop(old)

    def _drop(self, job: Job) -> None:
        if not job.dropped:
            self._stored -= job.size
            job.records, job.size, job.dropped = [], 0, True

    def _key(self, job: Job, served_address: dict[str, int], served_client: dict[str, int]) -> tuple[int, int, int]:
        """Start order: the address served longest ago, then its session served longest ago, then the oldest."""
        return served_address.get(job.remote, 0), served_client.get(job.client, 0), job.seq

    def _next_job(self) -> Job | None:
        """The queued job to start next whose session is below its running limit."""
        running = self._running_by_client()
        ready = [j for j in self._queue if running[j.client] < self.limits.max_running]
        if not ready:
            return None
        return min(ready, key=lambda j: self._key(j, self._served_address, self._served_client))

    def _start_order(self) -> dict[str, int]:
        """Queue positions: the round-robin played forward on copies of its clock (until every training has
        its place: work items need none, and a sweep may queue thousands)."""
        by_address, by_client, clock = dict(self._served_address), dict(self._served_client), self._served
        pending, order = list(self._queue), {}
        left = sum(1 for j in pending if j.task is None)
        while pending and left:
            job = min(pending, key=lambda j: self._key(j, by_address, by_client))
            clock += 1
            by_address[job.remote] = by_client[job.client] = clock
            pending.remove(job)
            order[job.id] = len(order) + 1
            left -= job.task is None
        return order

    def _served_now(self, job: Job) -> None:
        """A job starts: its address and session move to the back of the round-robin."""
        self._served += 1
        self._served_address[job.remote] = self._served_client[job.client] = self._served
        self._version += 1
        if len(self._served_client) > 2 * self.limits.max_queued + 64:  # forget those with no job left
            active = [j for j in self._jobs.values() if not j.done]
            addresses, clients = {j.remote for j in active}, {j.client for j in active}
            self._served_address = {a: t for a, t in self._served_address.items() if a in addresses}
            self._served_client = {c: t for c, t in self._served_client.items() if c in clients}

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
                self._served_now(job)
                job.status, job.started = Status.RUNNING, time.time()
                self._running += 1
                if job.paused:
                    job.paused_since = time.monotonic()
                self._cv.notify_all()
            self._run(job)

    def _execute(self, job: Job, on_record: Callable[[Record], None] | None = None) -> Any:
        """The one place a worker runs a job's work: a training (its records go to on_record), or a work
        item of submit_task (the task runner's result is returned)."""
        def should_stop() -> bool:
            return job.stop_requested

        cluster = self.executor if self.executor is not None and self.executor.usable() else None
        if job.task is not None:
            if self._run_task is None:
                from vgrad.train.sweep_cells import run_task

                self._run_task = run_task
            if cluster is not None:  # a Ray task on the cluster (vgrad.service.ray_jobs)
                return cluster.run_task(self._run_task, job.task, should_stop)
            return self._run_task(job.task, should_stop)
        if cluster is not None:  # a Ray task streaming the records back (vgrad.service.ray_jobs)
            return cluster.run(job, on_record, should_stop, job.pace)
        return self._train(job.config, on_record=on_record, should_stop=should_stop, pace=job.pace)

    def _run_item(self, job: Job) -> None:
        """Run a work item, give its result to its owner, forget it."""
        result, error = None, ""
        try:
            result = self._execute(job)
        except BaseException as exc:  # a crashing task must not take its worker down
            error = f"the task crashed: {type(exc).__name__}: {str(exc)[:500]}"
        try:
            if job.on_done is not None:
                job.on_done(result, error)
        except BaseException as exc:  # noqa: BLE001 - the owner's bug must not take the worker down either
            error = error or f"its result could not be used: {type(exc).__name__}: {str(exc)[:300]}"
        status = Status.CANCELLED if job.stop_requested else (Status.FAILED if error else Status.FINISHED)
        with self._cv:
            self._finish(job, status, error)

    def _run(self, job: Job) -> None:
        if job.task is not None:
            self._run_item(job)
            return

        def on_record(record: Record) -> None:
            if isinstance(record, StepRecord):
                job.step = record.step + 1
            elif (isinstance(record, StatusRecord) and job.stop_reason
                  and record.status == Status.CANCELLED):
                record = StatusRecord(status=record.status, step=record.step, message=job.stop_reason)
            job.size += size(record)
            job.records.append(record.to_json().encode())
            if isinstance(record, StatusRecord):  # after the append: readers see the record first
                with self._cv:
                    self._finish(job, record.status, record.message)

        try:
            self._execute(job, on_record)
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
        every = max(0.05, min(1.0, s.abandon_seconds / 4, s.retention_seconds / 4, s.pause_seconds / 4))
        while not self._closing:
            time.sleep(every)
            now = time.monotonic()
            with self._cv:
                for job in list(self._jobs.values()):
                    if job.task is not None:
                        continue  # its owner stops it (a sweep nobody polls)
                    idle = now - job.polled
                    if not job.done and not job.stop_requested and idle > s.abandon_seconds:
                        self._request_stop(job, f"cancelled: nobody polled this job for {s.abandon_seconds:g} s "
                                           "(VGRAD_ABANDON_SECONDS)")
                    elif (job.status == Status.RUNNING and job.paused and not job.stop_requested and self._queue
                          and job.paused_since is not None and now - job.paused_since > s.pause_seconds):
                        self._request_stop(job, f"cancelled: paused for more than {s.pause_seconds:g} s while other "
                                           "jobs waited for a trainer (VGRAD_PAUSE_SECONDS)")
                    elif job.done and not job.dropped and idle > s.retention_seconds:
                        self._drop(job)
                if self._stored > s.max_stored:
                    self._evict()  # what the grace kept, once nobody reads it
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
