"""The service's HTTP routes, one function each (an APIRouter included by vgrad.service.app).

    GET  /health                      Health
    POST /jobs                        SubmitRequest -> Submitted
    GET  /jobs?client=ID              [JobSummary] (oldest first)
    GET  /jobs/{id}                   JobSummary with its config
    GET  /jobs/{id}/records?offset=N  RecordsPage (pass `next` as the following offset)
    POST /jobs/{id}/{action}          JobSummary; action is pause, resume, step or stop
    GET  /jobs/{id}/events?offset=N   Server-Sent Events: one `data: <record json>` per record

Errors are JSON `{"detail": "<sentence>"}` (Problem): 400 bad config (names the field), 413 run
over a limit, 429 client or queue full, 404 unknown job, 409 action on a finished job, 410
records freed.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from vgrad.config import ConfigError, RunConfig
from vgrad.limits import LimitError, check
from vgrad.records import Action
from vgrad.service.jobs import Job, JobError, JobManager, process_threads
from vgrad.service.schemas import Health, JobSummary, Problem, RecordsPage, SubmitRequest, Submitted

# SSE: how often a stream looks for new records, and sends a comment to keep proxies open.
EVENT_POLL_SECONDS = 0.1
KEEPALIVE_SECONDS = 15.0
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": Problem} for code in (400, 404, 409, 410, 413, 429)}

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
        return json.dumps(_finite(obj), allow_nan=False, separators=(",", ":"))


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def summary(manager: JobManager, job: Job, with_config: bool = False) -> dict:
    out = {"id": job.id, "client": job.client, "label": job.label, "status": job.status,
           "queue_position": manager.queue_position(job), "step": job.step,
           "total_steps": job.config.total_steps, "message": job.message, "created": job.created,
           "paused": job.paused and not job.done, "records": len(job.records), "records_freed": job.dropped}
    if with_config:
        out["config"] = job.config.to_dict()
    return out


@router.get("/health", response_model=Health)
def health(request: Request, manager: JobManager = Manager) -> dict:
    """Liveness and readiness: `ready` turns true once TensorFlow is imported and warm."""
    counts = manager.counts()
    return {"ok": True, "ready": manager.ready.is_set() and not manager.warm_error,
            "tensorflow": manager.tensorflow or None, "error": manager.warm_error or None,
            "jobs": counts["running"] + counts["queued"], "running": counts["running"],
            "queued": counts["queued"], "precompiling": manager.precompiling, "workers": manager.settings.workers,
            "threads": process_threads(), "pid": os.getpid(), "limits": manager.limits.to_dict()}


@router.post("/jobs", response_model=Submitted, responses=ERRORS)
def submit(body: SubmitRequest, manager: JobManager = Manager):
    """Queue a run. 400: bad config; 413: over a limit; 429: client or queue full."""
    try:
        config = RunConfig.from_dict(body.config)
    except ConfigError as exc:
        return SafeJSONResponse({"detail": str(exc), "field": exc.field}, status_code=400)
    try:
        check(config, manager.limits)
    except LimitError as exc:
        return SafeJSONResponse({"detail": str(exc), "limit": exc.name}, status_code=413)
    job = manager.submit(config, client=body.client, label=body.label)
    return {"id": job.id, "status": job.status, "queue_position": manager.queue_position(job)}


@router.get("/jobs", response_model=list[JobSummary])
def list_jobs(client: str | None = Query(None, max_length=100), manager: JobManager = Manager) -> list[dict]:
    """Jobs the service remembers, oldest first; `client` filters (and counts as a poll of them)."""
    return [summary(manager, job) for job in manager.jobs(client)]


@router.get("/jobs/{job_id}", response_model=JobSummary, responses=ERRORS)
def get_job(job_id: str, manager: JobManager = Manager) -> dict:
    return summary(manager, manager.get(job_id), with_config=True)


@router.get("/jobs/{job_id}/records", response_model=RecordsPage, responses=ERRORS)
def records(job_id: str, offset: int = Query(0, ge=0), manager: JobManager = Manager) -> Response:
    """Records from `offset` on; pass the returned `next` as the following offset."""
    status, recs = manager.records(job_id, offset)
    job = manager.get(job_id, touch=False)
    meta = {"next": offset + len(recs), "status": status, "queue_position": manager.queue_position(job),
            "message": job.message, "step": job.step, "total_steps": job.config.total_steps,
            "paused": job.paused and not job.done}
    body = '{"records":[' + ",".join(recs) + "]," + dumps(meta)[1:]  # each record is JSON already
    return Response(body.encode("utf-8"), media_type="application/json")


@router.post("/jobs/{job_id}/{action}", response_model=JobSummary, responses=ERRORS)
def control(job_id: str, action: Action, manager: JobManager = Manager) -> dict:
    """pause: before the next step; resume; step: exactly one step, then stay paused; stop: end the
    job (status cancelled)."""
    return summary(manager, manager.control(job_id, action))


@router.get("/jobs/{job_id}/events", responses=ERRORS)
def events(job_id: str, offset: int = Query(0, ge=0), manager: JobManager = Manager) -> StreamingResponse:
    """Server-Sent Events: `id: <index>` and `data: <record json>` per record; ends after the status record."""
    manager.records(job_id, offset)  # 404 / 410 before the stream starts
    return StreamingResponse(_stream(manager, job_id, offset), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _stream(manager: JobManager, job_id: str, offset: int) -> AsyncIterator[str]:
    last_sent = time.monotonic()
    while True:
        try:
            status, recs = manager.records(job_id, offset)
        except JobError as exc:
            yield f"event: error\ndata: {dumps({'detail': str(exc)})}\n\n"
            return
        for rec in recs:
            yield f"id: {offset}\ndata: {rec}\n\n"
            offset += 1
        if status.final:
            return  # read before the records: the status record, the last one, was among them
        if recs:
            last_sent = time.monotonic()
        elif time.monotonic() - last_sent > KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            last_sent = time.monotonic()
        await asyncio.sleep(EVENT_POLL_SECONDS)
