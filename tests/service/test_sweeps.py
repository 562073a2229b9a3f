"""Sweeps over HTTP: real cells trained by the service's workers, stop, refusals, the fair queue, memory."""

from __future__ import annotations

import time

import psutil
import pytest

from tests.conftest import ServiceProcess
from tests.service.helpers import TINY, read_all, wait_for
from vgrad import RunConfig
from vgrad.records import Status
from vgrad.service.client import BackendError, SweepPage
from vgrad.sweep import make_spec

BASE = RunConfig(activation="tanh", units=8, n_samples=100)


def follow(client, sweep_id: str, spec=None, timeout: float = 120.0) -> tuple[SweepPage, list]:
    """Poll the sweep by offset until it ends; (last page, every cell)."""
    cells: list = []
    last: list[SweepPage] = []

    def ended() -> bool:
        page = client.sweep(sweep_id, offset=len(cells), spec=spec)
        assert page.next == len(cells) + len(page.cells)
        cells.extend(page.cells)
        last[:] = [page]
        return page.final and not page.more

    wait_for(ended, timeout, every=0.1, what=f"sweep {sweep_id} to end")
    return last[0], cells


def long_spec(**kw):
    """16 architectures (one task each), 300 steps: tens of seconds on two workers."""
    return make_spec(BASE, ["hidden_layers=1:16:16", "init_gain=0.5,1,2"], mode="trained", steps=300, **kw)


def test_a_sweep_at_initialisation_finishes_with_every_cell(backend_url, backend_service):
    client = backend_service.client()
    spec = make_spec(BASE, ["hidden_layers=2,3", "init_gain=0.5,1,2"], seeds=2, mode="init")
    answer = client.submit_sweep(spec, "sweep-init")
    assert answer["n_cells"] == 6 and answer["n_tasks"] >= 2 and answer["status"] in ("queued", "running")
    page, cells = follow(client, answer["id"])
    assert page.status == "finished" and page.done == page.total == 6 and page.left == 0
    assert sorted(c.cell for c in cells) == list(range(6))
    for cell in cells:
        assert cell.values == spec.cells()[cell.cell].values
        assert [m.seed for m in cell.measures] == [0, 1]
        assert all(m.ratio_start > 0 and m.loss is None for m in cell.measures)  # init: no training
        assert cell.chi_1 is not None and cell.phase in ("ordered", "critical", "chaotic")
    listed = client.sweeps("sweep-init")
    assert [s["id"] for s in listed] == [answer["id"]] and listed[0]["done"] == 6
    again = client.sweep(answer["id"], offset=2, limit=3)
    assert (len(again.cells), again.next, again.more) == (3, 5, True)


def test_a_trained_sweep_reports_the_engines_own_gradients(backend_service):
    from vgrad.train import train

    client = backend_service.client()
    spec = make_spec(BASE, ["hidden_layers=2,3", "learning_rate=0.01,0.1"], mode="trained", steps=12)
    page, cells = follow(client, client.submit_sweep(spec, "sweep-trained")["id"], spec)
    assert page.status == "finished" and len(cells) == 4
    for cell in cells:
        (m,) = cell.measures
        assert m.status == "finished" and m.steps == 12 and m.loss is not None and m.accuracy is not None
        assert m.ratio_end is not None and not m.diverged
    cell = min(cells, key=lambda c: c.cell)
    run = train(spec.cells()[cell.cell].config)  # the same network, trained alone by vgrad.train
    first, last = run.steps[0].grad_norm[0], run.steps[0].grad_norm[-1]
    assert cell.measures[0].grad_first_start == pytest.approx(first, rel=1e-5)
    assert cell.measures[0].grad_last_start == pytest.approx(last, rel=1e-5)
    assert cell.measures[0].loss == pytest.approx(run.final_metrics()["loss"], rel=1e-4)


def test_stop_cancels_a_sweep_keeps_its_cells_and_frees_the_session(backend_service):
    client = backend_service.client()
    first = client.submit_sweep(long_spec(), "sweep-stop")
    with pytest.raises(BackendError) as refused:
        client.submit_sweep(long_spec(), "sweep-stop")
    assert refused.value.status == 429 and "one sweep per browser session" in str(refused.value)
    wait_for(lambda: client.sweep(first["id"]).status == "running", 60, what="the sweep to start")
    stopped = client.stop_sweep(first["id"])
    assert stopped["status"] == "cancelled" and "stopped by request" in stopped["message"]
    page = wait_for(lambda: (p := client.sweep(first["id"])).status == "cancelled" and p, 30)
    assert page.done < page.total
    assert client.stop_sweep(first["id"])["status"] == "cancelled"  # stopping again is fine
    health = wait_for(lambda: (h := client.health())["running"] == 0 and h, 60, what="the workers to be free")
    assert health["queued"] == 0  # the queued tasks left the queue
    second = client.submit_sweep(make_spec(BASE, ["units=4,8"], mode="init"), "sweep-stop")
    assert follow(client, second["id"])[0].status == "finished"
    with pytest.raises(BackendError) as unknown:
        client.sweep("nope")
    assert unknown.value.status == 404


def test_an_explorer_job_still_starts_while_a_sweep_runs(backend_service):
    client = backend_service.client()
    sweep = client.submit_sweep(long_spec(), "sweep-busy", remote="10.1.1.1")
    try:
        wait_for(lambda: client.sweep(sweep["id"]).done >= 1, 90, what="the sweep's first cell")
        for who in ("explorer-classmate", "sweep-busy"):  # another session, and the sweep's own
            job = client.submit(RunConfig(**TINY), who, remote="10.1.1.1")
            records = read_all(client, job["id"], timeout=60)
            assert records[-1].status == Status.FINISHED
            page = client.sweep(sweep["id"])
            assert not page.final and page.done < page.total, f"{who}'s job waited for the whole sweep"
    finally:
        client.stop_sweep(sweep["id"])


@pytest.mark.parametrize("body, status, words", [
    ({"axes": ["colour=red,blue"]}, 400, "axis colour: unknown field"),
    ({"axes": [{"field": "colour", "values": [1, 2]}]}, 400, "unknown field"),
    ({"axes": ["init_gain=1:1:5"]}, 400, "empty range"),
    ({"axes": ["init_gain=3:0.5:11"]}, 400, "runs backwards"),
    ({"axes": ["init_gain="]}, 400, "no values"),
    ({"axes": []}, 400, "at least one axis"),
    ({"axes": ["init_gain=0.5:3:1000", "bias_std=0:1:1000"]}, 400, "1,000,000 cells"),
    ({"axes": ["units=1:256:256", "init_gain=0.1:10:100"]}, 400, "VGRAD_MAX_SWEEP_CELLS"),
    ({"axes": [{"field": "units", "values": list(range(1, 1002))}]}, 400, "VGRAD_MAX_AXIS_VALUES"),
    ({"axes": ["units=4,8"], "seeds": 0}, 400, "VGRAD_MAX_SWEEP_SEEDS"),
    ({"axes": ["units=4,8"], "steps": 6000}, 400, "VGRAD_MAX_SWEEP_STEPS"),
    ({"axes": ["units=4,8"], "mode": "dream"}, 400, "mode must be one of"),
    ({"axes": ["units=4,4"]}, 400, "appears twice"),
    ({"axes": ["seed=1,2"]}, 400, "seeds"),
    ({"axes": ["units=4", "units=8"]}, 400, "given twice"),
    ({"axes": ["hidden_layers=0,4"]}, 400, "outside the field's range"),
    ({"axes": ["units=4"], "base": {"colour": "red"}}, 400, "base config: colour: unknown field"),
    ({"axes": ["units=4"], "format": "vgrad-run"}, 400, "not a vgrad-sweep"),
    ({"axes": ["units=256", "hidden_layers=16"], "base": {"n_samples": 10000}, "steps": 10}, 413, "VGRAD_MAX_PARAMS"),
    ({"axes": "units=4"}, 400, "axes"),
], ids=lambda v: str(v)[:50] if isinstance(v, dict) else None)
def test_hostile_specs_are_refused_with_one_sentence(backend_service, body, status, words):
    client = backend_service.client()
    resp = client.session.post(backend_service.url + "/sweeps", json=body, headers={"X-Vgrad-Client": "hostile"},
                               timeout=30)
    assert resp.status_code == status, resp.text
    detail = resp.json()["detail"]
    assert words in detail and "\n" not in detail and "Traceback" not in detail and len(detail) < 700
    assert client.sweeps("hostile") == []


def test_a_thousand_cells_at_initialisation_stay_small():
    """A service of its own: the session's has trained every other test's runs before this one. (Not
    warmed: its warm-up would precompile presets while the sweep runs.)"""
    service = ServiceProcess({"VGRAD_WORKERS": "2", "VGRAD_WARM": "0"}).wait_ready()
    try:
        _thousand_cells(service)
    finally:
        service.stop()


def _thousand_cells(service) -> None:
    client = service.client()
    proc = psutil.Process(service.pid)
    spec = make_spec(RunConfig(activation="tanh", units=8, n_samples=60),
                     ["init_gain=0.1:4:100", "hidden_layers=1:10:10"], mode="init")
    answer = client.submit_sweep(spec, "sweep-1000")
    peak = [0]

    def ended() -> bool:
        peak[0] = max(peak[0], proc.memory_info().rss)
        return client.sweep(answer["id"], offset=10**6, spec=spec).final  # progress only

    wait_for(ended, 240, every=0.5, what="1,000 cells")
    page, cells = follow(client, answer["id"], spec)
    assert page.status == "finished" and len(cells) == 1000 and len({c.cell for c in cells}) == 1000
    assert peak[0] < 2**30, f"the service used {peak[0] / 2**20:.0f} MB"


@pytest.fixture(scope="module")
def strict_service():
    """One worker, sweeps abandoned after 2 s without a poll, one sweep at a time on the server."""
    svc = ServiceProcess({"VGRAD_WORKERS": "1", "VGRAD_WARM": "0", "VGRAD_ABANDON_SECONDS": "2",
                          "VGRAD_MAX_SWEEPS": "1"}).wait_ready()
    yield svc
    svc.stop()


def test_a_sweep_nobody_polls_is_cancelled_and_the_server_caps_sweeps(strict_service):
    client = strict_service.client()
    sweep = client.submit_sweep(long_spec(), "sweep-a")
    with pytest.raises(BackendError) as full:
        client.submit_sweep(long_spec(), "sweep-b")
    assert full.value.status == 429 and "VGRAD_MAX_SWEEPS" in str(full.value)
    time.sleep(4.5)  # nobody polls
    page = client.sweep(sweep["id"])
    assert page.status == "cancelled" and "nobody polled" in page.message
    answer = client.submit_sweep(make_spec(BASE, ["units=4,8"], mode="init"), "sweep-b")
    assert follow(client, answer["id"], timeout=120)[0].status == "finished"
