"""vgrad: the Streamlit app. Navigation only; each page lives in pages/.

Run with `streamlit run app.py` (it starts the training service on demand) or `make run`.
"""

import streamlit as st

from vgrad.ui import process, turns

process.settle()  # once per server process
st.set_page_config(page_title="vgrad", page_icon=":material/trending_down:", layout="wide")

pages = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/explorer.py", title="Explorer", icon=":material/biotech:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare:"),
    st.Page("pages/recurrent.py", title="Recurrent", icon=":material/replay:"),
    st.Page("pages/lessons.py", title="Lessons", icon=":material/school:"),
    st.Page("pages/theory.py", title="Theory", icon=":material/functions:"),
    st.Page("pages/sweep.py", title="Sweep", icon=":material/grid_on:"),
    st.Page("pages/runs.py", title="Runs", icon=":material/folder_open:"),
    st.Page("pages/classroom.py", title="Class", icon=":material/groups:"),
]
with turns.turn():  # sessions' page runs take turns (vgrad/ui/turns.py)
    st.navigation(pages).run()
