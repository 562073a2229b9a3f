"""Recurrent: gradients through time in SimpleRNN, LSTM and GRU, and exploding gradients with clipping."""

import streamlit as st

from vgrad.ui import backend, process, recurrent_view

process.use_app_navigation()

st.title("Recurrent networks")
st.caption("The label depends only on the first time step; the rest is noise. Can the gradient reach step 0?")

choice = recurrent_view.controls()
client = backend.connect()
recurrent_view.train_controls(client, choice)
if client is None:
    backend.wait_panel()
recurrent_view.live_panels(client)
