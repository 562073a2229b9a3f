"""Load test: a class of N simulated students trains the notebook preset at the same time on this machine.

    .venv/bin/python benchmarks/load.py                  # 30 students over Streamlit's websocket (make load)
    .venv/bin/python benchmarks/load.py --mode browser   # headless chromium pages (Playwright)
    .venv/bin/python benchmarks/load.py --users 8 --think 2 --arrival 10
    .venv/bin/python benchmarks/load.py --mode api       # the backend HTTP API only

It makes a class (vgrad.classroom.ClassStore in a temporary data directory), starts
`python -m vgrad serve` on free ports (the Docker CMD / `make run` entry point) with a service token,
and waits until the service has started (warm, presets precompiled). Each student opens the class
link, /explorer?class=CODE&preset=notebook-deep-sigmoid (all at once, or spread over --arrival
seconds); all press "Train" at once, wait for their Status to read "finished", and keep interacting
(the Runs page, back to the Explorer; at least ROUNDS times and until every user is done). It
reports students finished, their runs in the class, errors (must be 0), p50/p95 page-interaction
latency with and without the first page open, peak RSS and CPU of the server processes.

Every student connects from this machine's address, so the service's per-address cap is raised to
the class size (VGRAD_MAX_JOBS_PER_ADDRESS): in a classroom each laptop has its own address.

ws mode (default) speaks Streamlit's own protocol (benchmarks/st_client.py): the server does all
the work it does for a browser, but nothing is rendered on this machine, as in a classroom where
the browsers run on the students' laptops. A latency is the time until the server finished the
rerun an interaction caused. browser mode renders every page in chromium on the same two cores,
so its latencies include the eight browsers' own rendering.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from vgrad.records import FINAL as FINAL_STATUSES  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
FINAL = tuple(str(s) for s in FINAL_STATUSES)
PRESET = "notebook-deep-sigmoid"
INTERACTION_TIMEOUT = 60.0
ROUNDS = 5  # Runs -> Explorer rounds each user makes at least (and more while others still train)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the server and its memory -------------------------------------------------------------
class Server:
    """`python -m vgrad serve` in its own process group, with an RSS sampler over its process tree."""

    def __init__(self, port: int, log: Path, entry: str = "serve", data_dir: Path | None = None, users: int = 8):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.token = secrets.token_urlsafe(24)  # the service's; the api mode's client sends it too
        # As in the Docker image: no file watcher (a source edit mid-test would reload modules under
        # the running sessions), headless.
        env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2", STREAMLIT_SERVER_HEADLESS="true",
                   STREAMLIT_SERVER_FILE_WATCHER_TYPE="none", STREAMLIT_BROWSER_GATHER_USAGE_STATS="false",
                   VGRAD_SERVICE_TOKEN=self.token, VGRAD_MAX_JOBS_PER_ADDRESS=str(max(16, users + 4)))
        if data_dir is not None:
            env["VGRAD_DATA_DIR"] = str(data_dir)
        env.pop("VGRAD_BACKEND_URL", None)
        if entry == "serve" and (ROOT / "vgrad" / "__main__.py").exists():
            cmd = [sys.executable, "-m", "vgrad", "serve", "--port", str(port), "--host", "127.0.0.1"]
        else:  # the launcher `serve` calls (when the CLI is missing or broken)
            cmd = [sys.executable, "-c", f"from vgrad.service.launcher import serve_all; serve_all(port={port})"]
        self.entry = " ".join(cmd[1:4]) if entry == "serve" else "vgrad.service.launcher.serve_all"
        self.log = open(log, "w")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.peak_rss = 0
        self.peak_by_name: dict[str, int] = {}
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _sample(self) -> None:
        while not self._stop.is_set():
            total = 0
            for p in self._tree():
                try:
                    rss = p.memory_info().rss
                    cmd = " ".join(p.cmdline())
                except psutil.Error:
                    continue
                total += rss
                name = _name(cmd)
                self.peak_by_name[name] = max(self.peak_by_name.get(name, 0), rss)
            self.peak_rss = max(self.peak_rss, total)
            time.sleep(0.2)

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited ({self.proc.returncode}); see {self.log.name}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the app did not answer /_stcore/health within {timeout:.0f}s")

    def backend_url(self) -> str | None:
        for p in self._tree():
            try:
                cmd = p.cmdline()
            except psutil.Error:
                continue
            if "vgrad.service" in cmd and "--port" in cmd:
                return f"http://127.0.0.1:{cmd[cmd.index('--port') + 1]}"
        return None

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server's processes so far."""
        return sum(self.cpu_by_name().values())

    def cpu_by_name(self) -> dict[str, float]:
        """User + system CPU time so far of each kind of server process (streamlit, service, ...)."""
        found: dict[str, float] = {}
        for p in self._tree():
            try:
                t, name = p.cpu_times(), _name(" ".join(p.cmdline()))
            except psutil.Error:
                continue
            found[name] = found.get(name, 0.0) + t.user + t.system
        return found

    def wait_started(self, timeout: float = 120) -> None:
        """Until the training service has finished starting (warm-up and precompiled presets)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            backend = self.backend_url()
            try:
                with urllib.request.urlopen(f"{backend}/health", timeout=2) as r:
                    health = json.loads(r.read())
                if health.get("ready") and not health.get("precompiling"):
                    return
            except (OSError, ValueError, TypeError):
                pass
            time.sleep(0.25)

    def stop(self) -> None:
        self._stop.set()
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def _name(cmd: str) -> str:
    return ("streamlit" if "streamlit" in cmd or "webserver" in cmd else "service" if "vgrad.service" in cmd
            else "launcher")


# --- browser users ----------------------------------------------------------------------------
@dataclass
class UserResult:
    user: int
    status: str = "not started"
    train_seconds: float = float("nan")
    latencies: list[tuple[str, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def _status(page) -> str:
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Status").first
    if await metric.count() == 0:
        return ""
    return (await metric.locator('[data-testid="stMetricValue"]').inner_text()).strip().lower()


async def _idle(page, timeout: float) -> None:
    """Streamlit's status widget ("Running...") gone: the rerun the interaction triggered has ended."""
    await page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"] button, "
        "[data-testid=\"stStatusWidget\"] img')", timeout=timeout * 1000)


async def _visit(page, nav: str, heading: str, timeout: float) -> float:
    t0 = time.perf_counter()
    link = page.locator('[data-testid="stSidebarNavLink"]').filter(has_text=re.compile(rf"{nav}\s*$", re.I))
    await link.first.click(timeout=timeout * 1000)
    await page.get_by_role("heading", name=heading).first.wait_for(timeout=timeout * 1000)
    return time.perf_counter() - t0


def class_link(code: str) -> tuple[str, str]:
    """(page, query) a student opens: the Explorer in the class, on the notebook preset."""
    return "explorer", f"class={code}&preset={PRESET}"


async def arrive(i: int, n: int, arrival: float) -> None:
    """Student i of n opens the link at i / n of the arrival window (all at once when it is 0)."""
    if arrival > 0 and n > 1:
        await asyncio.sleep(arrival * i / (n - 1))


async def user(i: int, browser, url: str, go: asyncio.Event, all_done: asyncio.Event, result: UserResult,
               timeout: float, code: str = "", arrival: float = 0.0, n: int = 1) -> None:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    page.on("pageerror", lambda exc: result.errors.append(f"page error: {exc}"))
    try:
        await arrive(i, n, arrival)
        t0 = time.perf_counter()
        where, query = class_link(code)
        await page.goto(f"{url}/{where}?{query}", wait_until="domcontentloaded")
        train = page.get_by_role("button", name=re.compile(r"^\W*Train\s*$")).first
        await train.wait_for(timeout=timeout * 1000)
        await page.wait_for_function(
            "() => [...document.querySelectorAll('button')].some(b => /Train/.test(b.innerText) && !b.disabled)",
            timeout=timeout * 1000)
        result.latencies.append(("open explorer", time.perf_counter() - t0))
        await go.wait()
        t0 = time.perf_counter()
        await train.click()
        while not await _status(page):
            await asyncio.sleep(0.05)
            if time.perf_counter() - t0 > timeout:
                raise TimeoutError("no Status after pressing Train")
        result.latencies.append(("press Train", time.perf_counter() - t0))
        result.status = "training"
        while True:
            status = await _status(page)
            if status in FINAL:
                break
            if time.perf_counter() - t0 > timeout:
                raise TimeoutError(f"still {status!r} after {timeout:.0f}s")
            await asyncio.sleep(0.2)
        result.train_seconds = time.perf_counter() - t0
        result.status = status
        if await page.locator('[data-testid="stException"]').count():
            result.errors.append("an exception box on the Explorer")
        # Keep interacting while the other users train (and at least twice).
        rounds = 0
        while rounds < ROUNDS or not all_done.is_set():
            result.latencies.append(("open Runs page", await _visit(page, "Runs", "Saved runs", INTERACTION_TIMEOUT)))
            result.latencies.append(("back to Explorer", await _visit(page, "Explorer", "Explorer",
                                                                      INTERACTION_TIMEOUT)))
            rounds += 1
        if await page.locator('[data-testid="stException"]').count():
            result.errors.append("an exception box after navigating")
    except Exception as exc:  # noqa: BLE001 - every failure is a counted error
        result.errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        try:
            shot = ROOT / "artifacts" / f"load-user{i}-error.png"
            await page.screenshot(path=str(shot), full_page=True)
            result.errors[-1] += f" (screenshot {shot.relative_to(ROOT)})"
        except Exception:  # noqa: BLE001
            pass
    finally:
        await context.close()


async def browsers(server: Server, n: int, timeout: float, code: str, arrival: float) -> list[UserResult]:
    from playwright.async_api import async_playwright

    url = server.url
    results = [UserResult(i) for i in range(n)]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        await drive(server, results, lambda i, go, all_done: user(i, browser, url, go, all_done, results[i], timeout,
                                                                  code, arrival, n))
        await browser.close()
    return results


async def drive(server: Server, results: list[UserResult], start: Callable) -> None:
    """Run `start(i, go, all_done)` for every user once the service has started (as a class finds a server
    the teacher started before the lesson): all open their page, then all press Train at the `go` signal;
    `all_done` is set when every run has ended."""
    await asyncio.to_thread(server.wait_started)
    go, all_done = asyncio.Event(), asyncio.Event()
    tasks = [asyncio.create_task(start(i, go, all_done)) for i in range(len(results))]
    while not all(r.latencies or r.errors for r in results):  # every page open and ready (or failed)
        await asyncio.sleep(0.1)
    go.set()
    while not all(r.status in FINAL or r.errors for r in results):
        await asyncio.sleep(0.1)
    all_done.set()
    await asyncio.gather(*tasks)


# --- websocket users (Streamlit's own protocol, no browser) -----------------------------------------
async def ws_user(i: int, url: str, go: asyncio.Event, all_done: asyncio.Event, result: UserResult,
                  timeout: float, think: float, code: str = "", arrival: float = 0.0, n: int = 1) -> None:
    """The browser user's script, spoken over Streamlit's websocket by benchmarks/st_client.py."""
    from st_client import StreamlitSession

    session = None
    try:
        await arrive(i, n, arrival)
        t0 = time.perf_counter()
        session = await StreamlitSession.open(url, *class_link(code), timeout=timeout)
        await session.wait_for(lambda s: any(re.search(r"Train\s*$", b) for b in s.buttons()), timeout=timeout)
        result.latencies.append(("open explorer", time.perf_counter() - t0))
        await go.wait()
        result.latencies.append(("press Train", await session.click(r"Train\s*$", timeout=INTERACTION_TIMEOUT)))
        result.status = "training"
        t0 = time.perf_counter()
        await session.wait_for(lambda s: (s.metric("Status") or "").lower() in FINAL, timeout=timeout)
        result.status = (session.metric("Status") or "").lower()
        result.train_seconds = time.perf_counter() - t0
        rounds = 0
        while rounds < ROUNDS or not all_done.is_set():
            await asyncio.sleep(think)
            result.latencies.append(("open Runs page", await session.goto("Runs", timeout=INTERACTION_TIMEOUT)))
            await asyncio.sleep(think)
            result.latencies.append(("back to Explorer", await session.goto("Explorer", timeout=INTERACTION_TIMEOUT)))
            rounds += 1
        if any(t.lower().startswith(("exception", "traceback")) for t in session.texts()):
            result.errors.append("an exception on the page")
    except Exception as exc:  # noqa: BLE001 - every failure is a counted error
        where = "" if session is None else f" (status {session.metric('Status')!r}, buttons {session.buttons()[:4]})"
        result.errors.append(f"{type(exc).__name__} while {result.status}: {str(exc)[:200]}{where}")
    finally:
        if session is not None:
            await session.close()


async def ws_users(server: Server, n: int, timeout: float, think: float, code: str,
                   arrival: float) -> list[UserResult]:
    url = server.url
    sys.path.insert(0, str(Path(__file__).parent))
    results = [UserResult(i) for i in range(n)]
    await drive(server, results, lambda i, go, all_done: ws_user(i, url, go, all_done, results[i], timeout, think,
                                                                 code, arrival, n))
    return results


# --- API users (fallback) ------------------------------------------------------------------------
def api_users(backend: str, n: int, timeout: float, token: str) -> list[UserResult]:
    """Each user submits the preset and reads its records page by page (vgrad.service.client.Page)."""
    from vgrad.presets import preset
    from vgrad.service.client import BackendClient

    client = BackendClient(backend, token=token)
    results = [UserResult(i) for i in range(n)]
    barrier = threading.Barrier(n)

    def one(r: UserResult) -> None:
        try:
            barrier.wait()
            t0 = time.perf_counter()
            job = client.submit(preset(PRESET), f"load-{r.user}", remote=f"10.0.0.{r.user % 250 + 1}")
            r.latencies.append(("submit", time.perf_counter() - t0))
            offset = 0
            while True:
                t1 = time.perf_counter()
                page = client.records(job["id"], offset)
                r.latencies.append(("records", time.perf_counter() - t1))
                offset = page.next
                if page.status.final and not page.more:
                    r.status = str(page.status)
                    break
                if time.perf_counter() - t0 > timeout:
                    raise TimeoutError("job did not end")
                if not page.more:
                    time.sleep(0.25)
            r.train_seconds = time.perf_counter() - t0
        except Exception as exc:  # noqa: BLE001
            r.errors.append(f"{type(exc).__name__}: {str(exc)[:300]}")

    threads = [threading.Thread(target=one, args=(r,)) for r in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


# --- report ----------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def report(results: list[UserResult], server: Server, mode: str, wall: float, cpu: tuple[float, float, dict],
           class_runs: int | None = None, arrival: float = 0.0, think: float = 0.0) -> int:
    finished = sum(r.status == "finished" for r in results)
    errors = [f"user {r.user}: {e}" for r in results for e in r.errors]
    errors += [f"user {r.user}: ended {r.status}" for r in results if r.status != "finished" and not r.errors]
    if class_runs is not None and class_runs != finished:
        errors.append(f"the class has {class_runs} runs for {finished} finished students")
    every = [s for r in results for _, s in r.latencies]
    during = [s for r in results for kind, s in r.latencies if kind != "open explorer"]
    how = f"arriving over {arrival:g} s" if arrival else "arriving at once"
    print(f"\nvgrad load test ({mode}): {len(results)} students {how}, think {think:g} s, {PRESET}, "
          f"{os.cpu_count()} CPU cores")
    print(f"  finished:            {finished}/{len(results)}")
    if class_runs is not None:
        print(f"  runs in the class:   {class_runs}")
    print(f"  errors:              {len(errors)}")
    for e in errors[:20]:
        print(f"    - {e}")
    print(f"  interactions:        {len(every)} ({len(during)} after the first page open)")
    print(f"  latency p50 / p95:   {percentile(every, 0.5):.2f} s / {percentile(every, 0.95):.2f} s "
          f"(first open included); {percentile(during, 0.5):.2f} s / {percentile(during, 0.95):.2f} s without it")
    kinds = sorted({k for r in results for k, _ in r.latencies})
    for kind in kinds:
        vals = [s for r in results for k, s in r.latencies if k == kind]
        print(f"    {kind:<18} n={len(vals):<4} p50 {percentile(vals, 0.5):.2f} s  p95 {percentile(vals, 0.95):.2f} s"
              f"  max {max(vals):.2f} s")
    trains = [r.train_seconds for r in results if r.status == "finished"]
    if trains:
        print(f"  Train -> finished:   median {statistics.median(trains):.1f} s, max {max(trains):.1f} s")
    print(f"  peak server RSS:     {server.peak_rss / 2**20:.0f} MB "
          f"({', '.join(f'{k} {v / 2**20:.0f} MB' for k, v in sorted(server.peak_by_name.items()))})")
    print(f"  wall time:           {wall:.1f} s")
    print(f"  CPU during the load: server {cpu[0]:.1f} s of the machine's {cpu[1]:.1f} s "
          f"({os.cpu_count()} cores x {wall:.1f} s = {os.cpu_count() * wall:.1f} s available); "
          + ", ".join(f"{k} {v:.1f} s" for k, v in sorted(cpu[2].items())))
    return 0 if finished == len(results) and not errors else 1


def make_class(data_dir: Path) -> str:
    """A class in the benchmark's data directory; its code (the students' link carries it)."""
    from vgrad.classroom import ClassStore
    from vgrad.store import RunStore

    return ClassStore(RunStore(data_dir)).create("load test").code


def class_runs(data_dir: Path, code: str) -> int:
    from vgrad.classroom import ClassStore
    from vgrad.store import RunStore

    return len(ClassStore(RunStore(data_dir)).runs(code))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=30, help="simulated students (default 30)")
    ap.add_argument("--mode", choices=("ws", "browser", "api"), default="ws",
                    help="ws: Streamlit's websocket protocol, as a browser speaks it, without rendering (default); "
                         "browser: headless chromium pages on this machine; api: the backend HTTP API only")
    ap.add_argument("--think", type=float, default=0.0,
                    help="seconds a user pauses between two interactions (default 0: click as fast as answered)")
    ap.add_argument("--arrival", type=float, default=0.0,
                    help="seconds over which the students open the link (default 0: all at the same moment)")
    ap.add_argument("--timeout", type=float, default=300, help="seconds a user may wait for one step")
    ap.add_argument("--entry", choices=("serve", "launcher"), default="serve",
                    help="start the app with `python -m vgrad serve` (default) or the launcher's serve_all")
    ap.add_argument("--log", default=str(ROOT / "artifacts" / "load-server.log"))
    args = ap.parse_args(argv)
    Path(args.log).parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vgrad-load-") as tmp:
        data_dir = Path(tmp)
        code = make_class(data_dir)
        return run(args, data_dir, code)


def run(args: argparse.Namespace, data_dir: Path, code: str) -> int:
    server = Server(free_port(), Path(args.log), args.entry, data_dir, args.users)
    try:
        try:
            server.wait_ready()
        except RuntimeError as exc:
            if args.entry != "serve":
                raise
            print(f"warning: `python -m vgrad serve` failed ({exc}); using serve_all directly", file=sys.stderr)
            server.stop()
            server = Server(free_port(), Path(args.log), "launcher", data_dir, args.users)
            server.wait_ready()
        print(f"server: {server.entry} on {server.url}; class {code}", file=sys.stderr)
        t0 = time.perf_counter()
        machine0, server0 = sum(psutil.cpu_times()[:3]), server.cpu_by_name()
        if args.mode == "ws":
            results = asyncio.run(ws_users(server, args.users, args.timeout, args.think, code, args.arrival))
        elif args.mode == "browser":
            results = asyncio.run(browsers(server, args.users, args.timeout, code, args.arrival))
        else:
            deadline = time.monotonic() + 120
            backend = server.backend_url()
            while backend is None and time.monotonic() < deadline:
                time.sleep(0.5)
                backend = server.backend_url()
            server.wait_started()
            results = api_users(backend, args.users, args.timeout, server.token)
        used = {k: v - server0.get(k, 0.0) for k, v in server.cpu_by_name().items()}
        cpu = (sum(used.values()), sum(psutil.cpu_times()[:3]) - machine0, used)
        runs = class_runs(data_dir, code) if args.mode != "api" else None
        return report(results, server, args.mode, time.perf_counter() - t0, cpu, runs, args.arrival, args.think)
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
