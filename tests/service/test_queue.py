"""Queue positions, per-client and global caps, abandoned jobs: one worker, small caps, short timeouts."""

from __future__ import annotations

import pytest

from tests.conftest import ServiceProcess
from tests.service.helpers import LONG, TINY, read_all, wait_for
from vgrad.records import Status, StatusRecord
from vgrad.service.client import BackendClient, BackendError

STRICT = {"VGRAD_WORKERS": "1", "VGRAD_MAX_JOBS_PER_CLIENT": "3", "VGRAD_MAX_QUEUED": "3",
          "VGRAD_MAX_RUNNING": "1", "VGRAD_ABANDON_SECONDS": "4", "VGRAD_RETENTION_SECONDS": "2"}


@pytest.fixture(scope="module")
def strict():
    service = ServiceProcess(STRICT).wait_ready()
    yield BackendClient(service.url)
    service.stop()


def test_queue_positions_and_caps(strict):
    c = strict

    def summaries() -> dict[str, dict]:  # listing by client also counts as a poll of those jobs
        return {j["id"]: j for client in ("qa", "qb") for j in c.jobs(client)}

    a1 = c.submit(LONG, "qa")["id"]
    c.control(a1, "pause")
    wait_for(lambda: summaries()[a1]["status"] == "running", 30, what="a1 running")
    a2 = c.submit(LONG, "qa")
    assert (a2["status"], a2["queue_position"]) == ("queued", 1)
    c.control(a2["id"], "pause")  # paused while queued: it will start paused
    a3 = c.submit(TINY, "qa")
    assert a3["queue_position"] == 2
    with pytest.raises(BackendError) as err:
        c.submit(TINY, "qa")
    assert err.value.status == 429 and "VGRAD_MAX_JOBS_PER_CLIENT" in str(err.value)
    assert "3 jobs running or queued" in str(err.value)
    # round-robin: a session not served yet goes before qa's second job
    b1 = c.submit(TINY, "qb")
    assert b1["queue_position"] == 1
    assert [summaries()[j]["queue_position"] for j in (a2["id"], a3["id"])] == [2, 3]
    with pytest.raises(BackendError) as err:
        c.submit(TINY, "qc")
    assert err.value.status == 429 and "queue is full" in str(err.value) and "VGRAD_MAX_QUEUED" in str(err.value)
    assert c.health()["queued"] == 3

    c.control(a1, "stop")
    assert read_all(c, b1["id"])[-1].status == "finished"  # qb's job went first
    wait_for(lambda: summaries()[a2["id"]]["status"] == "running", 30, what="a2 to start")
    now = summaries()
    assert now[a1]["status"] == "cancelled"
    assert now[b1["id"]]["started"] < now[a2["id"]]["started"]
    assert now[a2["id"]]["queue_position"] is None and now[a2["id"]]["paused"] is True
    assert now[a3["id"]]["queue_position"] == 1
    assert c.records(a3["id"]).queue_position == 1

    # a queued job stopped leaves the queue at once, with a status record
    c.control(a3["id"], "stop")
    assert c.records(a3["id"]).records == [
        StatusRecord(status=Status.CANCELLED, step=-1, message="stopped by request before it started")]
    c.control(a2["id"], "stop")
    assert read_all(c, a2["id"])[-1].status == "cancelled"
    wait_for(lambda: c.health()["jobs"] == 0, 10, what="an empty queue")


def test_abandoned_jobs_are_cancelled_and_their_records_freed(strict):
    c = strict
    running = c.submit(LONG, "ab")["id"]
    wait_for(lambda: c.job(running)["status"] == "running", 30, what="the job to start")
    c.control(running, "pause")  # holds the only worker: the next job waits in the queue
    queued = c.submit(TINY, "ab2")["id"]

    def unpolled(job_id: str) -> dict:  # the unfiltered list does not count as a poll
        return next(j for j in c.jobs() if j["id"] == job_id)

    # keep the paused job alive; nobody polls the queued one
    wait_for(lambda: c.job(running) and unpolled(queued)["status"] == "cancelled", 20, what="queued job cancelled")
    assert "VGRAD_ABANDON_SECONDS" in unpolled(queued)["message"]
    assert unpolled(running)["status"] == "running"
    # now nobody polls the running one either
    wait_for(lambda: unpolled(running)["status"] == "cancelled", 20, what="running job cancelled")
    assert "nobody polled this job for 4 s" in unpolled(running)["message"]
    wait_for(lambda: unpolled(running)["records_freed"], 20, what="records freed")
    with pytest.raises(BackendError) as err:
        c.records(running)
    assert err.value.status == 410 and "VGRAD_RETENTION_SECONDS" in str(err.value)
    assert c.job(running)["status"] == "cancelled"  # the summary stays
