"""The service with VGRAD_EXECUTOR=ray: every training runs on a real local Ray cluster started here
(`ray start --head` on a free port, stopped by process id), records streamed back as they are made.
Covered: the same records as a local training of the same seed; pause, step, resume and stop; a worker
killed (SIGKILL) while training or paused, and one frozen (SIGSTOP) when its job is stopped; a sweep's
cells; an unreachable cluster at start (local training, /health says why); a job per cluster CPU; and,
last, the head stopped under a running job (the service goes on).

Skipped only when ray cannot be imported (CI installs requirements.txt, so it runs there).
"""

from __future__ import annotations

import json
import os
import signal
import time

import psutil
import pytest
import requests

ray = pytest.importorskip("ray", reason="ray is not installed (pip install -r requirements.txt)")

from tests.conftest import ServiceProcess  # noqa: E402
from tests.ray_head import RayHead, free_port  # noqa: E402
from tests.service.helpers import read_all, wait_for, wait_step_stable  # noqa: E402
from vgrad.config import RunConfig  # noqa: E402
from vgrad.records import StatusRecord, StepRecord  # noqa: E402
from vgrad.service.ray_jobs import STOP_GRACE_SECONDS, RayJobs  # noqa: E402
from vgrad.service.settings import Settings  # noqa: E402

# 200 epochs x 3 steps of a 2-layer net: about a second on a Ray worker.
STREAMED = {"epochs": 200, "hidden_layers": 2, "n_samples": 100, "seed": 7}
# 6000 steps: long enough to pause, step, stop, or kill its worker.
LONGEST = {"epochs": 2000, "hidden_layers": 2, "n_samples": 100}


@pytest.fixture(scope="module")
def head():
    with RayHead(num_cpus=2) as started:
        yield started


@pytest.fixture(scope="module")
def service(head):
    # Ray ends a driver whose head has not answered for RAY_gcs_rpc_server_reconnect_timeout_s; 3 s here
    # shows that the service asks for longer (the last test stops the head)
    svc = ServiceProcess({"VGRAD_EXECUTOR": "ray", "VGRAD_RAY_ADDRESS": head.address, "VGRAD_WORKERS": "2",
                          "VGRAD_WARM": "0", "RAY_gcs_rpc_server_reconnect_timeout_s": "3"}).wait_ready()
    wait_for(lambda: requests.get(svc.url + "/health", timeout=5).json()["ray"]["reachable"] is not None, 90,
             what="the service to connect to the Ray cluster")
    yield svc
    svc.stop()


@pytest.fixture(scope="module")
def client(service):
    return service.client()


def _steps(records) -> list[int]:
    return [r.step for r in records if isinstance(r, StepRecord)]


def test_health_says_trainings_run_on_the_ray_cluster(service, head):
    health = requests.get(service.url + "/health", timeout=5).json()
    assert health["executor"] == "ray"
    assert health["ray"] == {"address": head.address, "connected": True, "reachable": True, "cpus": 2.0,
                             "nodes": 1, "error": None}


def test_without_vgrad_workers_the_service_trains_a_job_per_cluster_cpu(head):
    # pinned to one CPU, the service alone would train one job at a time; the cluster has two
    svc = ServiceProcess({"VGRAD_EXECUTOR": "ray", "VGRAD_RAY_ADDRESS": head.address, "VGRAD_WARM": "0"},
                         cpus={0}).wait_ready()
    try:
        wait_for(lambda: requests.get(svc.url + "/health", timeout=5).json()["ray"]["connected"], 90,
                 what="the service to connect to the Ray cluster")
        wait_for(lambda: requests.get(svc.url + "/health", timeout=5).json()["workers"] == 2, 30,
                 what="two workers, one per CPU of the cluster")
    finally:
        svc.stop()
    svc.log.seek(0)
    assert "(2 CPUs on 1 nodes); 2 jobs at once" in svc.log.read()


def test_records_stream_back_while_it_trains_and_equal_a_local_run(client, service, head):
    jid = client.submit(RunConfig(**STREAMED), "ray-stream")["id"]
    records, workers = [], set()

    def some_steps_while_running():
        page = client.records(jid, offset=len(records))
        records.extend(page.records)
        workers.update(p.pid for p in head.workers("vgrad_train_job"))
        return page.status == "running" and _steps(records) and workers

    wait_for(some_steps_while_running, 90, every=0.02, what="step records of a job running on a Ray worker")
    total = RunConfig(**STREAMED).total_steps
    assert 0 < len(_steps(records)) < total  # streamed: the rest is still being made
    assert service.pid not in workers  # trained by a Ray worker process, not by the service
    records += read_all(client, jid)[len(records):]
    assert _steps(records) == list(range(total))
    assert records[-1] == StatusRecord(status="finished", step=total - 1, message=f"trained {total} steps")

    from vgrad.train import tfsetup
    from vgrad.train.engine import train

    tfsetup.configure()  # as the Ray worker did: one intra-op thread
    here = []
    train(RunConfig(**STREAMED), on_record=here.append)
    assert [json.loads(r.to_json()) for r in records] == [json.loads(r.to_json()) for r in here]  # bit for bit


def test_pause_step_resume_and_stop_reach_the_remote_training(client, head):
    jid = client.submit(RunConfig(**LONGEST), "ray-control")["id"]
    wait_for(lambda: client.job(jid)["step"] > 0, 90, what="the first steps")
    client.control(jid, "pause")
    paused = wait_step_stable(client, jid)
    assert client.job(jid)["paused"] is True
    assert len(head.workers("vgrad_train_job")) == 1  # held by its Ray worker, not by the service
    client.control(jid, "step")
    wait_for(lambda: client.job(jid)["step"] == paused + 1, 30, what="one step")
    assert wait_step_stable(client, jid) == paused + 1  # exactly one step, then paused again
    client.control(jid, "step")
    client.control(jid, "step")
    wait_for(lambda: client.job(jid)["step"] == paused + 3, 30, what="two more steps")
    assert wait_step_stable(client, jid) == paused + 3
    client.control(jid, "resume")
    wait_for(lambda: client.job(jid)["step"] > paused + 20, 60, what="steps after the resume")
    client.control(jid, "stop")
    records = read_all(client, jid)
    last = records[-1]
    assert last.status == "cancelled" and last.message == f"stopped by request after {last.step + 1} steps"
    assert _steps(records) == list(range(last.step + 1)) and last.step + 1 < RunConfig(**LONGEST).total_steps


@pytest.mark.parametrize("when", ["training", "paused"])
def test_a_killed_ray_worker_fails_its_job_with_a_sentence_and_the_service_goes_on(client, service, head, when):
    jid = client.submit(RunConfig(**LONGEST), "ray-kill")["id"]
    wait_for(lambda: client.job(jid)["step"] > 10, 90, what="the job to stream steps")
    if when == "paused":  # nothing streams while paused: the death must still be noticed
        client.control(jid, "pause")
        wait_step_stable(client, jid)
    workers = head.workers("vgrad_train_job")
    assert len(workers) == 1, workers
    os.kill(workers[0].pid, signal.SIGKILL)
    records = read_all(client, jid, timeout=60)
    last = records[-1]
    assert last.status == "failed" and last.step == _steps(records)[-1]
    assert last.message.startswith(f"the Ray worker training this run died after {last.step + 1} steps")
    assert "train it again" in last.message
    health = requests.get(service.url + "/health", timeout=5).json()
    assert health["ok"] and health["executor"] == "ray" and health["running"] == 0
    tiny = client.submit(RunConfig(epochs=1, hidden_layers=2, n_samples=100), "ray-kill")["id"]
    assert read_all(client, tiny)[-1].status == "finished"  # on a new worker


def test_a_sweeps_tasks_run_on_the_cluster_and_equal_the_same_sweep_here(client, head):
    from vgrad.executors import InlineExecutor
    from vgrad.sweep import make_spec, run_sweep
    from vgrad.train.sweep_cells import run_task

    spec = make_spec(RunConfig(activation="tanh", units=8, n_samples=100), ["hidden_layers=2,3"], mode="trained",
                     steps=300)
    sweep_id = client.submit_sweep(spec, "ray-sweep")["id"]
    seen, cells = set(), []

    def ended() -> bool:
        seen.update(p.pid for p in head.workers("vgrad_sweep_task"))
        page = client.sweep(sweep_id, offset=len(cells), spec=spec)
        cells.extend(page.cells)
        return page.final and not page.more

    wait_for(ended, 120, every=0.02, what="the sweep to end")
    assert seen, "no Ray worker ran a sweep task"
    assert sorted(c.cell for c in cells) == [0, 1]
    here = run_sweep(spec, InlineExecutor(run_task))
    assert sorted((c.cell, c.measures) for c in cells) == sorted((c.cell, c.measures) for c in here.cells)


def test_an_unreachable_cluster_at_start_means_local_training_and_health_says_why():
    """A service started with VGRAD_EXECUTOR=ray and nothing at VGRAD_RAY_ADDRESS: one line in its log,
    /health names the address and the reason, and jobs train in the service itself."""
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    svc = ServiceProcess({"VGRAD_EXECUTOR": "ray", "VGRAD_RAY_ADDRESS": address, "VGRAD_WARM": "0"}).wait_ready()
    try:
        health = wait_for(lambda: (h := requests.get(svc.url + "/health", timeout=5).json())["ray"]["reachable"]
                          is False and h, 60, what="the connection attempt to end")
        error = (f"cannot reach the Ray cluster at {address}: Connection refused; trainings run in this service "
                 "instead (VGRAD_EXECUTOR=local)")
        assert health["executor"] == "local" and health["ok"]
        assert health["ray"] == {"address": address, "connected": False, "reachable": False, "cpus": None,
                                 "nodes": None, "error": error}
        client = svc.client()
        records = read_all(client, client.submit(RunConfig(epochs=1, hidden_layers=2, n_samples=100), "no-ray")["id"])
        assert _steps(records) == [0, 1, 2] and records[-1].status == "finished"
        svc.log.seek(0)
        assert svc.log.read().count(error) == 1  # said once, in the service's log
    finally:
        svc.stop()
    executor = RayJobs(address)  # the same attempt in this process: nothing connected, nothing left behind
    executor._connect()
    assert executor.usable(0) is False and executor.health()["ray"]["error"] == error
    assert not ray.is_initialized()


def test_a_cluster_that_answers_but_has_no_node_here_says_what_to_run(head, monkeypatch, capsys):
    """ray.init needs a Ray node on the driver's machine; its own error only says "Failed to connect" (after
    60 s: here it is made to fail at once, the way it does), so the service says what to run."""
    def no_node_here(**kwargs):
        try:
            raise RuntimeError("No node info found matching attributes: '' when trying to resolve node to connect to.")
        except RuntimeError as cause:
            raise ConnectionError(f"Failed to connect to Ray cluster at {kwargs['address']}") from cause

    monkeypatch.setattr(ray, "init", no_node_here)
    executor = RayJobs(head.address)  # it answers: the TCP check passes
    executor._connect()
    assert executor.usable(0) is False and executor.health()["executor"] == "local"
    assert executor.health()["ray"]["error"] == (
        f"cannot connect to the Ray cluster at {head.address}: Failed to connect to Ray cluster at {head.address} "
        "(No node info found matching attributes: '' when trying to resolve node to connect to.); a Ray driver needs "
        f"a Ray node on its own machine: run `ray start --address {head.address}` here first (or run this on the "
        "head); trainings run in this service instead (VGRAD_EXECUTOR=local)")
    assert capsys.readouterr().err == f"vgrad: {executor.health()['ray']['error']}\n"
    from vgrad.executors import connect_error

    assert "run `ray start --address HEAD_IP:6379` here" in str(connect_error("auto", ConnectionError("no Ray")))


def test_a_frozen_ray_worker_does_not_hang_a_stopped_job(client, head):
    """A worker that stops answering (SIGSTOP: alive, silent) cannot hold a job: a stop ends it as
    cancelled after STOP_GRACE_SECONDS, its Ray task is killed, and the cluster trains the next job."""
    jid = client.submit(RunConfig(**LONGEST), "ray-frozen")["id"]
    wait_for(lambda: client.job(jid)["step"] > 10, 90, what="the job to stream steps")
    workers = head.workers("vgrad_train_job")
    assert len(workers) == 1, workers
    frozen = workers[0]
    os.kill(frozen.pid, signal.SIGSTOP)
    try:
        time.sleep(0.5)
        client.control(jid, "stop")
        t0 = time.monotonic()
        records = read_all(client, jid, timeout=STOP_GRACE_SECONDS + 30)
        waited = time.monotonic() - t0
    finally:
        try:
            os.kill(frozen.pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
    last = records[-1]
    assert last.status == "cancelled" and last.step == _steps(records)[-1]
    assert last.message == (f"stopped by request after {last.step + 1} steps (its Ray worker did not answer within "
                            f"{STOP_GRACE_SECONDS:g} s and was ended)")
    assert STOP_GRACE_SECONDS <= waited < STOP_GRACE_SECONDS + 15
    wait_for(lambda: not frozen.is_running() or frozen.status() == psutil.STATUS_ZOMBIE, 30,
             what="Ray to end the frozen worker")
    tiny = client.submit(RunConfig(epochs=1, hidden_layers=2, n_samples=100), "ray-frozen")["id"]
    assert read_all(client, tiny)[-1].status == "finished"


def test_the_executor_setting_is_checked():
    assert Settings.from_env({}).executor == "local"
    assert Settings.from_env({"VGRAD_EXECUTOR": "Ray", "VGRAD_RAY_ADDRESS": "10.0.0.5:6379"}).ray_address == \
        "10.0.0.5:6379"
    with pytest.raises(ValueError, match="VGRAD_EXECUTOR must be one of local, ray, got 'spark'"):
        Settings.from_env({"VGRAD_EXECUTOR": "spark"})


def test_stop_before_the_first_record_and_a_quick_run(client):
    """A job stopped while its worker still starts ends cancelled, not failed; the records of a short
    run come whole."""
    jid = client.submit(RunConfig(**LONGEST), "ray-early")["id"]
    client.control(jid, "stop")
    assert read_all(client, jid)[-1].status == "cancelled"
    t0 = time.monotonic()
    done = read_all(client, client.submit(RunConfig(epochs=1, hidden_layers=2, n_samples=100), "ray-early")["id"])
    assert _steps(done) == [0, 1, 2] and done[-1].status == "finished" and time.monotonic() - t0 < 30


# --- keep this test last: it stops the module's head ------------------------------------------------

def test_a_lost_head_fails_its_running_job_and_the_service_trains_here(client, service, head):
    """The service outlives its cluster: the job training there ends `failed` with a sentence, /health
    says trainings run in the service now and why, one submitted as the head went ends too (never
    hangs), a new one trains in the service, and the service is up well past Ray's 3 s."""

    def health() -> dict:
        return requests.get(service.url + "/health", timeout=5).json()

    jid = client.submit(RunConfig(**LONGEST), "lost")["id"]
    wait_for(lambda: client.job(jid)["step"] > 10, 90, what="the job to stream steps from the cluster")
    head.stop()
    lost_at = time.monotonic()
    racing = client.submit(RunConfig(epochs=1, hidden_layers=2, n_samples=100), "lost-race")["id"]

    last = read_all(client, jid, timeout=60)[-1]
    assert last.status == "failed" and "train it again" in last.message, last
    end = read_all(client, racing, timeout=90)[-1]
    assert end.status == "finished" or (end.status == "failed" and "train it again" in end.message), end
    wait_for(lambda: health()["executor"] == "local", 30, what="/health to say the cluster is gone")
    now = health()
    assert now["ray"]["reachable"] is False
    assert "stopped answering; new trainings run in this service" in now["ray"]["error"]

    tiny = client.submit(RunConfig(epochs=1, hidden_layers=2, n_samples=100), "lost")["id"]
    assert read_all(client, tiny, timeout=120)[-1].status == "finished"  # trained here
    time.sleep(max(0.0, 10 - (time.monotonic() - lost_at)))  # well past Ray's 3 s
    assert service.proc.poll() is None and health()["ok"] is True
    service.log.seek(0)
    assert "stopped answering" in service.log.read()
