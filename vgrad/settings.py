"""Every environment variable vgrad reads, with its default, in one place.

    >>> from vgrad import settings
    >>> settings.data_dir()            # VGRAD_DATA_DIR, default ./data
    PosixPath('data')
    >>> print(settings.describe())     # a table of all of them (also: python -m vgrad.settings)

Values are read when asked for (not at import), so tests and the launcher can set them
in the environment first. The server caps themselves (parameters, layers x units, jobs...)
live in `vgrad.limits`; their variable names are listed here too so one table documents all.
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
    Setting("VGRAD_PORT", "8501", "port of the Streamlit app (`python -m vgrad serve --port` wins)", "Serving"),
    Setting("VGRAD_HOST", "127.0.0.1", "address the app listens on (0.0.0.0 in Docker)", "Serving"),
    Setting("VGRAD_BACKEND_URL", "", "use this running backend instead of starting one (e.g. http://127.0.0.1:8600)",
            "Serving"),
    Setting("VGRAD_BACKEND_PORT", "0", "port of the backend the launcher starts (0 = a free port)", "Serving"),
    Setting("VGRAD_WORKERS", "2", "training jobs run at the same time (the rest queue)", "Serving"),
    # Saved runs
    Setting("VGRAD_DATA_DIR", "./data", "directory of the saved-runs database (runs.sqlite3); a volume in Docker",
            "Saved runs"),
    Setting("VGRAD_MAX_RUN_MB", "64", "largest run document (JSON, MB) that can be saved or imported", "Saved runs"),
    # Limits (enforced by the backend, see vgrad.limits)
    Setting("VGRAD_MAX_PARAMS", "", "most trainable parameters in one model (vgrad.limits default)", "Limits"),
    Setting("VGRAD_MAX_LAYER_UNITS", "", "most hidden layers x units (vgrad.limits default)", "Limits"),
    Setting("VGRAD_MAX_SAMPLES", "", "most examples in a data set (vgrad.limits default)", "Limits"),
    Setting("VGRAD_MAX_STEPS", "", "most optimizer steps in one run (epochs x steps per epoch)", "Limits"),
    Setting("VGRAD_MAX_JOBS_PER_CLIENT", "", "running + queued jobs per browser session", "Limits"),
    Setting("VGRAD_MAX_JOBS", "", "running + queued jobs on the whole server", "Limits"),
    Setting("VGRAD_MAX_SNAPSHOT_MB", "", "memory for full gradient snapshots per job", "Limits"),
    # Streamlit (read by Streamlit itself; the Docker image sets them)
    Setting("STREAMLIT_SERVER_HEADLESS", "false", "no browser tab on start, no e-mail prompt (true in Docker)",
            "Streamlit"),
    Setting("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "true", "Streamlit's usage statistics (false in Docker)",
            "Streamlit"),
    Setting("STREAMLIT_SERVER_MAX_UPLOAD_SIZE", "200", "largest upload in MB (run JSON import)", "Streamlit"),
]}


def _limit_defaults() -> None:
    """Fill the Limits defaults from vgrad.limits when it offers them (names stay documented either way)."""
    try:
        from vgrad import limits
    except ImportError:
        return
    defaults = getattr(limits, "DEFAULTS", None) or getattr(limits, "ENV_DEFAULTS", None)
    if not isinstance(defaults, dict):
        return
    for name, value in defaults.items():
        if name in SETTINGS and not SETTINGS[name].default:
            old = SETTINGS[name]
            SETTINGS[name] = Setting(old.name, str(value), old.help, old.group)


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


def describe() -> str:
    """A Markdown table of every setting (for README and `python -m vgrad.settings`)."""
    _limit_defaults()
    lines = ["| Variable | Default | What it sets |", "|---|---|---|"]
    for s in SETTINGS.values():
        default = f"`{s.default}`" if s.default else "(see vgrad.limits)"
        lines.append(f"| `{s.name}` | {default} | {s.help} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(describe())
