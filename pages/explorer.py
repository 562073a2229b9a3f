"""Explorer: configure a network, train it in the service, watch every layer's gradient live."""

import streamlit as st

from vgrad.ui import backend, class_view, config_form, data_view, live, panels, process

process.use_app_navigation()

st.title("Explorer")
st.caption("Train a network and watch its per-layer gradients as they are computed, step by step.")

client = backend.connect()
class_view.student_banner()  # with ?class=CODE: the runs go to a teacher's class
form = config_form.experiment_sidebar(client)
data_view.missing_table_notice(client, form.config)
panels.follow_link(client)  # ?job=ID: the run of an earlier tab (a reload) is reattached
panels.controls(client, form)
if client is None:
    backend.wait_panel()
live.live_fragment(panels.live_view, client)
panels.history_panel(client)
