"""Uploaded tables, stored once by content hash under VGRAD_DATA_DIR/datasets/ (no TensorFlow).

    store = UploadStore()                       # settings.data_dir() / "datasets"
    meta = store.save(raw, "iris.csv", client="ui-1")   # parsed first (vgrad.csvdata), limits enforced
    store.meta(meta.id).columns                 # the file's columns (what `target` may name)
    config = with_table(RunConfig(dataset="csv", data_id=meta.id, target="species"), store)
    store.table(config)                         # the Table that config trains on

A file uploaded twice is stored once (its sha256 is its id); the second upload adds its client.
Every limit (file size, rows, columns in vgrad.csvdata; uploads per client and total bytes here)
is enforced on save, whatever the caller checked before. Files are written atomically.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from vgrad import csvdata, settings
from vgrad.config import RunConfig

FOLDER = "datasets"
_ID = re.compile(r"[0-9a-f]{64}")
_LOCK = threading.Lock()


class UploadError(ValueError):
    """An upload refused, or a table that is not here; the message is one sentence for people."""


@dataclass(frozen=True)
class UploadMeta:
    """What is known of a stored table without reading it again."""

    id: str
    name: str  # the file name it was uploaded as (user text: escape it)
    size: int  # bytes
    rows: int
    columns: tuple[str, ...]
    created: float
    clients: tuple[str, ...] = ()
    default_target: str = ""  # the last column
    summary: dict = field(default_factory=dict)  # csvdata.Table.summary() for the default target


class UploadStore:
    """Tables in `<data_dir>/datasets/<sha256>.csv` with `<sha256>.json` beside each."""

    def __init__(self, data_dir: str | Path | None = None):
        self.folder = (Path(data_dir) if data_dir is not None else settings.data_dir()) / FOLDER

    def save(self, raw: bytes, name: str = "upload.csv", client: str = "", target: str = "") -> UploadMeta:
        """Parse with `target` (empty: the last column) to refuse what cannot train, then store once;
        UploadError says why not. Any other column can still be the target of a run."""
        try:
            table = csvdata.parse_csv(raw, target=target or None)
        except csvdata.CsvError as exc:
            raise UploadError(str(exc)) from None
        digest = table.content_hash
        name = (str(name).strip() or "upload.csv")[:120]
        with _LOCK:
            old = self._read_meta(digest)
            if old is not None:
                if client and client not in old.clients:
                    self._check_client(client)
                    old = replace(old, clients=(*old.clients, client))
                    self._write_meta(old)
                return old
            if client:
                self._check_client(client)
            total = sum(m.size for m in self.list())
            if total + len(raw) > settings.max_dataset_bytes():
                raise UploadError(f"the server keeps at most {settings.max_dataset_bytes() / 2**20:.0f} MB of uploaded "
                                  f"tables and has {total / 2**20:.1f} MB; delete unused ones on the Runs page "
                                  "(VGRAD_MAX_DATASET_BYTES)")
            meta = UploadMeta(digest, name, len(raw), table.n_rows + table.rows_dropped, table.columns, time.time(),
                              (client,) if client else (), table.target_name, _plain(table.summary()))
            self.folder.mkdir(parents=True, exist_ok=True)
            _atomic_write(self.folder / f"{digest}.csv", raw)
            self._write_meta(meta)
            return meta

    def meta(self, data_id: str) -> UploadMeta:
        meta = self._read_meta(_checked_id(data_id))
        if meta is None:
            raise UploadError(f"the table {data_id[:12]}… is not on this server: upload the CSV file again")
        return meta

    def raw(self, data_id: str) -> bytes:
        path = self.folder / f"{_checked_id(data_id)}.csv"
        try:
            return path.read_bytes()
        except OSError:
            raise UploadError(f"the table {data_id[:12]}… is not on this server: upload the CSV file again") from None

    def table(self, config: RunConfig) -> csvdata.Table:
        """The table a dataset=csv config trains on (standardised later, on the training split)."""
        try:
            return csvdata.parse_csv(self.raw(config.data_id), target=config.target or None, missing=config.missing)
        except csvdata.CsvError as exc:
            raise UploadError(str(exc)) from None

    def has(self, data_id: str) -> bool:
        return bool(_ID.fullmatch(str(data_id))) and (self.folder / f"{data_id}.json").is_file()

    def list(self) -> list[UploadMeta]:
        """Every stored table, newest first."""
        if not self.folder.is_dir():
            return []
        found = [self._read_meta(p.stem) for p in self.folder.glob("*.json") if _ID.fullmatch(p.stem)]
        return sorted((m for m in found if m is not None), key=lambda m: -m.created)

    def delete(self, data_id: str) -> None:
        data_id = _checked_id(data_id)
        with _LOCK:
            for suffix in (".csv", ".json"):
                try:
                    (self.folder / f"{data_id}{suffix}").unlink()
                except FileNotFoundError:
                    pass

    def _check_client(self, client: str) -> None:
        mine = sum(client in m.clients for m in self.list())
        if mine >= settings.max_datasets_per_client():
            raise UploadError(f"you already have {mine} uploaded tables; the server keeps at most "
                              f"{settings.max_datasets_per_client()} per user (VGRAD_MAX_DATASETS_PER_CLIENT)")

    def _read_meta(self, data_id: str) -> UploadMeta | None:
        try:
            data = json.loads((self.folder / f"{data_id}.json").read_text())
            return UploadMeta(**{**data, "columns": tuple(data["columns"]), "clients": tuple(data["clients"])})
        except (OSError, ValueError, TypeError, KeyError):
            return None

    def _write_meta(self, meta: UploadMeta) -> None:
        _atomic_write(self.folder / f"{meta.id}.json", json.dumps(asdict(meta)).encode("utf-8"))


MIN_ROWS = 20


def with_table(config: RunConfig, store: UploadStore | None = None) -> RunConfig:
    """A dataset=csv config with n_features and n_classes set from its stored table, and n_samples at most
    its rows (a smaller n_samples is a seeded subset). UploadError if the table is not here or too small."""
    if config.dataset != "csv":
        return config
    table = (store or UploadStore()).table(config)
    if table.n_rows < MIN_ROWS:
        raise UploadError(f"the table has {table.n_rows} usable rows; training needs at least {MIN_ROWS}")
    classes = 0 if table.task == "regression" else len(table.class_names)
    return config.with_values(n_features=table.n_features, n_classes=classes,
                              n_samples=min(config.n_samples, table.n_rows))


def _checked_id(data_id: str) -> str:
    if not _ID.fullmatch(str(data_id)):
        raise UploadError(f"not a table id: {str(data_id)[:20]!r} (a 64-character sha256)")
    return str(data_id)


def _plain(summary: dict) -> dict:
    return json.loads(json.dumps(summary, default=str))


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
