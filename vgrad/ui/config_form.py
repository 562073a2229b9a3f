"""The experiment sidebar: a preset picker and a widget for each RunConfig field that applies, from FIELDS.

    form = config_sidebar(start)     # start: a links.RunLink (config + preset) to show first
    if form.config is not None: ...  # None while the combination is invalid (explained inline)

Widgets are keyed `cfg.<field>`; their values live in st.session_state, so a preset change
(callback) or a link can set them all at once. Only the fields that apply to the chosen family,
activation, initializer and data set are drawn (the others keep their values); number fields take
any number, so an invalid one is explained under it at once instead of being refused silently.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from vgrad import datasets, links
from vgrad.config import FIELDS, ConfigError, RunConfig
from vgrad.limits import LimitError, Limits, check, count_params, human
from vgrad.presets import PRESETS
from vgrad.text import escape_markdown
from vgrad.ui import data_view, live, url_state

PREFIX = "cfg."
PRESET_WIDGET = "cfg.__preset__"
STORE = "vgrad.config"          # last valid (config, preset): survives leaving the page
CUSTOM = "(custom)"
GROUPS = ("Data", "Architecture", "Recurrent", "Remedies", "Training")
RNN_FIELDS = ("cell", "rnn_layers", "seq_len", "seq_noise", "recurrent_scale")
CSV_FIELDS = ("data_id", "target", "missing")  # set by the upload flow (dataset=csv), not typed
PAGE_KEYS = ("class", "job")  # link keys the Explorer reads for itself, not RunConfig fields

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
    limit: str = ""            # the server's refusal when the run is bigger than it allows


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


def applies(name: str, values: dict) -> bool:
    """Whether a field matters for the network and data these values describe (else it is not drawn)."""
    mlp = values["family"] == "mlp"
    spec = datasets.DATASETS.get(values["dataset"])
    takes = spec.params if spec is not None else ()
    rule = {
        "hidden_layers": mlp, "batch_norm": mlp, "residual_every": mlp, "spectrum": mlp,
        "cell": not mlp, "rnn_layers": not mlp, "seq_len": not mlp, "seq_noise": not mlp, "recurrent_scale": not mlp,
        "leaky_alpha": values["activation"] == "leaky_relu",
        "init_std": values["initializer"] == "random_normal",
        "init_limit": values["initializer"] == "random_uniform",
        "noise": "noise" in takes, "class_sep": "class_sep" in takes, "flip_y": "flip_y" in takes,
        "n_informative": "n_informative" in takes, "n_clusters_per_class": "n_clusters_per_class" in takes,
    }
    return rule.get(name, True)


def display_group(name: str) -> str:
    return "Recurrent" if name in RNN_FIELDS else FIELDS[name].group


def _on_dataset() -> None:
    """A data set was picked: set the fields it fixes (n_features, n_classes, all of a table's rows)."""
    for name, value in data_view.fixed_fields(st.session_state[key_of("dataset")]).items():
        st.session_state[key_of(name)] = value


def _widget(name: str, disabled: bool = False) -> None:
    rule = FIELDS[name]
    key = key_of(name)
    label = name.replace("_", " ")
    if name == "dataset":
        st.selectbox(label, rule.choices, key=key, help=rule.help, format_func=data_view.dataset_label,
                     on_change=_on_dataset)
    elif rule.choices:
        st.selectbox(label, rule.choices, key=key, help=rule.help)
    elif rule.kind is str:
        st.text_input(label, key=key, help=f"{rule.help} ({rule.describe()})", disabled=disabled)
    elif rule.kind is bool:
        st.checkbox(label, key=key, help=rule.help)
    elif rule.kind is int:  # no min/max: an out-of-range value reaches RunConfig, which explains it
        st.number_input(label, step=1, key=key, help=f"{rule.help} ({rule.describe()})", disabled=disabled)
    else:
        st.number_input(label, step=FLOAT_STEPS.get(name, 0.01), format="%g", key=key,
                        help=f"{rule.help} ({rule.describe()})")


PENDING = "cfg.pending"  # field values to set before the widgets are drawn


def _csv_section(client) -> None:
    """dataset=csv: the upload flow; a used table sets the fields that train on it (next rerun)."""
    used = data_view.csv_upload(client, "cfg.csv", live.client_id())
    if used is not None and st.session_state.get("cfg.csv.applied") != used:
        st.session_state["cfg.csv.applied"] = used
        st.session_state[PENDING] = used.fields()  # widgets above are drawn: set them on the next run
        st.rerun()
    data_id = st.session_state.get(key_of("data_id"))
    if data_id:
        st.caption(f"Training on the uploaded table {data_id[:12]}… "
                   f"(target {escape_markdown(st.session_state.get(key_of('target')) or 'the last column', 60)})")


def config_sidebar(start: links.RunLink, client=None) -> FormResult:
    """Draw the grouped experiment form in the sidebar and return the config it describes."""
    if not widgets_initialised():
        load_into_widgets(start.config, start.preset)
    for name, value in st.session_state.pop(PENDING, {}).items():
        st.session_state[key_of(name)] = value
    for name in FIELDS:  # keep the values of fields not drawn this time (Streamlit drops undrawn widgets')
        st.session_state[key_of(name)] = st.session_state[key_of(name)]
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
    waiting = error is not None and error.field == "data_id" and values["dataset"] == data_view.CSV
    if waiting:  # not an error: the table comes next
        sb.info("Upload a CSV file under **Data** to train on your own table.", icon=":material/upload_file:")
    elif error is not None and error.field not in FIELDS:
        sb.error(escape_markdown(str(error)))
    bad_group = display_group(error.field) if error is not None and error.field in FIELDS else None
    if bad_group and not waiting:
        sb.error(f"This combination cannot train: see **{error.field}** under **{bad_group}**.")
    fixed = data_view.fixed_fields(values["dataset"])
    csv = values["dataset"] == data_view.CSV
    was_csv, st.session_state[_WAS_CSV] = st.session_state.get(_WAS_CSV, False), csv
    for group in GROUPS:
        shown = [n for n in FIELDS if display_group(n) == group and (applies(n, values) or
                                                                     (error is not None and error.field == n))]
        if not shown:
            continue
        box = _group(sb, group, forced=group == bad_group or (csv and group == "Data" and not was_csv))
        if box is None:
            continue
        with box:
            for name in shown:
                if name in CSV_FIELDS:
                    if name == CSV_FIELDS[0] and csv:
                        _csv_section(client)
                    continue
                _widget(name, disabled=name in fixed and name != "n_samples" or (csv and name in ("n_features",
                                                                                                   "n_classes")))
                if error is not None and error.field == name and not waiting:
                    st.error(f"**{name}**: {escape_markdown(str(error).split(': ', 1)[-1])}")
    limit = cost_line(sb, config, client)
    if config is not None:
        st.session_state[STORE] = (config, preset)
    return FormResult(config, preset, error, limit)


OPEN_KEY = "cfg.open."  # + group: whether the group is unfolded (st.session_state; only then it is drawn)
OPEN_AT_FIRST = ("Architecture", "Recurrent", "Training")
_WAS_CSV = "cfg.open.was_csv"


def _group(sb, group: str, forced: bool = False):
    """One group's expander in the sidebar when it is unfolded, else None: a folded group's widgets are
    not drawn (its fields keep their values). Every widget costs its share of every page run of every
    student, and the Data and Remedies groups start folded. `forced` unfolds it (the field with an
    error is there, or a table is to be uploaded)."""
    key = OPEN_KEY + group
    if forced or key not in st.session_state:
        st.session_state[key] = forced or group in OPEN_AT_FIRST
    box = sb.expander(group, key=key, on_change="rerun")
    return box if box.open else None


def cost_line(where, config: RunConfig | None, client) -> str:
    """The run's size against the server's limits, before Train; the refusal's sentence when over one."""
    if config is None:
        return ""
    limits = server_limits(client)
    params, steps = count_params(config), config.total_steps
    try:
        check(config, limits)
    except LimitError as exc:
        where.error(f"Too big for this server: {escape_markdown(str(exc))}")
        return str(exc)
    where.caption(f"{params:,} parameters (at most {human(limits.max_params)}), {steps:,} steps (at most "
                  f"{human(limits.max_steps)}), {config.n_samples:,} examples (at most {human(limits.max_samples)}).")
    return ""


def server_limits(client) -> Limits:
    """The limits the training service reports (its /health), else the defaults."""
    if client is None:
        return Limits()
    cached = st.session_state.get("vgrad.limits")
    if cached is not None:
        return cached
    try:
        reported = client.health().get("limits") or {}
        limits = Limits(**{k: int(v) for k, v in reported.items() if k in Limits.__dataclass_fields__})
    except Exception:  # noqa: BLE001 - the defaults are the best guess; the submit says the truth
        return Limits()
    st.session_state["vgrad.limits"] = limits
    return limits


# --- the whole sidebar: link in, form, link out -----------------------------------------------

_URL_PROBLEMS = "vgrad.url_problems"


def start_config() -> links.RunLink:
    """What the form starts from: the link when it carries settings, else this session's last
    config, else the defaults. Problems of a bad link are kept to show next to the page."""
    if widgets_initialised():
        return links.RunLink(RunConfig())  # unused: the widgets already hold the state
    if url_state.has_params(ignore=PAGE_KEYS):
        parsed = url_state.read_run(ignore=PAGE_KEYS)
        st.session_state[_URL_PROBLEMS] = (parsed.problems, parsed.config)
        return parsed
    last = stored()
    if last is not None:
        return links.RunLink(last[0], last[1])
    return links.RunLink(RunConfig())


def experiment_sidebar(client=None) -> FormResult:
    """Restore the experiment from the link, draw the form, write the link back, offer a copy."""
    form = config_sidebar(start_config(), client)
    problems, parsed = st.session_state.get(_URL_PROBLEMS, ((), None))
    if problems and form.config == parsed:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        st.warning("This link had settings vgrad cannot use, so they were left at their defaults: "
                   + escape_markdown(shown, 1200), icon=":material/link_off:")
    if form.config is not None:
        query = links.run_query(form.config, form.preset)
        url_state.write(query, keep=PAGE_KEYS)
        with st.sidebar:
            url_state.show_share_link(query)
    return form
