"""Sweeps in the training service: a grid of cells trained by the same workers, in the same fair queue.

    POST /sweeps                          a SweepSpec.to_dict() body (+ "label") -> {"id", "n_cells", "n_tasks"}
    GET  /sweeps?client=ID                [SweepSummary], oldest first (counts as a poll of them)
    GET  /sweeps/{id}?offset=N&limit=M    SweepPage: status, progress, time left and the cells from N on
    POST /sweeps/{id}/stop                SweepSummary (a finished sweep stays as it is)

A sweep is planned into tasks (`vgrad.sweep.plan`: cells of one architecture stacked, the rest one
cell each); each task is a work item of the job manager (`JobManager.submit_task`) owned by the
session's sweep queue (`<session>/sweep`), so a free worker takes the next job of whichever session
was served longest ago: a sweep of a thousand cells delays a classmate's Explorer run by at most
one task, and never uses more than VGRAD_MAX_RUNNING workers at once. Only each cell's summary is
kept (vgrad.sweep.CellResult, a kilobyte or so; never a run's records), as JSON made once.

Refusals are one sentence: 400 with SweepError's (it names the axis or setting) or the config's, 413
when a cell is bigger than a run may be (vgrad.limits), 429 when the session already runs a sweep
or VGRAD_MAX_SWEEPS do. A sweep nobody polls for VGRAD_ABANDON_SECONDS is cancelled, like a job; a
finished one is forgotten VGRAD_RETENTION_SECONDS after its last poll (the KEEP_FINISHED newest stay
at most).
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from vgrad import settings as vgrad_settings
from vgrad.config import ConfigError, RunConfig, value_text
from vgrad.limits import LimitError
from vgrad.limits import check as check_limits
from vgrad.service.jobs import Job, JobError, JobManager
from vgrad.sweep import (
    FORMAT,
    FORMAT_VERSION,
    CellRun,
    SweepError,
    SweepSpec,
    Task,
    make_spec,
    parse_axis,
    plan,
    result_of,
)
from vgrad.text import json_safe
from vgrad.uploads import UploadError, with_table

STATUSES = ("queued", "running", "finished", "cancelled", "failed")
FINAL = frozenset({"finished", "cancelled", "failed"})
KEEP_FINISHED = 50
# Cells per page at most (and at most VGRAD_PAGE_BYTES of them).
PAGE_CELLS, MAX_PAGE_CELLS = 2000, 10000
# A sweep is cut into at least this many tasks (when it has the cells): the map fills in as they end.
MIN_TASKS = 8
ID = re.compile(r"([0-9a-f]{8})-s([0-9]{1,12})-[0-9a-f]{8}")

router = APIRouter()


# --- the sweeps ---------------------------------------------------------------------------------
@dataclass
class Sweep:
    id: str
    client: str
    remote: str
    label: str
    spec: SweepSpec
    tasks: dict[str, Job]  # pending work items by id
    costs: dict[str, float]  # every task's cost, by id
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    status: str = "queued"
    message: str = ""
    cells: list[bytes] = field(default_factory=list)  # each finished cell's JSON, in the order they ended
    cost_done: float = 0.0
    failed: int = 0  # tasks that crashed
    polled: float = field(default_factory=time.monotonic)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @property
    def done(self) -> bool:
        return self.status in FINAL

    def state(self) -> str:
        """queued until a worker takes one of its tasks (then started is set), then running, then final."""
        with self.lock:
            if self.status == "queued":
                running = [j.started for j in self.tasks.values() if j.started is not None]
                if running:
                    self.started = self.started or min(running)
                    self.status = "running"
            return self.status

    def elapsed(self) -> float:
        return max(0.0, (self.finished or time.time()) - self.created)

    def left(self) -> float | None:
        """Seconds left, from the share of the work done so far (tasks weighted by their cost)."""
        total = sum(self.costs.values())
        if self.done or self.started is None or not total or self.cost_done <= 0:
            return 0.0 if self.done else None
        share = min(1.0, self.cost_done / total)
        return max(0.0, (time.time() - self.started) * (1 - share) / share)


class SweepManager:
    """The sweeps of one service, their tasks in the JobManager's queue; a reaper thread cancels the
    abandoned ones and forgets old ones."""

    def __init__(self, jobs: JobManager):
        self.jobs = jobs
        self.settings = jobs.settings
        self._lock = threading.Lock()
        self._sweeps: dict[str, Sweep] = {}
        self._seq = 0
        self._closing = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._reap, name="vgrad-sweep-reaper", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._closing = True
        for sweep in list(self._sweeps.values()):
            self.stop(sweep.id, "the service is shutting down")

    # --- requests -------------------------------------------------------------------------------
    def submit(self, spec: SweepSpec, client: str, remote: str = "", label: str = "") -> Sweep:
        """Queue every task of `spec` for session `client`; JobError(429) when it runs a sweep already or
        the service runs VGRAD_MAX_SWEEPS."""
        with self._lock:
            if self._closing:
                raise JobError(503, "the service is shutting down")
            active = [s for s in self._sweeps.values() if not s.done]
            mine = [s for s in active if s.client == client]
            if mine:
                raise JobError(429, f"this session already runs a sweep ({mine[0].id}, {len(mine[0].cells)} of "
                               f"{mine[0].spec.n_cells} cells done); the server runs one sweep per browser session. "
                               "Stop it or wait for it to finish.")
            cap = vgrad_settings.max_sweeps()
            if len(active) >= cap:
                raise JobError(429, f"the server runs {len(active)} sweeps already, at most {cap} at once "
                               "(VGRAD_MAX_SWEEPS). Try again when one has finished.")
            self._seq += 1
            sweep = Sweep(id=f"{self.jobs.instance}-s{self._seq}-{secrets.token_hex(4)}", client=client,
                          remote=remote, label=label, spec=spec, tasks={}, costs={})
            self._sweeps[sweep.id] = sweep
        tasks = service_plan(spec, self.jobs.workers)
        owner = f"{client}/sweep"  # the session's sweep is a queue of its own in the round-robin
        try:
            with sweep.lock:  # a task that ends at once waits for the others to be counted
                for task in tasks:
                    holder: dict[str, Job] = {}
                    job = self.jobs.submit_task(task, task.cells[0].config, owner, remote, label=f"sweep {sweep.id}",
                                                on_done=self._on_done(sweep, task, holder))
                    holder["job"] = job
                    sweep.tasks[job.id] = job
                    sweep.costs[job.id] = task.cost
        except JobError as exc:
            self.stop(sweep.id, str(exc))
            raise
        return sweep

    def get(self, sweep_id: str, touch: bool = True) -> Sweep:
        with self._lock:
            sweep = self._sweeps.get(sweep_id)
        if sweep is None:
            raise self._unknown(str(sweep_id))
        if touch:
            sweep.polled = time.monotonic()
        sweep.state()
        return sweep

    def sweeps(self, client: str | None = None) -> list[Sweep]:
        with self._lock:
            found = [s for s in self._sweeps.values() if client is None or s.client == client]
        for sweep in found:
            if client is not None:
                sweep.polled = time.monotonic()
            sweep.state()
        return sorted(found, key=lambda s: s.created)

    def page(self, sweep_id: str, offset: int = 0, limit: int = PAGE_CELLS) -> tuple[Sweep, str, list[bytes], int]:
        """(sweep, its status, at most `limit` cells' JSON from `offset` (and at most page_bytes), next offset).
        The status is read first: a final status comes with the last cells."""
        sweep = self.get(sweep_id)
        status = sweep.state()
        cells = sweep.cells  # only ever appended to
        start = min(max(0, offset), len(cells))
        out, used = [], 0
        for i in range(start, min(len(cells), start + max(1, limit))):
            if out and used + len(cells[i]) > self.settings.page_bytes:
                break
            out.append(cells[i])
            used += len(cells[i]) + 1
        return sweep, status, out, start + len(out)

    def stop(self, sweep_id: str, reason: str = "") -> Sweep:
        """Cancel a sweep: its queued tasks leave the queue, running ones stop within a step. A final sweep
        stays as it is."""
        sweep = self.get(sweep_id, touch=False)
        with sweep.lock:
            if sweep.done:
                return sweep
            sweep.status, sweep.finished = "cancelled", time.time()
            sweep.message = reason or f"stopped by request after {len(sweep.cells)} of {sweep.spec.n_cells} cells"
            pending = list(sweep.tasks)
            sweep.tasks.clear()
        for job_id in pending:
            try:
                self.jobs.control(job_id, "stop")
            except JobError:
                pass  # it ended meanwhile
        return sweep

    def _unknown(self, sweep_id: str) -> JobError:
        shown = repr(sweep_id[:40])
        found = ID.fullmatch(sweep_id)
        if found and found[1] != self.jobs.instance:
            return JobError(404, f"sweep {shown} was lost: the training service restarted after it was submitted",
                            "restarted")
        if found and int(found[2]) <= self._seq:
            return JobError(404, f"sweep {shown} ended and was forgotten: the service keeps a finished sweep "
                            f"{self.settings.retention_seconds:g} s after its last poll (VGRAD_RETENTION_SECONDS)",
                            "forgotten")
        return JobError(404, f"no sweep {shown}: unknown id", "unknown")

    # --- results, in the worker threads ----------------------------------------------------------
    def _on_done(self, sweep: Sweep, task: Task, holder: dict[str, Job]):
        cells = {c.index: c for c in task.cells}

        def on_done(result: list[CellRun] | None, error: str) -> None:
            made = []
            for run in result or []:
                if run.cell not in cells or any(m.status == "cancelled" for m in run.measures):
                    continue  # stopped mid-training: not a result
                made.append(_cell_json(result_of(cells[run.cell], run)))
            with sweep.lock:
                job = holder["job"]
                sweep.started = sweep.started or job.started
                sweep.cells.extend(made)
                if sweep.tasks.pop(job.id, None) is not None:
                    sweep.cost_done += sweep.costs.get(job.id, 0.0)
                if error:
                    sweep.failed += 1
                    sweep.message = sweep.message or error
                if not sweep.tasks and not sweep.done:
                    sweep.state()
                    sweep.finished = time.time()
                    if sweep.failed:
                        sweep.status = "failed"
                        sweep.message = (f"{sweep.failed} of {len(sweep.costs)} tasks failed; "
                                         f"{len(sweep.cells)} of {sweep.spec.n_cells} cells done. {sweep.message}")
                    else:
                        sweep.status = "finished"

        return on_done

    # --- housekeeping ---------------------------------------------------------------------------
    def _reap(self) -> None:
        s = self.settings
        every = max(0.05, min(1.0, s.abandon_seconds / 4, s.retention_seconds / 4))
        while not self._closing:
            time.sleep(every)
            self.reap()

    def reap(self) -> None:
        """Cancel sweeps nobody polls; forget finished ones after the retention time (and beyond KEEP_FINISHED)."""
        s = self.settings
        now = time.monotonic()
        for sweep in list(self._sweeps.values()):
            idle = now - sweep.polled
            if not sweep.done and idle > s.abandon_seconds:
                self.stop(sweep.id, f"cancelled: nobody polled this sweep for {s.abandon_seconds:g} s "
                          "(VGRAD_ABANDON_SECONDS)")
        with self._lock:
            finished = sorted((x for x in self._sweeps.values() if x.done), key=lambda x: x.polled)
            for i, sweep in enumerate(finished):
                if now - sweep.polled > s.retention_seconds or i < len(finished) - KEEP_FINISHED:
                    self._sweeps.pop(sweep.id, None)


def service_plan(spec: SweepSpec, workers: int) -> list[Task]:
    """vgrad.sweep.plan's tasks, the largest stacks halved until there are MIN_TASKS (or one per cell):
    the map fills in as tasks end, and no task holds a worker for long."""
    tasks = plan(spec, spec.cells(), workers)
    want = min(spec.n_cells, max(MIN_TASKS, 2 * workers))
    while len(tasks) < want:
        big = max(range(len(tasks)), key=lambda i: (len(tasks[i].cells), tasks[i].cost))
        task = tasks[big]
        if len(task.cells) < 2:
            break
        half = len(task.cells) // 2
        tasks[big:big + 1] = [dataclasses.replace(task, cells=task.cells[:half]),
                              dataclasses.replace(task, cells=task.cells[half:])]
    return sorted(tasks, key=lambda t: -t.cost)


def _cell_json(result) -> bytes:
    return json.dumps(json_safe(result.to_dict()), allow_nan=False, separators=(",", ":")).encode()


# --- reading a request ----------------------------------------------------------------------------
class AxisBody(BaseModel):
    field: str = Field(max_length=60, description="a RunConfig field (vgrad.config.FIELDS), not seed")
    values: list[bool | int | float | str] = Field(description="the values, in order (at most "
                                                   "VGRAD_MAX_AXIS_VALUES)")


class SweepRequest(BaseModel):
    format: str = Field(FORMAT, max_length=40)
    version: int = FORMAT_VERSION
    base: dict[str, Any] = Field(default_factory=dict, description="the base RunConfig's fields")
    axes: list[AxisBody | str] = Field(max_length=10, description="1 to 3 axes, each {field, values} or the "
                                       "command line's text FIELD=VALUES (hidden_layers=2,4,8, init_gain=0.5:3:11, "
                                       "learning_rate=1e-4:1:9:log); the last varies fastest")
    seeds: int = Field(1, description="trainings per cell (seed, seed + 1, ...)")
    mode: str = Field("trained", max_length=20, description="trained or init (one measurement at initialisation)")
    steps: int = Field(0, description="optimizer steps per cell (0: the base config's)")
    threshold: float = Field(0.3, description="the training loss steps_to_loss counts steps to")
    label: str = Field("", max_length=200)


def spec_of(body: SweepRequest) -> SweepSpec:
    """The checked SweepSpec of a request; SweepError or ConfigError (or UploadError) with one sentence.
    Each axis is read as its CLI text, so it gets every check of vgrad.sweep.parse_axis."""
    if body.format != FORMAT:
        raise SweepError("format", f"not a {FORMAT} description (format {body.format[:40]!r})")
    if body.version > FORMAT_VERSION:
        raise SweepError("version", f"a {FORMAT} description of version {body.version}; this service reads up "
                         f"to {FORMAT_VERSION}")
    limits = vgrad_settings.sweep_limits()
    if not body.axes:
        raise SweepError("axis", "a sweep needs at least one axis (FIELD=VALUES)")
    if len(body.axes) > 3:
        raise SweepError("axis", f"{len(body.axes)} axes; a sweep has at most 3")
    axes = []
    for a in body.axes:
        if isinstance(a, str):
            axes.append(parse_axis(a[:20_000], limits["VGRAD_MAX_AXIS_VALUES"]))
            continue
        if len(a.values) > limits["VGRAD_MAX_AXIS_VALUES"]:
            raise SweepError(a.field, f"axis {a.field}: {len(a.values)} values; at most "
                             f"{limits['VGRAD_MAX_AXIS_VALUES']} (VGRAD_MAX_AXIS_VALUES)")
        axes.append(parse_axis(f"{a.field}={','.join(value_text(v) for v in a.values)}",
                               limits["VGRAD_MAX_AXIS_VALUES"]))
    base = RunConfig.from_dict(body.base)
    if base.dataset == "csv":
        base = with_table(base)
    return make_spec(base, axes, seeds=body.seeds, mode=body.mode, steps=body.steps, threshold=body.threshold,
                     limits=limits)


def check_cells(spec: SweepSpec, manager: JobManager) -> None:
    """LimitError when a cell is bigger than one run may be (each distinct cell config once)."""
    seen = set()
    for cell in spec.cells():
        key = tuple(sorted(cell.values.items(), key=lambda kv: kv[0]))
        if key in seen:
            continue
        seen.add(key)
        try:
            check_limits(cell.config, manager.limits)
        except LimitError as exc:
            shown = ", ".join(f"{k}={value_text(v)}" for k, v in cell.values.items())
            raise LimitError(exc.name, f"the cell {shown}: {exc}") from None


# --- routes -----------------------------------------------------------------------------------
class SweepSubmitted(BaseModel):
    id: str
    status: str
    n_cells: int
    n_tasks: int


class SweepSummary(BaseModel):
    id: str
    client: str
    label: str
    status: str = Field(description="queued, running, finished, cancelled or failed")
    done: int = Field(description="cells finished")
    total: int = Field(description="cells in the sweep")
    tasks_left: int
    n_tasks: int
    elapsed: float = Field(description="seconds since it was submitted (to its end, once it ended)")
    left: float | None = Field(None, description="estimated seconds left (null until a task has finished)")
    message: str
    created: float
    started: float | None
    finished: float | None


class SweepPage(SweepSummary):
    spec: dict[str, Any] = Field(description="the sweep (SweepSpec.to_dict())")
    cells: list[dict[str, Any]] = Field(description="CellResult.to_dict() of each finished cell from `offset` on, in "
                                        "the order they finished")
    next: int = Field(description="the offset to ask for next")
    more: bool = Field(description="true when cells after `next` are there already: ask again at once")


def sweeps_of(request: Request) -> SweepManager:
    return request.app.state.sweeps


def summary(sweep: Sweep, status: str | None = None) -> dict:
    with sweep.lock:
        pending = len(sweep.tasks)
    return {"id": sweep.id, "client": sweep.client, "label": sweep.label, "status": status or sweep.state(),
            "done": len(sweep.cells), "total": sweep.spec.n_cells, "tasks_left": pending,
            "n_tasks": len(sweep.costs), "elapsed": round(sweep.elapsed(), 3),
            "left": None if sweep.left() is None else round(sweep.left(), 1), "message": sweep.message,
            "created": sweep.created, "started": sweep.started, "finished": sweep.finished}


def _problem(status: int, detail: str, **extra: str):
    from vgrad.service.routes import SafeJSONResponse

    return SafeJSONResponse({"detail": detail, **extra}, status_code=status)


@router.post("/sweeps", response_model=SweepSubmitted)
def submit_sweep(body: SweepRequest, request: Request,
                 x_vgrad_client: str | None = Header(None, max_length=100, description="the browser session"),
                 x_vgrad_remote: str | None = Header(None, max_length=100, description="the browser's address")):
    """Queue a sweep. 400: refused spec (the sentence names the axis or setting); 413: a cell over a run
    limit; 429: this session runs a sweep already, or the server runs VGRAD_MAX_SWEEPS."""
    try:
        spec = spec_of(body)
    except SweepError as exc:
        return _problem(400, str(exc), field=exc.axis)
    except ConfigError as exc:
        return _problem(400, f"base config: {exc}", field=exc.field)
    except UploadError as exc:
        return _problem(400, str(exc), field="data_id")
    manager: JobManager = request.app.state.manager
    try:
        check_cells(spec, manager)
    except LimitError as exc:
        return _problem(413, str(exc), limit=exc.name)
    remote = x_vgrad_remote or (request.client.host if request.client else "")
    sweep = sweeps_of(request).submit(spec, x_vgrad_client or remote or "anonymous", remote, body.label)
    return {"id": sweep.id, "status": sweep.state(), "n_cells": spec.n_cells, "n_tasks": len(sweep.costs)}


@router.get("/sweeps", response_model=list[SweepSummary])
def list_sweeps(request: Request, client: str | None = Query(None, max_length=100)) -> list[dict]:
    """The sweeps the service remembers, oldest first; `client` filters (and counts as a poll of them)."""
    return [summary(s) for s in sweeps_of(request).sweeps(client)]


@router.get("/sweeps/{sweep_id}", response_model=SweepPage)
def get_sweep(sweep_id: str, request: Request, offset: int = Query(0, ge=0, le=10**9),
              limit: int = Query(PAGE_CELLS, ge=1, le=MAX_PAGE_CELLS)) -> Response:
    """Progress and the finished cells from `offset` on (a bounded page: pass `next` back while `more`)."""
    sweep, status, cells, nxt = sweeps_of(request).page(sweep_id, offset, limit)
    from vgrad.service.routes import dumps

    meta = {**summary(sweep, status), "spec": sweep.spec.to_dict(), "next": nxt, "more": nxt < len(sweep.cells)}
    body = b'{"cells":[' + b",".join(cells) + b"]," + dumps(meta)[1:].encode()  # the cells are JSON already
    return Response(body, media_type="application/json")


@router.post("/sweeps/{sweep_id}/stop", response_model=SweepSummary)
def stop_sweep(sweep_id: str, request: Request) -> dict:
    """Cancel the sweep (its finished cells stay readable); a sweep that ended is left as it is."""
    return summary(sweeps_of(request).stop(sweep_id))
