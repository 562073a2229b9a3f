"""Saved runs: list, reopen, compare, rename, delete, export (JSON, CSV, TensorBoard) and import; saved sweeps."""

import streamlit as st

from vgrad.ui import backend, process, runs_view

process.use_app_navigation()
st.title("Saved runs")
store = runs_view.open_store()
if store is not None:
    runs_view.import_section(store)
    saved = runs_view.runs_list(store)
    if saved:
        open_tab, compare_tab = st.tabs(["Open a run", "Compare runs"])
        with open_tab:
            runs_view.open_tab(store, saved)
        with compare_tab:
            runs_view.compare_tab(store, saved)
    runs_view.sweeps_section(store)
    runs_view.datasets_section(backend.connect(show=False), saved)
