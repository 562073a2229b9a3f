"""The service outlives its Ray cluster: the head is stopped while a job trains there. The job ends
`failed` with a sentence, /health says trainings run in the service now and why, a new job trains
there (one submitted as the head went ends too, never hangs), and the service is still up long after Ray would have ended its driver process (Ray ends a
driver whose head has not answered for RAY_gcs_rpc_server_reconnect_timeout_s, 3 s here; the service
asks for longer)."""

from __future__ import annotations

import time

import pytest
import requests

pytest.importorskip("ray", reason="ray is not installed (pip install -r requirements.txt)")

from tests.conftest import ServiceProcess  # noqa: E402
from tests.ray_head import RayHead  # noqa: E402
from tests.service.helpers import read_all, wait_for  # noqa: E402
from vgrad.config import RunConfig  # noqa: E402

LONGEST = {"epochs": 2000, "hidden_layers": 2, "n_samples": 100}


def test_a_lost_head_fails_its_running_job_and_the_service_trains_here():
    with RayHead(num_cpus=1) as head:
        svc = ServiceProcess({"VGRAD_EXECUTOR": "ray", "VGRAD_RAY_ADDRESS": head.address, "VGRAD_WARM": "0",
                              "VGRAD_WORKERS": "2", "RAY_gcs_rpc_server_reconnect_timeout_s": "3"}).wait_ready()
        try:
            client = svc.client()

            def health() -> dict:
                return requests.get(svc.url + "/health", timeout=5).json()

            wait_for(lambda: health()["ray"]["connected"], 90, what="the service to connect to the Ray cluster")
            jid = client.submit(RunConfig(**LONGEST), "lost")["id"]
            wait_for(lambda: client.job(jid)["step"] > 10, 90, what="the job to stream steps from the cluster")
            head.stop()
            lost_at = time.monotonic()
            # submitted before the service noticed: it may go to the dead cluster, and must not hang there
            racing = client.submit(RunConfig(epochs=1, hidden_layers=2, n_samples=100), "lost-race")["id"]

            last = read_all(client, jid, timeout=60)[-1]
            assert last.status == "failed" and "train it again" in last.message, last
            print(f"\nthe job's last word: {last.message}")
            wait_for(lambda: health()["executor"] == "local", 30, what="/health to say the cluster is gone")
            now = health()
            assert now["ray"]["reachable"] is False
            assert "stopped answering; new trainings run in this service" in now["ray"]["error"]

            end = read_all(client, racing, timeout=90)[-1]
            assert end.status == "finished" or (end.status == "failed" and "train it again" in end.message), end
            print(f"the racing job's last word: {end.message}")

            tiny = client.submit(RunConfig(epochs=1, hidden_layers=2, n_samples=100), "lost")["id"]
            assert read_all(client, tiny, timeout=120)[-1].status == "finished"  # trained here

            time.sleep(max(0.0, 10 - (time.monotonic() - lost_at)))  # well past Ray's 3 s
            assert svc.proc.poll() is None and health()["ok"] is True
        finally:
            svc.stop()
        svc.log.seek(0)
        assert "stopped answering" in svc.log.read()
