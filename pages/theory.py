"""Theory: the edge of chaos, dynamical isometry, and mean-field predictions checked on real networks."""

import streamlit as st

from vgrad.ui import backend, process, theory_view

process.use_app_navigation()

st.title("Theory beside measurement")
st.caption("Mean-field theory predicts, before any training, how gradients and signals change with depth. "
           "Pick an activation and the weights' and biases' variances; then measure real networks against it.")

point = theory_view.controls()
theory_view.phase_section(point)
client = backend.connect()
if client is None:
    backend.wait_panel()
theory_view.measure_section(client, point)
theory_view.spectrum_section(client, point)
theory_view.presets_section()
