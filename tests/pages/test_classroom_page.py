"""The class: a teacher opens one, a student trains from its link, the run appears on the class page."""

from __future__ import annotations

import time

from tests.pages.apptest import open_page
from vgrad.classroom import ClassStore
from vgrad.store import RunStore


def test_teacher_opens_a_class_and_a_students_run_comes_in(backend, tmp_path, monkeypatch):
    monkeypatch.setenv("VGRAD_DATA_DIR", str(tmp_path))
    teacher = open_page("classroom")
    teacher.text_input[0].input("Tuesday group")
    teacher.button[0].click().run()
    assert not teacher.exception
    code, key = teacher.query_params["code"], teacher.query_params["key"]
    code = code[0] if isinstance(code, list) else code
    assert any(m.value == code for m in teacher.metric) and "class=" + code in teacher.code[0].value

    student = open_page("explorer", **{"class": code, "preset": "notebook-deep-sigmoid"})
    assert any("Tuesday group" in m.value for m in student.sidebar.markdown)
    student.text_input(key="vgrad.class.student").input("Ada").run()
    student.button(key="ctl_train").click().run()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        time.sleep(0.3)
        student.run()
        assert not student.exception, student.exception
        if not student.session_state["vgrad.job"].active:
            student.run()
            break
    runs = ClassStore(RunStore(tmp_path)).runs(code)
    assert [who for _, who in runs] == ["Ada"] and runs[0][0].status == "finished"
    assert student.query_params["class"] in (code, [code])  # the link keeps the class

    back = open_page("classroom", code=code, key=key[0] if isinstance(key, list) else key)
    assert not back.exception
    table = back.dataframe[0].value
    assert list(table["student"]) == ["Ada"] and list(table["status"]) == ["finished"]
    assert len(back.get("plotly_chart")) == 1  # the gallery's heatmap

    wrong = open_page("classroom", code=code, key="guess")
    assert any("does not open" in e.value for e in wrong.error) and not wrong.dataframe


def test_a_pushed_preset_reaches_a_joined_students_explorer(backend, tmp_path, monkeypatch):
    monkeypatch.setenv("VGRAD_DATA_DIR", str(tmp_path))
    classes = ClassStore(RunStore(tmp_path))
    c = classes.create("push")
    student = open_page("explorer", **{"class": c.code})
    assert student.selectbox(key="cfg.activation").value == "sigmoid"
    classes.push(c.code, c.key, "preset=remedy-relu")
    student.run()  # the Explorer reruns on any interaction or poll
    assert not student.exception
    assert student.selectbox(key="cfg.__preset__").value == "remedy-relu"
    assert student.selectbox(key="cfg.activation").value == "relu"
