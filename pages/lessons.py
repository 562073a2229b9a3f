"""Lessons: why gradients vanish, told around live plots and real runs of the training service."""

import streamlit as st

from vgrad.ui import backend, lessons_view, process

process.use_app_navigation()

st.title("Lessons")
st.caption("Six short steps from the chain rule to the remedies. Every number comes from a formula "
           "or from a real network trained by the service.")

client = backend.connect()
if client is None:
    backend.wait_panel()
lessons_view.chain_rule(client)
lessons_view.activations()
lessons_view.bound_products()
lessons_view.init_scale(client)
lessons_view.update_is_not_gradient(client)
lessons_view.remedies()
