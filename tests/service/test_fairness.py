"""The fair queue: the probe's 66-client lockout, round-robin across addresses, and pauses that hold
a worker. One worker and small caps (tests/service/conftest.py: SMALL) in a dedicated service process."""

from __future__ import annotations

import time

import pytest
import requests

from tests.service.helpers import TINY, read_all, wait_for
from vgrad.service.client import BackendError

# The attacker's "maximal" job under these caps: about a second of training each.
HEAVY = {"epochs": 150, "hidden_layers": 2, "n_samples": 100}


@pytest.fixture(scope="module")
def service(small_service):
    return small_service


def stop_all(c, ids) -> None:
    for jid in ids:
        c.control(jid, "stop")
    wait_for(lambda: c.health()["jobs"] == 0, 30, what="an idle service")


def test_66_clients_from_one_address_cannot_lock_others_out(service):
    c = service.client()
    attacker, refused = [], []
    for i in range(66):  # the probe: a new client name for every job
        try:
            attacker.append(c.submit(HEAVY, f"atk-{i}", remote="10.6.6.6")["id"])
        except BackendError as exc:
            refused.append(exc)
    assert len(attacker) == 6  # VGRAD_MAX_JOBS_PER_ADDRESS
    assert all(e.status == 429 and "VGRAD_MAX_JOBS_PER_ADDRESS" in str(e) for e in refused)
    # the old way, through the body's `client` field and no identity headers: the caller's address caps it
    url, auth = service.url, {"Authorization": f"Bearer {service.token}"}
    codes = [requests.post(f"{url}/jobs", json={"config": HEAVY, "client": f"body-{i}"}, headers=auth,
                           timeout=10).status_code for i in range(66)]
    assert codes.count(200) == 6 and codes.count(429) == 60
    for job in c.jobs():  # a second address would be served in turn too: take it away again
        if job["client"].startswith("body-"):
            c.control(job["id"], "stop")
    wait_for(lambda: c.health()["running"] == 1, 30, what="an attacker job running")
    running = [j for j in c.jobs() if j["status"] == "running"]
    assert len(running) == 1

    t0 = time.time()
    victim = c.submit(TINY, "victim", remote="10.0.0.7")
    assert victim["status"] == "queued" and victim["queue_position"] == 1
    assert read_all(c, victim["id"])[-1].status == "finished"
    jobs = {j["id"]: j for j in c.jobs()}
    mine = jobs[victim["id"]]
    first = jobs[running[0]["id"]]
    # it started when the job running at its submission ended, before every other attacker job
    assert first["finished"] is not None and mine["started"] >= first["finished"] - 0.05
    assert mine["started"] - t0 <= (first["finished"] - first["started"]) + 1.0
    others = [jobs[j] for j in attacker if j != first["id"]]
    assert all(o["started"] is None or o["started"] > mine["started"] for o in others)
    stop_all(c, attacker)


def test_round_robin_over_addresses_then_sessions(service):
    c = service.client()
    hold = c.submit({**HEAVY, "epochs": 2000}, "holder", remote="10.1.1.1")["id"]  # runs until stopped
    wait_for(lambda: c.job(hold)["status"] == "running", 30, what="the holder to run")
    a = [c.submit(TINY, f"a-{i % 2}", remote="10.2.2.2")["id"] for i in range(4)]  # two sessions, 2 jobs each
    b = [c.submit(TINY, "b", remote="10.3.3.3")["id"] for _ in range(2)]
    positions = {jid: c.job(jid)["queue_position"] for jid in a + b}
    # addresses alternate (10.2.2.2, 10.3.3.3, ...); inside 10.2.2.2 its sessions alternate
    assert [positions[j] for j in a] == [1, 3, 5, 6] and [positions[j] for j in b] == [2, 4]
    c.control(hold, "stop")
    for jid in a + b:
        read_all(c, jid)
    started = sorted(a + b, key=lambda j: c.job(j)["started"])
    assert started == sorted(a + b, key=positions.get)


def test_a_paused_job_gives_its_worker_up_when_others_wait(service):
    c = service.client()
    hold = c.submit(HEAVY, "pauser", remote="10.4.4.4")["id"]
    wait_for(lambda: c.job(hold)["status"] == "running", 30, what="the job to run")
    c.control(hold, "pause")
    time.sleep(2.5)  # paused longer than VGRAD_PAUSE_SECONDS, but nobody waits: it stays
    assert c.job(hold)["status"] == "running"
    other = c.submit(TINY, "waiter", remote="10.5.5.5")["id"]
    assert read_all(c, other, timeout=30)[-1].status == "finished"
    held = c.job(hold)
    assert held["status"] == "cancelled" and "VGRAD_PAUSE_SECONDS" in held["message"]
