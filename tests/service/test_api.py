"""The service over real HTTP: submit, read, stream, control, refusals."""

from __future__ import annotations

import json

import pytest
import requests

from tests.conftest import TOKEN
from tests.service.helpers import LONG, TINY, read_all, wait_for, wait_step_stable
from vgrad.config import RunConfig
from vgrad.records import parse
from vgrad.service.client import BackendClient, BackendError


@pytest.fixture(scope="module")
def client(backend_url) -> BackendClient:
    return BackendClient(backend_url)


def test_health_reports_ready_tensorflow_and_limits(client):
    health = client.health()
    assert health["ok"] is True and health["ready"] is True
    assert health["tensorflow"].startswith("2.")
    assert health["workers"] == 2
    assert health["limits"]["max_params"] > 0


def test_submit_and_read_records_to_completion(client):
    job = client.submit(RunConfig(**TINY), client_id="api-read", label="tiny")
    assert job["status"] in ("queued", "running")
    records = read_all(client, job["id"])
    kinds = [r.kind for r in records]
    assert kinds[0] == "start" and kinds[-1] == "status"
    assert records[-1].status == "finished"
    steps = [r.step for r in records if r.kind == "step"]
    assert steps == list(range(RunConfig(**TINY).total_steps))
    # offsets: a later read returns exactly the tail
    assert client.records(job["id"], offset=len(records) - 2).records == records[-2:]
    summary = client.job(job["id"])
    assert summary["status"] == "finished" and summary["step"] == len(steps)
    assert summary["config"]["hidden_layers"] == 2 and summary["label"] == "tiny"
    listed = client.jobs("api-read")
    assert [j["id"] for j in listed] == [job["id"]]
    assert listed[0]["queue_position"] is None and listed[0]["total_steps"] == len(steps)


def test_events_stream_every_record_then_ends(client, backend_url):
    job = client.submit(TINY, client_id="api-sse")
    with requests.get(f"{backend_url}/jobs/{job['id']}/events", stream=True, timeout=60,
                      headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        lines = list(resp.iter_lines(decode_unicode=True))  # the server ends the stream
    data = [parse(json.loads(line[5:])) for line in lines if line.startswith("data:")]
    ids = [int(line[3:]) for line in lines if line.startswith("id:")]
    assert ids == list(range(len(data)))
    assert data[0].kind == "start" and data[-1].kind == "status"
    assert data == client.records(job["id"]).records
    # the Python client, from an offset
    assert list(client.events(job["id"], offset=3)) == data[3:]


def test_pause_step_resume_stop(client):
    job = client.submit(LONG, client_id="api-control")
    jid = job["id"]
    client.control(jid, "pause")
    paused = wait_step_stable(client, jid)
    assert client.job(jid)["paused"] is True
    client.control(jid, "step")
    wait_for(lambda: client.job(jid)["step"] == paused + 1, 30, what="one step")
    assert wait_step_stable(client, jid) == paused + 1  # exactly one step, then paused again
    client.control(jid, "step")
    client.control(jid, "step")
    wait_for(lambda: client.job(jid)["step"] == paused + 3, 30, what="two more steps")
    client.control(jid, "resume")
    wait_for(lambda: client.job(jid)["step"] > paused + 10, 60, what="steps after resume")
    assert client.job(jid)["paused"] is False
    client.control(jid, "stop")
    records = read_all(client, jid)
    assert records[-1].status == "cancelled"
    assert "stopped by request" in records[-1].message
    done = client.job(jid)
    assert done["status"] == "cancelled" and done["step"] < RunConfig(**LONG).total_steps
    with pytest.raises(BackendError) as err:
        client.control(jid, "pause")
    assert err.value.status == 409 and "cancelled" in str(err.value)


@pytest.mark.parametrize("config, field", [
    ({"epochs": "many"}, "epochs"),
    ({"activation": "cosine"}, "activation"),
    ({"learning_rate": -1}, "learning_rate"),
    ({"hidden_layerz": 3}, "hidden_layerz"),
    ({"units": 0}, "units"),
])
def test_bad_config_is_400_naming_the_field(client, config, field):
    with pytest.raises(BackendError) as err:
        client.submit(config, client_id="api-bad")
    assert err.value.status == 400
    assert str(err.value).startswith(field + ":")


def test_malformed_body_is_400(backend_url):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    resp = requests.post(f"{backend_url}/jobs", json={"config": [1, 2], "client": "x"}, timeout=10, headers=auth)
    assert resp.status_code == 400 and "config" in resp.json()["detail"]
    resp = requests.post(f"{backend_url}/jobs", data=b"{not json", timeout=10,
                         headers={"content-type": "application/json", **auth})
    assert resp.status_code == 400
    resp = requests.post(f"{backend_url}/jobs", json={"config": {}, "client": "x" * 500}, timeout=10, headers=auth)
    assert resp.status_code == 400 and "client" in resp.json()["detail"]
    resp = requests.post(f"{backend_url}/jobs", json={"config": {}}, timeout=10,
                         headers={"X-Vgrad-Client": "x" * 500, **auth})
    assert resp.status_code == 400 and "x-vgrad-client" in resp.json()["detail"].lower()


@pytest.mark.parametrize("config, limit", [
    ({"hidden_layers": 64, "units": 256}, "VGRAD_MAX_PARAMS"),
    ({"n_samples": 20000}, "VGRAD_MAX_SAMPLES"),
    ({"epochs": 2000, "batch_size": 1, "n_samples": 200}, "VGRAD_MAX_STEPS"),
])
def test_limits_refuse_with_a_message(client, config, limit):
    with pytest.raises(BackendError) as err:
        client.submit(config, client_id="api-limits")
    assert err.value.status == 413
    assert limit in str(err.value) and "the server allows at most" in str(err.value)
    assert client.jobs("api-limits") == []


def test_unknown_job_and_action(client, backend_url):
    with pytest.raises(BackendError) as err:
        client.records("nope")
    assert err.value.status == 404 and "nope" in str(err.value)
    resp = requests.post(f"{backend_url}/jobs/nope/explode", timeout=10, headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == 400 and "pause" in resp.json()["detail"] and "stop" in resp.json()["detail"]
    with pytest.raises(BackendError, match="unknown action"):
        client.control("nope", "explode")


def test_diverging_job_reports_why_and_others_still_train(client):
    bad = client.submit({"epochs": 5, "hidden_layers": 4, "activation": "relu", "initializer": "random_normal",
                         "init_std": 10.0, "optimizer": "sgd", "learning_rate": 100.0}, client_id="api-diverge")
    good = client.submit(TINY, client_id="api-diverge")
    bad_records = read_all(client, bad["id"])
    assert bad_records[-1].status == "diverged"
    assert "diverged at step" in bad_records[-1].message
    assert client.job(bad["id"])["message"] == bad_records[-1].message
    assert read_all(client, good["id"])[-1].status == "finished"
    assert client.health()["ready"] is True
