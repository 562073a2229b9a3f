"""The Runs page's components: the saved runs, one opened, several compared, import and export.

    store = open_store()             # None (and a message) when the data directory cannot be used
    import_section(store)
    saved = runs_list(store)         # the table and the summary CSV; [] when nothing is saved
    open_tab(store, saved)           # ?run=ID picks the run
    compare_tab(store, saved)

Names are user text: shown escaped in Markdown (vgrad.text.escape_markdown), plain in tables,
escaped by the charts themselves in Plotly labels. No TensorFlow here.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from vgrad import charts
from vgrad.charts.compare import heatmap_grid, layer_profile_overlay, loss_overlay
from vgrad.export.tensorboard import export_zip, safe_dirname
from vgrad.run import Run
from vgrad.service.client import BackendError
from vgrad.store import RunStore, SavedRun, StoreError, parse_run_json
from vgrad.text import escape_markdown, num, orders_short, orders_text
from vgrad.ui import figures

RUN_KEY = "run"
MAX_ID_CHARS = 18


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def open_store() -> RunStore | None:
    try:
        return RunStore()
    except StoreError as exc:
        st.error(escape_markdown(str(exc)))
        return None


def runs_table(saved: list[SavedRun]) -> pd.DataFrame:
    """One row per saved run; cells are plain text (st.dataframe never renders them as HTML)."""
    return pd.DataFrame([{
        "id": r.id, "name": r.name, "status": r.status, "saved": _when(r.created),
        "steps": r.summary.get("steps"), "layers": r.summary.get("layers"),
        "activation": r.summary.get("activation"),
        "attenuation (orders)": orders_short(r.summary.get("attenuation_orders")),
        "loss": num(r.summary.get("loss")), "val acc": num(r.summary.get("val_accuracy")),
    } for r in saved])


def wanted_run(saved: list[SavedRun]) -> int:
    """The run the link asks for (?run=ID), else the newest; a bad id is ignored with a warning."""
    text = str(st.query_params.get(RUN_KEY, ""))
    ids = {r.id for r in saved}
    if text:
        ok = text.isascii() and text.isdigit() and len(text) <= MAX_ID_CHARS
        if ok and int(text) in ids:
            return int(text)
        st.warning(f"There is no saved run #{escape_markdown(text, 40)}; showing the newest one instead.",
                   icon=":material/link_off:")
    return saved[0].id


def import_section(store: RunStore) -> None:
    with st.expander("Import a run JSON exported by vgrad"):
        uploaded = st.file_uploader("Run file (.json)", type=["json"], key="import_file")
        name = st.text_input("Name for the imported run (optional)", key="import_name", max_chars=200)
        if uploaded is not None and st.button("Import", key="import_go"):
            try:
                run = parse_run_json(uploaded.getvalue())
                run_id = store.save(run, name.strip() or f"imported {uploaded.name}"[:200])
            except StoreError as exc:
                st.error(f"Could not import {escape_markdown(uploaded.name)}: {escape_markdown(str(exc))}")
            else:
                st.success(f"Imported as run #{run_id}.")
                st.query_params[RUN_KEY] = str(run_id)
                st.session_state["open_run"] = run_id  # the picker below shows it (it kept its last choice)


def runs_list(store: RunStore) -> list[SavedRun]:
    saved = store.list()
    if not saved:
        st.info("No saved runs yet. Train a run on the Explorer page and save it, or import a run JSON above.")
        return []
    st.dataframe(runs_table(saved), hide_index=True)
    st.download_button("Summary of all runs (CSV)", store.summary_csv, "vgrad-runs.csv", "text/csv")  # made on click
    return saved


def exports(label: str, store: RunStore, run_id: int, run: Run) -> None:
    stem = safe_dirname(label)
    c1, c2, c3 = st.columns(3)
    c1.download_button("JSON (re-importable)", lambda: store.export_json(run_id), f"{stem}.json", "application/json",
                       key=f"dl_json_{run_id}")
    c2.download_button("CSV (step × layer)", lambda: run.steps_frame().to_csv(index=False), f"{stem}.csv",
                       "text/csv", key=f"dl_csv_{run_id}")
    c3.download_button("TensorBoard (zip)", lambda: export_zip([(label, run)]), f"{stem}-tensorboard.zip",
                       "application/zip", key=f"dl_tb_{run_id}",
                       help="Unzip, then `tensorboard --logdir vgrad-tensorboard`")


def open_tab(store: RunStore, saved: list[SavedRun]) -> None:
    by_id = {r.id: r for r in saved}
    first = wanted_run(saved)
    run_id = st.selectbox("Run", list(by_id), index=list(by_id).index(first),
                          format_func=lambda i: by_id[i].label, key="open_run")
    if str(run_id) != st.query_params.get(RUN_KEY):
        st.query_params[RUN_KEY] = str(run_id)
    show_run(store, by_id[run_id])


def loaded(store: RunStore, saved: SavedRun) -> Run:
    """The saved run, read once while the session keeps showing it (a saved run's body never changes;
    reading and validating it again was a tenth of a Runs page run)."""
    return figures.cached("runs.loaded", (str(store.path), saved.id, saved.created), lambda: store.load(saved.id))


def show_run(store: RunStore, saved: SavedRun) -> None:
    try:
        run = loaded(store, saved)
    except StoreError as exc:
        st.error(escape_markdown(str(exc)))
        return
    st.subheader(f"#{saved.id} {escape_markdown(saved.name)}")
    if run.origin.get("kind") == "notebook":
        model = escape_markdown(str(run.origin.get("model") or "unnamed"), 200)
        st.caption(f"A notebook run of an external Keras model, **{model}**, recorded by GradientMonitor; "
                   "its configuration only approximates that model.")
    if saved.note:
        st.caption(escape_markdown(saved.note))
    orders = run.attenuation_orders()
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Status", str(run.status))
    m2.metric("Steps", f"{run.last_step + 1} / {run.total_steps}")
    m3.metric("Attenuation", f"{orders_short(orders)} orders", help=orders_text(orders))
    m4.metric("Val accuracy", num(run.final_metrics()["val_accuracy"]))
    if run.message:
        st.caption(escape_markdown(run.message))
    token = figures.content_token((saved.id, saved.created), run)  # equal saved runs (a class's) share them
    figures.chart("runs_heat", token, lambda: charts.gradient_heatmap(run.steps, run.layers))
    figures.chart("runs_curves", token, lambda: charts.loss_accuracy(run.epochs, run.steps))
    with st.expander("Configuration"):
        st.json(run.config.changed() or {"(defaults)": True})
    exports(saved.name, store, saved.id, run)
    with st.expander("Rename or delete"):
        new = st.text_input("New name", value=saved.name, key=f"rename_{saved.id}", max_chars=200)
        if st.button("Rename", key=f"rename_go_{saved.id}") and new != saved.name:
            try:
                store.rename(saved.id, new)
                st.rerun()
            except StoreError as exc:
                st.error(escape_markdown(str(exc)))
        sure = st.checkbox("Yes, delete this run", key=f"delete_sure_{saved.id}")
        if st.button("Delete", key=f"delete_go_{saved.id}", disabled=not sure):
            store.delete(saved.id)
            st.query_params.pop(RUN_KEY, None)
            st.rerun()


def compare_tab(store: RunStore, saved: list[SavedRun]) -> None:
    by_id = {r.id: r for r in saved}
    comparisons = store.list_comparisons()
    preset_ids: list[int] = []
    if comparisons:
        options = {c.id: c for c in comparisons}
        chosen = st.selectbox("Saved comparisons", [None, *options],
                              format_func=lambda c: "—" if c is None else f"#{c} {options[c].name}",
                              key="open_comparison")
        if chosen is not None:
            preset_ids = [i for i in options[chosen].run_ids if i in by_id]
            if st.button("Delete this comparison (its runs stay)", key="delete_comparison"):
                store.delete_comparison(chosen)
                st.rerun()
    ids = st.multiselect("Runs to compare (two or more)", list(by_id), default=preset_ids,
                         format_func=lambda i: by_id[i].label, key=f"compare_{tuple(preset_ids)}")
    if len(ids) < 2:
        st.caption("Pick two or more saved runs to see them side by side on one colour scale.")
        return
    try:
        runs = [store.load(i) for i in ids]
    except StoreError as exc:
        st.error(escape_markdown(str(exc)))
        return
    labels = [by_id[i].label for i in ids]
    st.plotly_chart(heatmap_grid(runs, labels), key="cmp_heat")
    st.plotly_chart(layer_profile_overlay(runs, labels), key="cmp_profile")
    st.plotly_chart(loss_overlay(runs, labels), key="cmp_loss")
    st.download_button("TensorBoard (zip, one folder per run)",
                       lambda: export_zip([(by_id[i].name, r) for i, r in zip(ids, runs, strict=True)]),
                       "comparison-tensorboard.zip", "application/zip", key="cmp_tb")
    with st.form("save_comparison"):
        name = st.text_input("Save this comparison as", max_chars=200)
        if st.form_submit_button("Save comparison"):
            try:
                cid = store.save_comparison(name, ids)
                st.success(f"Saved comparison #{cid}.")
            except StoreError as exc:
                st.error(escape_markdown(str(exc)))


def sweeps_section(store: RunStore) -> None:
    """The sweeps saved from the Sweep page, each a link that reopens it there."""
    try:
        sweeps = store.list_sweeps()
    except StoreError as exc:
        st.error(escape_markdown(str(exc)))
        return
    if not sweeps:
        return
    with st.expander(f"Saved sweeps ({len(sweeps)})"):
        for sw in sweeps:
            cells = f"{sw.summary.get('cells', '?')} of {sw.summary.get('total', '?')} cells"
            st.markdown(f"[#{sw.id} {escape_markdown(sw.name, 120)}](/sweep?saved={sw.id}) · {cells} · "
                        f"saved {_when(sw.created)}")


def datasets_section(client, saved: list[SavedRun]) -> None:
    """The tables uploaded to the service: which saved runs use them, and deleting the unused ones."""
    if client is None:
        return
    try:
        tables = client.datasets()
    except BackendError:
        return
    if not tables:
        return
    used = {r.summary.get("changed", {}).get("data_id") for r in saved}
    with st.expander(f"Uploaded tables ({len(tables)})"):
        st.dataframe(pd.DataFrame([{
            "name": t["name"], "rows": t["rows"], "columns": len(t["columns"]), "size (kB)": round(t["size"] / 1024, 1),
            "used by saved runs": "yes" if t["id"] in used else "no", "id": t["id"][:12]} for t in tables]),
            hide_index=True)
        unused = [t for t in tables if t["id"] not in used]
        if not unused:
            st.caption("Every uploaded table is used by a saved run.")
            return
        if st.button(f"Delete the {len(unused)} tables no saved run uses", key="datasets.delete",
                     icon=":material/delete:"):
            for t in unused:
                try:
                    client.delete_dataset(t["id"])
                except BackendError as exc:
                    st.error(escape_markdown(str(exc)))
            st.rerun()
