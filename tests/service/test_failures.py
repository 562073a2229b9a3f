"""A training that raises leaves the service serving others; pace gives exact single steps.

The service runs in this process (uvicorn in a thread, real HTTP) with a fake `train` that needs
no TensorFlow, so failures can be injected.
"""

from __future__ import annotations

import threading
import time

import pytest
import uvicorn

from tests.conftest import TOKEN
from tests.service.helpers import read_all, wait_for
from vgrad.records import LAYER_STATS, StartRecord, Status, StatusRecord, StepRecord
from vgrad.service.app import create_app
from vgrad.service.client import BackendClient
from vgrad.service.launcher import free_port
from vgrad.service.settings import Settings


def fake_train(config, on_record=None, should_stop=None, pace=None):
    """Emits the record kinds the engine does; seed 13 crashes mid-run, seed 14 ends without status."""
    on_record(StartRecord(layers=(), n_train=75, n_val=25, steps_per_epoch=3, total_steps=config.total_steps,
                          family="mlp"))
    step = 0
    while step < config.total_steps:
        limit = pace() if pace else None
        for _ in range(limit or 1):
            if should_stop():
                on_record(StatusRecord(status=Status.CANCELLED, step=step - 1, message="stopped"))
                return None
            if config.seed == 13 and step == 2:
                raise RuntimeError("boom: the model exploded in a way nobody expected")
            on_record(StepRecord(step=step, epoch=0, loss=0.5, global_norm=1.0,
                                 **{k: (float("nan"),) for k in LAYER_STATS}))
            step += 1
            time.sleep(0.01)
    if config.seed != 14:
        on_record(StatusRecord(status=Status.FINISHED, step=step - 1, message=f"trained {step} steps"))


@pytest.fixture(scope="module")
def fake_service():
    port = free_port()
    app = create_app(Settings(workers=1, warm=False, token=TOKEN), train=fake_train)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    client = BackendClient(f"http://127.0.0.1:{port}")
    wait_for(lambda: server.started, 20, what="uvicorn to start")
    yield client
    server.should_exit = True
    thread.join(10)


def test_crashing_job_shows_its_message_and_the_worker_serves_the_next(fake_service):
    c = fake_service
    crash = c.submit({"seed": 13, "epochs": 5}, "f")["id"]
    after = c.submit({"seed": 1, "epochs": 2}, "f")["id"]
    records = read_all(c, crash)
    assert records[-1].status == "failed"
    assert "RuntimeError: boom" in records[-1].message
    assert c.job(crash)["status"] == "failed" and "boom" in c.job(crash)["message"]
    assert [r.step for r in records if r.kind == "step"] == [0, 1]
    # the single worker survived and ran the next job; a NaN statistic arrived as null
    tail = read_all(c, after)
    assert tail[-1].status == "finished" and tail[1].grad_norm == (None,)
    silent = c.submit({"seed": 14, "epochs": 1}, "f")["id"]
    assert read_all(c, silent)[-1].message == "the training ended without a status record"
    assert c.health()["ok"] is True


def test_step_runs_exactly_one_step(fake_service):
    c = fake_service
    jid = c.submit({"epochs": 100}, "g")["id"]
    c.control(jid, "pause")
    time.sleep(0.3)
    held = c.job(jid)["step"]
    time.sleep(0.3)
    assert c.job(jid)["step"] == held
    for n in range(1, 4):
        c.control(jid, "step")
        wait_for(lambda n=n: c.job(jid)["step"] == held + n, 10, what=f"step {n}")
    time.sleep(0.3)
    assert c.job(jid)["step"] == held + 3
    c.control(jid, "resume")
    assert read_all(c, jid)[-1].status == "finished"
