"""vgrad.classroom: classes with a code and a teacher's key, their students' runs, a pushed preset."""

from __future__ import annotations

import pytest

from tests.run_factory import make_run
from vgrad.classroom import CODE_LENGTH, ClassError, ClassStore, normal_code
from vgrad.store import RunStore


@pytest.fixture
def classes(tmp_path):
    return ClassStore(RunStore(tmp_path))


def test_a_class_keeps_its_students_runs(classes):
    c = classes.create("Tuesday <b>group</b>")
    assert len(c.code) == CODE_LENGTH and c.key and classes.get(c.code.lower()).name == "Tuesday <b>group</b>"
    first = classes.add_run(c.code, make_run(seed=1), "Ada")
    second = classes.add_run(c.code, make_run(seed=2), "")
    runs = classes.runs(c.code)
    assert [(r.id, who) for r, who in runs] == [(second, "a student"), (first, "Ada")]
    assert classes.store.load(first).steps == make_run(seed=1).steps  # a saved run like any other
    classes.store.delete(first)
    assert [r.id for r, _ in classes.runs(c.code)] == [second]  # deleting a run takes it out of its class


def test_only_the_key_opens_or_changes_a_class(classes):
    c = classes.create("A")
    other = classes.create("B")
    assert classes.open(c.code, c.key) == c
    wrong_end = "y" if c.key.endswith("x") else "x"  # a key one letter off (keys are random)
    for bad in ("", other.key, c.key[:-1] + wrong_end):
        with pytest.raises(ClassError, match="does not open"):
            classes.open(c.code, bad)
    with pytest.raises(ClassError):
        classes.push(c.code, other.key, "preset=remedy-relu")
    assert classes.push(c.code, c.key, "preset=remedy-relu").pushed == "preset=remedy-relu"
    classes.add_run(c.code, make_run(), "Ada")
    assert classes.runs(other.code) == []  # one class never sees another's runs
    classes.delete(c.code, c.key)
    with pytest.raises(ClassError, match="no class"):
        classes.get(c.code)


def test_limits_and_hostile_codes(classes, monkeypatch):
    monkeypatch.setenv("VGRAD_MAX_CLASS_RUNS", "2")
    c = classes.create("small")
    classes.add_run(c.code, make_run(seed=1), "a")
    classes.add_run(c.code, make_run(seed=2), "b")
    with pytest.raises(ClassError, match="VGRAD_MAX_CLASS_RUNS"):
        classes.add_run(c.code, make_run(seed=3), "c")
    monkeypatch.setenv("VGRAD_MAX_CLASSES", "2")
    classes.create("two")
    with pytest.raises(ClassError, match="VGRAD_MAX_CLASSES"):
        classes.create("three")
    for text in ("", "abc", "ABCDEF'--", "x" * 1000, "０１２３４５"):
        with pytest.raises(ClassError):
            normal_code(text)
    with pytest.raises(ClassError):
        classes.create("   ")
