"""Small helpers shared by the service tests."""

from __future__ import annotations

import time
from collections.abc import Callable

from vgrad.records import Record, StatusRecord
from vgrad.service.client import BackendClient

# Three optimizer steps of a 2-layer net on 75 examples.
TINY = {"epochs": 1, "hidden_layers": 2, "n_samples": 100}
# Long enough to pause, step and stop: 200 epochs x 3 steps.
LONG = {"epochs": 200, "hidden_layers": 2, "n_samples": 100}


def wait_for(predicate: Callable[[], object], timeout: float = 60.0, every: float = 0.1, what: str = "") -> object:
    """Call `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what or predicate}")


def read_all(client: BackendClient, job_id: str, timeout: float = 90.0) -> list[Record]:
    """Poll records by offset until the status record; returns them all (typed)."""
    records: list[Record] = []

    def more() -> bool:
        page = client.records(job_id, offset=len(records))
        assert page.next == len(records) + len(page.records)
        records.extend(page.records)
        return bool(records) and isinstance(records[-1], StatusRecord)

    wait_for(more, timeout, every=0.05, what=f"job {job_id} to end")
    return records


def wait_step_stable(client: BackendClient, job_id: str, quiet: float = 0.6) -> int:
    """Wait until the job's step count stops moving for `quiet` seconds; return it."""
    last = client.job(job_id)["step"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = client.job(job_id)["step"]
        if now == last:
            return now
        last = now
    raise AssertionError(f"job {job_id} kept stepping while paused")
