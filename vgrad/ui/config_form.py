"""The experiment sidebar: a preset picker and one widget per RunConfig field, from FIELDS.

    form = config_sidebar(start)     # start: a links.RunLink (config + preset) to show first
    if form.config is not None: ...  # None while the combination is invalid (explained inline)

Widgets are keyed `cfg.<field>`; their values live in st.session_state, so a preset change
(callback) or a link can set them all at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from vgrad import links
from vgrad.config import FIELDS, ConfigError, RunConfig
from vgrad.presets import PRESETS
from vgrad.text import escape_markdown
from vgrad.ui import url_state

PREFIX = "cfg."
PRESET_WIDGET = "cfg.__preset__"
STORE = "vgrad.config"          # last valid (config, preset): survives leaving the page
CUSTOM = "(custom)"
GROUPS = ("Data", "Architecture", "Remedies", "Training")
RNN_FIELDS = ("cell", "rnn_layers", "seq_len", "seq_noise", "recurrent_scale")

# Step of the +/- buttons of float fields (the value can be typed to any precision).
FLOAT_STEPS = {
    "learning_rate": 0.001, "init_std": 0.01, "init_limit": 0.01, "class_sep": 0.1, "flip_y": 0.01,
    "noise": 0.05, "val_fraction": 0.05, "leaky_alpha": 0.05, "bias_init": 0.1, "seq_noise": 0.1,
    "recurrent_scale": 0.1, "dropout": 0.05, "l2": 0.001, "l1": 0.001, "clipvalue": 0.5,
    "clipnorm": 0.5, "global_clipnorm": 0.5,
}


@dataclass(frozen=True)
class FormResult:
    config: RunConfig | None   # None when the widgets describe an invalid combination
    preset: str | None
    error: ConfigError | None = None


def key_of(name: str) -> str:
    return PREFIX + name


def widgets_initialised() -> bool:
    return all(key_of(name) in st.session_state for name in FIELDS) and PRESET_WIDGET in st.session_state


def load_into_widgets(config: RunConfig, preset: str | None) -> None:
    """Set every widget's value (call before the widgets are drawn, or from a callback)."""
    for name in FIELDS:
        st.session_state[key_of(name)] = getattr(config, name)
    st.session_state[PRESET_WIDGET] = preset if preset in PRESETS else CUSTOM


def stored() -> tuple[RunConfig, str | None] | None:
    return st.session_state.get(STORE)


def _apply_preset() -> None:
    name = st.session_state.get(PRESET_WIDGET)
    if name in PRESETS:
        load_into_widgets(PRESETS[name].config, name)


def _current_values() -> dict:
    return {name: st.session_state[key_of(name)] for name in FIELDS}


def _widget(name: str) -> None:
    rule = FIELDS[name]
    key = key_of(name)
    label = name.replace("_", " ")
    if rule.choices:
        st.selectbox(label, rule.choices, key=key, help=rule.help)
    elif rule.kind is bool:
        st.checkbox(label, key=key, help=rule.help)
    elif rule.kind is int:
        st.number_input(label, min_value=int(rule.low), max_value=int(rule.high), step=1, key=key,
                        help=f"{rule.help} ({rule.describe()})")
    else:
        st.number_input(label, min_value=float(rule.low), max_value=float(rule.high),
                        step=FLOAT_STEPS.get(name, 0.01), format="%g", key=key,
                        help=f"{rule.help} ({rule.describe()})")


def config_sidebar(start: links.RunLink) -> FormResult:
    """Draw the grouped experiment form in the sidebar and return the config it describes."""
    if not widgets_initialised():
        load_into_widgets(start.config, start.preset)
    values = _current_values()
    error: ConfigError | None = None
    config: RunConfig | None = None
    try:
        config = RunConfig.from_dict(values)
    except ConfigError as exc:
        error = exc
    preset = st.session_state.get(PRESET_WIDGET)
    preset = preset if preset in PRESETS else None

    sb = st.sidebar
    sb.header("Experiment")
    sb.selectbox("Preset", [CUSTOM, *PRESETS], key=PRESET_WIDGET, on_change=_apply_preset,
                 help="a named experiment; picking one sets every field below")
    if preset:
        changed = [n for n in FIELDS if getattr(PRESETS[preset].config, n) != values[n]]
        sb.caption(PRESETS[preset].description + (f" — changed: {', '.join(changed)}" if changed else ""))
    if error is not None and error.field not in FIELDS:
        sb.error(escape_markdown(str(error)))
    bad_group = FIELDS[error.field].group if error is not None and error.field in FIELDS else None
    if bad_group:
        sb.error(f"This combination cannot train: see **{error.field}** under **{bad_group}**.")
    for group in GROUPS:
        with sb.expander(group, expanded=group in ("Architecture", "Training", bad_group)):
            for name, rule in FIELDS.items():
                if rule.group != group:
                    continue
                if name == RNN_FIELDS[0]:
                    st.markdown("**Recurrent** (family = rnn)")
                _widget(name)
                if error is not None and error.field == name:
                    st.error(f"**{name}**: {escape_markdown(str(error).split(': ', 1)[-1])}")
    if config is not None:
        st.session_state[STORE] = (config, preset)
    return FormResult(config, preset, error)


# --- the whole sidebar: link in, form, link out -----------------------------------------------

_URL_PROBLEMS = "vgrad.url_problems"


def start_config() -> links.RunLink:
    """What the form starts from: the link when it carries settings, else this session's last
    config, else the defaults. Problems of a bad link are kept to show next to the page."""
    if widgets_initialised():
        return links.RunLink(RunConfig())  # unused: the widgets already hold the state
    if url_state.has_params():
        parsed = url_state.read_run()
        st.session_state[_URL_PROBLEMS] = (parsed.problems, parsed.config)
        return parsed
    last = stored()
    if last is not None:
        return links.RunLink(last[0], last[1])
    return links.RunLink(RunConfig())


def experiment_sidebar() -> FormResult:
    """Restore the experiment from the link, draw the form, write the link back, offer a copy."""
    form = config_sidebar(start_config())
    problems, parsed = st.session_state.get(_URL_PROBLEMS, ((), None))
    if problems and form.config == parsed:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        st.warning("This link had settings vgrad cannot use, so they were left at their defaults: "
                   + escape_markdown(shown, 1200), icon=":material/link_off:")
    if form.config is not None:
        query = links.run_query(form.config, form.preset)
        url_state.write(query)
        with st.sidebar:
            url_state.show_share_link(query)
    return form
