"""Streamlit components shared by vgrad's pages (no TensorFlow or Keras import, ever).

- process: once per server process (settle), and first on every page (use_app_navigation)
- widget_state: value widgets look up their own key without copying the session state (installed here)
- backend: the connection to the training service (started on demand)
- live, multi_run: follow one or several jobs from a fragment, only new records each time
- url_state: the page's state in the address bar (vgrad.links' format)
- config_form: the experiment sidebar driven by vgrad.config.FIELDS
- figures: draw a Plotly chart, rebuilt only when its inputs changed
- panels (Explorer), compare_view, recurrent_view, lessons_view, runs_view: one module per page
"""

from vgrad.ui import widget_state as _widget_state

_widget_state.install()  # every page (and AppTest) gets it, whichever vgrad.ui module it imports first
