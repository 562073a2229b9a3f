"""Bounded reads: records come in pages of at most VGRAD_PAGE_BYTES, and /health stays fast while
four clients read a 10 MB job from the start, again and again.

A dedicated service with pages of 256 KB, at most 1 MB (tests/service/conftest.py: SMALL). The
test's job (16 layers of 32 units, 90 steps) is about 10 MB of records, mostly kernel-gradient
snapshots: about 40 pages.
"""

from __future__ import annotations

import json
import threading
import time

import psutil
import pytest
import requests

from tests.service.conftest import MAX_PAGE, PAGE
from tests.service.helpers import read_all, wait_for

LARGEST = {"hidden_layers": 16, "units": 32, "n_samples": 100, "epochs": 30}
STEPS = 90


@pytest.fixture(scope="module")
def service(small_service):
    return small_service


@pytest.fixture(scope="module")
def big_job(service) -> str:
    c = service.client()
    jid = c.submit(LARGEST, "paging")["id"]
    wait_for(lambda: c.job(jid)["step"] > 10, 60, what="the big job to train")
    return jid


def raw_page(service, jid: str, **params) -> tuple[int, dict]:
    resp = requests.get(f"{service.url}/jobs/{jid}/records", params=params, timeout=30,
                        headers={"Authorization": f"Bearer {service.token}"})
    resp.raise_for_status()
    return len(resp.content), resp.json()


def test_pages_are_bounded_and_add_up(service, big_job):
    c = service.client()
    records = read_all(c, big_job)  # page by page, `next` after `next`
    assert records[-1].status == "finished" and len([r for r in records if r.kind == "step"]) == STEPS
    # more numbers than VGRAD_MAX_STORED, yet kept: it ended while being read
    assert c.job(big_job)["records_freed"] is False
    size, first = raw_page(service, big_job, offset=0)
    assert first["more"] is True and first["next"] < len(records)
    assert size <= PAGE + 2000  # the page, plus its few fields
    sizes = []
    offset = 0
    while True:
        size, page = raw_page(service, big_job, offset=offset)
        sizes.append(size)
        offset = page["next"]
        if not page["more"]:
            break
    assert offset == len(records) and len(sizes) > 20 and max(sizes) <= PAGE + 2000
    assert sum(sizes) > 5 * 2**20, sum(sizes)
    # limit= and max_bytes= (capped at VGRAD_MAX_PAGE_BYTES); one record always, however long
    _, page = raw_page(service, big_job, offset=5, limit=3)
    assert len(page["records"]) == 3 and page["next"] == 8 and page["more"] is True
    size, page = raw_page(service, big_job, offset=0, max_bytes=10**9)
    assert PAGE < size <= MAX_PAGE + 2000
    _, page = raw_page(service, big_job, offset=3, max_bytes=1)
    assert len(page["records"]) == 1 and page["next"] == 4
    _, page = raw_page(service, big_job, offset=len(records) + 10)
    assert page["records"] == [] and page["next"] == len(records) and page["more"] is False
    assert requests.get(f"{service.url}/jobs/{big_job}/records", params={"limit": 10**6}, timeout=10,
                        headers={"Authorization": f"Bearer {service.token}"}).status_code == 400
    # the event stream sends the same records, a page at a time
    assert list(c.events(big_job)) == records


def test_health_stays_fast_while_four_clients_read_everything(service, big_job):
    c = service.client()
    wait_for(lambda: c.job(big_job)["status"] == "finished", 60, what="the big job to end")
    proc = psutil.Process(service.pid)
    rss0 = proc.memory_info().rss
    stop = threading.Event()
    reads = [0] * 4
    errors: list[str] = []

    def reader(i: int) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {service.token}"
        try:
            while not stop.is_set():
                if i == 3:  # one of them follows the event stream
                    with session.get(f"{service.url}/jobs/{big_job}/events", stream=True, timeout=30) as resp:
                        for _ in resp.iter_content(65536):
                            pass
                else:
                    offset, more = 0, True
                    while more and not stop.is_set():
                        page = session.get(f"{service.url}/jobs/{big_job}/records", params={"offset": offset},
                                           timeout=30).json()
                        offset, more = page["next"], page["more"]
                reads[i] += 1
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=reader, args=(i,), daemon=True) for i in range(4)]
    for t in threads:
        t.start()
    latencies, peak = [], rss0
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        t0 = time.perf_counter()
        assert requests.get(f"{service.url}/health", timeout=5).json()["ok"]
        latencies.append(time.perf_counter() - t0)
        peak = max(peak, proc.memory_info().rss)
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert min(reads) >= 1, reads  # every client read the whole job at least once
    print(f"\n/health under 4 readers: max {max(latencies) * 1000:.0f} ms, median "
          f"{sorted(latencies)[len(latencies) // 2] * 1000:.0f} ms; reads {reads}; "
          f"RSS +{(peak - rss0) / 2**20:.0f} MB")
    assert max(latencies) < 0.5
    assert peak - rss0 < 64 * 2**20  # memory per read is a page, not the job


def test_records_page_is_json_with_more_and_next(service, big_job):
    _, page = raw_page(service, big_job, offset=0, limit=2)
    assert set(page) >= {"records", "next", "more", "status", "queue_position", "step", "total_steps", "paused"}
    assert json.dumps(page["records"][0]).startswith('{"kind"')


def test_the_pages_poll_reads_a_few_pages_per_tick_and_catches_up(service, big_job):
    from vgrad.config import RunConfig
    from vgrad.ui import live

    c = service.client()
    wait_for(lambda: c.job(big_job)["status"] == "finished", 60, what="the big job to end")
    ends, offset, more = [], 0, True  # where each page of the service ends
    while more:
        _, page = raw_page(service, big_job, offset=offset)
        offset, more = page["next"], page["more"]
        ends.append(offset)
    job = live.LiveJob(job_id=big_job, config=RunConfig(**LARGEST))
    first = live.poll(c, job)
    assert first == ends[live.MAX_PAGES - 1] and job.active  # MAX_PAGES pages in one tick, no more
    ticks = 1
    while job.active:
        live.poll(c, job)
        ticks += 1
    assert job.run.status == "finished" and len(job.run.steps) == STEPS
    assert ticks == -(-len(ends) // live.MAX_PAGES)  # and every tick read its MAX_PAGES pages
    # a job of a service that restarted since: one failed status with the sentence the page shows
    other = "0" * 8 if not big_job.startswith("0" * 8) else "1" * 8
    lost = live.LiveJob(job_id=f"{other}-1-0123abcd", config=RunConfig(**LARGEST))
    live.poll(c, lost)
    assert lost.lost and not lost.active and lost.run.status == "failed" and lost.error == ""
    assert "crashed" in lost.run.message and "Press Train" in lost.run.message
