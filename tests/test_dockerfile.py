"""The Dockerfile against the project: same requirements, same entry point, same port, non-root.

No Docker engine runs here, so the image is checked by reading the Dockerfile and .dockerignore
and by running the CMD's entry point with --help.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)  # line continuations
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            out.append((op.upper(), rest.strip()))
    return out


def _all(op: str) -> list[str]:
    return [rest for o, rest in _instructions() if o == op]


def _one(op: str) -> str:
    values = _all(op)
    assert len(values) == 1, f"expected exactly one {op}, got {values}"
    return values[0]


def _exec_form(rest: str) -> list[str]:
    assert rest.startswith("["), f"use the exec (JSON) form so signals reach the server: {rest}"
    return json.loads(rest)


def _env() -> dict[str, str]:
    env = {}
    for rest in _all("ENV"):
        for token in shlex.split(rest):
            key, _, value = token.partition("=")
            env[key] = value
    return env


def _cmd() -> list[str]:
    return _exec_form(_one("CMD"))


def _flag(argv: list[str], name: str) -> str:
    assert name in argv, f"{name} missing from {argv}"
    return argv[argv.index(name) + 1]


def test_base_image_is_slim_python_311():
    assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?", _all("FROM")[0].split()[0])


def test_installs_the_projects_requirements_file():
    assert any(rest.split()[0] == "requirements.txt" for rest in _all("COPY"))
    runs = " ".join(_all("RUN"))
    assert re.search(r"pip install [^&]*-r requirements\.txt", runs)
    assert "--no-cache-dir" in runs  # keep the image small
    reqs = (ROOT / "requirements.txt").read_text()
    # The tensorflow-cpu wheel on linux/x86_64 (what python:3.11-slim on amd64 is) via its marker.
    assert re.search(r'^tensorflow-cpu==[\d.]+;\s*sys_platform == "linux" and platform_machine == "x86_64"', reqs,
                     re.M)


def test_cmd_is_the_same_entry_point_as_make_run():
    cmd = _cmd()
    assert cmd[:4] == ["python", "-m", "vgrad", "serve"]
    assert (ROOT / "vgrad" / "__main__.py").exists()
    make_run = re.search(r"^run:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert "-m vgrad serve" in make_run


def test_entry_point_accepts_the_cmd_flags():
    cmd = _cmd()
    flags = [a for a in cmd[4:] if a.startswith("--")]
    result = subprocess.run([sys.executable, "-m", "vgrad", "serve", "--help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for flag in flags:
        assert flag in result.stdout, f"`python -m vgrad serve` does not accept {flag}"


def test_one_port_everywhere():
    port = _flag(_cmd(), "--port")
    assert _one("EXPOSE").split()[0] in (port, f"{port}/tcp")
    health = _one("HEALTHCHECK")
    assert f"http://localhost:{port}/_stcore/health" in health
    assert _flag(_cmd(), "--host") == "0.0.0.0"


def test_healthcheck_runs_python_not_curl():
    health = _one("HEALTHCHECK")
    assert "curl" not in health and "wget" not in health
    argv = _exec_form(health[health.index("CMD") + 3:].strip())
    assert argv[:2] == ["python", "-c"]
    compile(argv[2], "<healthcheck>", "exec")
    assert re.search(r"--start-period=\d+s", health)  # TensorFlow takes a while to import


def test_runs_as_a_non_root_user():
    users = _all("USER")
    assert users and users[-1] not in ("root", "0", "0:0")
    ops = [op for op, _ in _instructions()]
    assert max(i for i, op in enumerate(ops) if op == "USER") < ops.index("CMD")
    assert re.search(r"useradd[^&]*\b" + re.escape(users[-1].split(":")[0]) + r"\b", " ".join(_all("RUN")))


def test_headless_settings_and_data_volume():
    env = _env()
    assert env["STREAMLIT_SERVER_HEADLESS"] == "true"
    assert env["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] == "false"
    assert env["VGRAD_DATA_DIR"] == "/data"
    assert "/data" in _one("VOLUME")
    # Every VGRAD_* variable the image sets is a documented setting.
    from vgrad.settings import SETTINGS

    assert {k for k in env if k.startswith("VGRAD_")} <= set(SETTINGS)


def _ignored(path: str, patterns: list[str]) -> bool:
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatch(p, pattern) or fnmatch.fnmatch(p, pattern.removeprefix("**/"))
               or fnmatch.fnmatch(parts[j], pattern.removeprefix("**/")) for j, p in enumerate(prefixes)):
            result = not negate
    return result


def test_dockerignore_keeps_the_context_small_and_complete():
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    for path in (".venv/bin/python", ".git/HEAD", "data/runs.sqlite3", "artifacts/x.png",
                 "vgrad/__pycache__/config.cpython-311.pyc", ".pytest_cache/v", "tests/test_store.py"):
        assert _ignored(path, patterns), f"{path} would be sent to the Docker build"
    needed = ["requirements.txt", "vgrad/__main__.py", "vgrad/config.py", "vgrad/store.py"]
    needed += [p.relative_to(ROOT).as_posix() for p in ROOT.glob("pages/*.py")]
    needed += ["app.py"] if (ROOT / "app.py").exists() else []
    for path in needed:
        assert not _ignored(path, patterns), f"{path} is needed in the image but .dockerignore drops it"


@pytest.mark.parametrize("name", ["app.py"])
def test_the_streamlit_app_the_entry_point_runs_exists(name):
    assert (ROOT / name).exists()


def test_every_environment_variable_is_documented_in_settings():
    from vgrad.settings import SETTINGS

    used = set()
    for path in [*ROOT.glob("vgrad/**/*.py"), *ROOT.glob("pages/*.py"), *ROOT.glob("app.py")]:
        used |= set(re.findall(r"\bVGRAD_[A-Z][A-Z0-9_]*[A-Z0-9]\b", path.read_text()))
    assert used - set(SETTINGS) == set(), "add these to vgrad/settings.py SETTINGS"


def test_the_image_can_be_a_ray_node():
    """`docker run IMAGE ray start --address HOST:6379 --block` replaces CMD (no ENTRYPOINT), finds the
    pinned ray on PATH, and its workers import vgrad from /app whatever their directory."""
    assert _all("ENTRYPOINT") == []
    assert re.search(r"^ray(\[[\w,]+\])?==[\d.]+", (ROOT / "requirements.txt").read_text(), re.M)
    assert _one("WORKDIR") in _env()["PYTHONPATH"].split(":")
    assert _env()["RAY_USAGE_STATS_ENABLED"] == "0"  # no network at run time
