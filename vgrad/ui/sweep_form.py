"""The Sweep page's controls: a preset map, the base config, 1-3 axes, seeds, mode, steps, the metric.

    form = controls()          # reads the address bar (vgrad.links.parse_sweep) on arrival; writes it back
    form.spec                  # a checked vgrad.sweep.SweepSpec, or None (each problem said beside its widget)

Widgets are keyed `sweep.*` in st.session_state, so a preset map (or a saved sweep, or a link) sets
them all at once through `load(link)` before they are drawn. Each axis is its field and its values in
the command line's syntax (`2,4,8`, `0.5:3:11`, `1e-4:1:9:log`), checked at once by
vgrad.sweep.parse_axis: a bad one gets SweepError's sentence under it.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from vgrad import links
from vgrad.config import FIELDS, ConfigError, RunConfig, value_text
from vgrad.presets import PRESETS
from vgrad.sweep import SweepError, SweepSpec, make_spec, parse_axis
from vgrad.sweep_maps import METRICS, PRESET_MAPS, Metric, metric_problem
from vgrad.text import escape_markdown
from vgrad.ui import url_state

CUSTOM, NONE = "(custom)", "(none)"
MAP, PRESET, BASE = "sweep.map", "sweep.preset", "sweep.base"
SEEDS, MODE, STEPS, THRESHOLD, METRIC = "sweep.seeds", "sweep.mode", "sweep.steps", "sweep.threshold", "sweep.metric"
URL = "sweep.url"  # the link last written: another one in the address bar is a new arrival
PAGE_KEYS = ("saved",)  # read by the page itself
AXIS_FIELDS = tuple(f for f in FIELDS if f not in links.SWEEP_FIXED)
FIRST = "hidden_layers"  # axis 1 when a link has none that can be used
MODES = {"init": "At initialisation", "trained": "Trained"}
ROLES = {1: "Axis 1 (rows)", 2: "Axis 2 (columns)", 3: "Axis 3 (one map per value)"}
HINT = "e.g. 2,4,8 or 0.5:3:11 or 1e-4:1:9:log"
MAX_SEEDS, MAX_STEPS = 1000, 100_000  # the widgets' bounds; the server's limits are checked by make_spec
# Values offered when an axis' field is picked (anything else: its choices, or a 5-value range).
SUGGEST = {"hidden_layers": "2,4,8,16,32", "init_gain": "0.5:4:15:log", "units": "4,8,16,32,64",
           "activation": "sigmoid,tanh,relu,elu", "learning_rate": "1e-4:1:9:log", "bias_std": "0:0.5:6",
           "batch_norm": "off,before,after", "residual_every": "0,1,2", "n_samples": "100,200,400,800",
           "initializer": "glorot_uniform,glorot_bengio_standard,he_normal,orthogonal", "batch_size": "8,16,32,64",
           "optimizer": "sgd,momentum,adam", "dropout": "0:0.5:6", "l2": "0,0.001,0.01,0.1"}


@dataclass(frozen=True)
class Form:
    spec: SweepSpec | None  # None while something is wrong (said beside its widget)
    link: links.SweepLink  # what the widgets describe, for the address bar and saving


def field_key(i: int) -> str:
    return f"sweep.field{i}"


def values_key(i: int) -> str:
    return f"sweep.values{i}"


def suggest(name: str) -> str:
    rule = FIELDS[name]
    if name in SUGGEST:
        return SUGGEST[name]
    if rule.choices:
        return ",".join(rule.choices[:5])
    if rule.kind is bool:
        return "true,false"
    if rule.kind in (int, float):
        return f"{value_text(rule.low)}:{value_text(rule.high)}:5" if rule.kind is int else \
            f"{rule.low:g}:{rule.high:g}:5{':log' if rule.low > 0 and rule.high / rule.low > 100 else ''}"
    return ""


def base_text(link: links.SweepLink) -> str:
    """The base's fields as `field=value&...`, against its preset (or RunConfig's defaults)."""
    start = PRESETS[link.preset].config if link.preset in PRESETS else RunConfig()
    return links.fields_text({k: value_text(v) for k, v in link.base.to_dict().items() if getattr(start, k) != v})


def load(link: links.SweepLink) -> None:
    """Put a sweep into the widgets (before they are drawn, or from a callback)."""
    ss = st.session_state
    ss[MAP] = link.map if link.map in PRESET_MAPS else CUSTOM
    ss[PRESET] = link.preset if link.preset in PRESETS else NONE
    ss[BASE] = base_text(link)
    for i in (1, 2, 3):
        text = link.axes[i - 1] if i <= len(link.axes) else ""
        name, _, values = text.partition("=")
        if name.strip() in AXIS_FIELDS:
            ss[field_key(i)], ss[values_key(i)] = name.strip(), values.strip()
        elif i == 1:  # a sweep needs an axis: depth, the one every map has
            ss[field_key(i)], ss[values_key(i)] = FIRST, suggest(FIRST)
        else:
            ss[field_key(i)], ss[values_key(i)] = NONE, ""
    ss[SEEDS], ss[MODE] = min(link.seeds, MAX_SEEDS), link.mode
    ss[STEPS], ss[THRESHOLD] = min(link.steps, MAX_STEPS), min(max(link.threshold, 1e-6), 1e6)
    ss[METRIC] = link.metric


def _on_map() -> None:
    name = st.session_state.get(MAP)
    if name in PRESET_MAPS:
        load(links.map_link(name))


def _on_field(i: int) -> None:
    """A new field for axis i: offer values that fit it unless the ones typed already do."""
    name = st.session_state.get(field_key(i))
    if name in FIELDS:
        try:
            parse_axis(f"{name}={st.session_state.get(values_key(i), '')}")
        except SweepError:
            st.session_state[values_key(i)] = suggest(name)


def arrived() -> bool:
    """True when the address bar holds a link this page did not write (a shared one, a first visit)."""
    return URL not in st.session_state or (url_state.current() and
                                           _without_page_keys(url_state.current()) != st.session_state.get(URL))


def _without_page_keys(params: dict) -> dict:
    return {k: v for k, v in params.items() if k not in PAGE_KEYS}


def controls() -> Form:
    if arrived():
        params = _without_page_keys(url_state.current())
        link = links.parse_sweep(params or {"map": "depth-init-tanh"})
        for p in link.problems:
            st.warning(escape_markdown(p), icon=":material/link_off:")
        load(link)
    st.selectbox("Preset map", [CUSTOM, *PRESET_MAPS], key=MAP, on_change=_on_map,
                 format_func=lambda n: PRESET_MAPS[n].title if n in PRESET_MAPS else "(your own axes)",
                 help="A ready-made sweep; change anything below afterwards.")
    if st.session_state[MAP] in PRESET_MAPS:
        st.caption(escape_markdown(PRESET_MAPS[st.session_state[MAP]].description))
    base = _base()
    axes, ok = _axes()
    seeds, mode, steps, threshold = _settings()
    if st.session_state.get(METRIC) not in METRICS:
        st.session_state[METRIC] = "orders_start"
    link = links.SweepLink(base or RunConfig(), _preset(), tuple(axes), seeds, mode, steps, threshold,
                           st.session_state[METRIC], st.session_state[MAP] if st.session_state[MAP] in PRESET_MAPS else None)
    query = links.sweep_query(link)
    st.session_state[URL] = query
    url_state.write(query, keep=PAGE_KEYS)
    spec = None
    if base is not None and ok:
        try:
            spec = make_spec(base, axes, seeds=seeds, mode=mode, steps=steps if mode == "trained" else 0,
                             threshold=threshold)
        except SweepError as exc:
            st.error(escape_markdown(str(exc)), icon=":material/error:")
    if spec is not None:
        trainings = spec.n_cells * spec.seeds
        what = ("one gradient measurement each, at initialisation" if mode == "init" else
                f"{spec.cells()[0].config.total_steps:,} steps each" if steps else "the base config's training each")
        st.caption(f"{spec.n_cells:,} cells × {spec.seeds} seed{'s' * (spec.seeds > 1)} = {trainings:,} trainings, "
                   f"{what}.")
    return Form(spec, link)


def metric_select(form: Form) -> Metric:
    """What the map's colour shows (in the link too); a metric the mode does not measure falls back to step 0's."""
    metric = METRICS[st.selectbox("Colour by", list(METRICS), key=METRIC, format_func=lambda n: METRICS[n].label)]
    problem = metric_problem(metric, form.link.mode)
    if problem:
        st.caption(f":material/info: {problem} Showing the attenuation at step 0 instead.")
        metric = METRICS["orders_start"]
    return metric


def _preset() -> str | None:
    name = st.session_state.get(PRESET)
    return name if name in PRESETS else None


def _base() -> RunConfig | None:
    st.selectbox("Base preset", [NONE, *PRESETS], key=PRESET, help="The network every cell starts from")
    text = st.text_input("Base settings", key=BASE, placeholder="field=value&field=value",
                         help="RunConfig fields on top of the preset, joined by &: e.g. "
                              "activation=tanh&units=32&learning_rate=0.01")
    pairs, problems = links.parse_fields(text)
    start = PRESETS[_preset()].config if _preset() else RunConfig()
    for p in problems:
        st.error(escape_markdown(p), icon=":material/error:")
    try:
        base = start.with_values(**pairs)
    except ConfigError as exc:
        st.error(escape_markdown(f"Base settings: {exc}"), icon=":material/error:")
        return None
    return None if problems else base


def _axes() -> tuple[list[str], bool]:
    """The axes' texts (FIELD=VALUES) and whether every one is valid (each problem shown under it)."""
    texts, ok = [], True
    for i in (1, 2, 3):
        options = list(AXIS_FIELDS) if i == 1 else [NONE, *AXIS_FIELDS]
        name = st.selectbox(ROLES[i], options, key=field_key(i), on_change=_on_field, args=(i,),
                            help=FIELDS[st.session_state[field_key(i)]].help
                            if st.session_state.get(field_key(i)) in FIELDS else "another axis, or none")
        if name == NONE:
            continue
        values = st.text_input(f"Values of axis {i}", key=values_key(i), placeholder=HINT,
                               label_visibility="collapsed")
        text = f"{name}={values}"
        try:
            parse_axis(text)
        except SweepError as exc:
            st.error(escape_markdown(str(exc)), icon=":material/error:")
            ok = False
        texts.append(text)
    return texts, ok


def _settings() -> tuple[int, str, int, float]:
    mode = st.radio("Mode", list(MODES), key=MODE, format_func=MODES.get, horizontal=True,
                    help="at initialisation: one gradient measurement per cell (seconds for a whole map); "
                         "trained: each cell trains the steps given")
    trained = mode == "trained"
    c1, c2 = st.columns(2)
    seeds = c1.number_input("Seeds per cell", min_value=1, max_value=MAX_SEEDS, step=1, key=SEEDS,
                            help="each cell trains with seed, seed + 1, ...; the map shows their median")
    steps = c2.number_input("Steps per cell", min_value=0, max_value=MAX_STEPS, step=50, key=STEPS, disabled=not trained,
                            help="optimizer steps of each training (0: the base config's epochs)")
    threshold = st.number_input("Loss threshold (steps to loss)", min_value=1e-6, max_value=1e6, step=0.05,
                                key=THRESHOLD, format="%.3g", disabled=not trained,
                                help="'steps to loss' counts the steps until the training loss is at most this")
    return int(seeds), str(mode), int(steps), float(threshold)
