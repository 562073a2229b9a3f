"""VGRAD_TF_THREADS: parsed strictly; the CLI reports a bad value in one line."""

import subprocess
import sys
from pathlib import Path

import pytest

from vgrad.train import tfsetup

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("text", "value"), [("", 1), ("1", 1), (" 4 ", 4), ("0", 0)])
def test_threads_setting(monkeypatch, text, value):
    monkeypatch.setenv("VGRAD_TF_THREADS", text)
    assert tfsetup.intra_op_threads() == value


@pytest.mark.parametrize("text", ["-1", "two", "1.5"])
def test_bad_threads_setting(monkeypatch, text):
    monkeypatch.setenv("VGRAD_TF_THREADS", text)
    with pytest.raises(ValueError, match="VGRAD_TF_THREADS"):
        tfsetup.intra_op_threads()


def test_cli_runs_with_one_thread_and_refuses_a_bad_value():
    code = ("import tensorflow as tf; from vgrad.train import tfsetup; assert tfsetup.configure(); "
            "print(tf.config.threading.get_intra_op_parallelism_threads())")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert out.stdout.strip().splitlines()[-1] == "1", out.stderr[-500:]
    bad = subprocess.run([sys.executable, "-m", "vgrad", "train", "--preset", "notebook-deep-sigmoid"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3",
                              "VGRAD_TF_THREADS": "lots"})
    assert bad.returncode == 2 and "VGRAD_TF_THREADS" in bad.stderr and "Traceback" not in bad.stderr
    # TensorFlow was imported for real: its start-up notices did not reach the terminal
    assert "oneDNN" not in bad.stderr and "absl::InitializeLog" not in bad.stderr, bad.stderr[-800:]


def test_the_quiet_import_drops_only_tensorflows_start_up_notices(tmp_path):
    """A stand-in `tensorflow` that writes to file descriptor 2 as TensorFlow's C++ does: the two notices
    are dropped, every other line reaches stderr, in order."""
    (tmp_path / "tensorflow.py").write_text(
        "import os\n"
        "os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n')\n"
        "os.write(2, b'E0000 something.cc:1] a real problem\\n')\n"
        "os.write(2, b'I0000 port.cc:153] oneDNN custom operations are on. You may see ...\\n')\n"
        "os.write(2, b'another line\\n')\n")
    code = "from vgrad.train import tfsetup; tfsetup.import_quietly(); import sys; print('imported' if 'tensorflow' in sys.modules else 'no')"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{tmp_path}:{ROOT}"})
    assert out.returncode == 0 and out.stdout.strip() == "imported", out.stderr
    assert out.stderr == "E0000 something.cc:1] a real problem\nanother line\n"
