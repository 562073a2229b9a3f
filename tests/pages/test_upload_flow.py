"""Uploaded tables in the Explorer (AppTest): a link that names one trains on it; a link to a table this
server lacks says so. AppTest cannot fill a file uploader: the real-browser test uploads a real file."""

from __future__ import annotations

import time

import pytest

from tests.pages.apptest import open_page
from tests.service.test_uploads import _iris_csv


@pytest.fixture
def uploaded(backend, backend_service):
    return backend_service.client().upload_dataset(_iris_csv(), "iris.csv", "apptest")


def test_a_link_to_an_uploaded_table_trains_on_it(backend, uploaded):
    at = open_page("explorer", dataset="csv", data_id=uploaded["id"], target="species", n_features="4",
                   n_classes="3", n_samples="75", standardize="true", epochs="3", hidden_layers="2")
    assert not at.exception and not [w for w in at.warning if "not on this server" in w.value]
    assert at.number_input(key="cfg.n_features").disabled  # set by the table
    at.button(key="ctl_train").click().run()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and at.session_state["vgrad.job"].active:
        time.sleep(0.3)
        at.run()
    run = at.session_state["vgrad.job"].run
    assert run.status == "finished" and run.start.classes == ("setosa", "versicolor", "virginica")
    at.run()
    assert any("Confusion matrix" in (c.proto.spec or "") for c in at.get("plotly_chart")) or run.confusion


def test_a_link_whose_table_is_not_here_says_so(backend):
    at = open_page("explorer", dataset="csv", data_id="cd" * 32, n_features="4", n_classes="3")
    assert any("not on this server" in w.value for w in at.warning)
