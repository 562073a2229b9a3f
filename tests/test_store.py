"""vgrad.store: saved runs and comparisons in SQLite; atomic saves survive SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.run_factory import make_run
from vgrad.store import SCHEMA_VERSION, RunStore, StoreError, parse_run_json, save_run

REPO = Path(__file__).resolve().parents[1]
HOSTILE = "<script>alert(1)</script> & \"'; DROP TABLE runs; --"


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "data")


def test_save_list_load_roundtrip(store):
    run = make_run()
    rid = store.save(run, "deep sigmoid", note="first try")
    [saved] = store.list()
    assert (saved.id, saved.name, saved.note, saved.status) == (rid, "deep sigmoid", "first try", "finished")
    assert saved.summary["steps"] == 20 and saved.summary["layers"] == 4
    assert saved.summary["attenuation_orders"] == pytest.approx(run.attenuation_orders())
    again = store.load(rid)
    assert again.to_json() == run.to_json()
    assert again.config == run.config


def test_names_are_stored_exactly_as_given(store):
    rid = store.save(make_run(), HOSTILE)
    assert store.get(rid).name == HOSTILE
    assert store.list()[0].name == HOSTILE
    assert len(store.list()) == 1  # the SQL in the name did nothing


def test_list_is_newest_first(store):
    ids = [store.save(make_run(seed=i), f"run {i}") for i in range(3)]
    assert [r.id for r in store.list()] == ids[::-1]


@pytest.mark.parametrize("name", ["", "   ", None, 5, "x" * 201, "a\x00b"])
def test_bad_names_are_refused(store, name):
    with pytest.raises(StoreError):
        store.save(make_run(), name)
    assert store.list() == []


def test_a_running_run_is_not_saved(store):
    with pytest.raises(StoreError, match="still running"):
        store.save(make_run(status="running"), "unfinished")


def test_rename_and_delete(store):
    rid = store.save(make_run(), "old")
    store.rename(rid, "new")
    assert store.get(rid).name == "new"
    store.set_note(rid, "a note")
    assert store.get(rid).note == "a note"
    store.delete(rid)
    assert store.list() == []
    for action in (lambda: store.load(rid), lambda: store.rename(rid, "x"), lambda: store.delete(rid),
                   lambda: store.get(rid), lambda: store.load("not-an-id")):
        with pytest.raises(StoreError):
            action()


def test_comparisons(store):
    a, b, c = (store.save(make_run(seed=i), f"run {i}") for i in range(3))
    cid = store.save_comparison("sigmoid vs relu", [b, a, b])
    [comp] = store.list_comparisons()
    assert (comp.id, comp.name, comp.run_ids) == (cid, "sigmoid vs relu", (b, a))
    _, members = store.load_comparison(cid)
    assert [saved.id for saved, _ in members] == [b, a]
    store.rename_comparison(cid, "renamed")
    store.delete(a)  # a deleted run leaves the comparison
    assert store.get_comparison(cid).run_ids == (b,)
    store.delete_comparison(cid)
    assert store.list_comparisons() == []
    assert {r.id for r in store.list()} == {b, c}  # the runs stay
    with pytest.raises(StoreError, match="at least two"):
        store.save_comparison("one", [b])
    with pytest.raises(StoreError, match="no saved run"):
        store.save_comparison("missing", [b, 999])


def test_save_runs_as_comparison_is_one_transaction(store):
    cid = store.save_runs_as_comparison("pair", [("sigmoid", make_run(seed=1)), ("relu", make_run(seed=2))])
    assert [r.name for r in store.list()] == ["relu", "sigmoid"] or len(store.list()) == 2
    assert len(store.get_comparison(cid).run_ids) == 2
    with pytest.raises(StoreError):
        store.save_runs_as_comparison("bad", [("ok", make_run()), ("", make_run())])
    assert len(store.list()) == 2 and len(store.list_comparisons()) == 1


def test_exports_and_import(store):
    rid = store.save(make_run(), "exported")
    text = store.export_json(rid)
    assert json.loads(text)["format"] == "vgrad-run"
    rid2 = store.import_json(text.encode())
    assert store.load(rid2).to_json() == store.load(rid).to_json()
    assert store.get(rid2).name.startswith("imported")
    csv_text = store.export_csv(rid)
    assert csv_text.splitlines()[0].startswith("step,epoch,layer,layer_index,grad_norm")
    assert len(csv_text.splitlines()) == 1 + 20 * 4
    summary = store.summary_csv()
    assert summary.splitlines()[0].startswith("id,name,status") and len(summary.splitlines()) == 3


@pytest.mark.parametrize("text, reason", [
    (b"", "empty"),
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe\x00", "not"),
    (b"[" * 100_000, "not a vgrad run file"),
    (b'{"version": 99}', "newer"),
    (json.dumps({"config": {"units": 10**6}, "layers": [], "steps": [], "epochs": [], "status": "finished"}),
     "units"),
])
def test_broken_imports_give_a_message(store, text, reason):
    with pytest.raises(StoreError, match=reason):
        store.import_json(text)
    assert store.list() == []


def test_import_size_limit(store, monkeypatch):
    monkeypatch.setenv("VGRAD_MAX_RUN_MB", "1")
    with pytest.raises(StoreError, match="VGRAD_MAX_RUN_MB"):
        parse_run_json(b" " * (2 * 2**20))


def test_save_run_uses_vgrad_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("VGRAD_DATA_DIR", str(tmp_path / "env-data"))
    rid = save_run(make_run(), "via env")
    assert (tmp_path / "env-data" / "runs.sqlite3").exists()
    assert RunStore().get(rid).name == "via env"


def test_newer_schema_is_refused_with_a_message(tmp_path):
    RunStore(tmp_path)
    with sqlite3.connect(tmp_path / "runs.sqlite3") as db:
        db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match="newer vgrad.*VGRAD_DATA_DIR"):
        RunStore(tmp_path)


def test_a_file_that_is_not_a_database_is_refused(tmp_path):
    (tmp_path / "runs.sqlite3").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a vgrad saved-runs database"):
        RunStore(tmp_path)


def test_wal_mode_and_schema_table(store):
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]


def test_concurrent_saves_from_threads(store):
    errors = []

    def worker(k):
        try:
            for i in range(4):
                store.save(make_run(n_steps=5, seed=k * 10 + i), f"t{k}-{i}")
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.list()) == 16


# --- crash safety: SIGKILL a process mid-save, then reopen ----------------------------
CHILD = r"""
import sys, time
sys.path.insert(0, {repo!r})
from tests.run_factory import make_run
from vgrad.store import RunStore
store = RunStore(sys.argv[1])
for i in range(3):
    print("saved", store.save(make_run(seed=i), f"run {{i}}"), flush=True)
mode = sys.argv[2]
if mode == "in-transaction":
    store._before_commit = lambda: (print("in-transaction", flush=True), time.sleep(60))
    store.save(make_run(n_steps=50, snapshot_every=1, units=32, seed=9), "half-written")
else:
    big = make_run(n_steps=40, snapshot_every=1, units=48, seed=9)
    print("looping", flush=True)
    while True:
        print("saved", store.save(big, "big"), flush=True)
"""


def _kill_mid_save(data_dir: Path, mode: str, delay: float) -> list[int]:
    proc = subprocess.Popen([sys.executable, "-c", CHILD.format(repo=str(REPO)), str(data_dir), mode],
                            stdout=subprocess.PIPE, text=True, cwd=REPO)
    saved: list[int] = []
    try:
        deadline = time.monotonic() + 60
        for line in proc.stdout:
            if line.startswith("saved"):
                saved.append(int(line.split()[1]))
            if line.strip() in ("in-transaction", "looping"):
                break
            assert time.monotonic() < deadline
        time.sleep(delay)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        rest = proc.communicate(timeout=30)[0]
    saved += [int(line.split()[1]) for line in rest.splitlines() if line.startswith("saved")]
    assert proc.returncode == -signal.SIGKILL
    return saved


def _assert_intact(data_dir: Path, saved: list[int]) -> RunStore:
    with sqlite3.connect(data_dir / "runs.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store = RunStore(data_dir)
    rows = store.list()
    assert set(saved) <= {r.id for r in rows}  # nothing already saved is lost
    for row in rows:  # and every row present is a whole run
        assert store.load(row.id).status == "finished"
    store.save(make_run(), "after the crash")
    return store


def test_sigkill_inside_the_save_transaction_leaves_no_half_run(tmp_path):
    saved = _kill_mid_save(tmp_path, "in-transaction", delay=0.2)
    assert len(saved) == 3
    store = _assert_intact(tmp_path, saved)
    names = [r.name for r in store.list()]
    assert "half-written" not in names
    assert sorted(names) == ["after the crash", "run 0", "run 1", "run 2"]


@pytest.mark.parametrize("delay", [0.7, 1.6])
def test_sigkill_at_a_random_moment_of_big_saves(tmp_path, delay):
    saved = _kill_mid_save(tmp_path, "loop", delay=delay)
    _assert_intact(tmp_path, saved)


def test_store_never_imports_tensorflow():
    code = ("import sys, vgrad.store, vgrad.settings; import vgrad.export.tensorboard as tb;"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')];"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=120)


# --- a read-only data directory (the probe's D7) --------------------------------------
@pytest.fixture
def read_only_dir(tmp_path):
    """A data directory holding two saved runs (and a comparison), then made unwritable: a read-only
    bind mount when running as root (root ignores permissions), else chmod."""
    src = tmp_path / "src"
    store = RunStore(src)
    a, b = store.save(make_run(seed=1), "first"), store.save(make_run(seed=2), "second")
    store.save_comparison("both", [a, b])
    del store
    if os.geteuid() != 0:
        (src / "runs.sqlite3").chmod(0o444)
        src.chmod(0o555)
        yield src
        src.chmod(0o755)
        return
    dst = tmp_path / "ro"
    dst.mkdir()
    if subprocess.run(["mount", "--bind", "-o", "ro", str(src), str(dst)], capture_output=True).returncode != 0:
        pytest.skip("cannot make a read-only directory here (root without mount)")
    try:
        yield dst
    finally:
        subprocess.run(["umount", str(dst)], check=True)


def test_a_read_only_directory_opens_for_viewing(read_only_dir):
    with pytest.raises(OSError):
        (read_only_dir / "probe").write_text("x")  # it really is read-only
    store = RunStore(read_only_dir)
    assert store.read_only
    assert [r.name for r in store.list()] == ["second", "first"]
    run_id = store.list()[0].id
    assert store.load(run_id).to_json() == make_run(seed=2).to_json()
    assert json.loads(store.export_json(run_id))["status"] == "finished"
    assert store.export_csv(run_id) and store.summary_csv()
    comp, members = store.load_comparison(store.list_comparisons()[0].id)
    assert comp.name == "both" and len(members) == 2
    for write in (lambda: store.save(make_run(), "new"), lambda: store.rename(run_id, "x"),
                  lambda: store.delete(run_id), lambda: store.save_comparison("c", [1, 2]),
                  lambda: store.import_json(make_run().to_json())):
        with pytest.raises(StoreError, match="read-only") as err:
            write()
        assert "VGRAD_DATA_DIR" in str(err.value)
    assert sorted(p.name for p in read_only_dir.iterdir()) == ["runs.sqlite3"]


def test_a_read_only_directory_without_a_database_says_so(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    if os.geteuid() == 0:
        dst = tmp_path / "ro-empty"
        dst.mkdir()
        if subprocess.run(["mount", "--bind", "-o", "ro", str(empty), str(dst)], capture_output=True).returncode:
            pytest.skip("cannot make a read-only directory here")
        try:
            with pytest.raises(StoreError, match="read-only and holds no saved runs"):
                RunStore(dst)
        finally:
            subprocess.run(["umount", str(dst)], check=True)
    else:
        empty.chmod(0o555)
        try:
            with pytest.raises(StoreError, match="read-only and holds no saved runs"):
                RunStore(empty)
        finally:
            empty.chmod(0o755)
