"""The live charts' shared budget: alone a session ticks at its own pace, in a crowd less often."""

import pytest

from vgrad.ui import crowd


@pytest.fixture(autouse=True)
def fresh():
    crowd.reset()
    yield
    crowd.reset()


def test_alone_a_session_ticks_at_its_own_interval():
    crowd.watching("a", now=100.0)
    assert crowd.interval(0.5, now=100.0) == 0.5
    assert crowd.interval(2.0, now=100.0) == 2.0  # a queued job's longer timer is kept


def test_thirty_watchers_share_half_a_core():
    for i in range(30):
        crowd.ticked(f"s{i}", 0.1, now=100.0)  # ticks that cost about 0.1 s
    every = crowd.interval(0.5, now=100.0)
    assert every in crowd.LEVELS and every > 0.5
    assert 30 * crowd._cost[0] / every <= crowd.BUDGET + 1e-9  # all their ticks fit the budget
    assert crowd.interval(0.5, now=100.0) == every  # the same crowd: the same timer


def test_sessions_that_left_or_went_quiet_stop_counting():
    for i in range(30):
        crowd.ticked(f"s{i}", 0.1, now=100.0)
    busy = crowd.interval(0.5, now=100.0)
    for i in range(29):
        crowd.leave(f"s{i}")
    assert crowd.interval(0.5, now=100.0) < busy
    assert crowd.watchers(now=100.0 + crowd.WINDOW + 1) == 0
    assert crowd.interval(0.5, now=100.0 + crowd.WINDOW + 1) == 0.5


def test_the_interval_never_exceeds_the_last_level():
    for i in range(10_000):
        crowd.ticked(f"s{i}", 1.0, now=5.0)
    assert crowd.interval(0.5, now=5.0) == crowd.LEVELS[-1]
