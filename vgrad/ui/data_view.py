"""Data in the pages: the data set picker's words, and a user's own CSV file (no TensorFlow).

    dataset_label("iris")              # 'iris: iris flowers: 4 measurements, 3 species'
    fixed_fields("digits")             # {"n_features": 64, "n_classes": 10}: what the picker sets
    table = csv_upload(client, key)    # upload, target, missing values, preview, summary -> the stored table
    missing_table_notice(client, config)   # a link whose table is not on this server says so

The file is parsed here first (vgrad.csvdata: a preview and a summary before anything trains), then
sent to the training service, which parses it again and stores it once by content hash with its
own limits; a run names it by that hash (RunConfig data_id), so a shared link opens the same data.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from vgrad import csvdata, datasets
from vgrad.config import FIELDS, RunConfig
from vgrad.service.client import BackendClient, BackendError
from vgrad.text import escape_markdown

CSV = "csv"


def dataset_label(name: str) -> str:
    """The picker's line for a data set: its name and what it is."""
    if name == CSV:
        return "csv: your own table (upload a CSV file below)"
    spec = datasets.DATASETS.get(name)
    return f"{name}: {spec.description}" if spec else name


def fixed_fields(name: str) -> dict[str, int]:
    """The fields a data set fixes, and n_samples for a bundled table (all its rows)."""
    spec = datasets.DATASETS.get(name)
    if spec is None:
        return {}
    out = {}
    if spec.n_features is not None:
        out["n_features"] = spec.n_features
    if spec.task == "regression":
        out["n_classes"] = 0
    elif spec.n_classes is not None:
        out["n_classes"] = spec.n_classes
    if spec.n_rows is not None:
        out["n_samples"] = min(spec.n_rows, int(FIELDS["n_samples"].high))
    return out


@dataclass(frozen=True)
class UsedTable:
    """A table stored by the service, with the choices it was parsed with."""

    data_id: str
    name: str
    target: str
    missing: str
    n_features: int
    n_classes: int  # 0: regression
    n_rows: int

    def fields(self) -> dict:
        """The RunConfig fields that train on it."""
        return {"dataset": CSV, "data_id": self.data_id, "target": self.target, "missing": self.missing,
                "n_features": self.n_features, "n_classes": self.n_classes,
                "n_samples": max(20, min(self.n_rows, int(FIELDS["n_samples"].high)))}


def csv_upload(client: BackendClient | None, key: str, client_id: str = "") -> UsedTable | None:
    """The upload widgets: a file, its target column and missing-value rule, a preview and a summary, and
    "Use this table" (sends it to the service). Returns the stored table once used, else None."""
    uploaded = st.file_uploader("CSV file (header row first)", type=["csv", "txt", "tsv"], key=f"{key}.file",
                                help="numeric columns are used as they are, text columns one-hot encoded; "
                                     "the target decides classification or regression")
    if uploaded is None:
        return None
    raw = uploaded.getvalue()
    try:
        columns = csvdata.csv_columns(raw)
    except csvdata.CsvError as exc:
        st.error(escape_markdown(str(exc)))
        return None
    target = st.selectbox("Target column", columns, index=len(columns) - 1, key=f"{key}.target",
                          help="what the network predicts (default: the last column)")
    missing = st.radio("Rows with missing cells", ("drop", "impute"), horizontal=True, key=f"{key}.missing",
                       help="impute: the median of a numeric column, the most frequent value of a text one")
    try:
        table = csvdata.parse_csv(raw, target=target, missing=missing)
    except csvdata.CsvError as exc:
        st.error(escape_markdown(str(exc)))
        return None
    show_summary(table)
    if not st.button("Use this table", key=f"{key}.use", type="primary", disabled=client is None,
                     icon=":material/upload:"):
        return st.session_state.get(f"{key}.used")
    try:
        meta = client.upload_dataset(raw, uploaded.name, client_id, target)
    except BackendError as exc:
        st.error(f"The service did not take the file: {escape_markdown(str(exc))}")
        return None
    classes = 0 if table.task == "regression" else len(table.class_names)
    used = UsedTable(meta["id"], uploaded.name, target, missing, table.n_features, classes, table.n_rows)
    st.session_state[f"{key}.used"] = used
    return used


def show_summary(table: csvdata.Table) -> None:
    """Rows, features, the task and the classes with their counts, what was dropped, and the first rows."""
    s = table.summary()
    task = {"binary": "two classes", "multiclass": f"{s.get('classes')} classes",
            "regression": "regression (a number to predict)"}[table.task]
    lines = [f"**{s['rows']} rows, {s['features']} features**: {task}."]
    if table.task == "regression":
        lines.append(f"Target {escape_markdown(table.target_name, 60)}: from {s['target_min']:.4g} to "
                     f"{s['target_max']:.4g}, mean {s['target_mean']:.4g}.")
    else:
        counts = ", ".join(f"{escape_markdown(k, 30)} {v}" for k, v in list(table.class_counts.items())[:12])
        lines.append(f"Classes of {escape_markdown(table.target_name, 60)}: {counts}"
                     + (" …" if len(table.class_counts) > 12 else "") + ".")
    if table.rows_dropped or table.cells_imputed:
        lines.append(f"{table.rows_dropped} rows with missing values dropped, {table.cells_imputed} cells imputed.")
    for note in table.notes[:5]:
        lines.append(escape_markdown(note, 300))
    st.markdown("  \n".join(lines))
    st.dataframe(table.preview, hide_index=True, height=180)


def missing_table_notice(client: BackendClient | None, config: RunConfig | None) -> bool:
    """For a dataset=csv config: True if the service has its table; else a sentence saying it does not
    (a shared link from another server) and False."""
    if config is None or config.dataset != CSV or client is None:
        return True
    try:
        client.dataset(config.data_id)
        return True
    except BackendError as exc:
        if exc.status != 404:
            return True  # the service is busy or away: the run's own submit will say what is wrong
    st.warning(f"This link trains on an uploaded table (id {config.data_id[:12]}…) that is not on this server. "
               "Upload the same CSV file in the sidebar (Data → csv) to train on it.", icon=":material/upload_file:")
    return False
