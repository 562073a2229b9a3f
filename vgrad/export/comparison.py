"""A comparison's exports: one JSON document (link, expected pattern, reading, table, every run)
and one CSV of every run's step frame. No Streamlit, no TensorFlow.

    export_json(group, runs, labels)     # {"format": "vgrad-comparison", "version": 1, ...}
    export_csv(runs, labels)             # run, step, epoch, layer, ..., one row per run x step x layer
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence

import pandas as pd

from vgrad.links import Group, group_query_string
from vgrad.readings import comparison_reading, comparison_table, run_readings
from vgrad.run import Run


def export_json(group: Group, runs: Sequence[Run], labels: Sequence[str], loss_threshold: float = 0.5) -> str:
    """The whole comparison: link, expected pattern, automatic reading, table and every run."""
    comp = group.comparison
    reading = comparison_reading(group.name if group.matches_comparison() else "", runs, labels)
    table = comparison_table(runs, labels, loss_threshold)
    doc = {
        "format": "vgrad-comparison", "version": 1, "query": group_query_string(group),
        "comparison": group.name, "expect": comp.expect if comp else "", "paper": comp.paper if comp else "",
        "reading": {"text": reading.text, "holds": reading.holds, "numbers": reading.numbers},
        "table": json.loads(table.to_json(orient="records")),
        "runs": [{"label": lab, "readings": [r.text for r in run_readings(run)], **run.to_dict()}
                 for lab, run in zip(labels, runs, strict=True)],
    }
    return json.dumps(doc, allow_nan=True)


def export_csv(runs: Sequence[Run], labels: Sequence[str]) -> str:
    """Every run's step frame (one row per step x layer) with a `run` column in front."""
    frames = []
    for lab, run in zip(labels, runs, strict=True):
        f = run.steps_frame()
        f.insert(0, "run", lab)
        frames.append(f)
    buf = io.StringIO()
    (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()).to_csv(buf, index=False)
    return buf.getvalue()
