"""The service's request and response bodies, as pydantic models: /docs shows the real schema.

Records inside a RecordsPage are vgrad.records' typed records (a union on `kind`).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from vgrad.records import Record, Status

RecordItem = Annotated[Record, Field(discriminator="kind")]


class SubmitRequest(BaseModel):
    config: dict[str, Any] = Field(default_factory=dict, description="RunConfig fields; missing ones take defaults")
    client: str = Field("anonymous", max_length=100, description="whose job it is, used only without the "
                        "X-Vgrad-Client header (the app sends its session id there)")
    label: str = Field("", max_length=200, description="free text shown in job lists")


class Submitted(BaseModel):
    id: str
    status: Status
    queue_position: int | None = Field(None, description="1 = next to start; null when not queued")


class JobSummary(BaseModel):
    id: str
    client: str
    label: str
    status: Status
    queue_position: int | None
    step: int = Field(description="steps done")
    total_steps: int
    message: str
    created: float = Field(description="Unix time of the submit")
    started: float | None = Field(None, description="Unix time a worker took it")
    finished: float | None = Field(None, description="Unix time it ended")
    paused: bool
    records: int = Field(description="records made so far")
    records_freed: bool = Field(description="true once the records were freed (VGRAD_RETENTION_SECONDS)")
    config: dict[str, Any] | None = Field(None, description="the RunConfig (GET /jobs/{id} only)")


class RecordsPage(BaseModel):
    records: list[RecordItem] = Field(description="the job's records from `offset` on, in order, at most "
                                      "`limit` of them and at most `max_bytes` (one record always)")
    next: int = Field(description="the offset to ask for next")
    more: bool = Field(description="true when records after `next` exist already: ask again at once")
    status: Status
    queue_position: int | None
    message: str
    step: int
    total_steps: int
    paused: bool


class RayHealth(BaseModel):
    address: str = Field(description="VGRAD_RAY_ADDRESS (HOST:PORT or auto)")
    connected: bool = Field(description="true once the service is connected; trainings then run on the cluster")
    reachable: bool | None = Field(description="the cluster answered its last check (every 5 s); null while connecting")
    cpus: float | None = Field(description="CPUs of the cluster, all nodes together")
    nodes: int | None = Field(description="nodes alive in the cluster")
    error: str | None = Field(description="why the cluster is not used (the service then trains itself)")


class Health(BaseModel):
    ok: bool
    ready: bool = Field(description="true once TensorFlow is imported and warm")
    tensorflow: str | None
    error: str | None
    jobs: int
    running: int
    queued: int
    precompiling: bool = Field(description="true until the notebook presets are traced after the warm-up")
    workers: int
    threads: int
    pid: int
    instance: str = Field(description="this process's id: the first part of its job ids; changes on a restart")
    authenticated: bool = Field(description="true when this request carried the service token")
    limits: dict[str, int]
    executor: str = Field("local", description="where trainings run now: local (this service's worker threads) or "
                          "ray (a Ray cluster, VGRAD_EXECUTOR=ray)")
    ray: RayHealth | None = Field(None, description="the Ray cluster of VGRAD_EXECUTOR=ray, as last seen; null "
                                  "with VGRAD_EXECUTOR=local")


class Problem(BaseModel):
    detail: str = Field(description="a sentence for people")
    field: str | None = Field(None, description="the RunConfig field at fault (400)")
    limit: str | None = Field(None, description="the environment variable of the limit exceeded (413)")
    reason: str | None = Field(None, description="404: restarted (the service restarted since the job was "
                               "submitted), forgotten (ended and forgotten) or unknown")
