"""Run.content_id and the figures every session shares by it (vgrad.ui.figures)."""

from __future__ import annotations

import dataclasses

import pytest
from run_factory import make_run

from vgrad.records import StatusRecord
from vgrad.run import Run
from vgrad.ui import figures


def _rebuilt(run: Run, keep=lambda record: True) -> Run:
    """The same run read back from its JSON file (new objects, equal values)."""
    return Run.from_json(run.to_json())


def test_equal_runs_have_equal_ids_and_any_difference_shows():
    a, b = make_run(seed=3), _rebuilt(make_run(seed=3))
    assert a.content_id() is not None and a.content_id() == b.content_id()
    assert make_run(seed=4).content_id() != a.content_id()

    c = _rebuilt(a)
    last = c.steps[-1]
    c.steps.pop()
    c._chain["steps"].pop()
    c.add(dataclasses.replace(last, loss=last.loss * (1 + 1e-15)))  # one float, one rounding step apart
    assert c.content_id() != a.content_id()

    d = _rebuilt(a)
    d.add(StatusRecord(status="cancelled", step=d.last_step, message="stopped"))
    assert d.content_id() != a.content_id()
    assert _rebuilt(a).content_id(steps=5) == a.content_id(steps=5) != a.content_id()


def test_hash_collisions_of_python_do_not_reach_the_id():
    a, b = _rebuilt(make_run()), _rebuilt(make_run())
    assert hash(-1.0) == hash(-2.0)  # why content_id digests pickles, not Python hashes
    for run, loss in ((a, -1.0), (b, -2.0)):
        last = run.steps.pop()
        run._chain["steps"].pop()
        run.add(dataclasses.replace(last, loss=loss))
    assert a.content_id() != b.content_id()


def test_a_prefix_view_has_the_id_of_the_run_that_far():
    full = make_run(n_steps=20, status="running")
    view = Run(config=full.config, start=full.start, data=full.data, origin=full.origin)
    view.steps, view.epochs, view.snapshots = full.steps[:8], full.epochs[:1], full.snapshots[:8]
    view.share_digests(full)
    built = Run(config=full.config)
    for record in [full.start, *full.steps[:8], *full.epochs[:1], *full.snapshots[:8]]:
        built.add(record)
    assert view.content_id() == built.content_id() != full.content_id()
    assert view.content_id(steps=1, lists=("steps",)) == full.content_id(steps=1, lists=("steps",))


def test_lists_changed_without_add_have_no_id():
    run = _rebuilt(make_run())
    run.steps.append(run.steps[-1])
    assert run.content_id() is None
    assert figures.run_token("job-1", run)[0] == "job-1"  # the session-only token then


class _Session:
    def __init__(self):
        self.session_state = {}


def test_figures_with_content_are_built_once_for_every_session(monkeypatch):
    figures.forget_shared()
    builds = []

    def build(name):
        return lambda: builds.append(name) or name

    run = make_run()
    token = figures.run_token("job-a", run)
    other = figures.run_token("job-b", _rebuilt(make_run()))
    assert isinstance(token[0], figures.Content) and token == other  # equal runs of two jobs

    for _ in range(3):  # three sessions draw the same run
        monkeypatch.setattr(figures, "st", _Session())
        assert figures.figure("heat", token, build("heat")) == "heat"
        assert figures.figure("heat", ("job-x", 1), build("by job")) == "by job"  # ids: never shared
    assert builds == ["heat", "by job", "by job", "by job"]

    changed = figures.run_token("job-c", make_run(seed=9))
    assert figures.figure("heat", changed, build("other run")) == "other run"
    assert builds[-1] == "other run"


def test_the_shared_figures_are_bounded(monkeypatch):
    figures.forget_shared()
    monkeypatch.setattr(figures, "SHARED", 3)
    monkeypatch.setattr(figures, "st", _Session())
    for i in range(5):
        figures.figure("k", figures.Content(str(i)), lambda i=i: i)
    assert len(figures._shared) == 3 and ("k", figures.Content("0")) not in figures._shared
    figures.forget_shared()


@pytest.fixture(autouse=True)
def _clean():
    yield
    figures.forget_shared()
