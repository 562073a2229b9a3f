"""The service's HTTP routes, one function each (an APIRouter included by vgrad.service.app).

    GET  /health                      Health (the only route without the token, see security.py)
    POST /jobs                        SubmitRequest -> Submitted (X-Vgrad-Client, X-Vgrad-Remote headers)
    GET  /jobs?client=ID              [JobSummary] (oldest first)
    GET  /jobs/{id}                   JobSummary with its config
    GET  /jobs/{id}/records?offset=N&limit=M&max_bytes=B
                                      RecordsPage: one bounded page; pass `next` back while `more`
    POST /jobs/{id}/{action}          JobSummary; action is pause, resume, step or stop
    GET  /jobs/{id}/events?offset=N   Server-Sent Events: one `data: <record json>` per record

Errors are JSON `{"detail": "<sentence>"}` (Problem): 400 bad config (names the field), 401 no
token, 413 run over a limit, 429 session, address or queue full, 404 unknown job (`reason`:
restarted, forgotten or unknown), 409 action on a finished job, 410 records freed.

Reading is bounded: a page holds at most VGRAD_PAGE_BYTES of records (max_bytes= up to
VGRAD_MAX_PAGE_BYTES), joined from the stored JSON in the thread pool (sync routes) or, for the
event stream, a page at a time between awaits; /health is async and takes no lock, so it answers
while pages are read.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse

from vgrad.config import ConfigError, RunConfig
from vgrad.limits import LimitError, check
from vgrad.records import Action
from vgrad.service.jobs import Job, JobError, JobManager, Slice, process_threads
from vgrad.service.schemas import Health, JobSummary, Problem, RecordsPage, SubmitRequest, Submitted
from vgrad.text import json_safe
from vgrad.uploads import UploadError, with_table

# SSE: how often a stream looks for new records, and sends a comment to keep proxies open.
EVENT_POLL_SECONDS = 0.1
KEEPALIVE_SECONDS = 15.0
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": Problem} for code in (400, 401, 404, 409, 410, 413, 429)}
# A page has at most this many records (and at most VGRAD_PAGE_BYTES of them).
PAGE_RECORDS, MAX_PAGE_RECORDS = 5000, 20000

router = APIRouter()


def manager_of(request: Request) -> JobManager:
    return request.app.state.manager


Manager = Depends(manager_of)


class SafeJSONResponse(JSONResponse):
    """JSON where NaN and infinities become null (browsers reject them)."""

    def render(self, content: Any) -> bytes:
        return dumps(content).encode("utf-8")


def dumps(obj: Any) -> str:
    try:
        return json.dumps(obj, allow_nan=False, separators=(",", ":"))
    except ValueError:
        return json.dumps(json_safe(obj), allow_nan=False, separators=(",", ":"))


def summary(manager: JobManager, job: Job, with_config: bool = False) -> dict:
    out = {"id": job.id, "client": job.client, "label": job.label, "status": job.status,
           "queue_position": manager.queue_position(job), "step": job.step,
           "total_steps": job.config.total_steps, "message": job.message, "created": job.created,
           "started": job.started, "finished": job.finished,
           "paused": job.paused and not job.done, "records": len(job.records), "records_freed": job.dropped}
    if with_config:
        out["config"] = job.config.to_dict()
    return out


@router.get("/health", response_model=Health)
async def health(request: Request) -> dict:
    """Liveness and readiness: `ready` turns true once TensorFlow is imported and warm. No token needed;
    `authenticated` says whether the request carried the right one. Async and lock-free: it answers
    on the event loop whatever the thread pool is doing."""
    manager: JobManager = request.app.state.manager
    counts = manager.counts()
    return {"ok": True, "ready": manager.ready.is_set() and not manager.warm_error,
            "tensorflow": manager.tensorflow or None, "error": manager.warm_error or None,
            "jobs": counts["running"] + counts["queued"], "running": counts["running"],
            "queued": counts["queued"], "precompiling": manager.precompiling, "workers": manager.workers,
            "threads": process_threads(), "pid": os.getpid(), "instance": manager.instance,
            "authenticated": bool(request.scope.get("state", {}).get("authenticated")),
            "limits": manager.limits.to_dict(),
            **(manager.executor.health() if manager.executor is not None else {"executor": "local", "ray": None})}


@router.post("/jobs", response_model=Submitted, responses=ERRORS)
def submit(body: SubmitRequest, request: Request, manager: JobManager = Manager,
           x_vgrad_client: str | None = Header(None, max_length=100, description="the browser session (set by the app)"),
           x_vgrad_remote: str | None = Header(None, max_length=100, description="the browser's address (set by the app)")):
    """Queue a run. 400: bad config; 413: over a limit; 429: session, address or queue full.

    Whose job it is comes from the X-Vgrad-Client and X-Vgrad-Remote headers, which only a caller
    with the service token can send (the Streamlit process); without them, the body's `client` and
    the caller's own address.
    """
    try:
        config = RunConfig.from_dict(body.config)
        config = with_table(config)  # an uploaded table sets n_features and n_classes (dataset=csv)
    except ConfigError as exc:
        return SafeJSONResponse({"detail": str(exc), "field": exc.field}, status_code=400)
    except UploadError as exc:
        return SafeJSONResponse({"detail": str(exc), "field": "data_id"}, status_code=400)
    try:
        check(config, manager.limits)
    except LimitError as exc:
        return SafeJSONResponse({"detail": str(exc), "limit": exc.name}, status_code=413)
    remote = x_vgrad_remote or (request.client.host if request.client else "")
    job = manager.submit(config, client=x_vgrad_client or body.client, label=body.label, remote=remote)
    return {"id": job.id, "status": job.status, "queue_position": manager.queue_position(job)}


@router.get("/jobs", response_model=list[JobSummary])
def list_jobs(client: str | None = Query(None, max_length=100), manager: JobManager = Manager) -> list[dict]:
    """Jobs the service remembers, oldest first; `client` filters (and counts as a poll of them)."""
    return [summary(manager, job) for job in manager.jobs(client)]


@router.get("/jobs/{job_id}", response_model=JobSummary, responses=ERRORS)
def get_job(job_id: str, manager: JobManager = Manager) -> dict:
    return summary(manager, manager.get(job_id), with_config=True)


@router.get("/jobs/{job_id}/records", response_model=RecordsPage, responses=ERRORS)
def records(job_id: str, offset: int = Query(0, ge=0, le=10**9),
            limit: int = Query(PAGE_RECORDS, ge=1, le=MAX_PAGE_RECORDS, description="records at most"),
            max_bytes: int | None = Query(None, ge=1, le=2**31, description="bytes of records at most (default "
                                          "VGRAD_PAGE_BYTES, capped at VGRAD_MAX_PAGE_BYTES)"),
            manager: JobManager = Manager) -> Response:
    """One page of records from `offset` on; pass the returned `next` as the following offset, at once
    while `more` is true. A sync route: the join runs in the thread pool, never on the event loop."""
    page = manager.page(job_id, offset, limit, max_bytes)
    job = page.job
    meta = {"next": page.next, "more": page.more, "status": page.status,
            "queue_position": manager.queue_position(job), "message": job.message, "step": job.step,
            "total_steps": job.config.total_steps, "paused": job.paused and not job.done}
    body = b'{"records":[' + b",".join(page.records) + b"]," + dumps(meta)[1:].encode()  # records are JSON already
    return Response(body, media_type="application/json")


@router.post("/jobs/{job_id}/{action}", response_model=JobSummary, responses=ERRORS)
def control(job_id: str, action: Action, manager: JobManager = Manager) -> dict:
    """pause: before the next step; resume; step: exactly one step, then stay paused; stop: end the
    job (status cancelled)."""
    return summary(manager, manager.control(job_id, action))


@router.get("/jobs/{job_id}/events", responses=ERRORS)
def events(job_id: str, offset: int = Query(0, ge=0, le=10**9), manager: JobManager = Manager) -> StreamingResponse:
    """Server-Sent Events: `id: <index>` and `data: <record json>` per record; ends after the status record."""
    manager.page(job_id, offset, 1)  # 404 / 410 before the stream starts
    return StreamingResponse(_stream(manager, job_id, offset), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _stream(manager: JobManager, job_id: str, offset: int) -> AsyncIterator[bytes]:
    """One bounded page per chunk, read in the thread pool: a long job never holds the event loop."""
    last_sent = time.monotonic()
    while True:
        try:
            page: Slice = await run_in_threadpool(manager.page, job_id, offset)
        except JobError as exc:
            yield f"event: error\ndata: {dumps({'detail': str(exc)})}\n\n".encode()
            return
        if page.records:
            yield b"".join(b"id: %d\ndata: %s\n\n" % (offset + i, rec) for i, rec in enumerate(page.records))
            offset = page.next
            last_sent = time.monotonic()
        if page.more:
            continue  # the rest now, a page per turn of the loop
        if page.status.final:
            return  # read before the records: the status record, the last one, was among them
        if time.monotonic() - last_sent > KEEPALIVE_SECONDS:
            yield b": keep-alive\n\n"
            last_sent = time.monotonic()
        await asyncio.sleep(EVENT_POLL_SECONDS)
