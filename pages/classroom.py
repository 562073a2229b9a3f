"""Class: a teacher opens a class, shares one link, and watches the class's runs come in."""

import streamlit as st

from vgrad.ui import backend, class_view, process

process.use_app_navigation()

st.title("Class")
classroom = class_view.open_or_create()
if classroom is not None:
    class_view.class_header(classroom)
    client = backend.connect()
    class_view.class_runs(client, classroom)
