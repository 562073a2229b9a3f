"""Abuse benchmark: the probe's queue lockout and large-read stall, replayed against a real service.

    .venv/bin/python benchmarks/abuse.py                    # both, default limits (about 5 minutes)
    .venv/bin/python benchmarks/abuse.py --only lockout
    .venv/bin/python benchmarks/abuse.py --only read --steps 5000

It starts `python -m vgrad.service` on a free port (default settings: one worker per core, the
default limits, a token of its own) and talks to it over HTTP.

lockout: an attacker posts 66 long jobs from one address, each under a new session id (the
probe's "client": "atk-$i"). A victim from another address then submits a 3-step run. Printed:
how many attacker jobs were admitted, the victim's wait until a worker took its job, and the
duration of the attacker's running jobs it waited behind (the bound is one of those).

read: the largest run the limits allow in records (64 layers, VGRAD_MAX_STEPS steps), then four
clients (separate processes) read all its records from offset 0, page after page, as the probe
did with one request, while this process times /health every 0.1 s. Printed: the job's size,
each full read's time and page count, /health p50/p95/max, and the service's peak memory.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vgrad.service.client import BackendClient, BackendError  # noqa: E402
from vgrad.service.launcher import free_port  # noqa: E402

# A long job that passes the default limits (about 20-40 s of training here).
ATTACK = {"hidden_layers": 16, "units": 32, "n_samples": 2000, "epochs": 60}
VICTIM = {"epochs": 1, "hidden_layers": 2, "n_samples": 100}


def start_service(token: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, VGRAD_SERVICE_TOKEN=token, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen([sys.executable, "-m", "vgrad.service", "--port", str(port)], cwd=str(ROOT), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/health", timeout=1).json().get("ready"):
                return proc, url
        except (requests.RequestException, ValueError):
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit("the service did not get ready in 3 minutes")


def wait_status(c: BackendClient, job_id: str, statuses: set[str], timeout: float = 900) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = c.job(job_id)
        if job["status"] in statuses:
            return job
        time.sleep(0.05)
    raise SystemExit(f"job {job_id} did not reach {statuses} in {timeout:g} s")


def lockout(url: str, token: str) -> None:
    c = BackendClient(url, token=token)
    admitted, refused = [], {}
    for i in range(66):
        try:
            admitted.append(c.submit(ATTACK, f"atk-{i}", remote="10.6.6.6")["id"])
        except BackendError as exc:
            key = f"{exc.status} {str(exc).split('(')[-1].split(')')[0]}"
            refused[key] = refused.get(key, 0) + 1
    print(f"lockout: attacker posted 66 jobs under 66 session ids from one address: {len(admitted)} admitted, "
          f"refused {refused}")
    try:
        c.control(c.submit(VICTIM, "same-address-user", remote="10.6.6.6")["id"], "stop")
        print("  a new session from the attacker's address: admitted")
    except BackendError as exc:
        print(f"  a new session from the attacker's address: refused ({exc.status}): {exc}")
    wait_for_running = time.monotonic() + 120
    while c.health()["running"] < c.health()["workers"] and time.monotonic() < wait_for_running:
        time.sleep(0.1)
    t0 = time.time()
    victim = c.submit(VICTIM, "victim", remote="10.0.0.7")
    print(f"  victim (another address) admitted: queue position {victim['queue_position']}")
    started = wait_status(c, victim["id"], {"running", "finished", "cancelled", "failed"})
    done = wait_status(c, victim["id"], {"finished", "cancelled", "failed"})
    jobs = {j["id"]: j for j in c.jobs()}
    running = [jobs[j] for j in admitted if jobs[j]["started"] and jobs[j]["started"] < t0]
    durations = [(j["finished"] or time.time()) - j["started"] for j in running]
    jumped = sum(1 for j in admitted if jobs[j]["started"] and t0 <= jobs[j]["started"] < done["started"])
    print(f"  victim waited {done['started'] - t0:.1f} s for a worker (seen {started['status']}), then "
          f"finished in {done['finished'] - done['started']:.1f} s")
    print(f"  attacker jobs running when it arrived: {len(running)}, lasting "
          f"{', '.join(f'{d:.1f} s' for d in durations)}; queued attacker jobs that started before it: {jumped}")
    for jid in admitted:
        c.control(jid, "stop")
    while c.health()["jobs"]:
        time.sleep(0.2)


def reader(url: str, token: str, job_id: str, rounds: int, out) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    for _ in range(rounds):
        t0, offset, pages, size, more = time.perf_counter(), 0, 0, 0, True
        while more:
            resp = session.get(f"{url}/jobs/{job_id}/records", params={"offset": offset}, timeout=60)
            if resp.status_code != 200:
                raise SystemExit(f"reading the records failed: {resp.status_code} {resp.text[:200]}")
            page = resp.json()
            offset, more, pages, size = page["next"], page["more"], pages + 1, size + len(resp.content)
        out.put((time.perf_counter() - t0, pages, size))


def large_read(url: str, token: str, steps: int, rounds: int) -> None:
    c = BackendClient(url, token=token)
    # 75 training examples in batches of 8: 10 steps an epoch, so `steps` is reached before 2000 epochs
    config = {"hidden_layers": 64, "units": 4, "n_samples": 100, "batch_size": 8, "epochs": 2000, "steps": steps}
    t0 = time.monotonic()
    job = c.submit(config, "big")["id"]
    last = -1
    while (summary := c.job(job))["status"] not in ("finished", "cancelled", "failed", "diverged"):
        if summary["step"] // 2000 != last:
            last = summary["step"] // 2000
            print(f"  training the large job: step {summary['step']}/{steps}", flush=True)
        time.sleep(2)
    print(f"read: a job of {summary['step']} steps x 65 layers ({summary['records']} records), trained in "
          f"{time.monotonic() - t0:.0f} s")
    proc = psutil.Process(c.health()["pid"])
    rss0 = proc.memory_info().rss
    out = multiprocessing.Queue()
    readers = [multiprocessing.Process(target=reader, args=(url, token, job, rounds, out)) for _ in range(4)]
    for r in readers:
        r.start()
    latencies, peak = [], rss0
    while any(r.is_alive() for r in readers):
        t1 = time.perf_counter()
        requests.get(url + "/health", timeout=30)
        latencies.append(time.perf_counter() - t1)
        peak = max(peak, proc.memory_info().rss)
        time.sleep(0.1)
    reads = [out.get(timeout=5) for _ in range(4 * rounds)]
    latencies.sort()
    print(f"  {len(reads)} full reads from offset 0 by 4 clients at once: {reads[0][2] / 2**20:.0f} MB in "
          f"{reads[0][1]} pages each; read time median {statistics.median(r[0] for r in reads):.1f} s, "
          f"max {max(r[0] for r in reads):.1f} s")
    print(f"  /health meanwhile ({len(latencies)} calls): p50 {latencies[len(latencies) // 2] * 1000:.0f} ms, "
          f"p95 {latencies[int(len(latencies) * 0.95)] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms")
    print(f"  service memory: {rss0 / 2**20:.0f} MB before the reads, peak {peak / 2**20:.0f} MB during them")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=("lockout", "read"), help="run one of the two")
    ap.add_argument("--steps", type=int, default=20000, help="steps of the large job (default VGRAD_MAX_STEPS)")
    ap.add_argument("--rounds", type=int, default=1, help="full reads per client (default 1)")
    args = ap.parse_args(argv)
    token = secrets.token_urlsafe(32)
    proc, url = start_service(token)
    try:
        health = requests.get(url + "/health", timeout=5).json()
        print(f"service {url}: {health['workers']} workers, limits {health['limits']}")
        if args.only in (None, "lockout"):
            lockout(url, token)
        if args.only in (None, "read"):
            large_read(url, token, args.steps, args.rounds)
    finally:
        proc.terminate()
        proc.wait(20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
