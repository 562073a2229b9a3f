"""Saved runs, comparisons and sweeps in SQLite under VGRAD_DATA_DIR (no TensorFlow).

    from vgrad.store import RunStore, save_run
    run_id = save_run(run, "deep sigmoid, lr 0.1")     # the default store
    store = RunStore()                                  # or RunStore("/tmp/data")
    [(r.id, r.name) for r in store.list()]
    run = store.load(run_id)
    store.rename(run_id, "baseline"); store.delete(run_id)
    cid = store.save_comparison("sigmoid vs relu", [id1, id2])
    sid = store.save_sweep("depth x init", result.to_json(), query)   # a vgrad.sweep.SweepResult

A save is one transaction in a WAL-mode database: a crash or a kill mid-save leaves the
runs saved before it intact and no half-written run. The file carries a schema version;
a store written by a newer vgrad is refused with StoreError rather than misread.
Names and notes are stored exactly as given: escape them when showing them (vgrad.text).

A data directory that cannot be written (a read-only mount, a file without write permission)
opens read-only (`store.read_only`): SQLite's immutable mode, which needs no lock or WAL file beside
the database, so runs can be listed, opened and exported; saving, renaming and deleting raise
StoreError saying why. (Immutable mode reads the database file alone: a run saved by a process
that was killed before it checkpointed its WAL file does not show until the directory is writable.)
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sqlite3
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vgrad import settings
from vgrad.run import Run, RunFileError

# 2: the sweeps table (a version 1 database gains it when it is first opened for writing).
SCHEMA_VERSION = 2
DB_NAME = "runs.sqlite3"
MAX_NAME = 200
MAX_NOTE = 2000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    status TEXT NOT NULL,
    summary TEXT NOT NULL,      -- JSON: config changes, steps, final metrics, attenuation
    body BLOB NOT NULL,         -- zlib(Run.to_json())
    size INTEGER NOT NULL       -- bytes of the uncompressed JSON
);
CREATE TABLE IF NOT EXISTS comparisons (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS comparison_runs (
    comparison_id INTEGER NOT NULL REFERENCES comparisons(id) ON DELETE CASCADE,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    PRIMARY KEY (comparison_id, run_id)
);
CREATE TABLE IF NOT EXISTS sweeps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    query TEXT NOT NULL,        -- JSON: the Sweep page's link pairs (axes, base, seeds, mode, metric)
    summary TEXT NOT NULL,      -- JSON: cells done and in all, mode, axes
    body BLOB NOT NULL,         -- zlib(SweepResult.to_json())
    size INTEGER NOT NULL       -- bytes of the uncompressed JSON
);
"""


class StoreError(RuntimeError):
    """The saved-runs store cannot do what was asked; the message says why, for people."""


@dataclass(frozen=True)
class SavedRun:
    """One saved run's row, without its body (load() reads that)."""

    id: int
    name: str
    note: str
    created: float
    status: str
    size: int
    summary: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"#{self.id} {self.name}"


@dataclass(frozen=True)
class SavedSweep:
    """One saved sweep's row, without its body (load_sweep reads that)."""

    id: int
    name: str
    note: str
    created: float
    size: int
    query: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"#{self.id} {self.name}"


@dataclass(frozen=True)
class SavedComparison:
    """A named group of saved runs, in the order they were chosen."""

    id: int
    name: str
    note: str
    created: float
    run_ids: tuple[int, ...]


def summarize(run: Run) -> dict[str, Any]:
    """The few numbers a list of runs shows: what changed, how long, how it ended."""
    metrics = {k: _finite(v) for k, v in run.final_metrics().items()}
    return {
        "changed": run.config.changed(),
        "family": run.config.family,
        "activation": run.config.activation,
        "hidden_layers": run.config.hidden_layers,
        "steps": len(run.steps),
        "layers": len(run.layers),
        "attenuation_orders": _finite(run.attenuation_orders()),
        **metrics,
    }


class RunStore:
    """Saved runs in `<data_dir>/runs.sqlite3` (data_dir default: settings.data_dir()).

    Every method opens its own short connection, so one store object is safe to share
    between Streamlit sessions (threads) and processes.
    """

    def __init__(self, data_dir: str | Path | None = None):
        self.data_dir = Path(data_dir) if data_dir is not None else settings.data_dir()
        self.path = self.data_dir / DB_NAME
        self.read_only = False  # True when the directory or the file cannot be written
        self._before_commit = None  # test seam: called inside a save's transaction
        self._init()

    # --- connection and schema -------------------------------------------------
    def _init(self) -> None:
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the data directory {self.data_dir}: {exc.strerror}") from None
        if not _writable(self.data_dir, self.path):
            self._open_read_only()
            return
        try:
            self._init_schema()
        except StoreError as exc:
            refused = any(word in str(exc) for word in ("readonly", "read-only", "unable to open"))
            if not (refused and self.path.exists()):
                raise
            self._open_read_only()  # the file system said no although access() said yes

    def _open_read_only(self) -> None:
        if not self.path.exists():
            raise StoreError(f"the data directory {self.data_dir} is read-only and holds no saved runs "
                             f"({DB_NAME}); set VGRAD_DATA_DIR to a writable directory to save runs")
        self.read_only = True
        with self._connect() as db:
            try:
                version = db.execute("SELECT max(version) FROM schema_version").fetchone()[0]
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"{self.path} is not a vgrad saved-runs database ({exc})") from None
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise StoreError(f"{self.path} was written by a newer vgrad (store schema {str(version)[:20]}; this "
                             f"version reads up to {SCHEMA_VERSION}). Upgrade vgrad, or set VGRAD_DATA_DIR to "
                             "another directory.")

    def _init_schema(self) -> None:
        with self._connect() as db:
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("BEGIN IMMEDIATE")
                version = None
                if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
                              ).fetchone():
                    version = db.execute("SELECT max(version) FROM schema_version").fetchone()[0]
                if version is not None and (not isinstance(version, int) or version > SCHEMA_VERSION):
                    _rollback(db)
                    raise StoreError(
                        f"{self.path} was written by a newer vgrad (store schema {str(version)[:20]}; this "
                        f"version reads up to {SCHEMA_VERSION}). Upgrade vgrad, or set VGRAD_DATA_DIR to "
                        "another directory.")
                _create(db)  # every table (IF NOT EXISTS): an older database gains the new ones
                if version is None:
                    db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
                elif version < SCHEMA_VERSION:
                    db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
                db.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                _rollback(db)
                raise StoreError(f"{self.path} is not a vgrad saved-runs database ({exc})") from None

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            if self.read_only:  # no lock, journal or WAL file is made (or read) beside the database
                uri = self.path.resolve().as_uri() + "?mode=ro&immutable=1"
                db = sqlite3.connect(uri, uri=True, timeout=10, isolation_level=None)
            else:
                db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from None
        try:
            db.execute("PRAGMA busy_timeout=10000")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA synchronous=FULL")
            yield db
        except sqlite3.DatabaseError as exc:
            if "not a database" in str(exc):
                raise StoreError(f"{self.path} is not a vgrad saved-runs database ({exc})") from None
            raise StoreError(f"saved-runs database error ({exc})") from None
        finally:
            db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        if self.read_only:
            raise StoreError(f"saved runs are read-only here: {self.data_dir} cannot be written, so runs can be "
                             "opened and exported but not saved, renamed or deleted. Set VGRAD_DATA_DIR to a "
                             "writable directory to save.")
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                if self._before_commit is not None:
                    self._before_commit()
                db.execute("COMMIT")
            except BaseException:
                _rollback(db)
                raise

    # --- runs ------------------------------------------------------------------
    def save(self, run: Run, name: str, note: str = "") -> int:
        """Save a run that has ended under `name`; returns its id. One transaction."""
        name, note = _check_name(name), _check_note(note)
        if not isinstance(run, Run):
            raise StoreError("only a vgrad Run can be saved")
        if not run.done:
            raise StoreError("this run is still running; save it when it has ended")
        text = run.to_json()
        if len(text) > settings.max_run_bytes():
            raise StoreError(f"this run is {len(text) / 2**20:.0f} MB as JSON, more than the "
                             f"{settings.max_run_bytes() // 2**20} MB limit (VGRAD_MAX_RUN_MB)")
        body = zlib.compress(text.encode("utf-8"), 6)
        summary = json.dumps(summarize(run), default=str)
        with self._transaction() as db:
            cur = db.execute(
                "INSERT INTO runs (name, note, created, status, summary, body, size) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (name, note, time.time(), str(run.status), summary, body, len(text)))
            return int(cur.lastrowid)

    def import_json(self, text: str | bytes, name: str | None = None) -> int:
        """Validate a run JSON exported by vgrad and save it; StoreError says what is wrong."""
        run = parse_run_json(text)
        return self.save(run, name or _default_name(run))

    def list(self) -> list[SavedRun]:
        """Saved runs, newest first (no bodies)."""
        with self._connect() as db:
            rows = db.execute("SELECT id, name, note, created, status, size, summary FROM runs "
                              "ORDER BY created DESC, id DESC").fetchall()
        return [_saved_run(row) for row in rows]

    def get(self, run_id: int) -> SavedRun:
        with self._connect() as db:
            row = db.execute("SELECT id, name, note, created, status, size, summary FROM runs WHERE id = ?",
                             (_id(run_id),)).fetchone()
        if row is None:
            raise StoreError(f"no saved run #{run_id}")
        return _saved_run(row)

    def load(self, run_id: int) -> Run:
        """The saved Run (validated as it is read back)."""
        with self._connect() as db:
            row = db.execute("SELECT body FROM runs WHERE id = ?", (_id(run_id),)).fetchone()
        if row is None:
            raise StoreError(f"no saved run #{run_id}")
        try:
            return Run.from_json(zlib.decompress(row[0]))
        except (zlib.error, RunFileError) as exc:
            raise StoreError(f"saved run #{run_id} cannot be read ({exc})") from None

    def export_json(self, run_id: int) -> str:
        """The run document, as `Run.to_json` wrote it (re-importable)."""
        with self._connect() as db:
            row = db.execute("SELECT body FROM runs WHERE id = ?", (_id(run_id),)).fetchone()
        if row is None:
            raise StoreError(f"no saved run #{run_id}")
        return zlib.decompress(row[0]).decode("utf-8")

    def export_csv(self, run_id: int) -> str:
        """One row per step x layer (Run.steps_frame)."""
        return self.load(run_id).steps_frame().to_csv(index=False)

    def rename(self, run_id: int, name: str) -> None:
        name = _check_name(name)
        with self._transaction() as db:
            if db.execute("UPDATE runs SET name = ? WHERE id = ?", (name, _id(run_id))).rowcount == 0:
                raise StoreError(f"no saved run #{run_id}")

    def set_note(self, run_id: int, note: str) -> None:
        note = _check_note(note)
        with self._transaction() as db:
            if db.execute("UPDATE runs SET note = ? WHERE id = ?", (note, _id(run_id))).rowcount == 0:
                raise StoreError(f"no saved run #{run_id}")

    def delete(self, run_id: int) -> None:
        """Delete a run (it also leaves any comparison it was in)."""
        with self._transaction() as db:
            if db.execute("DELETE FROM runs WHERE id = ?", (_id(run_id),)).rowcount == 0:
                raise StoreError(f"no saved run #{run_id}")

    # --- comparisons -----------------------------------------------------------
    def save_comparison(self, name: str, run_ids: list[int], note: str = "") -> int:
        """Save a named group of two or more saved runs (in this order); returns its id."""
        name, note = _check_name(name), _check_note(note)
        ids = list(dict.fromkeys(_id(i) for i in run_ids))
        if len(ids) < 2:
            raise StoreError("a comparison needs at least two different saved runs")
        with self._transaction() as db:
            known = {r[0] for r in db.execute(
                f"SELECT id FROM runs WHERE id IN ({','.join('?' * len(ids))})", ids)}
            missing = [i for i in ids if i not in known]
            if missing:
                raise StoreError(f"no saved run #{missing[0]}")
            cur = db.execute("INSERT INTO comparisons (name, note, created) VALUES (?, ?, ?)",
                             (name, note, time.time()))
            cid = int(cur.lastrowid)
            db.executemany("INSERT INTO comparison_runs VALUES (?, ?, ?)",
                           [(cid, rid, pos) for pos, rid in enumerate(ids)])
            return cid

    def save_runs_as_comparison(self, name: str, runs: list[tuple[str, Run]], note: str = "") -> int:
        """Save several runs and a comparison of them in one transaction (for the Compare page)."""
        if len(runs) < 2:
            raise StoreError("a comparison needs at least two runs")
        name, note = _check_name(name), _check_note(note)
        prepared = []
        for run_name, run in runs:
            if not isinstance(run, Run) or not run.done:
                raise StoreError("every run of a comparison must have ended before it is saved")
            text = run.to_json()
            prepared.append((_check_name(run_name), str(run.status), json.dumps(summarize(run), default=str),
                             zlib.compress(text.encode("utf-8"), 6), len(text)))
        with self._transaction() as db:
            now = time.time()
            cid = int(db.execute("INSERT INTO comparisons (name, note, created) VALUES (?, ?, ?)",
                                 (name, note, now)).lastrowid)
            for pos, (run_name, status, summary, body, size) in enumerate(prepared):
                rid = db.execute("INSERT INTO runs (name, note, created, status, summary, body, size) "
                                 "VALUES (?, '', ?, ?, ?, ?, ?)", (run_name, now, status, summary, body, size)).lastrowid
                db.execute("INSERT INTO comparison_runs VALUES (?, ?, ?)", (cid, rid, pos))
            return cid

    def list_comparisons(self) -> list[SavedComparison]:
        with self._connect() as db:
            rows = db.execute("SELECT id, name, note, created FROM comparisons ORDER BY created DESC, id DESC"
                              ).fetchall()
            members = db.execute("SELECT comparison_id, run_id FROM comparison_runs ORDER BY position").fetchall()
        by_comp: dict[int, list[int]] = {}
        for cid, rid in members:
            by_comp.setdefault(cid, []).append(rid)
        return [SavedComparison(r[0], r[1], r[2], r[3], tuple(by_comp.get(r[0], ()))) for r in rows]

    def get_comparison(self, comparison_id: int) -> SavedComparison:
        for comp in self.list_comparisons():
            if comp.id == _id(comparison_id):
                return comp
        raise StoreError(f"no saved comparison #{comparison_id}")

    def load_comparison(self, comparison_id: int) -> tuple[SavedComparison, list[tuple[SavedRun, Run]]]:
        comp = self.get_comparison(comparison_id)
        return comp, [(self.get(rid), self.load(rid)) for rid in comp.run_ids]

    def rename_comparison(self, comparison_id: int, name: str) -> None:
        name = _check_name(name)
        with self._transaction() as db:
            if db.execute("UPDATE comparisons SET name = ? WHERE id = ?",
                          (name, _id(comparison_id))).rowcount == 0:
                raise StoreError(f"no saved comparison #{comparison_id}")

    def delete_comparison(self, comparison_id: int) -> None:
        """Delete the comparison (its runs stay saved)."""
        with self._transaction() as db:
            if db.execute("DELETE FROM comparisons WHERE id = ?", (_id(comparison_id),)).rowcount == 0:
                raise StoreError(f"no saved comparison #{comparison_id}")

    # --- sweeps --------------------------------------------------------------------
    def save_sweep(self, name: str, result_json: str, query: dict[str, str], summary: dict | None = None,
                   note: str = "") -> int:
        """Save a sweep's results (SweepResult.to_json()) with the page link that describes it; returns its id."""
        name, note = _check_name(name), _check_note(note)
        if not isinstance(result_json, str) or not result_json.startswith("{"):
            raise StoreError("only a sweep's JSON (SweepResult.to_json) can be saved as a sweep")
        if len(result_json) > settings.max_run_bytes():
            raise StoreError(f"this sweep is {len(result_json) / 2**20:.0f} MB as JSON, more than the "
                             f"{settings.max_run_bytes() // 2**20} MB limit (VGRAD_MAX_RUN_MB)")
        body = zlib.compress(result_json.encode("utf-8"), 6)
        with self._transaction() as db:
            cur = db.execute("INSERT INTO sweeps (name, note, created, query, summary, body, size) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (name, note, time.time(), json.dumps(dict(query)), json.dumps(summary or {}, default=str),
                              body, len(result_json)))
            return int(cur.lastrowid)

    def list_sweeps(self) -> list[SavedSweep]:
        """Saved sweeps, newest first (no bodies); [] for a read-only database older than the sweeps table."""
        with self._connect() as db:
            if not _has_table(db, "sweeps"):
                return []
            rows = db.execute("SELECT id, name, note, created, size, query, summary FROM sweeps "
                              "ORDER BY created DESC, id DESC").fetchall()
        return [SavedSweep(r[0], r[1], r[2], r[3], r[4], _json_dict(r[5]), _json_dict(r[6])) for r in rows]

    def load_sweep(self, sweep_id: int) -> tuple[SavedSweep, str]:
        """(the row, the sweep's JSON as saved)."""
        with self._connect() as db:
            row = db.execute("SELECT id, name, note, created, size, query, summary, body FROM sweeps WHERE id = ?",
                             (_id(sweep_id),)).fetchone() if _has_table(db, "sweeps") else None
        if row is None:
            raise StoreError(f"no saved sweep #{sweep_id}")
        try:
            text = zlib.decompress(row[7]).decode("utf-8")
        except (zlib.error, UnicodeDecodeError) as exc:
            raise StoreError(f"saved sweep #{sweep_id} cannot be read ({exc})") from None
        return SavedSweep(row[0], row[1], row[2], row[3], row[4], _json_dict(row[5]), _json_dict(row[6])), text

    def delete_sweep(self, sweep_id: int) -> None:
        with self._transaction() as db:
            if db.execute("DELETE FROM sweeps WHERE id = ?", (_id(sweep_id),)).rowcount == 0:
                raise StoreError(f"no saved sweep #{sweep_id}")

    def summary_csv(self, run_ids: list[int] | None = None) -> str:
        """One row per saved run: id, name, status and its summary numbers."""
        rows = [r for r in self.list() if run_ids is None or r.id in run_ids]
        keys = ["steps", "layers", "attenuation_orders", "loss", "accuracy", "val_loss", "val_accuracy"]
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["id", "name", "status", *keys, "changed"])
        for r in rows:
            writer.writerow([r.id, r.name, r.status, *[r.summary.get(k, "") for k in keys],
                             json.dumps(r.summary.get("changed", {}), sort_keys=True)])
        return out.getvalue()


# --- module-level conveniences ---------------------------------------------------
def open_store(data_dir: str | Path | None = None) -> RunStore:
    return RunStore(data_dir)


def save_run(run: Run, name: str, note: str = "") -> int:
    """Save a finished run in the default store (VGRAD_DATA_DIR); returns its id."""
    return RunStore().save(run, name, note)


def parse_run_json(text: str | bytes) -> Run:
    """A Run from a file a person uploaded; StoreError with the reason when it is not one."""
    if isinstance(text, bytes | bytearray):
        size = len(text)
    elif isinstance(text, str):
        size = len(text.encode("utf-8", "replace"))
    else:
        raise StoreError("expected the text of a run JSON file")
    if size == 0:
        raise StoreError("the file is empty")
    if size > settings.max_run_bytes():
        raise StoreError(f"the file is {size / 2**20:.1f} MB, more than the "
                         f"{settings.max_run_bytes() // 2**20} MB limit (VGRAD_MAX_RUN_MB)")
    try:
        run = Run.from_json(text)
        # Everything a page does with a run must work before we accept it.
        run.steps_frame()
        run.epochs_frame()
    except RunFileError as exc:
        raise StoreError(f"not a vgrad run file: {exc}") from None
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError, AttributeError) as exc:
        raise StoreError(f"not a vgrad run file: {type(exc).__name__} while reading it") from None
    if not run.done:
        raise StoreError("not a vgrad run file: its status is 'running' (only ended runs are exported)")
    return run


# --- helpers -------------------------------------------------------------------------
def _writable(data_dir: Path, path: Path) -> bool:
    """Whether SQLite can write here: the directory (for its WAL and lock files) and the file if it exists."""
    return os.access(data_dir, os.W_OK | os.X_OK) and (not path.exists() or os.access(path, os.W_OK))


def _create(db: sqlite3.Connection) -> None:
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)


def _has_table(db: sqlite3.Connection, name: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def _json_dict(text: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _rollback(db: sqlite3.Connection) -> None:
    try:
        db.execute("ROLLBACK")
    except sqlite3.Error:
        pass


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise StoreError("a name is needed (some text)")
    if len(name) > MAX_NAME:
        raise StoreError(f"a name has at most {MAX_NAME} characters (got {len(name)})")
    if "\x00" in name:
        raise StoreError("a name cannot contain NUL characters")
    return name


def _check_note(note: Any) -> str:
    if note is None:
        return ""
    if not isinstance(note, str):
        raise StoreError("a note is text")
    if len(note) > MAX_NOTE:
        raise StoreError(f"a note has at most {MAX_NOTE} characters (got {len(note)})")
    return note


def _id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value).lstrip("#"))
        except ValueError:
            raise StoreError(f"not a saved-run id: {str(value)[:40]!r}") from None
    return value


def _saved_run(row: tuple) -> SavedRun:
    try:
        summary = json.loads(row[6])
    except ValueError:
        summary = {}
    return SavedRun(id=row[0], name=row[1], note=row[2], created=row[3], status=row[4], size=row[5],
                    summary=summary if isinstance(summary, dict) else {})


def _finite(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return value if math.isfinite(value) else None


def _default_name(run: Run) -> str:
    changed = run.config.changed()
    text = ", ".join(f"{k}={v}" for k, v in list(changed.items())[:4]) or "defaults"
    return f"imported: {text}"[:MAX_NAME]
