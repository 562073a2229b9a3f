"""Settings of the training service, from environment variables (no TensorFlow import).

Variable                  Default            Meaning
VGRAD_HOST                127.0.0.1          address the service binds (keep it local unless proxied)
VGRAD_BACKEND_PORT        8502               port of `python -m vgrad.service` (`--port` overrides)
VGRAD_WORKERS             one per CPU core   trainings running at the same time (threads, one TF runtime)
VGRAD_ABANDON_SECONDS     60                 a queued/running job nobody polled for this long is cancelled
VGRAD_RETENTION_SECONDS   600                a finished job's records are freed this long after its last poll
VGRAD_KEEP_FINISHED       200                finished jobs remembered (oldest forgotten first)
VGRAD_MAX_STORED          10000000           numbers kept in finished jobs' records, all jobs together
VGRAD_WARM                1                  import TensorFlow and train a 1-step run at start (0 = skip)
VGRAD_SERVICE_TOKEN       (random at start)  the bearer token every request but /health must carry
VGRAD_SERVICE_HOSTS       (none)             Host names accepted besides loopback ones (comma-separated)
VGRAD_PAGE_BYTES          1048576            bytes of records in one page of GET /jobs/{id}/records
VGRAD_MAX_PAGE_BYTES      4194304            the largest page a client may ask for (max_bytes=)
VGRAD_PAUSE_SECONDS       300                a job paused this long is cancelled when others wait for a worker
VGRAD_BACKEND_URL         (unset)            the Streamlit app uses this service instead of starting one
VGRAD_EXECUTOR            local              where trainings run: local (the worker threads) or ray (a cluster)
VGRAD_RAY_ADDRESS         auto               the Ray cluster of VGRAD_EXECUTOR=ray (HOST:PORT or auto)

Run-size and per-session limits (VGRAD_MAX_PARAMS, VGRAD_MAX_JOBS_PER_CLIENT, ...) are in vgrad.limits.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from vgrad.limits import Limits, env_int

DEFAULT_PORT = 8502
EXECUTORS = ("local", "ray")


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    workers: int = field(default_factory=cpu_count)
    workers_given: bool = False  # VGRAD_WORKERS set: never resized (else on Ray: the cluster's CPUs)
    abandon_seconds: float = 60.0
    retention_seconds: float = 600.0
    keep_finished: int = 200
    max_stored: int = 10_000_000
    warm: bool = True
    token: str = ""  # empty: vgrad.service.app makes a random one (nobody can call it without reading it)
    hosts: tuple[str, ...] = ()  # Host header names accepted besides loopback ones
    page_bytes: int = 1_048_576
    max_page_bytes: int = 4_194_304
    pause_seconds: float = 300.0
    executor: str = "local"  # local: trainings run in the worker threads; ray: on a Ray cluster (ray_jobs.py)
    ray_address: str = ""  # the cluster of executor=ray ("" = auto)
    limits: Limits = field(default_factory=Limits)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Defaults overridden by the variables above; a bad value raises ValueError naming it."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str:
            return env.get(name, "").strip()

        values: dict = {"limits": Limits.from_env(env)}
        if get("VGRAD_HOST"):
            values["host"] = get("VGRAD_HOST")
        if get("VGRAD_BACKEND_PORT"):
            values["port"] = env_int("VGRAD_BACKEND_PORT", get("VGRAD_BACKEND_PORT"), low=1)
        if get("VGRAD_WORKERS"):
            values["workers"] = env_int("VGRAD_WORKERS", get("VGRAD_WORKERS"), low=1)
            values["workers_given"] = True
        for name, var in (("abandon_seconds", "VGRAD_ABANDON_SECONDS"),
                          ("retention_seconds", "VGRAD_RETENTION_SECONDS"), ("pause_seconds", "VGRAD_PAUSE_SECONDS")):
            if get(var):
                values[name] = _seconds(var, get(var))
        if get("VGRAD_KEEP_FINISHED"):
            values["keep_finished"] = env_int("VGRAD_KEEP_FINISHED", get("VGRAD_KEEP_FINISHED"), low=1)
        if get("VGRAD_MAX_STORED"):
            values["max_stored"] = env_int("VGRAD_MAX_STORED", get("VGRAD_MAX_STORED"), low=0)
        if get("VGRAD_WARM"):
            values["warm"] = get("VGRAD_WARM").lower() not in ("0", "false", "no", "off")
        if get("VGRAD_SERVICE_TOKEN"):
            values["token"] = _token(get("VGRAD_SERVICE_TOKEN"))
        if get("VGRAD_SERVICE_HOSTS"):
            values["hosts"] = tuple(h.strip().lower() for h in get("VGRAD_SERVICE_HOSTS").split(",") if h.strip())
        for name, var in (("page_bytes", "VGRAD_PAGE_BYTES"), ("max_page_bytes", "VGRAD_MAX_PAGE_BYTES")):
            if get(var):
                values[name] = env_int(var, get(var), low=1024)
        if get("VGRAD_EXECUTOR"):
            values["executor"] = get("VGRAD_EXECUTOR").lower()
            if values["executor"] not in EXECUTORS:
                raise ValueError(f"VGRAD_EXECUTOR must be one of {', '.join(EXECUTORS)}, got {get('VGRAD_EXECUTOR')[:40]!r}")
        if get("VGRAD_RAY_ADDRESS"):
            values["ray_address"] = get("VGRAD_RAY_ADDRESS")
        settings = cls(**values)
        if settings.page_bytes > settings.max_page_bytes:
            raise ValueError(f"VGRAD_PAGE_BYTES ({settings.page_bytes}) must not exceed VGRAD_MAX_PAGE_BYTES "
                             f"({settings.max_page_bytes})")
        return settings


def _token(text: str) -> str:
    if len(text) < 16 or not text.isascii() or not text.isprintable() or " " in text:
        raise ValueError("VGRAD_SERVICE_TOKEN must be at least 16 printable ASCII characters without spaces")
    return text


def _seconds(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{name} must be a number of seconds > 0, got {text[:40]!r}")
    return value
