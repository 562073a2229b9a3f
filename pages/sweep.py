"""Sweep: many networks at once (1-3 axes x seeds), the map filling in live, theory's lines on it."""

import streamlit as st

from vgrad.ui import backend, process, sweep_form, sweep_view

process.use_app_navigation()

st.title("Sweeps: where does training stop?")
st.caption("One deep sigmoid net failing is a point; a sweep is the map. Pick one to three axes over a base "
           "network in the sidebar (or a preset map), press Run, and watch the training service fill the map in, "
           "cell by cell.")

store = sweep_view.open_store()
sweep_view.open_saved_from_link(store)
with st.sidebar:
    form = sweep_form.controls()
sweep_view.keep_saved_in_link(form)
client = backend.connect()
if client is None:
    backend.wait_panel()
run, colour = st.columns([1, 4], vertical_alignment="bottom")
with run:
    sweep_view.run_button(client, form)
with colour:
    metric = sweep_form.metric_select(form)
sweep_view.where_caption(client)
sweep_view.live_map(client, metric)
sweep_view.cells_section(metric)
sweep_view.results_section(store, form)
sweep_view.saved_section(store)
