"""Streamlit components shared by vgrad's pages (no TensorFlow or Keras import, ever).

- config_form: the experiment sidebar driven by vgrad.config.FIELDS, with the link in the URL
- url_state: readable `preset=...&field=value` links, validated, never a traceback
- backend: the connection to the training service (started on demand)
- live: follow a job's records from a `st.fragment(run_every=...)`, only new records each time
- panels: the Explorer's controls, headline numbers and live charts
"""
