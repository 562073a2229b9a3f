"""JobManager.grow_workers: more jobs train at once when the service learns it has more CPUs (a Ray
cluster), never fewer; and a service on Ray without VGRAD_WORKERS sizes itself to the cluster."""

from __future__ import annotations

import threading
import time

import pytest

from tests.service.helpers import wait_for
from vgrad.config import RunConfig
from vgrad.records import StartRecord, Status, StatusRecord
from vgrad.service import jobs as jobs_module
from vgrad.service.jobs import JobManager
from vgrad.service.settings import Settings


def _worker_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("vgrad-worker-") and t.is_alive())


@pytest.fixture
def gated(monkeypatch):
    """A manager whose trainings run until the gate opens (no TensorFlow)."""
    monkeypatch.setattr(jobs_module, "MAX_WORKERS", 5)
    gate = threading.Event()

    def train(config, on_record=None, should_stop=None, pace=None):
        on_record(StartRecord(layers=(), n_train=1, n_val=1, steps_per_epoch=1, total_steps=1, family="mlp"))
        while not gate.is_set() and not should_stop():
            time.sleep(0.01)
        on_record(StatusRecord(status=Status.FINISHED, step=0, message="done"))

    before = _worker_threads()
    manager = JobManager(Settings(workers=1, warm=False), train=train)
    yield manager, gate, before
    gate.set()
    manager.close()


def test_grown_workers_train_more_jobs_at_once_and_never_shrink(gated):
    manager, gate, before = gated
    assert manager.grow_workers(3) == 3  # before start: start() makes them
    manager.start()
    assert _worker_threads() - before == 3
    jobs = [manager.submit(RunConfig(epochs=1), f"client{i}") for i in range(5)]
    wait_for(lambda: manager.counts()["running"] == 3, 20, what="three jobs running")
    assert manager.counts()["queued"] == 2
    assert manager.grow_workers(4) == 4
    wait_for(lambda: manager.counts()["running"] == 4, 20, what="a fourth job on the new worker")
    assert manager.grow_workers(2) == 4 and _worker_threads() - before == 4  # never fewer
    assert manager.grow_workers(1000) == 5  # at most MAX_WORKERS
    wait_for(lambda: manager.counts()["running"] == 5, 20, what="every job running")
    gate.set()
    wait_for(lambda: all(j.done for j in jobs), 20, what="every job to finish")


def test_the_number_of_workers_in_settings_comes_from_vgrad_workers():
    assert Settings.from_env({"VGRAD_WORKERS": "3"}).workers_given is True
    assert Settings.from_env({}).workers_given is False
