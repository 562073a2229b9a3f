"""The Streamlit process never imports TensorFlow or Keras (training lives in the service)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    import json, sys, time
    import vgrad, vgrad.charts, vgrad.ui.config_form, vgrad.ui.url_state, vgrad.ui.backend, vgrad.ui.live
    import vgrad.ui.panels
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(sys.argv[1] + "/app.py", default_timeout=60).run()
    errors = [str(e.value) for e in at.exception]
    for page in ("pages/explorer.py", "pages/compare.py", "pages/recurrent.py", "pages/lessons.py",
                 "pages/runs.py", "pages/home.py", "pages/theory.py", "pages/classroom.py"):
        at.switch_page(page).run()
        errors += [f"{page}: {e.value}" for e in at.exception]
    at.switch_page("pages/explorer.py").run()
    at.button(key="ctl_train").click().run()
    deadline = time.monotonic() + 60
    while at.session_state["vgrad.job"].active and time.monotonic() < deadline:
        time.sleep(0.2)
        at.run()
    errors += [str(e.value) for e in at.exception]
    print(json.dumps({"loaded": [m for m in ("tensorflow", "keras") if m in sys.modules],
                      "steps": len(at.session_state["vgrad.job"].run.steps), "errors": errors}))
""")


def test_streamlit_process_never_imports_tensorflow(backend_url):
    env = {"VGRAD_BACKEND_URL": backend_url, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT),
           "VGRAD_SERVICE_TOKEN": os.environ["VGRAD_SERVICE_TOKEN"]}  # set by tests/conftest.py
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT)], capture_output=True, text=True,
                         timeout=180, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["errors"] == []
    assert result["steps"] > 0, "the Explorer should have received records"
    assert result["loaded"] == [], f"the Streamlit process imported {result['loaded']}"
