"""Home: what vgrad is and where to go."""

import streamlit as st

from vgrad.ui import process

process.use_app_navigation()

st.title("vgrad — the vanishing-gradient lab")
st.markdown(
    """
Deep networks learn by passing the loss gradient backwards, layer by layer. With saturating
activations such as the sigmoid, each layer multiplies that gradient by a small factor, so the
layers nearest the input receive a signal **orders of magnitude smaller** than the last ones and
barely learn: the *vanishing-gradient problem*.

vgrad trains small Keras networks in a separate service and streams the **true per-layer
gradient of every step** to this page, so you can see the problem and its remedies happen.
"""
)
c1, c2 = st.columns(2)
with c1:
    st.page_link("pages/explorer.py", label="**Explorer**: train one network and watch it live", icon=":material/biotech:")
    st.page_link("pages/compare.py", label="**Compare**: presets side by side on one colour scale", icon=":material/compare:")
    st.page_link("pages/recurrent.py", label="**Recurrent**: gradients through time in RNNs", icon=":material/replay:")
    st.page_link("pages/lessons.py", label="**Lessons**: guided tour from the original notebook", icon=":material/school:")
with c2:
    st.page_link("pages/theory.py", label="**Theory**: the edge of chaos, predicted and measured", icon=":material/functions:")
    st.page_link("pages/sweep.py", label="**Sweep**: the map of where training stops, filled in live",
                 icon=":material/grid_on:")
    st.page_link("pages/runs.py", label="**Runs**: saved runs, reload and export", icon=":material/folder_open:")
    st.page_link("pages/classroom.py", label="**Class**: one link for your students, their runs live", icon=":material/groups:")
st.info("Start with the Explorer's default: 8 sigmoid layers. Press **Train** and look at the bottom rows "
        "of the heatmap, then pick the preset *remedy-relu* and compare.")
