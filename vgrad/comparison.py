"""A comparison of 2-6 runs as readable link parameters, and its exports (no Streamlit, no TF).

Link format (all pairs optional):

    comparison=notebook          start from COMPARISONS["notebook"] (its presets, in order)
    runs=deep-sigmoid,remedy-relu    or an explicit list of presets ("default" = RunConfig())
    epochs=5&seed=3              shared overrides: applied to every run
    r2.activation=tanh           per-run overrides (1-based), applied after the shared ones

    setup, problems = parse_query({"comparison": "notebook", "epochs": "3"})
    setup.configs()              # [RunConfig, ...]; ConfigError names the run and field
    query_for(setup)             # back to {"comparison": "notebook", "epochs": "3"}

A malformed link never raises: what cannot be used is dropped and listed in `problems`.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pandas as pd

from vgrad.config import FIELDS, ConfigError, RunConfig
from vgrad.presets import COMPARISONS, PRESETS
from vgrad.readings import comparison_reading, comparison_table, run_readings
from vgrad.run import Run

MIN_RUNS, MAX_RUNS = 2, 6
DEFAULT = "default"  # a member without a preset: RunConfig() plus its overrides
_PER_RUN = re.compile(r"^r([1-9])\.(\w+)$")
MAX_VALUE_CHARS = 200


@dataclass(frozen=True)
class Member:
    """One configuration of a comparison: a preset (or DEFAULT) and its own overrides."""

    preset: str = DEFAULT
    overrides: dict[str, str] = field(default_factory=dict)

    def base(self) -> RunConfig:
        return PRESETS[self.preset].config if self.preset in PRESETS else RunConfig()


@dataclass(frozen=True)
class Setup:
    """What the Compare page trains: a named comparison (or None) and its members."""

    name: str | None = None
    members: tuple[Member, ...] = ()
    shared: dict[str, str] = field(default_factory=dict)

    def configs(self) -> list[RunConfig]:
        """Each member's config: its preset, then the shared overrides, then its own.

        ConfigError's field is "r<i>.<field>" so a page can say which run is wrong."""
        out = []
        for i, m in enumerate(self.members, start=1):
            try:
                out.append(RunConfig.from_query({**self.shared, **m.overrides}, base=m.base()))
            except ConfigError as exc:
                raise ConfigError(f"r{i}.{exc.field}", str(exc).split(": ", 1)[-1]) from None
        return out

    def labels(self) -> list[str]:
        """Short distinct names: the preset plus its own overrides."""
        out = []
        for i, m in enumerate(self.members, start=1):
            extra = ", ".join(f"{k}={v}" for k, v in m.overrides.items())
            out.append(f"{i}. {m.preset}" + (f" ({extra})" if extra else ""))
        return out

    @property
    def comparison(self):
        return COMPARISONS.get(self.name) if self.name else None

    def matches_comparison(self) -> bool:
        """True when the members are exactly the named comparison's presets (verdicts apply)."""
        comp = self.comparison
        return comp is not None and tuple(m.preset for m in self.members) == comp.presets


def from_comparison(name: str, shared: Mapping[str, str] | None = None) -> Setup:
    comp = COMPARISONS[name]
    return Setup(name, tuple(Member(p) for p in comp.presets), dict(shared or {}))


def parse_overrides(text: str) -> tuple[dict[str, str], list[str]]:
    """'activation=relu&hidden_layers=4' (or separated by commas/spaces) -> pairs, problems."""
    pairs: dict[str, str] = {}
    problems: list[str] = []
    for chunk in re.split(r"[&,;\s]+", (text or "").strip()):
        if not chunk:
            continue
        key, sep, value = chunk.partition("=")
        key = key.strip()
        if not sep:
            problems.append(f"ignored {chunk[:40]!r}: write field=value")
        elif key not in FIELDS:
            problems.append(f"ignored unknown setting {key[:40]!r}")
        elif len(value) > MAX_VALUE_CHARS:
            problems.append(f"ignored {key}: value too long")
        else:
            pairs[key] = value.strip()
    return pairs, problems


def overrides_text(pairs: Mapping[str, str]) -> str:
    return "&".join(f"{k}={v}" for k, v in pairs.items())


def parse_query(params: Mapping[str, Any] | str) -> tuple[Setup, list[str]]:
    """The Setup a link describes (default: the notebook comparison) and what was ignored."""
    if isinstance(params, str):
        params = dict(parse_qsl(params.lstrip("?"), keep_blank_values=True))
    problems: list[str] = []
    flat: dict[str, str] = {}
    for key, value in list(params.items())[:200]:
        if isinstance(value, list | tuple):
            value = value[-1] if value else ""
        flat[str(key)] = str(value)
    name = flat.pop("comparison", None)
    if name is not None and name not in COMPARISONS:
        problems.append(f"ignored unknown comparison {name[:40]!r}; known: {', '.join(COMPARISONS)}")
        name = None
    runs_text = flat.pop("runs", None)
    if runs_text is not None:
        presets = []
        for p in runs_text.split(","):
            p = p.strip()
            if p in PRESETS or p == DEFAULT:
                presets.append(p)
            elif p:
                problems.append(f"ignored unknown preset {p[:40]!r}")
    else:
        presets = list(COMPARISONS[name or "notebook"].presets)
        name = name or "notebook"
    if len(presets) > MAX_RUNS:
        problems.append(f"kept the first {MAX_RUNS} of {len(presets)} runs")
        presets = presets[:MAX_RUNS]
    shared: dict[str, str] = {}
    own: dict[int, dict[str, str]] = {}
    for key, value in flat.items():
        m = _PER_RUN.match(key)
        fname, idx = (m.group(2), int(m.group(1)) - 1) if m else (key, None)
        if fname not in FIELDS:
            problems.append(f"ignored unknown setting {key[:40]!r}")
        elif len(value) > MAX_VALUE_CHARS:
            problems.append(f"ignored {key}: value too long")
        elif idx is None:
            shared[fname] = value
        elif idx >= len(presets):
            problems.append(f"ignored {key}: there is no run {idx + 1}")
        else:
            own.setdefault(idx, {})[fname] = value
    members = [Member(p, own.get(i, {})) for i, p in enumerate(presets)]
    setup = Setup(name, tuple(members), shared)
    return drop_invalid(setup, problems)


def drop_invalid(setup: Setup, problems: list[str]) -> tuple[Setup, list[str]]:
    """Remove overrides that make a config invalid (saying which), until every config builds."""
    for _ in range(64):
        try:
            setup.configs()
            return setup, problems
        except ConfigError as exc:
            run_part, _, fname = exc.field.partition(".")
            i = int(run_part[1:]) - 1
            m = setup.members[i]
            if fname in m.overrides:
                problems.append(f"ignored r{i + 1}.{fname}={m.overrides[fname][:40]!r}: {exc}")
                members = list(setup.members)
                members[i] = Member(m.preset, {k: v for k, v in m.overrides.items() if k != fname})
                setup = Setup(setup.name, tuple(members), setup.shared)
            elif fname in setup.shared:
                problems.append(f"ignored {fname}={setup.shared[fname][:40]!r}: {exc}")
                setup = Setup(setup.name, setup.members, {k: v for k, v in setup.shared.items() if k != fname})
            else:
                problems.append(f"ignored run {i + 1}'s settings: {exc}")
                members = list(setup.members)
                members[i] = Member(m.preset)
                setup = Setup(setup.name, tuple(members), setup.shared)
    return Setup("notebook", from_comparison("notebook").members), problems + ["fell back to the notebook"]


def query_for(setup: Setup) -> dict[str, str]:
    """Link parameters that rebuild `setup` (comparison name when its presets are unchanged)."""
    out: dict[str, str] = {}
    presets = tuple(m.preset for m in setup.members)
    if setup.comparison is not None and presets == setup.comparison.presets:
        out["comparison"] = setup.name
    else:
        if setup.name:
            out["comparison"] = setup.name
        out["runs"] = ",".join(presets)
    out.update(setup.shared)
    for i, m in enumerate(setup.members, start=1):
        for k, v in m.overrides.items():
            out[f"r{i}.{k}"] = v
    return out


def query_string(setup: Setup) -> str:
    return urlencode(query_for(setup))


# --- exports ---------------------------------------------------------------------------


def export_json(setup: Setup, runs: Sequence[Run], labels: Sequence[str], loss_threshold: float = 0.5) -> str:
    """The whole comparison: link, expected pattern, automatic reading, table and every run."""
    comp = setup.comparison
    reading = comparison_reading(setup.name if setup.matches_comparison() else "", runs, labels)
    table = comparison_table(runs, labels, loss_threshold)
    doc = {
        "format": "vgrad-comparison", "version": 1, "query": query_string(setup),
        "comparison": setup.name, "expect": comp.expect if comp else "", "paper": comp.paper if comp else "",
        "reading": {"text": reading.text, "holds": reading.holds, "numbers": reading.numbers},
        "table": json.loads(table.to_json(orient="records")),
        "runs": [{"label": lab, "readings": [r.text for r in run_readings(run)], **run.to_dict()}
                 for lab, run in zip(labels, runs, strict=True)],
    }
    return json.dumps(doc, default=_jsonable, allow_nan=True)


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


def _jsonable(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(type(obj).__name__)
