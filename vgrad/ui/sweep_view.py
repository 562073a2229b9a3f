"""The Sweep page: run a sweep in the training service and watch its map fill in, cell by cell.

    form = sweep_form.controls()           # the sweep the widgets describe (and the link)
    run_button(client, form)               # Run (Stop sits beside the live map)
    where_caption(client)                  # where the cells train: the service's threads or a Ray cluster
    live_map(client, metric)               # progress, time left and the map, in a fragment polling the service
    cells_section(metric)                  # the clicked cell and every cell as a table, with Explorer links
    results_section(store, form)           # share, save in the Runs store, export CSV / JSON
    saved_section(store)                   # saved sweeps: reopen, delete (?saved=ID reopens one too)

The sweep being shown is a Shown in st.session_state (SHOWN): its spec, the cells so far (typed
vgrad.sweep.CellResult, summaries only) and the service's progress; a fragment polls the service
every POLL_SECONDS while it runs, a bounded number of pages a tick. No TensorFlow here: the cells'
numbers are the service's (the engine's) measurements, the lines vgrad.theory's predictions.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from vgrad import links
from vgrad.charts.sweep import sweep_chart
from vgrad.config import value_text
from vgrad.service.client import BackendClient, BackendError
from vgrad.store import RunStore, StoreError
from vgrad.sweep import CellResult, SweepSpec
from vgrad.sweep_maps import (
    Metric,
    cell_title,
    cell_value,
    csv_text,
    explorer_config,
    grid,
    json_text,
    theory_lines,
    xi_text,
)
from vgrad.sweep_results import SweepResultError, result_from_json
from vgrad.text import MISSING, escape_markdown, num
from vgrad.ui import figures, live, sweep_form, turns, url_state

SHOWN = "sweep.shown"
REFUSED = "sweep.refused"  # the service's sentence when it refused the last Run
CLICKED = "sweep.clicked"
CLIENT = "sweep.client"  # the page's BackendClient, for the Stop button inside the fragment
CHART = "sweep.chart"
WHERE = "sweep.where"  # (when, sentence): where the service trains the cells
WHERE_SECONDS = 15.0
POLL_SECONDS = 0.5
PAGES_PER_TICK = 4
SAVED_KEY = "saved"
MAX_TABLE = 5000  # cells listed in the table at most


@dataclass
class Shown:
    """The sweep on the page: one running in the service (id), or a saved one (saved_id)."""

    spec: SweepSpec
    query: dict
    id: str | None = None
    saved_id: int | None = None
    cells: list[CellResult] = field(default_factory=list)
    status: str = "queued"
    done: int = 0
    total: int = 0
    elapsed: float = 0.0
    left: float | None = None
    message: str = ""
    started: float = field(default_factory=time.monotonic)

    @property
    def active(self) -> bool:
        return self.id is not None and self.status in ("queued", "running")


def current() -> Shown | None:
    return st.session_state.get(SHOWN)


def open_store() -> RunStore | None:
    try:
        return RunStore()
    except StoreError as exc:
        st.warning(f"Saving sweeps is off: {escape_markdown(str(exc))}", icon=":material/folder_off:")
        return None


# --- running --------------------------------------------------------------------------------------
def start(client: BackendClient, form: sweep_form.Form) -> str:
    """Submit the form's sweep (stopping this page's previous one); '' or the service's sentence."""
    old = current()
    if old is not None and old.active:
        stop(client, old)
    try:
        answer = client.submit_sweep(form.spec, live.client_id(), label=_label(form.spec), remote=live.remote_address())
    except BackendError as exc:
        return str(exc)
    st.session_state[SHOWN] = Shown(form.spec, links.sweep_query(form.link), id=answer["id"],
                                    status=str(answer.get("status", "queued")), total=int(answer["n_cells"]))
    st.session_state.pop(CLICKED, None)
    return ""


def stop(client: BackendClient | None, shown: Shown) -> None:
    if client is None or shown.id is None:
        return
    try:
        client.stop_sweep(shown.id)
    except BackendError:
        pass
    poll(client, shown)  # the cells that finished meanwhile, and the final status
    shown.status = "cancelled" if shown.active else shown.status


def poll(client: BackendClient, shown: Shown) -> None:
    """Read the cells that finished since the last poll (at most PAGES_PER_TICK pages)."""
    for _ in range(PAGES_PER_TICK):
        try:
            page = client.sweep(shown.id, offset=len(shown.cells), spec=shown.spec)
        except BackendError as exc:
            shown.status = "failed"
            shown.message = (f"The training service lost this sweep ({exc}); {len(shown.cells)} of "
                             f"{shown.total} cells had finished." if exc.status == 404 else
                             f"Could not read the sweep from the training service: {exc}")
            return
        shown.cells.extend(page.cells)
        shown.status, shown.done, shown.total = page.status, page.done, page.total
        shown.elapsed, shown.left, shown.message = page.elapsed, page.left, page.message
        if not page.more:
            return


def _label(spec: SweepSpec) -> str:
    return " × ".join(a.field for a in spec.axes)[:200]


def run_button(client: BackendClient | None, form: sweep_form.Form) -> None:
    """Run: a new sweep (the page then reruns with it live; Stop is beside the map while it runs)."""
    shown = current()
    busy = shown is not None and shown.active
    if st.button("Run", key="sweep.run", type="primary", icon=":material/play_arrow:",
                 disabled=client is None or form.spec is None or busy,
                 help="a sweep is running: stop it first" if busy else "train every cell in the training service"):
        error = start(client, form)
        st.session_state[REFUSED] = error
        st.rerun()
    if st.session_state.get(REFUSED):
        st.error(escape_markdown(st.session_state[REFUSED]), icon=":material/block:")


def where_text(health: dict) -> str:
    """Where the service trains a sweep's cells, from its /health: its worker threads or a Ray cluster."""
    workers = health.get("workers")
    ray = health.get("ray") or {}
    if health.get("executor") == "ray" and ray.get("connected"):
        cpus = ray.get("cpus")
        size = f", {cpus:g} CPUs on {ray.get('nodes') or '?'} nodes" if isinstance(cpus, int | float) else ""
        return f"Cells train on the Ray cluster at {ray.get('address') or 'auto'}{size}, {workers} at a time."
    text = f"Cells train in the training service's {workers} worker threads, beside everyone's other runs."
    if ray.get("error"):
        text += f" (The Ray cluster is not used: {ray['error']})"
    return text


def where_caption(client: BackendClient | None) -> None:
    """One line under Run: where the cells train (the service's health, read at most every WHERE_SECONDS)."""
    if client is None:
        return
    seen = st.session_state.get(WHERE)
    if seen is None or time.monotonic() - seen[0] > WHERE_SECONDS:
        try:
            seen = (time.monotonic(), where_text(client.health()))
        except BackendError:
            return
        st.session_state[WHERE] = seen
    st.caption(escape_markdown(seen[1], 400))


def live_map(client: BackendClient | None, metric: Metric) -> None:
    """The map and its progress, in a fragment that polls while the sweep runs, then reruns the page once."""
    shown = current()
    every = POLL_SECONDS if (client is not None and shown is not None and shown.active) else None

    st.session_state[CLIENT] = client

    @turns.fragment(run_every=every)
    def _live() -> None:
        now = current()
        was = now is not None and now.active
        if was and client is not None:
            poll(client, now)
        draw(now, metric)
        if was and not now.active and every is not None:
            st.rerun()

    _live()


def draw(shown: Shown | None, metric: Metric) -> None:
    if shown is None:
        st.info("Press **Run** to train the sweep; its map fills in here cell by cell.", icon=":material/grid_on:")
        return
    bar, button = st.columns([5, 1], vertical_alignment="bottom") if shown.active else (st.container(), None)
    bar.progress(min(1.0, shown.done / max(1, shown.total)), text=progress_text(shown))
    if button is not None and button.button("Stop", key="sweep.stop", icon=":material/stop:", width="stretch"):
        stop(st.session_state.get(CLIENT), shown)
    if shown.status in ("failed", "cancelled") and shown.message:
        st.warning(escape_markdown(shown.message), icon=":material/warning:")
    spec = shown.spec
    token = (shown.id or shown.saved_id, len(shown.cells), metric.name)
    fig = figures.figure(CHART, token, lambda: sweep_chart(grid(spec, shown.cells, metric), _lines(spec)))
    st.plotly_chart(fig, key=CHART, on_select=_on_click, selection_mode="points", width="stretch",
                    config={"displayModeBar": False})
    picked_cell(shown, metric)
    st.caption(legend_text(_lines(spec)))


def picked_cell(shown: Shown, metric: Metric) -> None:
    """The cell last clicked, with a button that opens its run in the Explorer (in a new tab)."""
    spec = shown.spec
    picked = st.session_state.get(CLICKED)
    if not (isinstance(picked, int) and 0 <= picked < spec.n_cells):
        st.caption(":material/touch_app: Click a cell to open its network in the Explorer.")
        return
    cell = next((c for c in shown.cells if c.cell == picked), None)
    value = cell_value(metric, cell).text(metric) if cell is not None else "not trained yet"
    c1, c2 = st.columns([3, 2], vertical_alignment="center")
    c1.markdown(f"**{escape_markdown(cell_title(spec, picked))}**: {escape_markdown(metric.short)} "
                f"{escape_markdown(value)}")
    c2.link_button("Open in the Explorer", explorer_url(spec, picked), icon=":material/biotech:", width="stretch")


def progress_text(shown: Shown) -> str:
    state = {"queued": "waiting for a worker", "running": "running", "finished": "finished",
             "cancelled": "stopped", "failed": "failed", "saved": "saved"}.get(shown.status, shown.status)
    text = f"{shown.done:,} of {shown.total:,} cells · {state}"
    if shown.id is not None:
        text += f" · {shown.elapsed:.0f} s"
        if shown.active:
            text += f" · about {shown.left:.0f} s left" if shown.left is not None else " · estimating the time left"
    return text


def legend_text(lines: list) -> str:
    """What the map's cells and theory's lines on it mean (only the lines drawn)."""
    kinds = {line.kind for line in lines}
    parts = ["Each cell is the median over its seeds (hover: their range, and theory's χ₁)."]
    if "critical" in kinds:
        parts.append("Dashed: theory's critical init_gain (χ₁ = 1; left of it gradients vanish, right of it they "
                     "explode).")
    if "depth" in kinds:
        parts.append("Solid: 6ξ_c, the depth to which theory says a net of that column trains (Schoenholz et al. "
                     "2017).")
    return " ".join(parts)


@st.cache_data(show_spinner=False, max_entries=64)
def _lines_of(spec_json: str) -> list:
    return theory_lines(SweepSpec.from_dict(json.loads(spec_json)))


def _lines(spec: SweepSpec) -> list:
    """Theory's lines of a sweep (vgrad.theory takes a moment for a fine curve: computed once per sweep)."""
    return _lines_of(json.dumps(spec.to_dict(), sort_keys=True))


def _on_click() -> None:
    """A click on the map picks that cell (its number is the marker's customdata)."""
    event = st.session_state.get(CHART)
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        points = []
    for p in points:
        data = p.get("customdata") if isinstance(p, dict) else None
        if isinstance(data, list):
            data = data[0] if data else None
        if isinstance(data, int | float):
            st.session_state[CLICKED] = int(data)
            return


# --- cells -----------------------------------------------------------------------------------------
def explorer_url(spec: SweepSpec, index: int) -> str:
    """/explorer?<the cell's run query>, next to this page's own address when it is known."""
    query = links.run_query(explorer_config(spec, index))
    page = url_state.page_url()
    base = re.sub(r"/[^/?#]*(?:[?#].*)?$", "/explorer", page) if page and "://" in page else "/explorer"
    return links.page_url(base, query)


def cells_section(metric: Metric) -> None:
    """Every finished cell as a table with a link to open it in the Explorer (the map's click, without a mouse)."""
    shown = current()
    if shown is None or not shown.cells or shown.active:
        return
    spec = shown.spec
    with st.expander(f"Every cell as a table ({len(shown.cells):,} done)"):
        st.dataframe(cells_table(spec, shown.cells, metric), hide_index=True, width="stretch",
                     column_config={"Explorer": st.column_config.LinkColumn("Explorer", display_text="open")})


def cells_table(spec: SweepSpec, cells: list[CellResult], metric: Metric) -> pd.DataFrame:
    """One row per finished cell: its values, the metric (median, seeds' range), theory, an Explorer link."""
    rows = []
    for cell in sorted(cells, key=lambda c: c.cell)[:MAX_TABLE]:
        v = cell_value(metric, cell)
        rows.append({**{a.field: _value(cell.values[a.field]) for a in spec.axes},
                     metric.short: v.text(metric) if v.value is not None else MISSING,
                     "seeds": len(cell.measures), "χ₁": num(cell.chi_1), "ξ_c": xi_text(cell),
                     "phase": cell.phase or MISSING, "Explorer": explorer_url(spec, cell.cell)})
    return pd.DataFrame(rows)


def _value(v) -> str:
    """An axis value in the table: 4 significant digits for a float (the link keeps it exactly)."""
    return f"{v:.4g}" if isinstance(v, float) else value_text(v)


# --- share, save, export --------------------------------------------------------------------------
def results_section(store: RunStore | None, form: sweep_form.Form) -> None:
    shown = current()
    st.subheader("Share, save, export")
    url_state.show_share_link(links.sweep_query(form.link), what="sweep")
    if shown is None or shown.active or not shown.cells:
        return
    spec = shown.spec
    c1, c2, c3 = st.columns([4, 1, 1], vertical_alignment="bottom")
    c2.download_button("CSV", csv_text(spec, shown.cells), file_name="sweep.csv", mime="text/csv", width="stretch",
                       key="sweep.csv", icon=":material/download:", help="one row per cell and seed")
    c3.download_button("JSON", json_text(spec, shown.cells, shown.elapsed), file_name="sweep.json", width="stretch",
                       mime="application/json", key="sweep.json", icon=":material/download:",
                       help="every cell: its summary over seeds and each seed's numbers")
    if store is None or shown.saved_id is not None:
        if shown.saved_id is not None:
            c1.caption(f"Saved sweep #{shown.saved_id}; it is listed under Saved sweeps below.")
        return
    with c1.form("sweep.save_form", border=False):
        f1, f2 = st.columns([3, 2], vertical_alignment="bottom")
        name = f1.text_input("Name", value=_label(spec), max_chars=200, key="sweep.save_name")
        if f2.form_submit_button("Save in the Runs store", icon=":material/save:", width="stretch"):
            try:
                sid = store.save_sweep(name, json_text(spec, shown.cells, shown.elapsed), shown.query,
                                       summary={"cells": len(shown.cells), "total": spec.n_cells, "mode": spec.mode,
                                                "axes": [a.field for a in spec.axes], "status": shown.status})
            except StoreError as exc:
                st.error(escape_markdown(str(exc)))
            else:
                shown.saved_id = sid
                keep_saved_in_link(form)  # the address bar names it at once (saved=ID)
                st.success(f"Saved as sweep #{sid}.")


def saved_section(store: RunStore | None) -> None:
    if store is None:
        return
    try:
        saved = store.list_sweeps()
    except StoreError as exc:
        st.error(escape_markdown(str(exc)))
        return
    st.subheader("Saved sweeps")
    if not saved:
        st.caption("None yet: run a sweep and save it.")
        return
    names = {s.id: f"#{s.id} {s.name} ({s.summary.get('cells', '?')} of {s.summary.get('total', '?')} cells)"
             for s in saved}
    c1, c2, c3 = st.columns([4, 1, 1])
    pick = c1.selectbox("Saved sweep", list(names), format_func=names.get, key="sweep.saved_pick",
                        label_visibility="collapsed")
    c2.button("Open", key="sweep.saved_open", on_click=_open_saved, args=(store, pick), icon=":material/folder_open:")
    if c3.button("Delete", key="sweep.saved_delete", icon=":material/delete:"):
        try:
            store.delete_sweep(pick)
        except StoreError as exc:
            st.error(escape_markdown(str(exc)))
        else:
            st.rerun()
    for message in st.session_state.pop("sweep.saved_errors", []):
        st.error(escape_markdown(message))


def _open_saved(store: RunStore, sweep_id: int) -> None:
    """Reopen a saved sweep: its cells on the map, its settings in the widgets (a callback: before they are drawn)."""
    message = open_saved(store, sweep_id)
    if message:
        st.session_state["sweep.saved_errors"] = [message]


def open_saved(store: RunStore, sweep_id: int) -> str:
    try:
        row, text = store.load_sweep(sweep_id)
        result = result_from_json(text)
    except (StoreError, SweepResultError) as exc:
        return f"Saved sweep #{sweep_id} cannot be opened: {exc}"
    link = links.parse_sweep(row.query)
    sweep_form.load(link)
    query = links.sweep_query(link)
    st.session_state[sweep_form.URL] = query
    st.query_params.from_dict({**query, SAVED_KEY: str(row.id)})
    st.session_state[SHOWN] = Shown(result.spec, query, saved_id=row.id, cells=list(result.cells), status="saved",
                                    done=len(result.cells), total=result.spec.n_cells, elapsed=result.seconds)
    st.session_state.pop(CLICKED, None)
    return ""


def open_saved_from_link(store: RunStore | None) -> None:
    """?saved=ID in the address bar opens that saved sweep (once per arrival)."""
    text = str(st.query_params.get(SAVED_KEY, ""))
    shown = current()
    if not text or store is None or (shown is not None and str(shown.saved_id) == text):
        return
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        st.warning(f"There is no saved sweep {escape_markdown(text, 40)}.", icon=":material/link_off:")
        return
    message = open_saved(store, int(text))
    if message:
        st.warning(escape_markdown(message), icon=":material/link_off:")


def keep_saved_in_link(form: sweep_form.Form) -> None:
    """While the page shows a saved sweep that the widgets still describe, the link names it (saved=ID)."""
    shown = current()
    query = links.sweep_query(form.link)
    if shown is not None and shown.saved_id is not None and shown.query == query:
        url_state.write({**query, SAVED_KEY: str(shown.saved_id)})
    elif SAVED_KEY in st.query_params:
        url_state.write(query)

