"""Follow a training job of the service from a page: submit, poll new records, control.

    job = live.start(client, config, preset)      # stored in st.session_state
    live.poll(client, job)                        # fetches only records after job.offset, a few pages
    job.run                                       # a vgrad.run.Run folded from the records so far

Pages call poll() inside `st.fragment(run_every=live.REFRESH_SECONDS)` (see live_fragment), so
the charts refresh a few times a second without rerunning the whole page. Each poll reads at most
MAX_PAGES bounded pages (the service's VGRAD_PAGE_BYTES each), stopping as soon as it has caught up.

The job is submitted as this browser session (its Streamlit session id) from the browser's address
(st.context.ip_address): the service's per-session and per-address caps and its round-robin use them.
A job the service lost (it crashed and restarted, or forgot the job) ends here with a failed status
whose message says so plainly, shown once by the page's usual failure banner.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from vgrad.config import RunConfig
from vgrad.records import Action, Record, Status, StatusRecord
from vgrad.run import Run
from vgrad.service.client import BackendClient, BackendError

REFRESH_SECONDS = 0.5
JOB_KEY = "vgrad.job"
CLIENT_KEY = "vgrad.client_id"
RATE_WINDOW = 5.0  # seconds of history for steps per second
MAX_PAGES = 4  # pages of records one poll reads at most (it stops when none are left)
LOCAL = "127.0.0.1"  # the address of a browser on this machine (st.context.ip_address is None then)


@dataclass
class LiveJob:
    """What a page knows about one job of the service."""

    job_id: str
    config: RunConfig
    preset: str | None = None
    status: Status = Status.QUEUED
    queue_position: int | None = None
    paused: bool = False
    message: str = ""
    offset: int = 0
    error: str = ""                 # last problem talking to the service
    lost: bool = False              # the service no longer knows this job
    failures: int = 0               # consecutive failed polls
    fresh: bool = True              # just submitted: the rerun of the click does not poll yet
    run: Run = None  # type: ignore[assignment]
    started: float = field(default_factory=time.monotonic)
    _progress: deque = field(default_factory=lambda: deque(maxlen=200))

    def __post_init__(self) -> None:
        if self.run is None:
            self.run = Run(config=self.config)

    @property
    def active(self) -> bool:
        """Until the job's status record arrived (it is the last record of every job)."""
        return not self.lost and not self.run.done

    @property
    def steps_per_second(self) -> float | None:
        """Steps per second over the last few seconds (None before two samples)."""
        if len(self._progress) < 2:
            return None
        t1, s1 = self._progress[-1]
        t0, s0 = next((t, s) for t, s in self._progress if t1 - t <= RATE_WINDOW)
        if t1 - t0 <= 0:
            return None
        return max(0.0, (s1 - s0) / (t1 - t0))

    def add(self, records: list[Record]) -> None:
        for record in records:
            self.run.add(record)


def status_text(job: LiveJob) -> str:
    """'finished', 'queued (#2)', 'paused' or 'running': one word (or two) for a job's state."""
    if job.run.done:
        return str(job.run.status)
    if job.status == Status.QUEUED:
        return "queued" + (f" (#{job.queue_position})" if job.queue_position else "")
    return "paused" if job.paused else str(job.status)


def client_id() -> str:
    """This browser session's id, as Streamlit knows it (the service caps and schedules per session)."""
    if CLIENT_KEY not in st.session_state:
        ctx = get_script_run_ctx()
        session = ctx.session_id if ctx is not None and ctx.session_id else uuid.uuid4().hex
        st.session_state[CLIENT_KEY] = "ui-" + str(session)[:80]
    return st.session_state[CLIENT_KEY]


def remote_address() -> str:
    """The browser's address (the service caps jobs per address); LOCAL for a browser on this machine."""
    try:
        ip = st.context.ip_address
    except Exception:  # noqa: BLE001 - no browser context (a bare script run)
        ip = None
    return ip if isinstance(ip, str) and ip else LOCAL  # AppTest's context is a mock


def lost_message(exc: BackendError, job: LiveJob) -> str:
    """The sentence for a job the service no longer has, by why it lost it."""
    done = job.run.last_step + 1
    where = f" after {done:,} of {job.run.total_steps:,} steps" if done > 0 else " before it started"
    if exc.reason == "restarted":
        return (f"this run was lost{where}: the training service crashed (or was stopped) and has restarted. "
                "Press Train to run it again.")
    if exc.status == 410:
        return f"the service freed this run's records{where} because nobody polled it. Press Train to run it again."
    return f"the service no longer has this run ({exc}). Press Train to run it again."


def current(key: str = JOB_KEY) -> LiveJob | None:
    return st.session_state.get(key)


def start(client: BackendClient, config: RunConfig, preset: str | None = None, label: str = "",
          key: str = JOB_KEY) -> LiveJob:
    """Submit a run (stopping this page's previous one if it is still going). BackendError on refusal."""
    old = current(key)
    if old is not None and old.active:
        try:
            client.control(old.job_id, Action.STOP)
        except BackendError:
            pass
    answer = client.submit(config, client_id(), label=label or (preset or "explorer"), remote=remote_address())
    job = LiveJob(job_id=answer["id"], config=config, preset=preset, status=Status(answer.get("status", "queued")),
                  queue_position=answer.get("queue_position"))
    st.session_state[key] = job
    return job


def poll(client: BackendClient, job: LiveJob, max_pages: int = MAX_PAGES) -> int:
    """Fetch the records after job.offset, page by page while the service says more are ready (at most
    `max_pages`); returns how many arrived."""
    got = 0
    for _ in range(max_pages):
        try:
            try:
                page = client.records(job.job_id, job.offset)
            except BackendError as exc:
                if exc.status is not None:
                    raise
                page = client.records(job.job_id, job.offset)  # once more: a dropped keep-alive socket
        except BackendError as exc:
            job.failures += 1
            if exc.status in (404, 410):
                lose(job, lost_message(exc, job))
            elif job.failures >= 3:
                job.error = str(exc)
            break
        job.error, job.failures = "", 0
        job.add(page.records)
        job.offset = page.next
        job.status = page.status
        job.queue_position = page.queue_position
        job.paused = page.paused
        job.message = page.message or job.message
        got += len(page.records)
        if not page.more or not job.active:
            break
    if job.run.done:
        job.status, job.message = job.run.status, job.run.message  # the status record is the last word
    job._progress.append((time.monotonic(), job.run.last_step + 1))
    return got


def lose(job: LiveJob, message: str) -> None:
    """End a job the service no longer has: a failed status record carries `message` (one banner)."""
    job.lost, job.status, job.message, job.error = True, Status.FAILED, message, ""
    if not job.run.done:
        job.run.add(StatusRecord(status=Status.FAILED, step=job.run.last_step, message=message))


def control(client: BackendClient, job: LiveJob, action: Action) -> str | None:
    """pause / resume / step / stop; returns an error sentence or None."""
    try:
        answer = client.control(job.job_id, action)
    except BackendError as exc:
        return str(exc)
    job.status = Status(answer.get("status", job.status))
    job.paused = bool(answer.get("paused", action in (Action.PAUSE, Action.STEP)))
    return None


def live_fragment(body: Callable[[LiveJob | None], None], client: BackendClient | None,
                  key: str = JOB_KEY, refresh: float = REFRESH_SECONDS) -> None:
    """Run `body(job)` in a fragment that polls the job every `refresh` seconds while it is active.

    When the job ends, the whole page reruns once so controls outside the fragment update.
    """
    job = current(key)
    every = refresh if (job is not None and job.active and client is not None) else None

    @st.fragment(run_every=every)
    def _live() -> None:
        j = current(key)
        was_active = j is not None and j.active
        if j is not None and client is not None and j.active:
            if j.fresh:  # the job has no records yet; answer the click now, the next tick polls
                j.fresh = False
            else:
                poll(client, j)
        body(j)
        if was_active and not j.active and every is not None:
            st.rerun()

    _live()
