"""The HTTP API of the training service (FastAPI). The OpenAPI page is served at /docs.

    GET  /health                      {"ok", "ready", "tensorflow", "jobs", "running", "queued", ...}
    POST /jobs                        {"config": {...}, "client": "...", "label": "..."} -> {"id", "status", "queue_position"}
    GET  /jobs?client=ID              job summaries (oldest first)
    GET  /jobs/{id}                   summary + "config"
    GET  /jobs/{id}/records?offset=N  {"records": [...], "next", "status", "queue_position", "message"}
    POST /jobs/{id}/pause|resume|step|stop  summary
    GET  /jobs/{id}/events?offset=N   Server-Sent Events: one `data: <record json>` per record

Errors are JSON `{"detail": "<sentence>"}`: 400 bad config (names the field), 413 run over a
limit, 429 client or queue full, 404 unknown job, 409 action on a finished job, 410 records freed.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from vgrad.config import ConfigError, RunConfig
from vgrad.limits import LimitError, check
from vgrad.service.jobs import ACTIVE, Job, JobError, JobManager, process_threads
from vgrad.service.settings import Settings

# SSE: how often a stream looks for new records, and sends a comment to keep proxies open.
EVENT_POLL_SECONDS = 0.1
KEEPALIVE_SECONDS = 15.0


class SubmitRequest(BaseModel):
    config: dict[str, Any] = Field(default_factory=dict, description="RunConfig fields; missing ones take defaults")
    client: str = Field("anonymous", max_length=100, description="who submits (a browser session id)")
    label: str = Field("", max_length=200, description="free text shown in job lists")


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


def create_app(settings: Settings | None = None, train: Callable | None = None) -> FastAPI:
    """The service app; its JobManager starts with the app and stops with it.

    train: replaces vgrad.engine.train (tests use it to inject failures).
    """
    settings = settings or Settings.from_env()
    manager = JobManager(settings, train=train)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        manager.start()
        yield
        manager.close()

    app = FastAPI(title="vgrad training service", version="1", lifespan=lifespan, max_body_size=256_000,
                  default_response_class=SafeJSONResponse,
                  description="Trains vgrad RunConfigs in a bounded worker pool and streams their records.")
    app.state.manager = manager

    @app.exception_handler(JobError)
    async def job_error(request: Request, exc: JobError):
        return SafeJSONResponse({"detail": str(exc)}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        problems = []
        for err in exc.errors()[:3]:
            where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
            problems.append(f"{where or 'request'}: {err.get('msg', 'invalid')}")
        return SafeJSONResponse({"detail": "; ".join(problems)}, status_code=400)

    @app.get("/health")
    def health() -> dict:
        """Liveness and readiness: `ready` turns true once TensorFlow is imported and warm."""
        counts = manager.counts()
        return {"ok": True, "ready": manager.ready.is_set() and not manager.warm_error,
                "tensorflow": manager.tensorflow or None, "error": manager.warm_error or None,
                "jobs": counts["running"] + counts["queued"], "running": counts["running"],
                "queued": counts["queued"], "precompiling": manager.precompiling, "workers": settings.workers,
                "threads": process_threads(), "pid": os.getpid(),
                "limits": settings.limits.to_dict()}

    @app.post("/jobs")
    def submit(body: SubmitRequest) -> dict:
        """Queue a run. 400: bad config; 413: over a limit; 429: client or queue full."""
        try:
            config = RunConfig.from_dict(body.config)
        except ConfigError as exc:
            return SafeJSONResponse({"detail": str(exc), "field": exc.field}, status_code=400)
        try:
            check(config, settings.limits)
        except LimitError as exc:
            return SafeJSONResponse({"detail": str(exc), "limit": exc.name}, status_code=413)
        job = manager.submit(config, client=body.client, label=body.label)
        return {"id": job.id, "status": job.status, "queue_position": manager.queue_position(job)}

    @app.get("/jobs")
    def list_jobs(client: str | None = Query(None, max_length=100)) -> list[dict]:
        """Jobs the service remembers, oldest first; `client` filters (and counts as a poll of them)."""
        return [summary(manager, job) for job in manager.jobs(client)]

    @app.get("/jobs/{job_id}")
    def get_job(job_id: str) -> dict:
        return summary(manager, manager.get(job_id), with_config=True)

    @app.get("/jobs/{job_id}/records")
    def records(job_id: str, offset: int = Query(0, ge=0)) -> dict:
        """Records from `offset` on; pass the returned `next` as the following offset."""
        status, recs = manager.records(job_id, offset)
        job = manager.get(job_id, touch=False)
        return {"records": recs, "next": offset + len(recs), "status": status,
                "queue_position": manager.queue_position(job), "message": job.message,
                "step": job.step, "total_steps": job.config.total_steps, "paused": job.paused and not job.done}

    def control_route(action: str):
        def control(job_id: str) -> dict:
            return summary(manager, manager.control(job_id, action))

        control.__name__ = f"{action}_job"
        control.__doc__ = {"pause": "Pause before the next step.", "resume": "Run on after a pause.",
                           "step": "Run exactly one step, then stay paused.",
                           "stop": "End the job (status cancelled)."}[action]
        app.post(f"/jobs/{{job_id}}/{action}")(control)

    for action in ("pause", "resume", "step", "stop"):
        control_route(action)

    @app.get("/jobs/{job_id}/events")
    def events(job_id: str, offset: int = Query(0, ge=0)) -> StreamingResponse:
        """Server-Sent Events: `id: <index>` and `data: <record json>` per record; ends after the status record."""
        manager.records(job_id, offset)  # 404 / 410 before the stream starts
        return StreamingResponse(_stream(manager, job_id, offset), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return app


async def _stream(manager: JobManager, job_id: str, offset: int) -> AsyncIterator[str]:
    last_sent = time.monotonic()
    while True:
        try:
            status, recs = manager.records(job_id, offset)
        except JobError as exc:
            yield f"event: error\ndata: {dumps({'detail': str(exc)})}\n\n"
            return
        for rec in recs:
            yield f"id: {offset}\ndata: {dumps(rec)}\n\n"
            offset += 1
            if rec.get("kind") == "status":
                return
        if not recs and status not in ACTIVE:
            return  # the offset was past the status record
        if recs:
            last_sent = time.monotonic()
        elif time.monotonic() - last_sent > KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            last_sent = time.monotonic()
        await asyncio.sleep(EVENT_POLL_SECONDS)
