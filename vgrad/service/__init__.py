"""The training service: a local HTTP process that owns all TensorFlow work.

- `vgrad.service.app`: the FastAPI app (`create_app`), endpoints documented at /docs.
- `vgrad.service.jobs`: the JobManager (worker pool, queue, pause/step/stop, cleanup).
- `vgrad.service.client`: BackendClient for other processes (no TensorFlow import).
- `vgrad.service.launcher`: start/reuse the service from Streamlit; `serve_all` for app + service.
- `vgrad.service.security`: the token, Host and Origin checks (every request but /health).
- `vgrad.service.settings`: settings from environment variables.

Importing this package imports nothing heavy.
"""
