"""Turns: how many page runs of all sessions execute at once in this Streamlit process.

    with turns.turn():      # app.py, around every page run
        ...

    @turns.fragment(run_every=2.0)   # st.fragment whose every run (a live tick) takes a turn
    def _live(): ...

Every browser session's script runs on its own thread of this one process, and all of them share
one GIL. Thirty page runs started together (a class opening its link, pressing Train at once) then
all progress together and all end late, each after about thirty runs' worth of work; and the event
loop that sends their results to the browsers only gets the GIL between them, so even finished pages
reach the browser late. With a turn, AT_ONCE runs execute at a time and the others wait in line,
first come first served: the first pages are on screen early, and the sending keeps up.

A run waits at most WAIT seconds for its turn, then runs anyway (a stalled run cannot block the
others). Turns nest: a fragment called inside its page's run uses the page's turn. A run that waits
for the training service (`waiting()`, around every request vgrad.ui.backend's client makes) lets the
next run have its turn meanwhile, and gets one again before any run that has not started.
"""

from __future__ import annotations

import functools
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

AT_ONCE = 2  # page runs executing at the same time
WAIT = 3.0  # seconds a run waits for its turn at most

_cv = threading.Condition()
_free = [AT_ONCE]  # turns not held
_line: list[int] = []  # tickets of the new runs waiting, first come first
_resuming = [0]  # runs waiting to go on after a request (they go before new runs)
_tickets = itertools.count()
_held = threading.local()


def _acquire(wait: float, resume: bool) -> bool:
    """Take a turn: a resuming run as soon as one is free, a new run when its ticket is first in line."""
    deadline = time.monotonic() + wait
    with _cv:
        ticket = None
        if resume:
            _resuming[0] += 1
        else:
            ticket = next(_tickets)
            _line.append(ticket)
        try:
            while not (_free[0] > 0 and (resume or (_resuming[0] == 0 and _line[0] == ticket))):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                _cv.wait(left)
            _free[0] -= 1
            return True
        finally:
            if resume:
                _resuming[0] -= 1
            else:
                _line.remove(ticket)
            _cv.notify_all()  # the next in line may go now (or after a timeout, be first)


def _release() -> None:
    with _cv:
        _free[0] += 1
        _cv.notify_all()


@contextmanager
def turn(wait: float = WAIT) -> Iterator[bool]:
    """Hold one of the AT_ONCE turns while the block runs; yields False if it ran without one."""
    depth = getattr(_held, "depth", 0)
    if depth:
        _held.depth = depth + 1
        try:
            yield bool(_held.got)
        finally:
            _held.depth = depth
        return
    got = _acquire(wait, resume=False)
    _held.depth, _held.got = 1, got
    try:
        yield got
    finally:
        _held.depth = 0
        if _held.got:
            _release()
        _held.got = False


@contextmanager
def waiting(wait: float = WAIT) -> Iterator[None]:
    """Give this thread's turn to the next run while the block waits on something else (a request to
    the training service), and take one again after it, before any new run."""
    if not getattr(_held, "depth", 0) or not _held.got:
        yield
        return
    _release()
    _held.got = False
    try:
        yield
    finally:
        _held.got = _acquire(wait, resume=True)


def fragment(run_every: float | None = None) -> Callable[[Callable], Callable]:
    """`st.fragment(run_every=...)` whose every run takes a turn (called inside its page's run, the
    page's turn)."""
    import streamlit as st

    def wrap(body: Callable) -> Callable:
        @functools.wraps(body)  # Streamlit names the fragment by the body's module and name
        def in_turn(*args, **kwargs):
            with turn():
                return body(*args, **kwargs)

        return st.fragment(run_every=run_every)(in_turn)

    return wrap
