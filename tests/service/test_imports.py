"""The Streamlit process imports the client and launcher: they must not pull in TensorFlow or Keras."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_client_and_launcher_do_not_import_tensorflow():
    code = ("import sys, vgrad.service.client, vgrad.service.launcher, vgrad.service.settings, vgrad.limits, "
            "vgrad.service.security\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras'))\n"
            "print(heavy)\n"
            "assert not heavy, heavy\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=str(ROOT), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "[]"
