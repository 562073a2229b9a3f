"""Several service jobs followed together (Compare and Recurrent pages), built on vgrad.ui.live.

    group = RunGroup("vgrad.cmp")
    errors = group.start(client, [(label, config), ...])   # stops this group's previous jobs
    group.live(client, body)     # body(jobs) in a fragment that polls every job while any is active

Each job is a live.LiveJob stored under "<prefix>.<i>" in st.session_state. A poll reads at most
PAGES_PER_JOB bounded pages of each job, so a tick's work stays bounded however many runs the
group has; a job the service lost ends failed with live.lost_message's sentence (job.run.message).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import streamlit as st

from vgrad.config import RunConfig
from vgrad.records import Action, Status
from vgrad.service.client import BackendClient, BackendError
from vgrad.ui import live, turns

PAGES_PER_JOB = 2


class RunGroup:
    def __init__(self, prefix: str):
        self.prefix = prefix

    @property
    def _index_key(self) -> str:
        return f"{self.prefix}.labels"

    def labels(self) -> list[str]:
        return list(st.session_state.get(self._index_key, []))

    def jobs(self) -> list[live.LiveJob]:
        return [j for j in (live.current(f"{self.prefix}.{i}") for i in range(len(self.labels()))) if j]

    def active(self) -> bool:
        return any(j.active for j in self.jobs())

    def needs_poll(self) -> bool:
        """A job of the group is running or has records still to read."""
        return any(j.needs_poll for j in self.jobs())

    def stop(self, client: BackendClient | None) -> None:
        """Ask the service to stop every active job of the group."""
        if client is None:
            return
        for job in self.jobs():
            if job.active:
                live.control(client, job, Action.STOP)

    def start(self, client: BackendClient, runs: Sequence[tuple[str, RunConfig]]) -> list[str]:
        """Submit every run (after stopping the group's previous ones); returns refusal messages."""
        self.stop(client)
        for i in range(len(self.labels())):
            st.session_state.pop(f"{self.prefix}.{i}", None)
        errors = []
        labels = []
        for label, config in runs:
            key = f"{self.prefix}.{len(labels)}"
            try:
                live.start(client, config, None, label=label[:80], key=key)
                labels.append(label)
            except BackendError as exc:
                errors.append(f"{label}: {exc}")
        st.session_state[self._index_key] = labels
        return errors

    def poll(self, client: BackendClient) -> None:
        for job in self.jobs():
            if job.needs_poll:  # running, or records still to read
                live.poll(client, job, max_pages=PAGES_PER_JOB)

    def live(self, client: BackendClient | None, body: Callable[[list[live.LiveJob], list[str]], None],
             refresh: float = live.REFRESH_SECONDS) -> None:
        """Run body(jobs, labels) in a fragment that polls while any job is active, then reruns the page once."""
        every = refresh if (client is not None and self.active()) else None

        @turns.fragment(run_every=every)
        def _live() -> None:
            was_active = self.active()
            if client is not None and was_active:
                self.poll(client)
            body(self.jobs(), self.labels())
            if was_active and not self.active() and every is not None:
                st.rerun()

        _live()


def status_line(job: live.LiveJob) -> str:
    """'finished (3/3 steps)' / 'queued (#2)' / 'running (40/360 steps)'."""
    state = live.status_text(job)
    if job.status == Status.QUEUED and not job.run.done:
        return state
    return f"{state} ({job.run.last_step + 1}/{job.run.total_steps} steps)"


def verdict_icon(holds: bool | None, running: bool) -> str:
    """Markdown after 'Automatic reading': a Material icon (no emoji font needed) and words."""
    if holds is True:
        return ":green[:material/check_circle: as expected]"
    if holds is False:
        return ":red[:material/cancel: not as expected]"
    return ":material/hourglass_top: still training" if running else ""
