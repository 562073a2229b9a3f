"""Uploaded tables in the service: stored once by content hash, limits enforced whatever the UI sends,
a link to a table the server lacks says so, and a run trains on string class labels."""

from __future__ import annotations

import io

import pytest
import requests

from tests.conftest import ServiceProcess
from tests.service.helpers import read_all
from vgrad.config import RunConfig
from vgrad.service.client import BackendError


def _iris_csv(rows: int = 75) -> bytes:
    from sklearn.datasets import load_iris

    data = load_iris()
    out = io.StringIO()
    out.write("sepal length,sepal width,petal length,petal width,species\n")
    for x, y in list(zip(data.data, data.target, strict=True))[::2][:rows]:  # every class
        out.write(",".join(f"{v:g}" for v in x) + "," + data.target_names[y] + "\n")
    return out.getvalue().encode()


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    folder = tmp_path_factory.mktemp("uploads")
    svc = ServiceProcess({"VGRAD_WORKERS": "1", "VGRAD_WARM": "0", "VGRAD_DATA_DIR": str(folder),
                          "VGRAD_MAX_UPLOAD_MB": "1", "VGRAD_MAX_DATASETS_PER_CLIENT": "2",
                          "VGRAD_MAX_ROWS": "5000"}).wait_ready()
    yield svc, folder
    svc.stop()


def test_upload_is_stored_once_by_content_hash(service):
    svc, folder = service
    c = svc.client()
    raw = _iris_csv()
    first = c.upload_dataset(raw, "iris.csv", "up-a")
    again = c.upload_dataset(raw, "iris-again.csv", "up-b")
    assert first["id"] == again["id"] and len(first["id"]) == 64
    assert first["columns"][-1] == "species" and first["summary"]["classes"] == 3
    assert len(list((folder / "datasets").glob("*.csv"))) == 1
    assert c.dataset(first["id"])["rows"] == 75
    assert [d["id"] for d in c.datasets()] == [first["id"]]


def test_limits_are_the_services_own(service):
    svc, _ = service
    c = svc.client()
    with pytest.raises(BackendError) as err:
        c.upload_dataset(b"a,b\n" + b"1,2\n" * 300_000, "big.csv", "up-c")  # 1.2 MB
    assert err.value.status == 413 and "VGRAD_MAX_UPLOAD_MB" in str(err.value)
    with pytest.raises(BackendError) as err:
        c.upload_dataset(b"a,b\n" + b"1,0\n" * 6000, "rows.csv", "up-c")
    assert err.value.status == 400 and "5,000" in str(err.value) or "5000" in str(err.value), str(err.value)
    with pytest.raises(BackendError) as err:
        c.upload_dataset(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "image.csv", "up-c")
    assert err.value.status == 400 and "binary" in str(err.value)
    c.upload_dataset(b"x,y\n" + b"".join(f"{i},{i % 2}\n".encode() for i in range(40)), "one.csv", "up-d")
    c.upload_dataset(b"x,y\n" + b"".join(f"{i},{i % 3}\n".encode() for i in range(40)), "two.csv", "up-d")
    with pytest.raises(BackendError) as err:
        c.upload_dataset(b"x,y\n" + b"".join(f"{i},{i % 4}\n".encode() for i in range(40)), "three.csv", "up-d")
    assert err.value.status == 400 and "VGRAD_MAX_DATASETS_PER_CLIENT" in str(err.value)
    resp = requests.post(f"{svc.url}/datasets", data=b"a,b\n1,2\n", timeout=10)  # no token
    assert resp.status_code == 401


def test_a_table_not_on_this_server_is_said_so(service):
    svc, _ = service
    with pytest.raises(BackendError) as err:
        svc.client().submit(RunConfig(dataset="csv", data_id="ab" * 32), "up-e")
    assert err.value.status == 400 and "not on this server" in str(err.value)
    with pytest.raises(BackendError) as err:
        svc.client().dataset("ab" * 32)
    assert err.value.status == 404


def test_a_run_trains_on_string_class_labels(service):
    svc, _ = service
    c = svc.client()
    meta = c.upload_dataset(_iris_csv(), "iris.csv", "up-f")
    config = RunConfig(dataset="csv", data_id=meta["id"], target="species", standardize=True, epochs=3,
                       hidden_layers=2, activation="relu", learning_rate=0.02, n_samples=75)
    job = c.submit(config, "up-f")
    records = read_all(c, job["id"], timeout=120)
    start = records[0]
    assert start.task == "multiclass" and start.classes == ("setosa", "versicolor", "virginica")
    assert records[-1].status == "finished" and start.layers[-1].units == 3 and start.n_features == 4
    confusion = [r for r in records if r.kind == "confusion"][0]
    assert sum(map(sum, confusion.val)) == start.n_val


def test_the_chosen_target_decides_whether_a_table_can_train(service):
    svc, _ = service
    c = svc.client()
    raw = b"x,label,source\n" + b"".join(f"{i / 10},{i % 2},lab\n".encode() for i in range(40))  # last: constant
    with pytest.raises(BackendError) as err:
        c.upload_dataset(raw, "constant-last.csv", "up-g")
    assert err.value.status == 400 and "source" in str(err.value)
    meta = c.upload_dataset(raw, "constant-last.csv", "up-g", target="label")
    assert meta["summary"]["classes"] == 2 and meta["summary"]["target"] == "label"
