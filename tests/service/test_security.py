"""Who may talk to the service: the token, the Host header, other origins (the probe's D6), and ids
that tell a restart from a forgotten job."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import requests

from tests.conftest import ROOT, TOKEN
from tests.service.helpers import LONG, wait_for
from vgrad.service.client import BackendClient, BackendError
from vgrad.service.launcher import free_port
from vgrad.service.security import Guard, allowed_hosts, host_allowed, host_name
from vgrad.service.settings import Settings

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def running_job(backend_url):
    c = BackendClient(backend_url)
    jid = c.submit(LONG, "victim")["id"]
    wait_for(lambda: c.job(jid)["status"] == "running", 30, what="the victim's job to run")
    yield jid
    c.control(jid, "stop")


def test_a_page_of_another_origin_cannot_stop_a_job(backend_url, running_job):
    # what fetch(B + "/jobs/ID/stop", {method: "POST", mode: "no-cors"}) sends: no token, an Origin
    resp = requests.post(f"{backend_url}/jobs/{running_job}/stop", headers={"Origin": "http://localhost:9999"},
                         timeout=10)
    assert resp.status_code == 401 and "token" in resp.json()["detail"]
    resp = requests.post(f"{backend_url}/jobs/{running_job}/stop", headers={"Origin": "http://evil.example", **AUTH},
                         timeout=10)
    assert resp.status_code == 403
    assert BackendClient(backend_url).job(running_job)["status"] == "running"
    for path in ("/jobs", f"/jobs/{running_job}", f"/jobs/{running_job}/records", "/docs", "/openapi.json"):
        assert requests.get(backend_url + path, timeout=10).status_code == 401, path
        wrong = {"Authorization": "Bearer " + "x" * 40}
        assert requests.get(backend_url + path, headers=wrong, timeout=10).status_code == 401, path
    assert requests.get(f"{backend_url}/jobs", headers=AUTH, timeout=10).status_code == 200


def test_no_cors_headers_ever(backend_url):
    preflight = requests.options(f"{backend_url}/jobs", timeout=10, headers={
        "Origin": "http://localhost:9999", "Access-Control-Request-Method": "POST", **AUTH})
    assert not any(k.lower().startswith("access-control-") for k in preflight.headers)
    plain = requests.get(f"{backend_url}/jobs", headers={"Origin": f"http://127.0.0.1:{free_port()}", **AUTH},
                         timeout=10)
    assert plain.status_code == 200 and "access-control-allow-origin" not in plain.headers


def test_host_header_must_be_local(backend_url):
    port = backend_url.rsplit(":", 1)[1]
    for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.evil.example", "", "10.0.0.1"):
        resp = requests.get(f"{backend_url}/health", headers={"Host": host, **AUTH}, timeout=10)
        assert resp.status_code == 400 and "Host" in resp.json()["detail"], host
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "127.0.0.2", "LOCALHOST"):
        assert requests.get(f"{backend_url}/jobs", headers={"Host": host, **AUTH}, timeout=10).status_code == 200


def test_health_needs_no_token_and_says_whether_it_got_one(backend_url):
    assert requests.get(f"{backend_url}/health", timeout=10).json()["authenticated"] is False
    assert requests.get(f"{backend_url}/health", headers=AUTH, timeout=10).json()["authenticated"] is True
    with pytest.raises(BackendError) as err:
        BackendClient(backend_url, token="wrong-token-of-some-length").jobs()
    assert err.value.status == 401 and "VGRAD_SERVICE_TOKEN" in str(err.value)


def test_job_ids_tell_a_restart_from_a_forgotten_job(backend_url):
    c = BackendClient(backend_url)
    instance = c.health()["instance"]
    job = c.submit({"epochs": 1, "hidden_layers": 1}, "ids")["id"]
    assert job.startswith(instance + "-")
    other = "0" * 8 if instance != "0" * 8 else "1" * 8
    cases = {f"{other}-1-0123abcd": "restarted", f"{instance}-1-0123abcd": "forgotten", "nope": "unknown",
             f"{instance}-999999999-0123abcd": "unknown"}
    for jid, reason in cases.items():
        with pytest.raises(BackendError) as err:
            c.records(jid)
        assert (err.value.status, err.value.reason) == (404, reason), jid
    with pytest.raises(BackendError, match="restarted after it was submitted"):
        c.job(f"{other}-1-0123abcd")


def test_host_rules():
    hosts = allowed_hosts(Settings(host="0.0.0.0", hosts=("vgrad-backend",)))
    assert host_name("Vgrad-Backend:8502") == "vgrad-backend" and host_allowed("vgrad-backend", hosts)
    assert host_allowed("::1", hosts) and host_allowed("127.9.9.9", hosts) and not host_allowed("0.0.0.0", hosts)
    assert host_allowed("10.1.2.3", allowed_hosts(Settings(host="10.1.2.3")))
    assert Settings.from_env({"VGRAD_SERVICE_HOSTS": "a.example, B.example"}).hosts == ("a.example", "b.example")
    with pytest.raises(ValueError, match="VGRAD_SERVICE_TOKEN"):
        Settings.from_env({"VGRAD_SERVICE_TOKEN": "short"})
    with pytest.raises(ValueError):
        Guard(None, token="", hosts=())


def test_the_service_alone_prints_the_token_it_made():
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "VGRAD_SERVICE_TOKEN"}
    env.update(VGRAD_WARM="0", PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen([sys.executable, "-m", "vgrad.service", "--port", str(port)], cwd=str(ROOT), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(3)]
        token = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("token:"))
        assert len(token) >= 32 and "VGRAD_SERVICE_TOKEN" in lines[2]
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(url), 60, what="the service to answer")
        assert requests.get(f"{url}/jobs", timeout=5).status_code == 401
        assert requests.get(f"{url}/jobs", headers={"Authorization": f"Bearer {token}"}, timeout=5).json() == []
    finally:
        proc.terminate()
        proc.wait(10)


def _answers(url: str) -> bool:
    try:
        return requests.get(url + "/health", timeout=1).status_code == 200
    except requests.RequestException:
        return False
