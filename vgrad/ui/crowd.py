"""How often a live chart may tick when many watch at once.

Every browser session's live fragment reruns in this one Streamlit process, and its Python runs on
one core at a time (the GIL): 30 students watching at 2 ticks a second would need several cores,
and every click would wait behind the ticks. So the ticks of all sessions together get a budget:

    crowd.watching(session_id)            # this session's chart is live
    every = crowd.interval(0.5)           # its timer: 0.5 s alone, longer in a crowd
    crowd.ticked(session_id, seconds)     # what one tick cost (the budget learns it)
    crowd.leave(session_id)               # the run ended: no more ticks

The interval is a step of LEVELS, so it changes rarely (a change reruns the page).
"""

from __future__ import annotations

import threading
import time

BUDGET = 0.5  # share of a core the live ticks of every session together may take
WINDOW = 4.0  # seconds: a session that ticked this recently is still watching
LEVELS = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)
FIRST_COST = 0.05  # seconds a tick is assumed to cost before one is measured
SMOOTHING = 0.1  # weight of the newest tick in the running mean of the cost

_lock = threading.Lock()
_seen: dict[str, float] = {}  # session -> when it last ticked or started watching
_cost = [FIRST_COST]


def watching(session: str, now: float | None = None) -> None:
    with _lock:
        _seen[session] = time.monotonic() if now is None else now


def ticked(session: str, seconds: float, now: float | None = None) -> None:
    with _lock:
        _seen[session] = time.monotonic() if now is None else now
        if seconds >= 0:
            _cost[0] += SMOOTHING * (seconds - _cost[0])


def leave(session: str) -> None:
    with _lock:
        _seen.pop(session, None)


def watchers(now: float | None = None) -> int:
    """Sessions watching a live chart now (old entries are forgotten)."""
    now = time.monotonic() if now is None else now
    with _lock:
        for s in [s for s, t in _seen.items() if now - t > WINDOW]:
            del _seen[s]
        return len(_seen)


def interval(base: float, now: float | None = None) -> float:
    """Seconds between two ticks: at least `base`, and long enough that every watcher's ticks fit BUDGET."""
    need = max(base, watchers(now) * _cost[0] / BUDGET)
    return next((level for level in LEVELS if level >= need - 1e-9), LEVELS[-1]) if need > LEVELS[0] else base


def reset() -> None:
    """Forget every session and the measured cost (tests)."""
    with _lock:
        _seen.clear()
        _cost[0] = FIRST_COST
