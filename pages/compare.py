"""Compare: 2-6 configurations trained side by side, every heatmap on one colour scale."""

import streamlit as st

from vgrad.ui import backend, compare_view, process

process.use_app_navigation()

st.title("Compare")
st.caption("Pick a comparison from the notebook or a paper, change any run, train them together and read "
           "the result beside the pattern you should expect.")

client = backend.connect()
setup = compare_view.setup_controls()
compare_view.data_controls(client)
compare_view.train_controls(client, setup)
if client is None:
    backend.wait_panel()
compare_view.live_panels(client)
