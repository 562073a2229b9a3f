"""Every environment variable vgrad reads, with its default, in one place.

    >>> from vgrad import settings
    >>> settings.data_dir()            # VGRAD_DATA_DIR, default ./data
    PosixPath('data')
    >>> print(settings.describe())     # a table of all of them (also: python -m vgrad.settings)

Values are read when asked for (not at import), so tests and the launcher can set them
in the environment first. The caps themselves are enforced by `vgrad.limits` and the service settings
by `vgrad.service.settings`; their variables are listed here too so that one table documents all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Setting:
    """One environment variable: its name, default (as text) and what it controls."""

    name: str
    default: str
    help: str
    group: str

    def get(self) -> str:
        value = os.environ.get(self.name, "").strip()
        return value or self.default


SETTINGS: dict[str, Setting] = {s.name: s for s in [
    # Serving
    Setting("VGRAD_PORT", "8501", "port of the app for `python -m vgrad serve` (`--port` wins)", "Serving"),
    Setting("VGRAD_BACKEND_URL", "", "use this running training service instead of starting one "
            "(e.g. http://127.0.0.1:8502)", "Serving"),
    Setting("VGRAD_BACKEND_PORT", "0 (serve) / 8502 (service)", "port of the training service: `serve` picks a "
            "free one when 0; `python -m vgrad.service` on its own uses 8502", "Serving"),
    Setting("VGRAD_HOST", "localhost", "address `python -m vgrad serve` listens on (`--host` wins; 0.0.0.0 in "
            "Docker). The service started by `serve` always binds 127.0.0.1; `python -m vgrad.service` run on its "
            "own binds VGRAD_HOST (default 127.0.0.1)", "Serving"),
    Setting("VGRAD_WORKERS", "one per CPU core", "trainings running at the same time (the rest queue)", "Serving"),
    Setting("VGRAD_TF_THREADS", "1", "TensorFlow intra-op threads of the service and CLI (0 = TensorFlow's "
            "default, one per core); 1 is fastest for these small nets, concurrent trainings use the cores",
            "Serving"),
    Setting("VGRAD_ABANDON_SECONDS", "60", "a job nobody polled for this long is cancelled (closed tab)",
            "Serving"),
    Setting("VGRAD_RETENTION_SECONDS", "600", "a finished job's records are freed this long after its last poll",
            "Serving"),
    Setting("VGRAD_KEEP_FINISHED", "200", "finished jobs remembered by the service", "Serving"),
    Setting("VGRAD_MAX_STORED", "10000000", "numbers kept in finished jobs' records, all jobs together",
            "Serving"),
    Setting("VGRAD_WARM", "1", "import TensorFlow and train a 1-step run when the service starts (0 = skip)",
            "Serving"),
    Setting("VGRAD_PAUSE_SECONDS", "300", "a job paused this long is cancelled while other jobs wait for a "
            "trainer", "Serving"),
    Setting("VGRAD_PAGE_BYTES", "1048576", "bytes of records in one page of GET /jobs/{id}/records (1 MB)",
            "Serving"),
    Setting("VGRAD_MAX_PAGE_BYTES", "4194304", "the largest page a client may ask for with max_bytes= (4 MB)",
            "Serving"),
    # Security (the training service)
    Setting("VGRAD_SERVICE_TOKEN", "random at start", "the token every request to the training service but "
            "/health carries (Authorization: Bearer ...); the launcher makes one and hands it to its child, "
            "`python -m vgrad.service` alone prints the one it made. Set it to run the service yourself",
            "Security"),
    Setting("VGRAD_SERVICE_HOSTS", "", "Host names the service answers to besides localhost, 127.0.0.1 and ::1 "
            "(comma-separated; e.g. its name on a container network)", "Security"),
    # Saved runs
    Setting("VGRAD_DATA_DIR", "./data", "directory of the saved-runs database (runs.sqlite3); a volume in Docker",
            "Saved runs"),
    Setting("VGRAD_MAX_RUN_MB", "64", "largest run document (JSON, MB) that can be saved or imported",
            "Saved runs"),
    # Uploads (CSV data sets; see vgrad.csvdata)
    Setting("VGRAD_MAX_UPLOAD_MB", "20", "largest CSV file (MB) that can be uploaded as a data set", "Uploads"),
    Setting("VGRAD_MAX_ROWS", "100000", "data rows of an uploaded CSV file", "Uploads"),
    Setting("VGRAD_MAX_COLUMNS", "1000", "columns of an uploaded CSV file (and features after one-hot encoding)",
            "Uploads"),
    Setting("VGRAD_MAX_DATASETS_PER_CLIENT", "10", "uploaded data sets one browser session can keep", "Uploads"),
    Setting("VGRAD_MAX_DATASET_BYTES", "524288000", "bytes of all stored uploads together (default 500 MB)",
            "Uploads"),
    # Limits (enforced by the training service, see vgrad.limits)
    Setting("VGRAD_MAX_PARAMS", "500000", "trainable (+ BatchNorm) parameters of one network", "Limits"),
    Setting("VGRAD_MAX_LAYER_UNITS", "4096", "hidden layers x units (rnn: recurrent layers x units)", "Limits"),
    Setting("VGRAD_MAX_SAMPLES", "10000", "examples in a data set (train + validation)", "Limits"),
    Setting("VGRAD_MAX_STEPS", "20000", "optimizer steps in one run (epochs x steps per epoch, or `steps`)",
            "Limits"),
    Setting("VGRAD_MAX_WORK", "50000000000", "parameters x examples processed (x seq_len for rnn)", "Limits"),
    Setting("VGRAD_MAX_JOBS_PER_CLIENT", "8", "running + queued jobs of one browser session", "Limits"),
    Setting("VGRAD_MAX_RUNNING", "2", "jobs of one browser session training at the same time", "Limits"),
    Setting("VGRAD_MAX_JOBS_PER_ADDRESS", "16", "running + queued jobs of all browser sessions from one address "
            "(raise it for a class behind one NAT address)", "Limits"),
    Setting("VGRAD_MAX_QUEUED", "64", "jobs waiting in the queue, all sessions together", "Limits"),
    # Sweeps (python -m vgrad sweep; vgrad.sweep refuses larger ones with a sentence naming the limit)
    Setting("VGRAD_MAX_SWEEP_CELLS", "10000", "cells of one sweep (the product of its axes' lengths)", "Sweeps"),
    Setting("VGRAD_MAX_SWEEP_SEEDS", "50", "seeds (repeats) per cell of a sweep", "Sweeps"),
    Setting("VGRAD_MAX_SWEEP_TRAININGS", "50000", "trainings of one sweep: cells x seeds", "Sweeps"),
    Setting("VGRAD_MAX_SWEEP_STEPS", "5000", "optimizer steps of one cell's training in a sweep", "Sweeps"),
    Setting("VGRAD_MAX_AXIS_VALUES", "1000", "values on one axis of a sweep", "Sweeps"),
    Setting("VGRAD_MAX_SWEEPS", "4", "sweeps the training service runs at once, all browser sessions together "
            "(one per session; their cells share the workers and the fair queue with every other job)", "Sweeps"),
    # Ray (a cluster for sweeps and, with VGRAD_EXECUTOR=ray, for every training of the service)
    Setting("VGRAD_RAY_ADDRESS", "", "Ray cluster (HOST:PORT, or auto: the one this machine belongs to) a sweep of "
            "`python -m vgrad sweep` runs on (`--address` wins; unset: a local process pool), and the training "
            "service's with VGRAD_EXECUTOR=ray (unset: auto)", "Ray"),
    Setting("VGRAD_EXECUTOR", "local", "where the training service runs every job and sweep cell: local (its "
            "VGRAD_WORKERS threads) or ray (a task each on the cluster at VGRAD_RAY_ADDRESS, records streamed back; "
            "an unreachable cluster at start: local, and /health says why)", "Ray"),
    # Classes (a teacher's class and its students' runs; see vgrad.classroom)
    Setting("VGRAD_MAX_CLASSES", "100", "classes one server keeps", "Classes"),
    Setting("VGRAD_MAX_CLASS_RUNS", "500", "students' runs one class keeps (the oldest are not deleted: new ones are "
            "refused with a sentence)", "Classes"),
    # Streamlit (read by Streamlit itself; the Docker image sets them)
    Setting("STREAMLIT_SERVER_HEADLESS", "false", "no browser tab on start, no e-mail prompt (true in Docker)",
            "Streamlit"),
    Setting("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "true", "Streamlit's usage statistics (false in Docker)",
            "Streamlit"),
    Setting("STREAMLIT_SERVER_MAX_UPLOAD_SIZE", "200", "Streamlit's own upload limit in MB; `python -m vgrad serve` "
            "passes the larger of VGRAD_MAX_UPLOAD_MB and VGRAD_MAX_RUN_MB instead (--server.maxUploadSize); set it "
            "to that under a plain `streamlit run app.py`", "Streamlit"),
]}


def _limit_defaults() -> None:
    """Take the Limits defaults from vgrad.limits itself, so this table cannot drift from it."""
    try:
        from vgrad.limits import ENV, Limits
    except ImportError:
        return
    defaults = Limits()
    for field_name, var in ENV.items():
        old = SETTINGS.get(var)
        value = str(getattr(defaults, field_name, ""))
        if old is None:
            SETTINGS[var] = Setting(var, value, field_name.replace("_", " "), "Limits")
        elif value and old.default != value:
            SETTINGS[var] = Setting(var, value, old.help, old.group)


def get(name: str) -> str:
    """The value of a setting (the environment, else its default)."""
    return SETTINGS[name].get()


def get_int(name: str, low: int | None = None) -> int:
    """An integer setting; a value that is not an integer (or below `low`) falls back to the default."""
    setting = SETTINGS[name]
    for text in (setting.get(), setting.default):
        try:
            value = int(float(text))
        except (ValueError, OverflowError):
            continue
        if low is None or value >= low:
            return value
    raise ValueError(f"{name}: no integer value or default")


def data_dir() -> Path:
    """Where saved runs live: VGRAD_DATA_DIR (default ./data)."""
    return Path(get("VGRAD_DATA_DIR")).expanduser()


def max_run_bytes() -> int:
    """Largest run document that can be saved or imported."""
    return get_int("VGRAD_MAX_RUN_MB", low=1) * 1024 * 1024


def max_upload_bytes() -> int:
    """Largest CSV upload: VGRAD_MAX_UPLOAD_MB (default 20) in bytes."""
    return get_int("VGRAD_MAX_UPLOAD_MB", low=1) * 1024 * 1024


def max_rows() -> int:
    """Data rows of an uploaded CSV file: VGRAD_MAX_ROWS (default 100000)."""
    return get_int("VGRAD_MAX_ROWS", low=1)


def max_columns() -> int:
    """Columns of an uploaded CSV file: VGRAD_MAX_COLUMNS (default 1000)."""
    return get_int("VGRAD_MAX_COLUMNS", low=1)


def max_datasets_per_client() -> int:
    """Uploaded data sets one browser session can keep: VGRAD_MAX_DATASETS_PER_CLIENT (default 10)."""
    return get_int("VGRAD_MAX_DATASETS_PER_CLIENT", low=1)


def max_dataset_bytes() -> int:
    """Bytes of all stored uploads together: VGRAD_MAX_DATASET_BYTES (default 500 MB)."""
    return get_int("VGRAD_MAX_DATASET_BYTES", low=1)


def sweep_limits() -> dict[str, int]:
    """The VGRAD_MAX_SWEEP_* caps (and VGRAD_MAX_AXIS_VALUES), by variable name."""
    names = ("VGRAD_MAX_SWEEP_CELLS", "VGRAD_MAX_SWEEP_SEEDS", "VGRAD_MAX_SWEEP_TRAININGS", "VGRAD_MAX_SWEEP_STEPS",
             "VGRAD_MAX_AXIS_VALUES")
    return {name: get_int(name, low=1) for name in names}


def max_sweeps() -> int:
    """Sweeps the service runs at once (queued or running), all sessions together: VGRAD_MAX_SWEEPS (default 4)."""
    return get_int("VGRAD_MAX_SWEEPS", low=1)


def describe() -> str:
    """A Markdown table of every setting (for README and `python -m vgrad.settings`)."""
    _limit_defaults()
    lines = ["| Variable | Default | What it sets |", "|---|---|---|"]
    for s in SETTINGS.values():
        default = f"`{s.default}`" if s.default else "(unset)"
        lines.append(f"| `{s.name}` | {default} | {s.help} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(describe())
