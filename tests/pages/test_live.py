"""The Explorer's live view against a real training service: polls that never double a record, playback,
skipping ahead on a long run, reattaching from the link, the session's last runs, the headline's numbers."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.service.helpers import read_all, wait_for
from vgrad.presets import preset
from vgrad.service.client import BackendClient
from vgrad.ui import live

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "explorer.py")


def explorer(query: dict | None = None, speed: str | None = None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=30)
    if query:
        at.query_params.update(query)
    if speed:
        at.session_state[live.SPEED_KEY] = speed
        at.session_state["explorer_speed_chosen"] = True
    return at.run()


def settle(at: AppTest, timeout: float = 90.0) -> live.LiveJob:
    """Rerun (AppTest does not advance run_every fragments) until the job ended and its playback too."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, at.exception
        job = at.session_state["vgrad.job"]
        if not job.needs_poll and not job.playing:
            return job
        time.sleep(0.2)
    pytest.fail("the run (or its playback) did not end in time")


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def service_done(client: BackendClient, job_id: str) -> dict:
    return wait_for(lambda: (s := client.job(job_id))["status"] in ("finished", "cancelled") and s, 90,
                    what="the service to end the job")


class SlowClient(BackendClient):
    """The real client, each records() call a little slow: two polls of one job overlap for sure."""

    def records(self, *args, **kwargs):
        time.sleep(0.3)
        return super().records(*args, **kwargs)


def test_two_polls_at_once_never_add_a_record_twice(backend):
    # A click reruns the page in a new script thread while the last tick may still be inside a poll
    # (Streamlit's fast reruns): both read from the same offset. Seen as "Epoch (of 2,000) 3,540".
    client = SlowClient(backend)
    config = preset("deep-sigmoid").with_values(epochs=100)
    job_id = client.submit(config, "test-two-polls")["id"]
    service_done(client, job_id)
    job = live.LiveJob(job_id=job_id, config=config)

    def follow() -> None:
        deadline = time.monotonic() + 60
        while job.active and time.monotonic() < deadline:
            live.poll(client, job, max_pages=1)
            time.sleep(0.01)

    threads = [threading.Thread(target=follow) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert job.run.done
    assert [s.step for s in job.run.steps] == list(range(config.total_steps))
    assert len(job.run.epochs) == job.run.epochs_total == 100


def test_pause_on_a_run_that_has_just_ended(backend):
    at = explorer({"preset": "notebook-deep-sigmoid", "epochs": "4"}, speed=live.FASTEST)
    at.button(key="ctl_train").click().run()
    job = at.session_state["vgrad.job"]
    service_done(BackendClient(backend), job.job_id)  # ended in the service; the page has not polled yet
    at.button(key="ctl_pause").click().run()  # the click reaches the service after the end
    assert not at.error, [e.value for e in at.error]  # not "job … is already finished; it cannot pause"
    job = settle(at)
    shown = metrics(at)
    assert shown["Status"] == "finished" and shown["Epoch (of 4)"] == "4" and shown["Step (of 12)"] == "12"
    assert len(job.run.epochs) == 4


def test_steps_per_second_after_the_end_is_the_runs_average(backend):
    at = explorer({"preset": "deep-sigmoid"}, speed=live.FASTEST)
    at.button(key="ctl_train").click().run()
    job = settle(at)
    summary = BackendClient(backend).job(job.job_id)
    average = job.run.total_steps / (summary["finished"] - summary["started"])
    shown = metrics(at)
    assert "Steps / s" not in shown  # no stale "last few seconds" rate once it ended
    assert shown["Avg. steps / s"] == (f"{average:,.0f}" if average >= 10 else f"{average:.1f}")


def test_a_two_feature_run_draws_an_empty_boundary_chart_while_it_starts(backend):
    at = explorer({"preset": "deep-sigmoid"})
    at.button(key="ctl_train").click().run()  # the click's rerun: no record has arrived yet
    assert not at.session_state["vgrad.job"].run.data
    assert not any("2-feature data" in i.value for i in at.info), [i.value for i in at.info]
    assert any("decision boundary appears after the first epoch" in c.value for c in at.caption)


def test_playback_at_ten_steps_per_second_then_as_fast_as_possible(backend):
    at = explorer({"preset": "deep-sigmoid", "epochs": "30"}, speed=live.TEN_PER_SECOND)  # 90 steps
    at.button(key="ctl_train").click().run()
    job = at.session_state["vgrad.job"]
    service_done(BackendClient(backend), job.job_id)
    at.run()  # reads the whole run at once: it was over before anything was drawn
    assert metrics(at)["Status"] == "replaying" and int(metrics(at)["Step (of 90)"]) < 90
    assert any("shown · 90 trained" in p.proto.text for p in at.get("progress"))
    at.button(key="ctl_replay").click().run()
    t0 = time.monotonic()
    assert metrics(at)["Step (of 90)"] == "0"
    time.sleep(1.5)
    at.run()
    later = int(metrics(at)["Step (of 90)"])
    assert 12 <= later <= 10 * (time.monotonic() - t0) + 1  # about 10 steps a second
    at.session_state[live.SPEED_KEY] = live.FASTEST
    at.run()
    assert metrics(at)["Step (of 90)"] == "90" and metrics(at)["Status"] == "finished"


def test_advance_and_view_follow_the_clock(backend):
    client = BackendClient(backend)
    config = preset("deep-sigmoid").with_values(epochs=20)
    job = live.LiveJob(job_id=client.submit(config, "test-advance")["id"], config=config)
    wait_for(lambda: live.poll(client, job) is not None and not job.needs_poll, 90, what="the run")
    assert job.available == 60 and job.average_rate and job.average_rate > 0
    live.replay(job)
    assert live.advance(job, live.TEN_PER_SECOND, now=100.0) == 0
    assert live.advance(job, live.TEN_PER_SECOND, now=101.0) == 10
    assert live.advance(job, live.TEN_PER_SECOND, now=102.5) == 25
    part = live.view(job, 25)
    assert [s.step for s in part.steps] == list(range(25)) and part.last_step == 24
    assert all(e.step < 25 for e in part.epochs) and len(part.epochs) == 8
    assert all(s.step < 25 for s in part.snapshots) and part.confusion is None and not part.done
    assert live.view_status(job, part) == "replaying"
    assert live.advance(job, live.FASTEST, now=103.0) == 60 and live.view(job, 60) is job.run
    live.replay(job)
    live.advance(job, live.REAL_TIME, now=200.0)
    assert live.advance(job, live.REAL_TIME, now=200.1) == min(60, int(0.1 * job.average_rate))


def test_a_long_run_shows_its_newest_steps_and_fills_in_the_rest(backend):
    client = BackendClient(backend)
    config = preset("deep-sigmoid").with_values(epochs=1000)  # 3,000 steps
    job_id = client.submit(config, "test-skip")["id"]
    wait_for(lambda: client.job(job_id)["step"] > 1500, 120, every=0.2, what="a backlog of steps")
    job = live.LiveJob(job_id=job_id, config=config)
    live.poll(client, job, skip_ahead=True)
    assert job.gaps, "the page read the backlog instead of jumping to the newest steps"
    assert job.service_step - job.available < live.SKIP_STEPS  # within a few hundred steps of the service
    assert not job.complete
    wait_for(lambda: live.poll(client, job, skip_ahead=True) is not None and not job.needs_poll, 120,
             what="the skipped records")
    assert job.complete and job.run.done
    assert [s.step for s in job.run.steps] == list(range(3000))
    assert len(job.run.epochs) == 1000
    every = read_all(client, job_id)
    assert [s.loss for s in job.run.steps] == [r.loss for r in every if type(r).__name__ == "StepRecord"]


def test_a_reloaded_tab_reattaches_to_its_finished_run(backend):
    query = {"preset": "notebook-deep-sigmoid", "epochs": "4"}
    first = explorer(query, speed=live.FASTEST)
    first.button(key="ctl_train").click().run()
    job = settle(first)
    assert first.query_params["job"] in (job.job_id, [job.job_id])
    again = explorer({**query, "job": job.job_id})  # a reload: a new session with the same link
    found = settle(again)
    assert found.job_id == job.job_id and found.attached
    assert metrics(again)["Status"] == "finished" and metrics(again)["Step (of 12)"] == "12"
    assert [s.loss for s in found.run.steps] == [s.loss for s in job.run.steps]


def test_a_reloaded_tab_reattaches_to_its_running_run_and_can_stop_it(backend):
    query = {"preset": "deep-sigmoid", "epochs": "2000"}
    first = explorer(query)
    first.button(key="ctl_train").click().run()
    job_id = first.session_state["vgrad.job"].job_id
    again = explorer({**query, "job": job_id})
    job = again.session_state["vgrad.job"]
    assert job.job_id == job_id and job.attached
    wait_for(lambda: again.run() and again.session_state["vgrad.job"].run.steps, 60, every=0.3, what="steps")
    assert not again.button(key="ctl_stop").disabled
    again.button(key="ctl_stop").click().run()
    job = settle(again)
    assert job.run.status == "cancelled"


@pytest.mark.parametrize("job_id, says", [
    ("{instance}-999999-0123abcd", "does not know the run in this link"),
    ("0000ffff-1-0123abcd", "restarted after it was trained"),
    ("../jobs?x=<b>", "not a run id"),
])
def test_a_link_to_a_run_the_service_cannot_give_back_says_so(backend, job_id, says):
    instance = BackendClient(backend).health()["instance"]
    at = explorer({"preset": "notebook-deep-sigmoid", "job": job_id.format(instance=instance)})
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1 and says in warnings[0] and "<b>" not in warnings[0]
    assert warnings[0].count(". ") == 0  # one sentence
    assert "job" not in at.query_params and "vgrad.job" not in at.session_state
    assert not at.button(key="ctl_train").disabled


def test_finished_runs_are_kept_and_one_click_reopens_or_saves_them(backend, tmp_path, monkeypatch):
    from vgrad.store import RunStore

    monkeypatch.setenv("VGRAD_DATA_DIR", str(tmp_path))
    at = explorer({"preset": "notebook-deep-sigmoid"}, speed=live.FASTEST)
    at.button(key="ctl_train").click().run()
    first = settle(at).job_id
    at.sidebar.selectbox(key="cfg.__preset__").set_value("notebook-deep-relu").run()
    at.button(key="ctl_train").click().run()
    second = settle(at).job_id
    assert [p.job_id for p in live_history(at)] == [second, first]
    assert any("Your last runs" in m.value for m in at.markdown)
    at.button(key="explorer_hist_open_1").click().run()
    assert at.session_state["vgrad.job"].job_id == first and at.query_params["job"] in (first, [first])
    assert metrics(at)["Status"] == "finished" and metrics(at)["Step (of 3)"] == "3"
    at.button(key="explorer_hist_save_0").click().run()
    assert not at.exception
    saved = RunStore(tmp_path).list()
    assert len(saved) == 1 and saved[0].name.startswith("vgrad-notebook-deep-relu")


def live_history(at: AppTest) -> list[live.Past]:
    return list(at.session_state[live.HISTORY_KEY])
