"""Streamlit components shared by vgrad's pages (no TensorFlow or Keras import, ever).

- config_form: the experiment sidebar driven by vgrad.config.FIELDS, with the link in the URL
- url_state: readable `preset=...&field=value` links, validated, never a traceback
- backend: the connection to the training service (started on demand)
- live: follow a job's records from a `st.fragment(run_every=...)`, only new records each time
- panels: the Explorer's controls, headline numbers and live charts
"""


def use_app_navigation() -> None:
    """Make Streamlit run app.py (st.navigation) rather than a pages/ file on its own.

    Streamlit keeps a process-wide flag, set at start when a pages/ folder sits next to the main
    script, that runs a requested pages/ file directly (the legacy multipage mode, without app.py:
    no wide layout, file-name navigation) until some run has called st.navigation. The first
    visitor of a fresh server who opens a shared link such as /explorer?... would get that
    mode. Clearing the flag and rerunning sends that run through app.py instead.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - a future Streamlit without the legacy mode
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        import streamlit as st
        from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

        if get_script_run_ctx() is not None:
            st.rerun()


use_app_navigation()
