"""Hundreds of jobs leave no growth in threads or memory, and finished jobs stay bounded."""

from __future__ import annotations

import time

import psutil

from tests.service.helpers import wait_for
from vgrad.service.client import BackendClient

ONE_STEP = {"epochs": 1, "steps": 1, "hidden_layers": 1, "units": 2, "n_samples": 20}
ROUNDS, PER_ROUND, STOPPED = 19, 16, 12  # 304 jobs; about 70 train to the end, the rest are stopped
RSS_BOUND_MB = 100  # allowed growth of the service's resident memory over all rounds
THREAD_SLACK = 4  # allowed growth in OS threads (the web server's pool may add one or two)


def run_round(c: BackendClient, round_no: int) -> list[str]:
    ids = [c.submit({**ONE_STEP, "seed": round_no * PER_ROUND + i}, f"load-{i % 4}")["id"]
           for i in range(PER_ROUND)]
    for jid in ids[:STOPPED]:
        c.control(jid, "stop")
    ended = set()

    def all_ended() -> bool:
        for jid in ids:
            if jid not in ended and c.records(jid, offset=0).status.final:
                ended.add(jid)
        return len(ended) == len(ids)

    wait_for(all_ended, 120, every=0.05, what=f"round {round_no}")
    return ids


def settle(c: BackendClient) -> dict:
    """Wait until no job runs and the engine's helper threads have ended; then let the idle cleanup run."""
    wait_for(lambda: c.health()["jobs"] == 0, 60, what="an idle service")
    time.sleep(3.0)
    return c.health()


def test_hundreds_of_jobs_without_growth(backend_url):
    c = BackendClient(backend_url)
    proc = psutil.Process(c.health()["pid"])
    run_round(c, 0)  # warm every code path once
    run_round(c, 1)
    before = settle(c)
    rss0 = proc.memory_info().rss / 2**20
    statuses = []
    for r in range(2, ROUNDS):
        ids = run_round(c, r)
        statuses += [c.job(jid)["status"] for jid in ids]
    after = settle(c)
    rss1 = proc.memory_info().rss / 2**20
    assert set(statuses) <= {"finished", "cancelled"}
    assert statuses.count("finished") >= (ROUNDS - 2) * (PER_ROUND - STOPPED)
    assert after["threads"] <= before["threads"] + THREAD_SLACK, (before["threads"], after["threads"])
    assert rss1 - rss0 < RSS_BOUND_MB, f"RSS grew from {rss0:.0f} MB to {rss1:.0f} MB"
    assert len(c.jobs()) <= 200  # VGRAD_KEEP_FINISHED: the oldest finished jobs are forgotten
    print(f"\n{len(statuses)} jobs: RSS {rss0:.0f} -> {rss1:.0f} MB, threads {before['threads']} -> {after['threads']}")
