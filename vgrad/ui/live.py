"""Follow a training job of the service from a page: submit or reattach, poll its records, play them back.

    job = live.start(client, config, preset)      # stored in st.session_state
    job, problem = live.attach(client, job_id)    # a job of an earlier tab (the Explorer's ?job=ID)
    live.poll(client, job)                        # fetches only records after job.offset, a few pages
    job.run                                       # a vgrad.run.Run folded from the records so far
    view = live.view(job, live.advance(job, live.TEN_PER_SECOND))   # the run up to the playback position

Pages call poll() inside `st.fragment(run_every=live.REFRESH_SECONDS)` (see live_fragment), so
the charts refresh a few times a second without rerunning the whole page. Each poll reads at most
MAX_PAGES bounded pages (the service's VGRAD_PAGE_BYTES each), stopping as soon as it has caught up.

Playback is a view: the service trains at full speed and the page reads the records as they come;
advance() moves a position through them at the chosen speed (real time: the pace the service
trained at; 10 steps per second; as fast as possible: the newest record) and view() is the run up
to it. A long run never builds a backlog: when the service is more than SKIP_STEPS ahead of what the
page has read, the page jumps to the newest records and fills the skipped ones in afterwards
(job.gaps); a run is complete, and can be saved or exported, once none are left.

Reattaching: the service keeps a running job while someone polls it (VGRAD_ABANDON_SECONDS, 60 s by
default) and a finished job's records VGRAD_RETENTION_SECONDS (600 s) after its last poll. A tab
reloaded (or a link with its job id reopened) within those times finds the run again; after them,
attach() says in one sentence that it is gone. Finished runs are also kept in the session's history
(remember, history: the last HISTORY, in memory while they fit HISTORY_CELLS).

The job is submitted as this browser session (its Streamlit session id) from the browser's address
(st.context.ip_address): the service's per-session and per-address caps and its round-robin use them.
A job the service lost (it crashed and restarted, or forgot the job) ends here with a failed status
whose message says so plainly, shown once by the page's usual failure banner.

A click starts a new script thread while the previous run of the page may still be inside a poll
(Streamlit's fast reruns); a job's lock lets one poll read it at a time (the other draws what is
there), so no record is ever added twice.
"""

from __future__ import annotations

import math
import re
import threading
import time
import uuid
from bisect import bisect_left
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from vgrad.config import ConfigError, RunConfig
from vgrad.presets import PRESETS
from vgrad.records import Action, Record, Status, StatusRecord
from vgrad.run import Run
from vgrad.service.client import BackendClient, BackendError, Page
from vgrad.ui import crowd, turns

REFRESH_SECONDS = 0.5
CROWD_RECHECK = 10.0  # seconds between two timer changes a crowd of watchers causes (vgrad.ui.crowd)
_CROWD_CHANGED = "vgrad.crowd_changed"
QUEUED_REFRESH = 2.0  # seconds between polls of a job that waits behind others (a class: 30 at once)
JOB_KEY = "vgrad.job"
CLIENT_KEY = "vgrad.client_id"
HISTORY_KEY = "vgrad.history"
RATE_WINDOW = 5.0  # seconds of history for steps per second
MAX_PAGES = 4  # pages of records one poll reads at most (it stops when none are left)
LOCAL = "127.0.0.1"  # the address of a browser on this machine (st.context.ip_address is None then)
SKIP_STEPS = 500  # the service this many steps ahead of what was read: jump to its newest records
TAIL_RECORDS = 300  # records read from the end after a jump
LAST_RECORD = 10**9  # an offset past every record: the page's `next` is the number of records
HISTORY = 5  # finished runs the session remembers
HISTORY_CELLS = 60_000  # steps x layers kept in memory over the history (about 1 kB each)
JOB_ID = re.compile(r"[0-9a-f]{8}-[0-9]{1,12}-[0-9a-f]{8}")

# Playback speeds.
REAL_TIME, TEN_PER_SECOND, FASTEST = "real time", "10 steps per second", "as fast as possible"
SPEEDS = (REAL_TIME, TEN_PER_SECOND, FASTEST)
SLOW_RATE = 10.0
MAX_LAG_SECONDS = 2.0  # real time never shows a state older than this
SHORT_RUN = 300  # steps: a run this short is watched at 10 steps per second by default
SPEED_KEY = "explorer_speed"  # the Explorer's playback control (live_fragment skips ahead unless it is slow)


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
    offset: int = 0                 # the next record to read at the live end
    error: str = ""                 # last problem talking to the service
    lost: bool = False              # the service no longer knows this job
    failures: int = 0               # consecutive failed polls
    fresh: bool = True              # just submitted: the rerun of the click does not poll yet
    attached: bool = False          # found again from a link (not started by this session)
    ended_before: bool = False      # attached after it had ended (a class already has its run)
    run: Run = None  # type: ignore[assignment]
    started: float = field(default_factory=time.monotonic)
    service_step: int = 0           # steps the service has trained, at its last answer
    behind: bool = False            # the last page said more records are waiting
    seconds: float | None = None    # the training's duration by the service's clock, once it ended
    gaps: list[list[int]] = field(default_factory=list)  # [start, end) offsets skipped, read later
    shown: float = 0.0              # playback: steps shown (inf: jump to the newest once read)
    played_at: float | None = None  # monotonic time of the last advance
    _asked_duration: bool = False
    _chunks: list[list] = field(default_factory=list)  # [start offset, records] runs of records read
    _progress: deque = field(default_factory=lambda: deque(maxlen=200))
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.run is None:
            self.run = Run(config=self.config)

    @property
    def active(self) -> bool:
        """Until the job's status record arrived (it is the last record of every job)."""
        return not self.lost and not self.run.done

    @property
    def complete(self) -> bool:
        """Every record read (none skipped is still missing)."""
        return not self.gaps

    @property
    def needs_poll(self) -> bool:
        """Still training, or skipped records still to read."""
        return not self.lost and (not self.run.done or bool(self.gaps))

    @property
    def available(self) -> int:
        """Steps read so far (the newest step's number + 1)."""
        return self.run.last_step + 1

    @property
    def playing(self) -> bool:
        """The playback position has not reached the newest step read."""
        return self.shown < self.available or (math.isinf(self.shown) and self.behind)

    @property
    def average_rate(self) -> float | None:
        """Steps per second over the whole training, once it ended (None when unknown)."""
        if not self.run.done or not self.seconds or self.seconds <= 0:
            return None
        return self.available / self.seconds

    @property
    def steps_per_second(self) -> float | None:
        """While training: steps per second the service made over the last few seconds (None before two
        samples); once ended: the run's average (None when unknown)."""
        if self.run.done or self.lost:
            return self.average_rate
        if len(self._progress) < 2:
            return None
        t1, s1 = self._progress[-1]
        t0, s0 = next((t, s) for t, s in self._progress if t1 - t <= RATE_WINDOW)
        if t1 - t0 <= 0:
            return None
        return max(0.0, (s1 - s0) / (t1 - t0))

    def add(self, records: list[Record]) -> None:
        """Fold records read at the live end."""
        self._take(self.offset, records)

    def _take(self, start: int, records: list[Record]) -> None:
        if not records:
            return
        if self._chunks and self._chunks[-1][0] + len(self._chunks[-1][1]) == start:
            self._chunks[-1][1].extend(records)
        else:
            self._chunks.append([start, list(records)])
        for record in records:
            self.run.add(record)

    def _fill(self, start: int, records: list[Record]) -> None:
        """Records of the first gap, read from its start: insert them and fold the run again in order."""
        gap = self.gaps[0]
        end = start + len(records)
        if not records or end >= gap[1]:
            self.gaps.pop(0)
            records = records[:gap[1] - start]
        else:
            gap[0] = end
        self._chunks.append([start, list(records)])
        self._chunks.sort(key=lambda c: c[0])
        merged: list[list] = []
        for c in self._chunks:
            if merged and merged[-1][0] + len(merged[-1][1]) == c[0]:
                merged[-1][1].extend(c[1])
            else:
                merged.append(c)
        self._chunks = merged
        run = Run(config=self.config)
        for _, chunk in merged:
            for record in chunk:
                run.add(record)
        self.run = run


def status_text(job: LiveJob) -> str:
    """'finished', 'queued (#2)', 'paused' or 'running': one word (or two) for a job's state."""
    if job.run.done:
        return str(job.run.status)
    if job.status == Status.QUEUED:
        return "queued" + (f" (#{job.queue_position})" if job.queue_position else "")
    return "paused" if job.paused else str(job.status)


def view_status(job: LiveJob, view: Run) -> str:
    """status_text, or 'replaying' while the playback has not reached the end of a run that ended."""
    if view is not job.run and job.run.done and not job.lost:
        return "replaying"
    return status_text(job)


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


def gone_message(exc: BackendError | None, job_id: str) -> str:
    """One sentence for a link whose job the service cannot give back."""
    shown = job_id[:40]
    if exc is None:
        return f"The link names job {shown!r}, which is not a run id; press Train to start a run."
    if exc.reason == "restarted":
        return ("The run in this link is gone: the training service restarted after it was trained; "
                "press Train to run it again.")
    if exc.status == 410 or exc.reason == "forgotten":
        return ("The run in this link is gone: the training service keeps a finished run for "
                "VGRAD_RETENTION_SECONDS (10 minutes by default) after it was last watched; press Train to "
                "run it again.")
    if exc.status == 404:
        return f"The training service does not know the run in this link (job {shown!r}); press Train to start one."
    return f"The run in this link could not be reopened ({exc}); reload the page to try again."


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


def attach(client: BackendClient, job_id: str, key: str = JOB_KEY) -> tuple[LiveJob | None, str]:
    """Follow a job this session did not start (an earlier tab's, from the page's link) from its first
    record: (the job, "") stored under `key`, or (None, a sentence saying why it cannot be reopened)."""
    if not JOB_ID.fullmatch(job_id or ""):
        return None, gone_message(None, job_id or "")
    try:
        summary = client.job(job_id)
    except BackendError as exc:
        return None, gone_message(exc, job_id)
    if summary.get("records_freed"):
        return None, gone_message(BackendError("freed", 410), job_id)
    try:
        config = RunConfig.from_dict(summary.get("config") or {})
    except ConfigError as exc:
        return None, f"The run in this link has settings this version cannot read ({exc})."
    label = str(summary.get("label") or "")
    status = Status(summary.get("status", "queued"))
    job = LiveJob(job_id=job_id, config=config, preset=label if label in PRESETS else None, status=status,
                  fresh=False, attached=True, ended_before=status.final, shown=math.inf)
    st.session_state[key] = job
    return job, ""


def poll(client: BackendClient, job: LiveJob, max_pages: int = MAX_PAGES, skip_ahead: bool = False) -> int:
    """Fetch the records after job.offset, page by page while the service says more are ready, then the
    skipped ones (at most `max_pages` pages in all); returns how many arrived. With `skip_ahead`, a
    service more than SKIP_STEPS ahead makes the page jump to its newest records. Another thread
    polling this job already: returns 0 at once."""
    if not job._lock.acquire(blocking=False):
        return 0
    try:
        return _poll(client, job, max_pages, skip_ahead)
    finally:
        job._lock.release()


def _poll(client: BackendClient, job: LiveJob, max_pages: int, skip_ahead: bool) -> int:
    got = pages = 0
    while pages < max_pages and job.active:  # the live end first
        page = _fetch(client, job, job.offset)
        pages += 1
        if page is None:
            break
        job.add(page.records)
        job.offset, job.behind = page.next, page.more
        got += len(page.records)
        if not page.more:
            break
        if skip_ahead and page.step - job.available > SKIP_STEPS and pages < max_pages:
            pages += 1
            if not _skip(client, job):
                break
    while pages < max_pages and job.gaps and not job.lost:  # then what a jump skipped
        a, b = job.gaps[0]
        page = _fetch(client, job, a, limit=b - a)
        pages += 1
        if page is None:
            break
        job._fill(a, page.records)
        got += len(page.records)
    if job.run.done:
        job.status, job.message = job.run.status, job.run.message  # the status record is the last word
        _ask_duration(client, job)
    job._progress.append((time.monotonic(), job.service_step))
    return got


def _fetch(client: BackendClient, job: LiveJob, offset: int, limit: int | None = None) -> Page | None:
    """One page from `offset` (once more on a dropped connection), its news folded into `job`; None on
    failure (a job the service lost ends failed)."""
    try:
        try:
            page = client.records(job.job_id, offset, limit=limit)
        except BackendError as exc:
            if exc.status is not None:
                raise
            page = client.records(job.job_id, offset, limit=limit)  # once more: a dropped keep-alive socket
    except BackendError as exc:
        job.failures += 1
        if exc.status in (404, 410):
            lose(job, lost_message(exc, job))
        elif job.failures >= 3:
            job.error = str(exc)
        return None
    job.error, job.failures = "", 0
    job.status = page.status
    job.queue_position = page.queue_position
    job.paused = page.paused
    job.message = page.message or job.message
    job.service_step = page.step
    return page


def _skip(client: BackendClient, job: LiveJob) -> bool:
    """Jump to the last TAIL_RECORDS records; what lies between is read later. False on failure."""
    probe = _fetch(client, job, LAST_RECORD, limit=1)
    if probe is None:
        return False
    tail = max(job.offset, probe.next - TAIL_RECORDS)
    if tail > job.offset:
        job.gaps.append([job.offset, tail])
        job.offset = tail
    return True


def _ask_duration(client: BackendClient, job: LiveJob) -> None:
    """Once a job ended: how long the service trained it (for the average steps per second)."""
    if job._asked_duration or job.lost:
        return
    job._asked_duration = True
    try:
        summary = client.job(job.job_id)
        job.seconds = float(summary["finished"]) - float(summary["started"])
    except (BackendError, KeyError, TypeError, ValueError):
        job.seconds = None


def lose(job: LiveJob, message: str) -> None:
    """End a job the service no longer has: a failed status record carries `message` (one banner)."""
    job.lost, job.status, job.message, job.error = True, Status.FAILED, message, ""
    job.gaps.clear()
    if not job.run.done:
        job.run.add(StatusRecord(status=Status.FAILED, step=job.run.last_step, message=message))


def control(client: BackendClient, job: LiveJob, action: Action) -> str | None:
    """pause / resume / step / stop; returns an error sentence or None. A job that has just ended
    is not an error: the next poll reads its end."""
    try:
        answer = client.control(job.job_id, action)
    except BackendError as exc:
        return None if exc.status == 409 else str(exc)
    job.status = Status(answer.get("status", job.status))
    job.paused = bool(answer.get("paused", action in (Action.PAUSE, Action.STEP)))
    return None


# --- playback --------------------------------------------------------------------------------

def default_speed(config: RunConfig | None) -> str:
    """10 steps per second for a short run (it can be watched step by step), else real time."""
    return TEN_PER_SECOND if config is not None and config.total_steps <= SHORT_RUN else REAL_TIME


def rate(job: LiveJob, speed: str, now: float) -> float | None:
    """Steps per second the playback moves at; None: straight to the newest step."""
    if speed == TEN_PER_SECOND:
        return SLOW_RATE
    if speed != REAL_TIME:
        return None
    if job.run.done:
        return job.average_rate
    measured = job.steps_per_second
    if measured:
        return measured
    elapsed = now - job.started
    return job.service_step / elapsed if job.service_step and elapsed > 0 else None


def advance(job: LiveJob, speed: str, now: float | None = None) -> int:
    """Move the playback position by the time since the last call at `speed`; the steps it shows."""
    now = time.monotonic() if now is None else now
    dt = 0.0 if job.played_at is None else max(0.0, now - job.played_at)
    job.played_at = now
    available = job.available
    if math.isinf(job.shown):  # reattached: the newest state, then play on from there
        if not job.behind:
            job.shown = float(available)
        return available
    pace = rate(job, speed, now)
    if pace is None:
        job.shown = float(available)
    else:
        job.shown = min(float(available), job.shown + pace * dt)
        if speed == REAL_TIME:
            job.shown = max(job.shown, available - pace * MAX_LAG_SECONDS)
    return int(job.shown)


def replay(job: LiveJob) -> None:
    """Play the run again from its first step."""
    job.shown, job.played_at = 0.0, None


def view(job: LiveJob, shown: int) -> Run:
    """The run as far as its first `shown` steps (the run itself once the playback reached its end)."""
    run = job.run
    if shown >= job.available:
        return run
    v = Run(config=run.config, start=run.start, data=run.data, origin=run.origin)
    v.weights = {k: w for k, w in run.weights.items() if k == "initial"}
    v.steps = run.steps[:_upto(run.steps, shown)]
    v.last_step = v.steps[-1].step if v.steps else -1
    v.epochs = run.epochs[:_upto(run.epochs, shown)]
    v.snapshots = run.snapshots[:_upto(run.snapshots, shown)]
    v.boundaries = run.boundaries[:_upto(run.boundaries, shown)]
    v.spectra = run.spectra[:_upto(run.spectra, shown)]
    v.share_digests(run)  # its lists are prefixes of the run's: content_id without hashing again
    return v  # status "running": the end is still to come


def _upto(records: list, shown: int) -> int:
    return bisect_left(records, shown, key=lambda r: r.step)


# --- the session's history of finished runs -----------------------------------------------------

@dataclass
class Past:
    """A finished run of this session: what the history lists, and the job while memory allows."""

    job_id: str
    label: str
    status: str
    steps: int
    total_steps: int
    orders: float
    val_accuracy: float
    ended: float  # wall time it was remembered
    cells: int    # steps x layers: its weight in memory
    job: LiveJob | None = None


def history() -> list[Past]:
    """This session's finished runs, newest first."""
    return list(st.session_state.get(HISTORY_KEY, []))


def remember(job: LiveJob, label: str) -> None:
    """Put a finished, complete run at the top of the history (once); the oldest beyond HISTORY go,
    and beyond HISTORY_CELLS the older ones keep only their summary (reopened from the service)."""
    if not job.run.done or not job.complete or not job.run.steps:
        return
    items = history()
    if any(p.job_id == job.job_id for p in items):
        return
    run = job.run
    entry = Past(job.job_id, label, str(run.status), run.last_step + 1, run.total_steps, run.attenuation_orders(),
                 run.final_metrics().get("val_accuracy", math.nan), time.time(),
                 len(run.steps) * max(1, len(run.layers)), job)
    items = [entry, *items][:HISTORY]
    used = 0
    for p in items:
        used += p.cells
        if used > HISTORY_CELLS and p is not entry:
            p.job = None
    st.session_state[HISTORY_KEY] = items


def reopen(client: BackendClient | None, past: Past, key: str = JOB_KEY) -> str:
    """Make a remembered run the page's job again, shown at its end; "" or why it cannot be."""
    if past.job is not None:
        past.job.shown, past.job.played_at = float(past.job.available), None
        st.session_state[key] = past.job
        return ""
    if client is None:
        return "The training service is not answering; try again in a moment."
    job, problem = attach(client, past.job_id, key)
    return problem


# --- the fragment --------------------------------------------------------------------------------

def live_fragment(body: Callable[[LiveJob | None], None], client: BackendClient | None,
                  key: str = JOB_KEY, refresh: float = REFRESH_SECONDS) -> None:
    """Run `body(job)` in a fragment that polls the job every `refresh` seconds while it trains (or has
    records to read, or a playback to finish), every QUEUED_REFRESH seconds while it waits behind others.

    When the job ends, again when its playback ends, and when its turn comes, the whole page reruns once
    so controls outside the fragment update (and the timer stops or changes).
    """
    job = current(key)
    ctx = get_script_run_ctx()
    session = f"{ctx.session_id if ctx else 'bare'}/{key}"
    ticking = job is not None and client is not None and (job.needs_poll or job.playing)
    if ticking:
        crowd.watching(session)
    else:
        crowd.leave(session)
    own = refresh_for(job, refresh) if ticking else None  # the job's own interval (queued: longer)
    every = crowd.interval(own) if ticking else None  # longer still when many sessions watch

    timer_runs = [False]  # True once the fragment's own timer runs it (not the page's run below)

    @turns.fragment(run_every=every)
    def _live() -> None:
        started = time.perf_counter()
        j = current(key)
        was_active = j is not None and j.active
        was_ticking = j is not None and (j.needs_poll or j.playing)
        if j is not None and client is not None and j.needs_poll:
            if j.fresh:  # the job has no records yet; answer the click now, the next tick polls
                j.fresh = False
            else:
                poll(client, j, skip_ahead=st.session_state.get(SPEED_KEY) != TEN_PER_SECOND)
        body(j)
        if every is None or j is None:
            return
        crowd.ticked(session, time.perf_counter() - started)
        if (was_active and not j.active) or (was_ticking and not (j.needs_poll or j.playing)) \
                or refresh_for(j, refresh) != own or (timer_runs[0] and _crowd_changed(own, every)):
            st.rerun()  # ended, its turn came, or (on a tick) the crowd of watchers changed
        timer_runs[0] = True

    _live()


def _crowd_changed(own: float, every: float) -> bool:
    """The crowd of watchers wants another timer (a change at most every CROWD_RECHECK seconds a session)."""
    if crowd.interval(own) == every:
        return False
    now = time.monotonic()
    if now - st.session_state.get(_CROWD_CHANGED, 0.0) < CROWD_RECHECK:
        return False
    st.session_state[_CROWD_CHANGED] = now
    return True


def refresh_for(job: LiveJob, refresh: float = REFRESH_SECONDS) -> float:
    """Seconds between two polls: QUEUED_REFRESH while the job waits behind others, else `refresh`."""
    waiting = job.status == Status.QUEUED and not job.run.steps and (job.queue_position or 0) > 2
    return max(refresh, QUEUED_REFRESH) if waiting else refresh

