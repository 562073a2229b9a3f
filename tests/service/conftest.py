"""`small_service`: one dedicated service process for the fairness and paging tests (one worker,
small caps, small pages, no warm-up), started once for both."""

from __future__ import annotations

import pytest

from tests.conftest import ServiceProcess

PAGE, MAX_PAGE = 262144, 1048576
SMALL = {"VGRAD_WORKERS": "1", "VGRAD_WARM": "0", "VGRAD_MAX_RUNNING": "1", "VGRAD_MAX_JOBS_PER_CLIENT": "3",
         "VGRAD_MAX_JOBS_PER_ADDRESS": "6", "VGRAD_MAX_QUEUED": "20", "VGRAD_PAUSE_SECONDS": "2",
         "VGRAD_PAGE_BYTES": str(PAGE), "VGRAD_MAX_PAGE_BYTES": str(MAX_PAGE),
         "VGRAD_MAX_STORED": "200000"}  # less than the paging test's job: kept while read (FREE_GRACE_SECONDS)


@pytest.fixture(scope="session")
def small_service():
    svc = ServiceProcess(SMALL).wait_ready()
    yield svc
    svc.stop()
