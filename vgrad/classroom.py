"""Classes: a teacher's class, its students' runs, and the preset the teacher pushes (no TensorFlow).

    classes = ClassStore()                      # beside the saved runs (VGRAD_DATA_DIR/runs.sqlite3)
    c = classes.create("Deep learning, Tuesday")
    c.code, c.key                               # 'K7QP2M' (students join with it), the teacher's secret
    classes.add_run(c.code, run, "Ada")         # a student's finished run: saved, then linked to the class
    classes.runs(c.code)                        # [(SavedRun, "Ada"), ...], newest first
    classes.push(c.code, c.key, "preset=remedy-relu")   # every student's Explorer loads it

No accounts: the code lets a student add runs to a class; only the key (in the teacher's link)
shows the class or changes it. A class's runs are saved runs (vgrad.store), so they open on the
Runs page too; deleting a run there takes it out of its class.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import time
from dataclasses import dataclass

from vgrad import settings
from vgrad.run import Run
from vgrad.store import RunStore, SavedRun, StoreError

CODE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud from a projector
CODE_LENGTH = 6
_CODE = re.compile(rf"[{CODE_LETTERS}]{{{CODE_LENGTH}}}")
MAX_NAME = 120
MAX_STUDENT = 60

_SCHEMA = """
CREATE TABLE IF NOT EXISTS classes (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    key TEXT NOT NULL,
    created REAL NOT NULL,
    pushed TEXT NOT NULL DEFAULT '',       -- a link query every student's Explorer loads
    pushed_at REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS class_runs (
    code TEXT NOT NULL REFERENCES classes(code) ON DELETE CASCADE,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    student TEXT NOT NULL,
    PRIMARY KEY (code, run_id)
);
"""


class ClassError(ValueError):
    """A class request refused; the message is one sentence for people."""


@dataclass(frozen=True)
class Classroom:
    code: str
    name: str
    key: str
    created: float
    pushed: str = ""
    pushed_at: float = 0.0


def normal_code(text: str) -> str:
    """A code as typed ('k7qp-2m') -> 'K7QP2M'; ClassError when it cannot be one."""
    code = re.sub(r"[\s-]", "", str(text)[:40]).upper()
    if not _CODE.fullmatch(code):
        raise ClassError(f"{str(text)[:20]!r} is not a class code: {CODE_LENGTH} letters and digits")
    return code


class ClassStore:
    """Classes in the saved-runs database (tables classes and class_runs)."""

    def __init__(self, store: RunStore | None = None):
        self.store = store or RunStore()
        if not self.store.read_only:
            with self._db() as db:
                db.executescript(_SCHEMA)

    def create(self, name: str) -> Classroom:
        name = _text(name, MAX_NAME, "a class name")
        with self._db() as db:
            count = db.execute("SELECT count(*) FROM classes").fetchone()[0]
            if count >= settings.get_int("VGRAD_MAX_CLASSES", low=1):
                raise ClassError(f"this server already keeps {count} classes, the most it allows (VGRAD_MAX_CLASSES)")
            for _ in range(20):
                code = "".join(secrets.choice(CODE_LETTERS) for _ in range(CODE_LENGTH))
                if db.execute("SELECT 1 FROM classes WHERE code = ?", (code,)).fetchone() is None:
                    break
            c = Classroom(code, name, secrets.token_urlsafe(12), time.time())
            db.execute("INSERT INTO classes (code, name, key, created) VALUES (?, ?, ?, ?)",
                       (c.code, c.name, c.key, c.created))
        return c

    def get(self, code: str) -> Classroom:
        """The class a student joins (no key needed to add runs)."""
        code = normal_code(code)
        with self._db() as db:
            row = db.execute("SELECT code, name, key, created, pushed, pushed_at FROM classes WHERE code = ?",
                             (code,)).fetchone()
        if row is None:
            raise ClassError(f"there is no class {code} on this server")
        return Classroom(*row)

    def open(self, code: str, key: str) -> Classroom:
        """The class for its teacher: ClassError unless `key` is the class's."""
        c = self.get(code)
        if not secrets.compare_digest(str(key)[:100], c.key):
            raise ClassError("this link does not open that class: the teacher's link has its key")
        return c

    def add_run(self, code: str, run: Run, student: str) -> int:
        """Save a student's ended run and link it to the class; returns the saved run's id."""
        c = self.get(code)
        student = _text(student, MAX_STUDENT, "a name") if str(student).strip() else "a student"
        with self._db() as db:
            count = db.execute("SELECT count(*) FROM class_runs WHERE code = ?", (c.code,)).fetchone()[0]
        if count >= settings.get_int("VGRAD_MAX_CLASS_RUNS", low=1):
            raise ClassError(f"class {c.code} already has {count} runs, the most it keeps (VGRAD_MAX_CLASS_RUNS)")
        run_id = self.store.save(run, f"{student}: {c.name}"[:200])
        with self._db() as db:
            db.execute("INSERT INTO class_runs (code, run_id, student) VALUES (?, ?, ?)", (c.code, run_id, student))
        return run_id

    def runs(self, code: str) -> list[tuple[SavedRun, str]]:
        """The class's saved runs and who trained them, newest first."""
        code = normal_code(code)
        with self._db() as db:
            rows = db.execute("SELECT run_id, student FROM class_runs WHERE code = ?", (code,)).fetchall()
        students = dict(rows)
        saved = [r for r in self.store.list() if r.id in students]
        return [(r, students[r.id]) for r in saved]

    def push(self, code: str, key: str, query: str) -> Classroom:
        """Set the link query every student's Explorer in this class loads next."""
        c = self.open(code, key)
        query = str(query)[:4000]
        with self._db() as db:
            db.execute("UPDATE classes SET pushed = ?, pushed_at = ? WHERE code = ?", (query, time.time(), c.code))
        return self.get(c.code)

    def delete(self, code: str, key: str) -> None:
        """Delete the class (its runs stay saved)."""
        c = self.open(code, key)
        with self._db() as db:
            db.execute("DELETE FROM class_runs WHERE code = ?", (c.code,))
            db.execute("DELETE FROM classes WHERE code = ?", (c.code,))

    def _db(self):
        if self.store.read_only:
            raise StoreError("the data directory is read-only: classes cannot be created or changed here")
        return _Connection(self.store.path)


class _Connection:
    """A short connection in one transaction (committed on success), foreign keys on."""

    def __init__(self, path):
        self.path = path

    def __enter__(self) -> sqlite3.Connection:
        self.db = sqlite3.connect(self.path, timeout=10)
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute("PRAGMA busy_timeout=10000")
        return self.db

    def __exit__(self, kind, exc, tb) -> None:
        try:
            if kind is None:
                self.db.commit()
            else:
                self.db.rollback()
        finally:
            self.db.close()
        if isinstance(exc, sqlite3.Error):
            raise StoreError(f"classes database error ({exc})") from None


def _text(value, limit: int, what: str) -> str:
    text = str(value).strip()
    if not text:
        raise ClassError(f"{what} is needed")
    if len(text) > limit or "\x00" in text:
        raise ClassError(f"{what} has at most {limit} characters")
    return text
