"""vgrad.ui.turns: page runs of all sessions take turns, first come first served."""

from __future__ import annotations

import threading
import time

from vgrad.ui import turns


def _hold(seconds: float, log: list, name: str, started: threading.Event | None = None) -> threading.Thread:
    def run() -> None:
        with turns.turn() as got:
            log.append((name, got))
            if started is not None:
                started.set()
            time.sleep(seconds)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_at_most_at_once_runs_and_in_the_order_they_came():
    running, most, order = [0], [0], []
    lock = threading.Lock()

    def run(i: int) -> None:
        with turns.turn():
            with lock:
                order.append(i)
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.05)
            with lock:
                running[0] -= 1

    threads = []
    for i in range(8):
        threads.append(threading.Thread(target=run, args=(i,)))
        threads[-1].start()
        time.sleep(0.005)  # they come one after the other
    for t in threads:
        t.join()
    assert most[0] == turns.AT_ONCE
    assert order == sorted(order)


def test_a_run_waiting_for_the_service_lets_others_go_and_comes_back_first():
    log: list = []
    in_request, answer = threading.Event(), threading.Event()

    def requester() -> None:
        with turns.turn():
            log.append("A starts")
            with turns.waiting():
                in_request.set()
                answer.wait(5)
            log.append("A goes on")

    a = threading.Thread(target=requester)
    a.start()
    in_request.wait(5)
    held = [threading.Event() for _ in range(turns.AT_ONCE)]
    others = [_hold(0.3, log, f"B{i}", held[i]) for i in range(turns.AT_ONCE)]  # A's turn is free
    for e in held:
        assert e.wait(5)
    late = _hold(0.0, log, "new")  # comes after A asked for its turn back: waits behind A
    time.sleep(0.05)
    answer.set()
    for t in [a, *others, late]:
        t.join(5)
    names = [x if isinstance(x, str) else x[0] for x in log]
    assert names.index("A goes on") < names.index("new")
    assert all(got for x in log if isinstance(x, tuple) for _, got in [x])


def test_a_run_waits_at_most_its_wait_then_runs_anyway():
    started = [threading.Event() for _ in range(turns.AT_ONCE)]
    log: list = []
    holders = [_hold(0.5, log, f"H{i}", started[i]) for i in range(turns.AT_ONCE)]
    for e in started:
        assert e.wait(5)
    t0 = time.monotonic()
    with turns.turn(wait=0.1) as got:
        waited = time.monotonic() - t0
    assert not got and 0.08 <= waited < 0.45
    for t in holders:
        t.join()
    with turns.turn() as got, turns.turn() as inner:  # nested: the page's turn, taken once
        assert got and inner
    assert turns._free[0] == turns.AT_ONCE


def test_a_fragment_runs_in_a_turn_under_its_own_name():
    from streamlit.testing.v1 import AppTest

    def page():
        import streamlit as st

        from vgrad.ui import turns

        @turns.fragment()
        def tick() -> None:
            st.write(f"depth {turns._held.depth} free {turns._free[0]} name {tick.__qualname__}")

        tick()  # in the page's run: the page's turn (app.py takes it; here the fragment does)

    at = AppTest.from_function(page).run(timeout=30)
    assert not at.exception
    assert at.markdown[0].value == f"depth 1 free {turns.AT_ONCE - 1} name page.<locals>.tick"
    assert turns._free[0] == turns.AT_ONCE
