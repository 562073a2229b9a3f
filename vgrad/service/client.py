"""BackendClient: the training service's HTTP API from Python (requests only, no TensorFlow).

    client = BackendClient("http://127.0.0.1:8502", token="...")   # token: default VGRAD_SERVICE_TOKEN
    job = client.submit(RunConfig(epochs=5), client_id="session-1", remote="10.0.0.7")
    page = client.records(job["id"], offset=0)      # Page: typed records, next offset, more, status, ...
    for record in client.events(job["id"]):          # Server-Sent Events until the status record
        print(type(record).__name__)
    sweep = client.submit_sweep(spec, client_id="session-1")        # a vgrad.sweep.SweepSpec
    page = client.sweep(sweep["id"], offset=0)       # SweepPage: status, done/total, left, typed cells

Every request carries `Authorization: Bearer <token>`. Records arrive validated as vgrad.records'
types, a bounded page at a time (`page.more`: ask again at once). Every failure raises BackendError
with a sentence for people; `.status` is the HTTP code, or None when the service could not be
reached; `.reason` the service's word for a 404 (restarted, forgotten, unknown).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests

from vgrad.config import RunConfig
from vgrad.records import Action, Record, RecordError, Status, StatusRecord, parse
from vgrad.sweep import CellResult, SweepError, SweepSpec
from vgrad.sweep_results import SweepResultError, cell_from_dict


class BackendError(Exception):
    """A request to the training service failed. `status`: HTTP code, None if unreachable; `reason`:
    the service's word for a 404 (restarted, forgotten, unknown)."""

    def __init__(self, message: str, status: int | None = None, reason: str | None = None):
        super().__init__(message)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Page:
    """One answer of GET /jobs/{id}/records."""

    records: list[Record]
    next: int
    status: Status
    more: bool = False  # records after `next` exist already
    queue_position: int | None = None
    message: str = ""
    step: int = 0
    total_steps: int = 0
    paused: bool = False


@dataclass(frozen=True)
class SweepPage:
    """One answer of GET /sweeps/{id}: progress and the cells that finished from `offset` on (typed)."""

    id: str
    status: str  # queued, running, finished, cancelled, failed
    done: int
    total: int
    elapsed: float
    left: float | None
    message: str
    spec: SweepSpec
    cells: list[CellResult]
    next: int
    more: bool = False

    @property
    def final(self) -> bool:
        return self.status in ("finished", "cancelled", "failed")


class BackendClient:
    """Calls the service at `base_url` with `token` (default: VGRAD_SERVICE_TOKEN); `timeout` (seconds)
    applies to every request but events()."""

    def __init__(self, base_url: str, timeout: float = 10.0, token: str | None = None):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        token = os.environ.get("VGRAD_SERVICE_TOKEN", "").strip() if token is None else token
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def health(self) -> dict:
        return self._call("GET", "/health")

    def submit(self, config: RunConfig | dict, client_id: str, label: str = "", remote: str | None = None) -> dict:
        """Queue a run of session `client_id` for a browser at `remote` (default: this caller's address):
        {"id", "status", "queue_position"}. 400 bad config, 413 over a limit, 429 full."""
        data = config.to_dict() if isinstance(config, RunConfig) else config
        headers = {"X-Vgrad-Client": client_id[:100]}
        if remote:
            headers["X-Vgrad-Remote"] = remote[:100]
        return self._call("POST", "/jobs", json={"config": data, "label": label}, headers=headers)

    def records(self, job_id: str, offset: int = 0, limit: int | None = None, max_bytes: int | None = None) -> Page:
        """One page of the job's records from `offset`, parsed and validated, with its status."""
        params = {"offset": offset}
        if limit is not None:
            params["limit"] = limit
        if max_bytes is not None:
            params["max_bytes"] = max_bytes
        page = self._call("GET", f"/jobs/{job_id}/records", params=params)
        try:
            return Page(records=[parse(r) for r in page["records"]], next=int(page["next"]),
                        status=Status(page["status"]), more=bool(page.get("more", False)),
                        queue_position=page.get("queue_position"),
                        message=str(page.get("message") or ""), step=int(page.get("step", 0)),
                        total_steps=int(page.get("total_steps", 0)), paused=bool(page.get("paused", False)))
        except (RecordError, KeyError, TypeError, ValueError) as exc:
            raise BackendError(f"the training service sent records vgrad cannot read: {exc}") from None

    def control(self, job_id: str, action: Action | str) -> dict:
        """pause, resume, step or stop; returns the job summary."""
        try:
            action = Action(action)
        except ValueError:
            raise BackendError(f"unknown action {action!r}; use one of {', '.join(Action)}") from None
        return self._call("POST", f"/jobs/{job_id}/{action}")

    def upload_dataset(self, raw: bytes, name: str, client_id: str = "", target: str = "") -> dict:
        """Store a CSV file in the service: {"id" (use as data_id), "rows", "columns", "summary", ...}.
        `target` (empty: the last column) is the column it is checked against."""
        return self._call("POST", "/datasets", params={"name": str(name)[:200], "target": str(target)[:200]},
                          data=raw,
                          headers={"X-Vgrad-Client": client_id[:100], "Content-Type": "text/csv"})

    def dataset(self, data_id: str) -> dict:
        """What the service knows of an uploaded table (BackendError 404 when it is not there)."""
        return self._call("GET", f"/datasets/{data_id}")

    def datasets(self) -> list[dict]:
        return self._call("GET", "/datasets")

    def delete_dataset(self, data_id: str) -> dict:
        return self._call("DELETE", f"/datasets/{data_id}")

    def submit_sweep(self, spec: SweepSpec | dict, client_id: str, label: str = "", remote: str | None = None) -> dict:
        """Queue a sweep of session `client_id`: {"id", "status", "n_cells", "n_tasks"}. 400 refused spec (its
        sentence), 413 a cell over a run limit, 429 the session runs a sweep already (or the server its most)."""
        data = spec.to_dict() if isinstance(spec, SweepSpec) else dict(spec)
        headers = {"X-Vgrad-Client": client_id[:100]}
        if remote:
            headers["X-Vgrad-Remote"] = remote[:100]
        return self._call("POST", "/sweeps", json={**data, "label": label[:200]}, headers=headers)

    def sweep(self, sweep_id: str, offset: int = 0, limit: int | None = None, spec: SweepSpec | None = None) -> SweepPage:
        """Progress of a sweep and its cells from `offset` (in the order they finished), parsed. Pass the
        sweep's `spec` when you have it: it is then not read (and checked) again on every poll."""
        params = {"offset": offset} if limit is None else {"offset": offset, "limit": limit}
        page = self._call("GET", f"/sweeps/{sweep_id}", params=params)
        try:
            spec = spec or SweepSpec.from_dict(page["spec"])
            left = page.get("left")
            return SweepPage(id=str(page["id"]), status=str(page["status"]), done=int(page["done"]),
                             total=int(page["total"]), elapsed=float(page["elapsed"]),
                             left=None if left is None else float(left), message=str(page.get("message") or ""),
                             spec=spec, cells=[cell_from_dict(c, spec) for c in page["cells"]],
                             next=int(page["next"]), more=bool(page.get("more", False)))
        except (SweepError, SweepResultError, KeyError, TypeError, ValueError) as exc:
            raise BackendError(f"the training service sent a sweep vgrad cannot read: {exc}") from None

    def stop_sweep(self, sweep_id: str) -> dict:
        return self._call("POST", f"/sweeps/{sweep_id}/stop")

    def sweeps(self, client_id: str | None = None) -> list[dict]:
        return self._call("GET", "/sweeps", params={"client": client_id} if client_id else None)

    def jobs(self, client_id: str | None = None) -> list[dict]:
        return self._call("GET", "/jobs", params={"client": client_id} if client_id else None)

    def job(self, job_id: str) -> dict:
        return self._call("GET", f"/jobs/{job_id}")

    def events(self, job_id: str, offset: int = 0) -> Iterator[Record]:
        """Records as they come (Server-Sent Events), ending after the status record."""
        try:
            with self.session.get(f"{self.base_url}/jobs/{job_id}/events", params={"offset": offset},
                                  stream=True, timeout=(self.timeout, 60)) as resp:
                _raise_for(resp)
                for line in resp.iter_lines(decode_unicode=True):
                    if line and line.startswith("data:"):
                        record = parse(json.loads(line[5:]))
                        yield record
                        if isinstance(record, StatusRecord):
                            return
        except requests.RequestException as exc:
            raise BackendError(f"lost the event stream from {self.base_url}: {_reason(exc)}") from None
        except (RecordError, ValueError) as exc:
            raise BackendError(f"the training service sent a record vgrad cannot read: {exc}") from None

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            resp = self.session.request(method, self.base_url + path, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise BackendError(f"the training service at {self.base_url} is not reachable: {_reason(exc)}") from None
        _raise_for(resp)
        try:
            return resp.json()
        except ValueError:
            raise BackendError(f"the training service answered {path} with something that is not JSON",
                               resp.status_code) from None


def _raise_for(resp: requests.Response) -> None:
    if resp.status_code < 400:
        return
    try:
        body = resp.json()
        detail, reason = body.get("detail"), body.get("reason")
    except (ValueError, AttributeError):
        detail = reason = None
    raise BackendError(str(detail or f"HTTP {resp.status_code} {resp.reason}"), resp.status_code,
                       reason if isinstance(reason, str) else None)


def _reason(exc: Exception) -> str:
    if isinstance(exc, requests.ConnectionError):
        return "connection refused or closed (is it running?)"
    if isinstance(exc, requests.Timeout):
        return "no answer in time"
    return type(exc).__name__
