"""Links: every page's state as readable query pairs, in one format (no Streamlit, no TensorFlow).

A run (Explorer):

    preset=deep-sigmoid&epochs=200      preset= expands first, once; then RunConfig fields on top

A group of runs (Compare, Recurrent): a list of runs sharing the same pairs, with a prefix per run:

    comparison=notebook                 the runs of COMPARISONS["notebook"], in order
    runs=deep-sigmoid,remedy-relu       or an explicit list of presets ("default" = RunConfig())
    epochs=5&seed=3                     shared fields: applied to every run
    r2.activation=tanh                  run 2's own fields (1-based), applied after the shared ones

A sweep (Sweep page): a base run as above, its axes in the command line's syntax, and its settings:

    map=depth-init-tanh                 a preset map (vgrad.sweep_maps.PRESET_MAPS) expands first, once
    axis1=hidden_layers=2,4,8&axis2=init_gain=0.5:3:11&seeds=3&mode=trained&cell_steps=300&metric=loss

Keys a page reads for itself (job=, run=) are passed in `ignore`. A link has at most MAX_PARAMS
pairs of at most MAX_VALUE_CHARS characters each. Nothing here raises for a bad link: what
cannot be used is dropped, the rest is kept, and each drop is a sentence in `problems`.

    link = parse_run({"preset": "deep-sigmoid", "epochs": "200"})
    link.config.epochs == 200 and run_query(link.config, link.preset) == {"preset": "deep-sigmoid", "epochs": "200"}
    group, problems = parse_group("comparison=notebook&epochs=3")
    group_query(group) == {"comparison": "notebook", "epochs": "3"}
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from vgrad.config import FIELDS, ConfigError, RunConfig, value_text
from vgrad.presets import COMPARISONS, PRESETS, Comparison
from vgrad.text import short

PRESET_KEY = "preset"
MAX_PARAMS = 100
MAX_VALUE_CHARS = 200
DEFAULT = "default"  # a group member without a preset: RunConfig() plus its own fields
MIN_RUNS, MAX_RUNS = 2, 6
_PER_RUN = re.compile(r"^r([1-9])\.(\w+)$")
# Links of the Recurrent page before one format existed (scenario=long&cells=...&lr=...).
_LEGACY_SCENARIOS = {"long": "rnn", "exploding": "clipping"}
_LEGACY_CELLS = {"simple_rnn": "rnn-simple", "lstm": "rnn-lstm", "gru": "rnn-gru"}
_LEGACY_FIELDS = {"lr": "learning_rate", "samples": "n_samples", "gain": "recurrent_scale"}


def flatten(params: Mapping[str, Any] | str, problems: list[str] | None = None) -> dict[str, str]:
    """Query pairs as text, the last value of a repeated key winning; at most MAX_PARAMS, each value
    at most MAX_VALUE_CHARS (longer ones are dropped and reported)."""
    if isinstance(params, str):
        params = dict(parse_qsl(params.lstrip("?")[:MAX_PARAMS * (MAX_VALUE_CHARS + 40)], keep_blank_values=True))
    problems = problems if problems is not None else []
    items = list(params.items())
    if len(items) > MAX_PARAMS:
        problems.append(f"the link has {len(items)} parameters; only the first {MAX_PARAMS} were read")
        items = items[:MAX_PARAMS]
    out: dict[str, str] = {}
    for key, value in items:
        if isinstance(value, list | tuple):
            value = value[-1] if value else ""
        key, value = str(key)[:MAX_VALUE_CHARS], str(value)
        if len(value) > MAX_VALUE_CHARS:
            problems.append(f"ignored {short(key)}: its value is {len(value):,} characters long "
                            f"(at most {MAX_VALUE_CHARS})")
        else:
            out[key] = value
    return out


# --- one run ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunLink:
    """The run a link describes: its config, the preset it started from, what was ignored."""

    config: RunConfig
    preset: str | None = None
    problems: tuple[str, ...] = ()


def parse_run(params: Mapping[str, Any] | str, ignore: Iterable[str] = ()) -> RunLink:
    """`preset=NAME&field=value...` -> RunLink; never raises."""
    problems: list[str] = []
    ignore = set(ignore)
    pairs = {k: v for k, v in flatten(params, problems).items() if k not in ignore}
    preset, config = _run_pairs(pairs, RunConfig(), problems)
    return RunLink(config, preset, tuple(problems))


def _run_pairs(pairs: dict[str, str], default: RunConfig, problems: list[str]) -> tuple[str | None, RunConfig]:
    """`preset=` (else `default`) with the RunConfig fields of `pairs` applied; the rest is a problem."""
    preset, base = None, default
    if PRESET_KEY in pairs:
        name = pairs.pop(PRESET_KEY)
        if name in PRESETS:
            preset, base = name, PRESETS[name].config
        else:
            problems.append(f"ignored unknown preset {short(name)}")
    for key in [k for k in pairs if k not in FIELDS]:
        problems.append(f"ignored unknown setting {short(key)}")
        pairs.pop(key)
    return preset, _apply(base, pairs, problems, "")


def run_query(config: RunConfig, preset: str | None = None) -> dict[str, str]:
    """`{"preset": name, field: text}` with only the fields that differ from the preset (or defaults)."""
    base = PRESETS[preset].config if preset in PRESETS else RunConfig()
    out: dict[str, str] = {PRESET_KEY: preset} if preset in PRESETS else {}
    for name, value in config.to_dict().items():
        if getattr(base, name) != value:
            out[name] = value_text(value)
    return out


# --- a sweep ----------------------------------------------------------------------------------

SWEEP_AXES = ("axis1", "axis2", "axis3")
SWEEP_KEYS = (*SWEEP_AXES, "map", "seeds", "mode", "cell_steps", "threshold", "metric")
SWEEP_MODES = ("init", "trained")
# RunConfig fields a sweep's axis cannot be, and why (the Sweep page offers every other one).
SWEEP_FIXED = {"seed": "use seeds= to repeat each cell", "data_id": "an uploaded table is set in the base settings",
               "target": "the target column is set in the base settings"}


@dataclass(frozen=True)
class SweepLink:
    """The sweep a link describes. Axes are kept as text (FIELD=VALUES): the page checks them with
    vgrad.sweep.parse_axis and says what is wrong beside each one."""

    base: RunConfig = field(default_factory=RunConfig)
    preset: str | None = None
    axes: tuple[str, ...] = ()
    seeds: int = 1
    mode: str = "init"
    steps: int = 200  # per cell in trained mode (0: the base config's own)
    threshold: float = 0.3
    metric: str = "orders_start"
    map: str | None = None
    problems: tuple[str, ...] = ()


def map_link(name: str | None) -> SweepLink:
    """The sweep of preset map `name` (vgrad.sweep_maps.PRESET_MAPS); the defaults when there is none."""
    from vgrad.sweep_maps import PRESET_MAPS

    m = PRESET_MAPS.get(name or "")
    if m is None:
        return SweepLink()
    return SweepLink(m.base, None, m.axes, m.seeds, m.mode, m.steps if m.mode == "trained" else SweepLink.steps,
                     0.3, m.metric, m.name)


def parse_sweep(params: Mapping[str, Any] | str, ignore: Iterable[str] = ()) -> SweepLink:
    """`map=NAME`, `preset=NAME`, RunConfig fields (the base), `axis1..3`, seeds, mode, cell_steps,
    threshold, metric -> SweepLink; never raises (what cannot be used is dropped, with a sentence)."""
    from vgrad.sweep_maps import METRICS

    problems: list[str] = []
    ignore = set(ignore)
    pairs = {k: v for k, v in flatten(params, problems).items() if k not in ignore}
    name = pairs.pop("map", None)
    start = map_link(name)
    if name is not None and start.map is None:
        problems.append(f"ignored unknown map {short(name)}")
    own = {k: pairs.pop(k) for k in SWEEP_KEYS if k in pairs}
    axes = [own[k].strip() for k in SWEEP_AXES if own.get(k, "").strip() and _axis_field_ok(k, own[k], problems)]
    if not any(k in own for k in SWEEP_AXES):
        axes = list(start.axes)
    preset, base = _run_pairs(pairs, start.base, problems)

    def number(key: str, default, kind, low, high):
        text = own.get(key)
        if text is None:
            return default
        try:
            value = kind(float(text)) if kind is int else float(text)
            ok = low <= value <= high and (kind is not int or float(text) == value)
        except (ValueError, OverflowError):
            ok = False
        if not ok:
            problems.append(f"ignored {key}={short(text)}: expected a number from {low:g} to {high:g}")
            return default
        return value

    mode = own.get("mode", start.mode)
    if mode not in SWEEP_MODES:
        problems.append(f"ignored mode={short(mode)}: expected {' or '.join(SWEEP_MODES)}")
        mode = start.mode
    metric = own.get("metric", start.metric)
    if metric not in METRICS:
        problems.append(f"ignored metric={short(metric)}: expected one of {', '.join(METRICS)}")
        metric = start.metric
    return SweepLink(base, preset, tuple(axes), number("seeds", start.seeds, int, 1, 10_000), mode,
                     number("cell_steps", start.steps, int, 0, 100_000),
                     number("threshold", start.threshold, float, 1e-12, 1e12), metric, start.map, tuple(problems))


def _axis_field_ok(key: str, text: str, problems: list[str]) -> bool:
    """Whether axis `text` (FIELD=VALUES) names a field the Sweep page can vary; if not, a sentence why.
    Its values are checked by the page (vgrad.sweep.parse_axis), beside the axis' widgets."""
    name = text.partition("=")[0].strip()
    if name in FIELDS and name not in SWEEP_FIXED:
        return True
    if name in SWEEP_FIXED:
        why = SWEEP_FIXED[name]
    else:
        near = difflib.get_close_matches(name, [f for f in FIELDS if f not in SWEEP_FIXED], n=1)
        why = f"{short(name)} is not a setting" + (f" (did you mean {near[0]}?)" if near else "")
    problems.append(f"ignored {key}={short(text)}: {why}")
    return False


def sweep_query(link: SweepLink) -> dict[str, str]:
    """Link pairs that rebuild `link`: its map, the base's changes (from its preset, the map's base or the
    defaults), then only the sweep settings that differ from the map's (or the defaults)."""
    start = map_link(link.map)
    out: dict[str, str] = {"map": link.map} if start.map else {}
    base = PRESETS[link.preset].config if link.preset in PRESETS else start.base
    if link.preset in PRESETS:
        out[PRESET_KEY] = link.preset
    for name, value in link.base.to_dict().items():
        if getattr(base, name) != value:
            out[name] = value_text(value)
    if tuple(link.axes) != tuple(start.axes):
        out.update({key: text for key, text in zip(SWEEP_AXES, link.axes, strict=False)})
    for key, value, default in (("seeds", link.seeds, start.seeds), ("mode", link.mode, start.mode),
                                ("cell_steps", link.steps, start.steps), ("threshold", link.threshold, start.threshold),
                                ("metric", link.metric, start.metric)):
        if value != default:
            out[key] = value_text(value)
    return out


def page_url(page: str | None, query: Mapping[str, str], default: str = "http://localhost:8501/explorer") -> str:
    """The full link: `page` (its own query dropped) plus `query`. Commas and "=" inside a value stay
    as they are (a sweep's axis reads init_gain=0.5,1,2), which every query parser reads back the same."""
    base = (page or default).split("?", 1)[0]
    text = urlencode(dict(query), safe=",=")
    return f"{base}?{text}" if text else base


def _apply(base: RunConfig, pairs: dict[str, str], problems: list[str], prefix: str) -> RunConfig:
    """`base` with `pairs` on top, dropping (and reporting) each pair the config refuses."""
    pairs = dict(pairs)
    for _ in range(len(pairs) + 1):
        try:
            return base.with_values(**pairs)
        except ConfigError as exc:
            culprit = exc.field if exc.field in pairs else None
            if culprit is None:  # a rule between fields, or the base itself
                problems.append(f"ignored {prefix}settings {short(pairs, 80)}: {exc}")
                return base
            why = str(exc).split(": ", 1)[-1]
            problems.append(f"ignored {prefix}{culprit}={short(pairs.pop(culprit))}: {why}")
    return base


# --- a group of runs ------------------------------------------------------------------------

@dataclass(frozen=True)
class Member:
    """One run of a group: a preset (or DEFAULT) and its own fields."""

    preset: str = DEFAULT
    overrides: dict[str, str] = field(default_factory=dict)

    def base(self) -> RunConfig:
        return PRESETS[self.preset].config if self.preset in PRESETS else RunConfig()


@dataclass(frozen=True)
class Group:
    """What Compare or Recurrent trains: a named comparison (or None), its members, shared fields."""

    name: str | None = None
    members: tuple[Member, ...] = ()
    shared: dict[str, str] = field(default_factory=dict)

    def configs(self) -> list[RunConfig]:
        """Each member's config: its preset, then the shared fields, then its own.

        ConfigError's field is "r<i>.<field>" so a page can say which run is wrong."""
        out = []
        for i, m in enumerate(self.members, start=1):
            try:
                out.append(m.base().with_values(**{**self.shared, **m.overrides}))
            except ConfigError as exc:
                raise ConfigError(f"r{i}.{exc.field}", str(exc).split(": ", 1)[-1]) from None
        return out

    def labels(self) -> list[str]:
        """Short distinct names: the preset plus its own fields."""
        out = []
        for i, m in enumerate(self.members, start=1):
            extra = ", ".join(f"{k}={v}" for k, v in m.overrides.items())
            out.append(f"{i}. {m.preset}" + (f" ({extra})" if extra else ""))
        return out

    @property
    def comparison(self) -> Comparison | None:
        return COMPARISONS.get(self.name) if self.name else None

    def matches_comparison(self) -> bool:
        """True when the members are exactly the named comparison's presets (its verdict applies)."""
        comp = self.comparison
        return comp is not None and tuple(m.preset for m in self.members) == comp.presets


def comparison_group(name: str, shared: Mapping[str, str] | None = None,
                     presets: Sequence[str] | None = None) -> Group:
    """The group of COMPARISONS[name] (or the given subset of presets), with shared fields."""
    comp = COMPARISONS[name]
    return Group(name, tuple(Member(p) for p in (presets or comp.presets)), dict(shared or {}))


def parse_group(params: Mapping[str, Any] | str, default: str = "notebook",
                ignore: Iterable[str] = ()) -> tuple[Group, list[str]]:
    """The Group a link describes (default: COMPARISONS[default]) and what was ignored; never raises."""
    problems: list[str] = []
    ignore = set(ignore)
    flat = _from_legacy({k: v for k, v in flatten(params, problems).items() if k not in ignore})
    name = flat.pop("comparison", None)
    if name is not None and name not in COMPARISONS:
        problems.append(f"ignored unknown comparison {short(name)}; known: {', '.join(COMPARISONS)}")
        name = None
    runs_text = flat.pop("runs", None)
    if runs_text is not None:
        presets = []
        for p in runs_text.split(","):
            p = p.strip()
            if p in PRESETS or p == DEFAULT:
                presets.append(p)
            elif p:
                problems.append(f"ignored unknown preset {short(p)}")
        if not presets:
            presets = list(COMPARISONS[name or default].presets)
    else:
        name = name or default
        presets = list(COMPARISONS[name].presets)
    if len(presets) > MAX_RUNS:
        problems.append(f"kept the first {MAX_RUNS} of {len(presets)} runs")
        presets = presets[:MAX_RUNS]
    shared: dict[str, str] = {}
    own: dict[int, dict[str, str]] = {}
    for key, value in flat.items():
        m = _PER_RUN.match(key)
        fname, idx = (m.group(2), int(m.group(1)) - 1) if m else (key, None)
        if fname not in FIELDS:
            problems.append(f"ignored unknown setting {short(key)}")
        elif idx is None:
            shared[fname] = value
        elif idx >= len(presets):
            problems.append(f"ignored {key}: there is no run {idx + 1}")
        else:
            own.setdefault(idx, {})[fname] = value
    group = Group(name, tuple(Member(p, own.get(i, {})) for i, p in enumerate(presets)), shared)
    return drop_invalid(group, problems)


def drop_invalid(group: Group, problems: list[str]) -> tuple[Group, list[str]]:
    """Remove fields that make a member's config invalid (saying which), until every config builds."""
    for _ in range(4 * MAX_PARAMS):
        try:
            group.configs()
            return group, problems
        except ConfigError as exc:
            run_part, _, fname = exc.field.partition(".")
            i = int(run_part[1:]) - 1
            m = group.members[i]
            why = str(exc).split(": ", 1)[-1]
            if fname in m.overrides:
                problems.append(f"ignored r{i + 1}.{fname}={short(m.overrides[fname])}: {why}")
                members = list(group.members)
                members[i] = Member(m.preset, {k: v for k, v in m.overrides.items() if k != fname})
                group = Group(group.name, tuple(members), group.shared)
            elif fname in group.shared:
                problems.append(f"ignored {fname}={short(group.shared[fname])}: {why}")
                group = Group(group.name, group.members, {k: v for k, v in group.shared.items() if k != fname})
            else:
                problems.append(f"ignored run {i + 1}'s settings: {why}")
                members = list(group.members)
                members[i] = Member(m.preset)
                group = Group(group.name, tuple(members), group.shared)
    return comparison_group("notebook"), problems + ["fell back to the notebook comparison"]


def group_query(group: Group) -> dict[str, str]:
    """Link pairs that rebuild `group` (the comparison's name alone when its presets are unchanged)."""
    out: dict[str, str] = {}
    presets = tuple(m.preset for m in group.members)
    if group.name:
        out["comparison"] = group.name
    if group.comparison is None or presets != group.comparison.presets:
        out["runs"] = ",".join(presets)
    out.update(group.shared)
    for i, m in enumerate(group.members, start=1):
        for k, v in m.overrides.items():
            out[f"r{i}.{k}"] = v
    return out


def group_query_string(group: Group) -> str:
    return urlencode(group_query(group))


def parse_fields(text: str) -> tuple[dict[str, str], list[str]]:
    """'activation=relu&hidden_layers=4' (or separated by commas/spaces) -> pairs, problems."""
    pairs: dict[str, str] = {}
    problems: list[str] = []
    for chunk in re.split(r"[&,;\s]+", (text or "").strip())[:MAX_PARAMS]:
        if not chunk:
            continue
        key, sep, value = chunk.partition("=")
        key = key.strip()
        if not sep:
            problems.append(f"ignored {short(chunk)}: write field=value")
        elif key not in FIELDS:
            problems.append(f"ignored unknown setting {short(key)}")
        elif len(value) > MAX_VALUE_CHARS:
            problems.append(f"ignored {key}: value too long")
        else:
            pairs[key] = value.strip()
    return pairs, problems


def fields_text(pairs: Mapping[str, str]) -> str:
    return "&".join(f"{k}={v}" for k, v in pairs.items())


def _from_legacy(flat: dict[str, str]) -> dict[str, str]:
    """Old Recurrent-page links (scenario=, cells=, clip=, lr=, samples=, gain=) in today's format."""
    if not any(k in flat for k in ("scenario", "cells", "clip", *_LEGACY_FIELDS)):
        return flat
    out = dict(flat)
    scenario = out.pop("scenario", None)
    if scenario is not None:
        out.setdefault("comparison", _LEGACY_SCENARIOS.get(scenario, scenario))
    cells = out.pop("cells", None)
    if cells is not None and out.get("comparison", "rnn") == "rnn":
        presets = [_LEGACY_CELLS.get(c.strip(), c.strip()) for c in cells.split(",") if c.strip()]
        out.setdefault("runs", ",".join(presets))
    clip = out.pop("clip", None)
    if clip is not None and clip.lower() in ("on", "1", "true", "yes"):
        out.setdefault("global_clipnorm", "1.0")
    for old, new in _LEGACY_FIELDS.items():
        if old in out:
            out.setdefault(new, out.pop(old))
    return out
