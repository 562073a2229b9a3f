"""vgrad.ui.widget_state: the value widgets' cheaper key look-up answers as Streamlit's own does."""

from __future__ import annotations

from streamlit.runtime.state import session_state_proxy
from streamlit.testing.v1 import AppTest

from vgrad.ui import widget_state


def test_every_value_widget_module_uses_it():
    import importlib

    assert widget_state.install() == list(widget_state.MODULES)  # installed by importing vgrad.ui; again is harmless
    for name in widget_state.MODULES:  # a Streamlit upgrade that moves them shows here
        module = importlib.import_module(f"streamlit.elements.widgets.{name}")
        assert module.get_session_state is widget_state._get_session_state, name


def _page() -> None:
    import streamlit as st
    from streamlit.runtime.state import session_state_proxy

    from vgrad.ui import widget_state

    st.session_state.setdefault("plain", 3)
    st.session_state.setdefault("nothing", None)
    st.number_input("typed", key="typed", value=None)
    st.number_input("empty", key="empty", value=5)
    st.selectbox("pick", ["a", "b"], key="pick")
    st.text_input("words", key="words")
    st.checkbox("keyless")
    real = session_state_proxy.get_session_state().filtered_state
    view = widget_state._get_session_state().filtered_state
    names = [*real, "missing", "$$STREAMLIT_INTERNAL_KEY_X", 7]
    st.session_state["agree"] = all((n in real) == (n in view) for n in names) and \
        all(real[n] is view[n] or real[n] == view[n] for n in real) and dict(view) == real
    st.session_state["seen"] = sorted(real)


def test_its_answers_equal_filtered_state_and_none_stays_none():
    at = AppTest.from_function(_page, default_timeout=30)
    at.session_state["empty"] = None  # a number field the user cleared: it must stay empty
    at.run()
    assert not at.exception, at.exception
    assert at.number_input(key="empty").value is None
    assert at.number_input(key="typed").value is None
    at.number_input(key="typed").set_value(4).run()
    at.selectbox(key="pick").set_value("b").run()
    assert at.number_input(key="typed").value == 4 and at.selectbox(key="pick").value == "b"
    assert at.session_state["agree"] is True
    assert {"plain", "nothing", "typed", "empty", "pick", "words"} <= set(at.session_state["seen"])


def test_the_state_object_passes_everything_else_through():
    assert widget_state._State(session_state_proxy).get_session_state is session_state_proxy.get_session_state
