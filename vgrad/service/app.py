"""The training service's FastAPI app: a JobManager (and the SweepManager of vgrad.service.sweeps that
queues its sweeps' tasks there), the routes of vgrad.service.routes, uploads and sweeps, the
token and Host checks of vgrad.service.security, and errors as one sentence. The OpenAPI page is
served at /docs (it needs the token too).

    app = create_app(Settings.from_env())        # uvicorn.run(app, ...); app.state.token
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import replace

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError

from vgrad.service import sweeps, uploads
from vgrad.service.jobs import JobError, JobManager
from vgrad.service.ray_jobs import from_settings as executor_from_settings
from vgrad.service.routes import SafeJSONResponse, router
from vgrad.service.security import Guard, allowed_hosts, new_token
from vgrad.service.settings import Settings


def create_app(settings: Settings | None = None, train: Callable | None = None) -> FastAPI:
    """The service app; its JobManager starts with the app and stops with it.

    train: replaces vgrad.train.engine.train (tests use it to inject failures). Without a token in
    the settings, a random one is made (app.state.token): the service never runs open.
    """
    settings = settings or Settings.from_env()
    if not settings.token:
        settings = replace(settings, token=new_token())
    executor = None if train is not None else executor_from_settings(settings)  # VGRAD_EXECUTOR=ray: a cluster
    manager = JobManager(settings, train=train, executor=executor)
    if executor is not None and not settings.workers_given:
        executor.on_cpus = manager.grow_workers  # a job per CPU of the cluster trains at once
    sweep_manager = sweeps.SweepManager(manager)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if executor is not None:
            executor.start()  # connects in the background; jobs wait for it, /health shows how it went
        manager.start()
        sweep_manager.start()
        yield
        sweep_manager.close()
        manager.close()
        if executor is not None:
            executor.close()

    app = FastAPI(title="vgrad training service", version="1", lifespan=lifespan, max_body_size=256_000,
                  default_response_class=SafeJSONResponse,
                  description="Trains vgrad RunConfigs in a bounded worker pool and streams their records.")
    app.state.manager = manager
    app.state.sweeps = sweep_manager
    app.state.token = settings.token
    app.add_middleware(Guard, token=settings.token, hosts=allowed_hosts(settings))
    app.add_exception_handler(JobError, job_error)
    app.add_exception_handler(RequestValidationError, bad_request)
    app.include_router(router)
    app.include_router(uploads.router)
    app.include_router(sweeps.router)
    return app


async def job_error(request: Request, exc: JobError) -> SafeJSONResponse:
    body = {"detail": str(exc)} if exc.reason is None else {"detail": str(exc), "reason": exc.reason}
    return SafeJSONResponse(body, status_code=exc.status)


async def bad_request(request: Request, exc: RequestValidationError) -> SafeJSONResponse:
    """A malformed request: the first three problems, as one sentence each (400)."""
    problems = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        problems.append(f"{where or 'request'}: {err.get('msg', 'invalid')}")
    return SafeJSONResponse({"detail": "; ".join(problems)}, status_code=400)
