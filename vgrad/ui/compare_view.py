"""The Compare page's components: choose the runs, train them together, show them on one scale.

    setup = setup_controls()           # comparison, shared and per-run settings; kept in the URL
    train_controls(client, setup)      # Train all / Stop all
    live_panels(client)                # heatmaps, curves, table, reading, exports (live fragment)
"""

from __future__ import annotations

import math

import streamlit as st
from streamlit.errors import StreamlitAPIException

from vgrad import links
from vgrad.charts.compare import first_layer_overlay, heatmap_grid, layer_profile_overlay, loss_overlay
from vgrad.config import ConfigError
from vgrad.export.comparison import export_csv, export_json
from vgrad.presets import COMPARISONS, PRESETS
from vgrad.readings import comparison_reading, comparison_table, notices, run_readings
from vgrad.records import Status
from vgrad.service.client import BackendClient
from vgrad.store import RunStore, StoreError
from vgrad.text import MISSING, escape_markdown, orders_short
from vgrad.ui import data_view, live, url_state
from vgrad.ui.multi_run import RunGroup, status_line, verdict_icon

GROUP = RunGroup("vgrad.cmp")
_SETUP, _GEN, _TRAINED, _ERRORS, _PROBLEMS, _URL = (
    "vgrad.cmp.setup", "vgrad.cmp.gen", "vgrad.cmp.trained", "vgrad.cmp.errors", "vgrad.cmp.problems", "vgrad.cmp.url")
STATS = {"grad_norm": "dL/dW (weight gradient)", "act_grad_rms": "dL/da (back-propagated)"}
HAND_MADE = ""  # the picker's entry for runs that are not one named comparison
PRESET_CHOICES = [*PRESETS, links.DEFAULT]


def _gen() -> int:
    return st.session_state.setdefault(_GEN, 0)


def _replace(setup: links.Group) -> None:
    st.session_state[_SETUP] = setup
    st.session_state[_GEN] = _gen() + 1


def _on_pick() -> None:
    name = st.session_state[f"cmp.name.{_gen()}"]
    if name == HAND_MADE:
        return  # keep the runs as they are
    shared = st.session_state[_SETUP].shared
    _replace(links.comparison_group(name, shared))


def _on_add() -> None:
    setup: links.Group = st.session_state[_SETUP]
    last = setup.members[-1] if setup.members else links.Member("deep-sigmoid")
    _replace(links.Group(setup.name, (*setup.members, links.Member(last.preset, dict(last.overrides))), setup.shared))


def _on_remove(i: int) -> None:
    setup: links.Group = st.session_state[_SETUP]
    members = [m for k, m in enumerate(setup.members) if k != i]
    _replace(links.Group(setup.name, tuple(members), setup.shared))


def _initial_setup() -> links.Group:
    setup, problems = links.parse_group(url_state.params())
    st.session_state[_PROBLEMS] = problems
    return setup


def data_controls(client: BackendClient | None) -> None:
    """Train every run of the comparison on an uploaded table instead of its own data."""
    with st.expander("Train every run on your own data (a CSV file)"):
        used = data_view.csv_upload(client, "cmp.csv", live.client_id())
        if used is not None and st.session_state.get("cmp.csv.applied") != used:
            st.session_state["cmp.csv.applied"] = used
            setup: links.Group = st.session_state[_SETUP]
            fields = {k: str(v) for k, v in used.fields().items()}
            _replace(links.Group(setup.name, setup.members, {**setup.shared, **fields}))
            st.rerun()
        if st.session_state.get(_SETUP) is not None and st.session_state[_SETUP].shared.get("dataset") == "csv":
            st.caption("Every run trains on the uploaded table (the shared settings hold its data_id).")


def setup_controls() -> links.Group:
    """The comparison picker and each run's settings; returns the Setup they describe.

    The first visit reads the link (?comparison=...&r2.activation=...); afterwards the widgets
    are the truth and the link follows them.
    """
    link = url_state.current()
    if _SETUP not in st.session_state or (link and link != st.session_state.get(_URL)):
        # first visit, or arriving with a new link (e.g. a remedy button on the Lessons page)
        if _SETUP in st.session_state:
            st.session_state[_GEN] = _gen() + 1  # fresh widgets for the new runs
        st.session_state[_SETUP] = _initial_setup()
    setup: links.Group = st.session_state[_SETUP]
    gen = _gen()
    names = [HAND_MADE, *COMPARISONS]
    current = setup.name if setup.matches_comparison() else HAND_MADE
    left, right = st.columns([2, 3])
    left.selectbox("Start from a comparison", names, index=names.index(current),
                   format_func=lambda n: "A hand-made set of runs" if n == HAND_MADE else COMPARISONS[n].title,
                   key=f"cmp.name.{gen}", on_change=_on_pick)
    shared_text = right.text_input(
        "Shared settings (every run)", links.fields_text(setup.shared), key=f"cmp.shared.{gen}",
        placeholder="e.g. epochs=5&seed=1", help="field=value pairs joined by &; the same for every run")
    shared, problems = links.parse_fields(shared_text)
    members = []
    for i, m in enumerate(setup.members):
        c1, c2, c3 = st.columns([2, 4, 1], vertical_alignment="bottom")
        preset = c1.selectbox(f"Run {i + 1}", PRESET_CHOICES,
                              index=PRESET_CHOICES.index(m.preset) if m.preset in PRESET_CHOICES else 0,
                              key=f"cmp.preset.{gen}.{i}")
        text = c2.text_input(f"Run {i + 1} changes", links.fields_text(m.overrides), key=f"cmp.own.{gen}.{i}",
                             placeholder="e.g. activation=relu&initializer=he_normal")
        own, own_problems = links.parse_fields(text)
        problems += [f"run {i + 1}: {p}" for p in own_problems]
        c3.button("Remove", key=f"cmp.rm.{gen}.{i}", on_click=_on_remove, args=(i,),
                  disabled=len(setup.members) <= links.MIN_RUNS, width="stretch")
        members.append(links.Member(preset, own))
    st.button("Add a configuration", key=f"cmp.add.{gen}", on_click=_on_add,
              disabled=len(setup.members) >= links.MAX_RUNS)
    current, more = links.drop_invalid(links.Group(setup.name, tuple(members), shared), [])
    problems += more
    for p in st.session_state.pop(_PROBLEMS, []) + problems:
        st.warning(escape_markdown(p, 400), icon="⚠️")
    _write_url(current)
    _describe(current)
    return current


def _write_url(setup: links.Group) -> None:
    wanted = links.group_query(setup)
    url_state.write(wanted)
    st.session_state[_URL] = wanted


def _describe(setup: links.Group) -> None:
    comp = setup.comparison
    if comp is not None and setup.matches_comparison():
        st.markdown(f"**Expected pattern**{' (' + comp.paper + ')' if comp.paper else ''}: {comp.expect}")
    with st.expander("What each run is", expanded=False):
        for label, config in zip(setup.labels(), setup.configs(), strict=True):
            text, link = st.columns([5, 1], vertical_alignment="center")
            text.markdown(f"- **{escape_markdown(label)}**: {escape_markdown(summary(config), 400)}")
            explorer_link(link, config, label)
    url_state.show_share_link(links.group_query(setup), what="comparison")


def explorer_link(container, config, label: str) -> None:
    """A link that opens this configuration in the Explorer (every field in its query string)."""
    query = links.run_query(config)
    try:
        container.page_link("pages/explorer.py", label="Open in Explorer", icon=":material/biotech:",
                            query_params=query, help=f"study {label} alone, layer by layer")
    except StreamlitAPIException:  # the page runs outside the app's navigation (a test harness)
        container.markdown(f"[Open in Explorer]({links.page_url('explorer', query)})")


def summary(c) -> str:
    if c.family == "rnn":
        arch = f"{c.rnn_layers}x {c.cell}({c.units}), {c.seq_len} time steps"
    else:
        arch = f"{c.hidden_layers}x Dense({c.units}, {c.activation}), {c.initializer}"
        if c.batch_norm != "off":
            arch += f", BatchNorm {c.batch_norm}"
        if c.residual_every:
            arch += f", skip every {c.residual_every}"
    clip = next((f", {n}={getattr(c, n):g}" for n in ("clipvalue", "clipnorm", "global_clipnorm")
                 if getattr(c, n)), "")
    return (f"{arch}; {c.optimizer} lr {c.learning_rate:g}{clip}; {c.epochs} epoch{'s' if c.epochs != 1 else ''} of {c.steps_per_epoch} steps; "
            f"data {c.dataset} n={c.n_samples} seed {c.data_seed}; weights seed {c.seed}")


# --- training -------------------------------------------------------------------------------

def _train(client: BackendClient, setup: links.Group) -> None:
    try:
        configs = setup.configs()
    except ConfigError as exc:
        st.session_state[_ERRORS] = [str(exc)]
        return
    st.session_state[_ERRORS] = GROUP.start(client, list(zip(setup.labels(), configs, strict=True)))
    st.session_state[_TRAINED] = setup


def train_controls(client: BackendClient | None, setup: links.Group) -> None:
    c1, c2, c3 = st.columns([1.3, 1, 4])
    # Handled inline, not in on_click: a callback would get the settings of the previous rerun,
    # missing an edit made just before the click.
    if c1.button("Train all", icon=":material/play_arrow:", type="primary", key="cmp.train", disabled=client is None,
                 width="stretch",
                 help="train every configuration through the service (two at a time; the rest wait in the queue)"):
        _train(client, setup)
    c2.button("Stop all", icon=":material/stop:", key="cmp.stop", on_click=GROUP.stop, args=(client,),
              disabled=not GROUP.active(), width="stretch")
    c3.caption("Runs share data and seed unless you change them. Two train at a time; the others queue.")
    for e in st.session_state.get(_ERRORS, []):
        st.error(escape_markdown(e, 500))


# --- live panels ------------------------------------------------------------------------------

def live_panels(client: BackendClient | None) -> None:
    left, right, _ = st.columns([3, 1.2, 2])
    stat = left.radio("Heatmap statistic", list(STATS), format_func=STATS.get, horizontal=True, key="cmp.stat")
    threshold = right.number_input("Loss threshold for the table", 0.01, 5.0, 0.5, 0.05, key="cmp.threshold")
    GROUP.live(client, lambda jobs, labels: _panels(jobs, labels, stat, threshold))


def _panels(jobs, labels, stat: str, threshold: float) -> None:
    if not jobs:
        st.info("Press **Train all**: the panels below fill in live as the runs train.")
        return
    setup: links.Group | None = st.session_state.get(_TRAINED)
    runs = [j.run for j in jobs]
    labels = labels[:len(runs)]
    cols = st.columns(len(jobs))
    for col, job, lab in zip(cols, jobs, labels, strict=True):
        col.caption(f"**{escape_markdown(lab, 80)}**: {escape_markdown(status_line(job))}")
        if job.run.status in (Status.FAILED, Status.DIVERGED) or job.lost:
            col.error(escape_markdown(job.run.message or job.message, 300))
    _reading(setup, runs, labels)
    for lab, run in zip(labels, runs, strict=True):  # what a picture shows but does not say
        for n in notices(run):
            st.caption(f":material/info: **{escape_markdown(lab, 60)}**: {escape_markdown(n.text, 500)}")
    st.plotly_chart(heatmap_grid(runs, labels, stat), key="cmp.heat")
    st.plotly_chart(loss_overlay(runs, labels), key="cmp.loss")
    left, right = st.columns(2)
    left.plotly_chart(first_layer_overlay(runs, labels, stat), key="cmp.first")
    right.plotly_chart(layer_profile_overlay(runs, labels, stat), key="cmp.profile")
    summary, per_layer = _split(_formatted(comparison_table(runs, labels, threshold)))
    st.dataframe(summary, hide_index=True, key="cmp.table")  # a few columns: no sideways scroll on a projector
    with st.expander("‖dL/dW‖ of every layer at the latest step (one column per run)"):
        st.dataframe(per_layer, key="cmp.layers")
    with st.expander("Automatic reading of each run"):
        for lab, run in zip(labels, runs, strict=True):
            st.markdown(f"**{escape_markdown(lab, 80)}**")
            for r in run_readings(run):
                st.markdown(f"- {escape_markdown(r.text, 500)}")
    if setup is not None:
        d1, d2, _ = st.columns([1, 1, 3])
        d1.download_button("Download JSON", export_json(setup, runs, labels, threshold),
                           "vgrad-comparison.json", "application/json", key="cmp.json", on_click="ignore")
        d2.download_button("Download CSV", export_csv(runs, labels), "vgrad-comparison.csv", "text/csv",
                           key="cmp.csv", on_click="ignore")
    if len(runs) >= 2 and all(r.done and r.steps for r in runs):
        _save_comparison(setup, runs, labels)


def _save_comparison(setup, runs, labels) -> None:
    """Name and save the finished runs as one comparison in the Runs store."""
    comp = setup.comparison if setup is not None else None
    default = comp.title if comp is not None else "comparison"
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    name = c1.text_input("Name", value=default, max_chars=120, key="cmp.save_name")
    if c2.button("Save comparison", icon=":material/save:", key="cmp.save", width="stretch"):
        try:
            RunStore().save_runs_as_comparison(name, list(zip(labels, runs, strict=True)))
        except StoreError as exc:
            st.error(f"Not saved: {escape_markdown(str(exc))}")
        else:
            st.success(f"Saved **{escape_markdown(name)}** with {len(runs)} runs; open it on the Runs page.")


def _reading(setup: links.Group | None, runs, labels) -> None:
    comp = setup.comparison if setup is not None else None
    name = setup.name if setup is not None and setup.matches_comparison() else ""
    reading = comparison_reading(name, runs, labels)
    icon = verdict_icon(reading.holds, any(not r.done for r in runs))
    left, right = st.columns(2)
    with left.container(border=True):
        st.markdown("**Expected**" + (f" ({comp.paper})" if comp and comp.paper else ""))
        st.markdown(comp.expect if comp is not None and name else "A hand-made set: no expected pattern; "
                    "the reading on the right ranks the runs.")
    with right.container(border=True):
        st.markdown(f"**Automatic reading** {icon}")
        st.markdown(escape_markdown(reading.text, 1200))


def _split(table):
    """(the summary columns, the per-layer gradients as layers x runs): the wide table in two narrow ones.
    The first and last layer's values are the per-layer table's first and last rows."""
    grads = [c for c in table.columns if c.startswith("grad ")]
    summary = table.drop(columns=grads + ["first-layer grad", "last-layer grad"], errors="ignore")
    per_layer = table.set_index("run")[grads].T
    per_layer.index = [c.removeprefix("grad ") for c in grads]
    per_layer.columns = [f"run {i + 1}" for i in range(len(per_layer.columns))]
    return summary, per_layer


def _formatted(table):
    out = table.copy()
    for col in out.columns:
        if col.startswith("grad ") or col in ("first-layer grad", "last-layer grad"):
            out[col] = [f"{v:.2e}" if isinstance(v, float) and math.isfinite(v) else MISSING for v in out[col]]
        elif col == "attenuation (orders)":
            out[col] = [orders_short(v) for v in out[col]]
        elif col in ("final loss", "train acc", "val acc"):
            out[col] = [f"{v:.3f}" if isinstance(v, float) and math.isfinite(v) else MISSING for v in out[col]]
        elif col.startswith("steps to"):
            out[col] = ["never" if v is None or (isinstance(v, float) and math.isnan(v)) else str(int(v))
                        for v in out[col]]
    return out
