"""A service job's training on a Ray worker, streamed back record by record.

    train_job = ray.remote(vgrad_train_job).options(num_cpus=1, max_retries=0)
    stream = train_job.remote(config, job_id, control, state)   # a Ray streaming generator
    for ref in stream:
        records = ray.get(ref)                                   # the typed records made since the last ones

`vgrad_train_job` runs `vgrad.train.engine.train` in a thread of the Ray worker and yields, as soon as
there are any, the records made since its last yield (one step's records at a time while the step
loop runs; more at once when the driver reads slowly). Pause, single step and stop come from the
service's control actor (`vgrad.service.ray_jobs.JobControl`): `RemoteControl` long-polls it and
answers the engine's `pace()` and `should_stop()` from what it last heard, so a click reaches the
training within a few milliseconds, without a call per step. The worker process titles itself
ray::vgrad_train_job while a training runs. Ray is imported by the worker running this, never here
at import time; TensorFlow only inside the task.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from vgrad.config import RunConfig
from vgrad.records import Record

# A control state: (version, paused, steps granted so far, stop), made by the service's JobControl link.
State = tuple[int, bool, int, bool]
# The long poll's length (s): how long the control actor holds a request when nothing changed.
POLL_SECONDS = 1.0
# The most records one yield carries (a reader far behind gets them in several pieces).
MAX_BATCH = 512
# Keras' global state grows with every model built in a long-lived worker; cleared after this many jobs.
CLEAR_EVERY = 20
_jobs_done = [0]


class RemoteControl:
    """Pause, step and stop of one training on a Ray worker, as last heard from the control actor.

    `pace()` and `should_stop()` have the meaning vgrad.train.engine.train gives them; a thread
    long-polls `control.wait(key, version, POLL_SECONDS)` and applies each newer state. Steps
    granted while paused are counted by the service (a running total), so a state heard twice
    grants nothing twice; a resume drops credits not yet used, as the local path does.
    """

    def __init__(self, control: Any, key: str, state: State):
        self.control, self.key = control, key
        self.cond = threading.Condition()
        self.version, self.paused, self.granted, self.credits, self.stopped = -1, False, 0, 0, False
        self.closed = False
        self.apply(state)
        self.thread = threading.Thread(target=self._poll, name="vgrad-remote-control", daemon=True)
        self.thread.start()

    def apply(self, state: State | None) -> None:
        if state is None:
            return
        version, paused, granted, stop = state
        with self.cond:
            if version <= self.version:
                return
            new = max(0, granted - self.granted)
            self.version, self.paused, self.granted = version, paused, max(granted, self.granted)
            self.credits = self.credits + new if paused else 0
            self.stopped = self.stopped or stop
            self.cond.notify_all()

    def should_stop(self) -> bool:
        return self.stopped

    def pace(self) -> int | None:
        """Blocks while paused; 1 when a single step was granted, None for no limit."""
        with self.cond:
            while self.paused and self.credits == 0 and not self.stopped:
                self.cond.wait(0.5)
            if self.paused and self.credits > 0 and not self.stopped:
                self.credits -= 1
                return 1
            return None

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify_all()

    def close(self) -> None:
        self.closed = True

    def _poll(self) -> None:
        import ray

        while not self.closed:
            try:
                state = ray.get(self.control.wait.remote(self.key, self.version, POLL_SECONDS),
                                timeout=POLL_SECONDS + 30)
            except Exception:  # noqa: BLE001 - the actor restarting, or a slow cluster: ask again
                time.sleep(0.2)
                continue
            self.apply(state)


def vgrad_train_job(config: RunConfig, key: str, control: Any, state: State) -> Iterator[list[Record]]:
    """A Ray streaming generator: train `config` here, yield its records in order as they are made.

    key: the service's job id (the control actor's key); state: the job's control state when it was
    sent (a job paused before it started starts paused).
    """
    from vgrad.train import tfsetup

    tfsetup.configure()  # one intra-op thread (VGRAD_TF_THREADS, from the task's runtime_env)
    from vgrad.train.engine import train

    remote = RemoteControl(control, key, state)
    made: queue.SimpleQueue = queue.SimpleQueue()
    end = object()

    def work() -> None:
        try:
            train(config, on_record=made.put, should_stop=remote.should_stop, pace=remote.pace)
        finally:
            made.put(end)

    thread = threading.Thread(target=work, name="vgrad-remote-train", daemon=True)
    thread.start()
    try:
        done = False
        while not done:
            batch = [made.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(made.get_nowait())
                except queue.Empty:
                    break
            done = batch[-1] is end
            records = [r for r in batch if r is not end]
            if records:
                yield records
    finally:  # also when the stream is cancelled: the training stops at its next step
        remote.stop()
        remote.close()
        thread.join(30)
        _clear_now_and_then()


def _clear_now_and_then() -> None:
    """keras.backend.clear_session() every CLEAR_EVERY jobs of this worker, when no step is tracing."""
    _jobs_done[0] += 1
    keras = sys.modules.get("keras")
    if keras is None or _jobs_done[0] % CLEAR_EVERY:
        return
    from vgrad.train.engine import tracing

    if not tracing():
        keras.backend.clear_session()
