"""Real records for the chart tests: one short training per test session."""

from __future__ import annotations

import dataclasses

import pytest

import vgrad
from vgrad.run import Run


@pytest.fixture(scope="session")
def real_records() -> list:
    from vgrad.train.engine import train

    records: list = []
    train(vgrad.preset("notebook-deep-sigmoid").with_values(epochs=5), on_record=records.append)
    assert records[-1].kind == "status" and records[-1].status == "finished", records[-1]
    return records


@pytest.fixture(scope="session")
def real_run(real_records) -> Run:
    return Run.from_records(vgrad.preset("notebook-deep-sigmoid").with_values(epochs=5), real_records)


@pytest.fixture(scope="session")
def long_steps(real_run) -> list:
    """5,000 synthetic step records shaped like the real ones (cycling through them)."""
    base = real_run.steps
    return [dataclasses.replace(base[i % len(base)], step=i, epoch=i // 3) for i in range(5000)]
