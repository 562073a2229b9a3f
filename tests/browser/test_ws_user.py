"""The load test's websocket user (benchmarks/st_client.py) drives the real app as a browser would
(it shares this folder's Streamlit server fixture; no chromium involved)."""

from __future__ import annotations

import asyncio
import re
import sys

from tests.browser.util import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

from st_client import StreamlitSession  # noqa: E402


def test_a_websocket_user_trains_the_notebook_preset_and_navigates(app_url):
    async def user() -> dict:
        s = await StreamlitSession.open(app_url, "explorer", "preset=notebook-deep-sigmoid", timeout=60)
        try:
            await s.wait_for(lambda s: any(re.search(r"Train\s*$", b) for b in s.buttons()), timeout=90)
            clicked = await s.click(r"Train\s*$", timeout=60)
            # the headline's metrics arrive one message after another: wait for the whole row
            await s.wait_for(lambda s: s.metric("Status") == "finished" and s.metric("Step (of 3)") == "3",
                             timeout=60)
            step = s.metric("Step (of 3)")
            runs = await s.goto("Runs", timeout=60)
            on_runs = s.texts()
            back = await s.goto("Explorer", timeout=60)
            return {"clicked": clicked, "step": step, "runs": runs, "on_runs": on_runs, "back": back,
                    "buttons": s.buttons()}
        finally:
            await s.close()

    seen = asyncio.run(user())
    assert seen["step"] == "3"  # the metric shows the step count; the run had 3 steps
    assert any("Saved runs" in t for t in seen["on_runs"])
    assert any(re.search(r"Train\s*$", b) for b in seen["buttons"])
    assert all(seen[k] > 0 for k in ("clicked", "runs", "back"))
