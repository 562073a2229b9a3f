"""A user's CSV file -> a clean numeric Table, or a CsvError of one plain sentence; never a traceback.

    >>> from vgrad.csvdata import csv_columns, parse_csv
    >>> raw = b"size;colour;kind\\n1,5;red;a\\n2,0;blue;b\\n1,7;red;a\\n2,2;blue;b\\n"
    >>> table = parse_csv(raw)
    >>> table.x.shape, table.feature_names, table.task, table.class_names
    ((4, 3), ('size', 'colour=blue', 'colour=red'), 'binary', ('a', 'b'))
    >>> table.y.tolist(), table.delimiter, table.notes[0]
    ([0, 1, 0, 1], ';', "Decimal commas were read as decimal points (1,5 = 1.5) in 'size'.")
    >>> csv_columns(raw)             # the names `target=` takes, from the header alone (for a picker)
    ('size', 'colour', 'kind')

The rules, in the order they apply:
- Size: a file over `limits.max_bytes` is refused (both sizes in the message) before anything else;
  `read_limited` reads an upload in chunks and stops as soon as the limit is passed.
- Binary: known magic numbers (PDF, zip/xlsx, PNG, gzip, ...), NUL bytes, or over 1% control
  characters -> "this looks like a binary file (...), not CSV text".
- Encoding: a BOM (UTF-8, UTF-16, UTF-32) decides; else UTF-16 without BOM when every other byte is NUL;
  else UTF-8, then Windows-1252, then Latin-1 (which always decodes), with a note when not UTF-8.
- Size again, cheaply: more data lines than `max_rows` (confirmed by counting CSV records) or more header
  fields than `max_columns` is refused with the number, before any table is built.
- Delimiter: Excel's `sep=;` first line if there is one; else the one of `, ; TAB |` that splits the first
  50 records into the most consistent number (> 1) of fields; ties go in that order; a one-column file
  gets ','. Quotes follow RFC 4180 (doubled quotes, delimiters and newlines inside quotes).
- Header: the first row, always. Names are stripped, control characters become spaces, names are cut to
  60 characters; an empty name becomes `column_<position>`, a repeated one gets `_2`, `_3`... (noted).
  Rows shorter than the header are padded with empty cells (noted); a row with extra non-empty fields
  is refused (a wrong delimiter or a stray quote).
- Missing: empty cells, NA, N/A, NaN, null, None, nil, ?, Excel's #N/A and #DIV/0! family, inf,
  -inf, infinity, and numbers beyond float32 (|x| > 3.4e38, e.g. 1e400), any case.
- Numbers: ASCII decimal notation only (`-1.5e3`, `.5`, `7.`); with `;`, TAB or `|` as delimiter a decimal
  comma (`1,5`) counts too. Anything else is text ("1_000", "²", "٣", "=1+2" included: never evaluated).
- Target: `target` (a header name), default the last column. Rows without a target are always dropped.
  Text target -> classification, classes sorted as strings. Numeric target -> classification when every
  value is a whole number, there are at most 20 distinct values, and at most half as many as rows
  (classes sorted by value); otherwise regression (float32, not standardised). One class (or a constant
  regression target) is refused; so is a target of more than 100 classes. Labels are 0..k-1.
- Features: every other column. A column whose non-missing cells are all numbers is used as it is; any
  other is categorical and one-hot encoded (`name=value`, values sorted), unless it has more than
  `max_categories` values, then it is dropped (noted). An all-missing column is dropped (noted). Constant
  columns are kept (noted). No usable feature, or more than `max_columns` after encoding -> CsvError.
- missing="drop" drops every row with a missing feature; "impute" fills numbers with the column median
  and categories with the most frequent value (ties: the first in sorted order). At least 2 rows must stay.
- standardize=True: every feature column to mean 0, std 1 (std 0 -> 1), computed over the kept rows.

Display: `Table.preview` holds the first rows as plain strings (control characters -> spaces, cells cut to
100 characters, `safe_cell` applied so a spreadsheet opening an export of it evaluates nothing); the UI
shows it with st.dataframe, which renders no markup. Names in `feature_names`, `notes` and error messages
are plain text, length-capped, without control characters: escape them before st.markdown, and pass
anything written to a CSV export through `safe_cell`.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd

from vgrad import settings

DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}
MISSING_WORDS = frozenset({
    "", "na", "n/a", "nan", "null", "none", "nil", "?", "#n/a", "#na", "#value!", "#div/0!", "#num!",
    "#ref!", "#name?", "#null!", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity",
})
MAX_CLASSES = 100  # a classification target with more classes is refused
FEW_VALUES = 20  # a whole-number target with at most this many values (and <= rows / 2) is classes
MIN_ROWS = 2
NAME_CHARS = 60
CELL_CHARS = 100
PREVIEW_ROWS = 10
SNIFF_RECORDS = 50
FLOAT32_MAX = float(np.finfo(np.float32).max)
CHUNK = 1 << 20

NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
COMMA_NUMBER = re.compile(r"[+-]?[0-9]+,[0-9]+(?:[eE][+-]?[0-9]+)?")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # C0 (but tab, LF, CR), DEL and C1
BINARY_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")  # frequent in binary data, rare in text
SEP_LINE = re.compile(r"sep=([,;\t|])[ \t]*(?:\r\n|\n|\r)", re.IGNORECASE)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
BINARY_MAGIC = (
    (b"%PDF-", "a PDF document"), (b"PK\x03\x04", "a zip archive, such as an Excel .xlsx workbook"),
    (b"PK\x05\x06", "an empty zip archive"), (b"\x89PNG", "a PNG image"), (b"\x1f\x8b", "a gzip archive"),
    (b"GIF87a", "a GIF image"), (b"GIF89a", "a GIF image"), (b"\xff\xd8\xff", "a JPEG image"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel .xls or Word document"),
    (b"SQLite format 3\x00", "an SQLite database"), (b"\x7fELF", "a program"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"), (b"\xfd7zXZ\x00", "an xz archive"),
    (b"BZh91AY&SY", "a bzip2 archive"), (b"\x93NUMPY", "a NumPy array file"),
)
BOMS = (  # longest first: the UTF-32 LE BOM starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"), (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"), (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)
Task = Literal["binary", "multiclass", "regression"]


class CsvError(ValueError):
    """A file parse_csv cannot use; the message is one plain sentence for people."""


@dataclass(frozen=True)
class CsvLimits:
    """Caps on an uploaded file; the defaults come from vgrad.settings (the environment) when created."""

    max_bytes: int = field(default_factory=settings.max_upload_bytes)
    max_rows: int = field(default_factory=settings.max_rows)
    max_columns: int = field(default_factory=settings.max_columns)


@dataclass(frozen=True, eq=False)
class Table:
    """A clean numeric table made from a CSV file (arrays are read-only)."""

    x: np.ndarray  # float32 [n_rows, n_features]
    y: np.ndarray  # int64 labels 0..k-1, or float32 targets (regression)
    feature_names: tuple[str, ...]  # after one-hot encoding (`colour=red`)
    target_name: str
    task: Task
    class_names: tuple[str, ...]  # () for regression
    class_counts: dict[str, int]  # {} for regression
    n_rows: int
    rows_dropped: int
    cells_imputed: int
    notes: tuple[str, ...]
    preview: pd.DataFrame  # the file's first rows as (display-safe) strings, after renaming
    content_hash: str  # sha256 hex of the raw bytes
    encoding: str
    delimiter: str
    columns: tuple[str, ...] = ()  # every column of the file, renamed (what `target=` takes)
    columns_dropped: tuple[str, ...] = ()

    @property
    def n_features(self) -> int:
        return self.x.shape[1]

    def summary(self) -> dict[str, Any]:
        """Rows, features and the classes with their counts, or the target's min / max / mean."""
        out: dict[str, Any] = {"rows": self.n_rows, "features": self.n_features, "task": self.task,
                               "target": self.target_name, "rows_dropped": self.rows_dropped,
                               "cells_imputed": self.cells_imputed}
        if self.task == "regression":
            y = self.y.astype(np.float64)
            out.update(target_min=float(y.min()), target_max=float(y.max()), target_mean=float(y.mean()))
        else:
            out.update(classes=len(self.class_names), class_counts=dict(self.class_counts))
        return out


# --- text for people -------------------------------------------------------------
def safe_cell(text: Any) -> str:
    """`text` made safe for a spreadsheet: a formula start (= + - @ tab CR LF) gets a leading `'`.

    Plain numbers such as -1.5 or +3 are left alone.
    """
    text = str(text)
    start = text.lstrip(" ")[:1]
    if start and start in FORMULA_START and not NUMBER.fullmatch(text.strip()):
        return "'" + text
    return text


def _plain(text: str, limit: int) -> str:
    """Control characters -> spaces, stripped, cut to `limit` characters."""
    text = CONTROL.sub(" ", text.replace("\n", " ").replace("\r", " ").replace("\t", " ")).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _q(text: str) -> str:
    """A name or value quoted for a message."""
    return "'" + _plain(text, 40) + "'"


def _listed(names: list[str], most: int = 5) -> str:
    shown = ", ".join(_q(n) for n in names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _size(n: int) -> str:
    """'3 MB (3,145,728 bytes)', '2.5 KB (2,560 bytes)', '12 bytes'."""
    for unit, scale in (("MB", 2**20), ("KB", 2**10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit} ({n:,} bytes)"
    return _plural(n, "byte")


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


# --- reading ----------------------------------------------------------------------
def read_limited(fileobj: Any, max_bytes: int | None = None) -> bytes:
    """The bytes of a binary file object (or an iterable of byte chunks), read in 1 MB chunks.

    Raises CsvError as soon as more than `max_bytes` (default: VGRAD_MAX_UPLOAD_MB) have come in, or
    before reading when the object knows its size (`.size`, or seekable). Note: a Streamlit
    UploadedFile is already in memory (server.maxUploadSize caps it); this is the second guard.
    """
    limit = settings.max_upload_bytes() if max_bytes is None else max_bytes
    size = _known_size(fileobj)
    if size is not None and size > limit:
        raise CsvError(f"The file is {_size(size)}, over the {_size(limit)} limit.")
    if hasattr(fileobj, "read"):
        chunks: Iterable[Any] = iter(lambda: fileobj.read(CHUNK), b"")
    else:
        chunks = fileobj
    parts, total = [], 0
    for chunk in chunks:
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise TypeError("read_limited needs a binary file (bytes chunks), not text")
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            raise CsvError(f"The file is larger than the {_size(limit)} limit.")
        parts.append(bytes(chunk))
    return b"".join(parts)


def _known_size(fileobj: Any) -> int | None:
    size = getattr(fileobj, "size", None)
    if isinstance(size, int) and not isinstance(size, bool):
        return size
    try:
        if fileobj.seekable():
            here = fileobj.tell()
            end = fileobj.seek(0, io.SEEK_END)
            fileobj.seek(here)
            return end - here
    except (AttributeError, OSError, ValueError):
        pass
    return None


def _binary_kind(raw: bytes) -> str | None:
    for magic, kind in BINARY_MAGIC:
        if raw.startswith(magic):
            return kind
    return None


def _decode(raw: bytes) -> tuple[str, str]:
    """(text, encoding name for people)."""
    for bom, codec, label in BOMS:
        if raw.startswith(bom):
            try:
                return raw[len(bom):].decode(codec), label
            except UnicodeDecodeError:
                raise CsvError(f"The file starts with a {label} byte-order mark but is not {label} text.") from None
    kind = _binary_kind(raw)
    if kind:
        raise CsvError(f"This looks like a binary file ({kind}), not CSV text.")
    if b"\x00" in raw:
        sample = raw[:4096]
        for codec, zeros in (("utf-16-le", sample[1::2]), ("utf-16-be", sample[0::2])):
            if len(raw) % 2 == 0 and zeros and zeros.count(0) == len(zeros):
                try:
                    return raw.decode(codec), "UTF-16"
                except UnicodeDecodeError:
                    break
        raise CsvError("This looks like a binary file (it contains NUL bytes), not CSV text.")
    for codec, label in (("utf-8", "UTF-8"), ("cp1252", "Windows-1252")):
        try:
            return raw.decode(codec), label
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1"), "Latin-1"


def _records(text: str, delimiter: str) -> Iterable[list[str]]:
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)


def _sniff(text: str) -> str:
    """The delimiter that splits the first records into the most consistent field count (> 1)."""
    sample = text[:65536]
    if len(sample) < len(text):  # the last record may be cut: leave it out
        sample = sample[: max(sample.rfind("\n"), sample.rfind("\r")) + 1] or sample
    best, best_key = ",", (False, 0.0, 0)
    for delimiter in DELIMITERS:
        try:
            counts = [len(r) for r in itertools.islice(_records(sample, delimiter), SNIFF_RECORDS * 2) if r]
        except csv.Error:
            continue
        counts = counts[:SNIFF_RECORDS]
        if not counts:
            continue
        mode, hits = Counter(counts).most_common(1)[0]
        key = (mode > 1, hits / len(counts), mode)
        if key > best_key:
            best, best_key = delimiter, key
    return best


def _line_count(text: str) -> int:
    newline = "\n" if "\n" in text else "\r"
    return text.count(newline) + (0 if text.endswith(newline) else 1)


def _read_rows(text: str, delimiter: str, limits: CsvLimits) -> tuple[list[str], list[list[str]], int]:
    """(header, data rows padded to the header's width, rows that were padded); checks the limits."""
    data_lines = _line_count(text) - 1
    reader = _records(text, delimiter)
    try:
        header = next((r for r in reader if r), None)
        if header is None:
            raise CsvError("The file has no rows.")
        if len(header) > limits.max_columns:
            raise CsvError(f"The file has {len(header):,} columns, over the limit of {limits.max_columns:,}.")
        if data_lines > limits.max_rows:  # cheap bound; confirm by counting records (quoted cells may hold newlines)
            records = sum(1 for r in reader if r)
            if records > limits.max_rows:
                raise CsvError(f"The file has {records:,} rows of data, over the limit of {limits.max_rows:,}.")
            reader = _records(text, delimiter)
            next(r for r in reader if r)
        width, rows, padded = len(header), [], 0
        for row in reader:
            if not row:
                continue
            if len(row) > width:
                if any(cell.strip() for cell in row[width:]):
                    raise CsvError(f"Line {reader.line_num:,} has {len(row)} fields but the header has {width} "
                                   f"(is the {DELIMITER_NAMES[delimiter]} the delimiter, are the quotes closed?).")
                row = row[:width]
            elif len(row) < width:
                row = row + [""] * (width - len(row))
                padded += 1
            rows.append(row)
            if len(rows) > limits.max_rows:
                raise CsvError(f"The file has more than the limit of {limits.max_rows:,} rows of data.")
    except csv.Error as exc:
        raise CsvError(f"The file could not be read as CSV near line {reader.line_num:,} ({exc}).") from None
    return header, rows, padded


def _names(header: list[str], notes: list[str]) -> list[str]:
    """Cleaned, capped, unique column names."""
    cleaned = [_plain(h, NAME_CHARS) or f"column_{i + 1}" for i, h in enumerate(header)]
    empty = [c for c, h in zip(cleaned, header, strict=True) if not _plain(h, NAME_CHARS)]
    if empty:
        notes.append(f"Columns without a header name were named {', '.join(empty[:5])}"
                     f"{' and more' if len(empty) > 5 else ''}.")
    names, renamed = _unique(cleaned)
    if renamed:
        notes.append(f"Repeated header names were renamed: {'; '.join(f'{_q(a)} to {_q(b)}' for a, b in renamed[:5])}"
                     f"{' and more' if len(renamed) > 5 else ''}.")
    return names


def _unique(names: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    seen, out, renamed = set(names), [], []
    used: set[str] = set()
    for name in names:
        if name in used:
            k = 2
            while (new := _suffixed(name, k)) in seen or new in used:
                k += 1
            renamed.append((name, new))
            name = new
        used.add(name)
        out.append(name)
    return out, renamed


def _suffixed(name: str, k: int) -> str:
    """`name_k`, cut so that it stays within NAME_CHARS."""
    suffix = f"_{k}"
    return name[: max(1, NAME_CHARS - len(suffix))] + suffix


# --- columns ----------------------------------------------------------------------
@dataclass
class _Column:
    """One column read as numbers (`numbers`, NaN where missing) or as text (`texts`, None where missing)."""

    name: str
    missing: np.ndarray  # bool [n]
    numbers: np.ndarray | None = None
    texts: list[str | None] | None = None
    first_text: str = ""  # the first cell that is not a number
    decimal_comma: bool = False
    out_of_range: int = 0  # number cells beyond float32 (count as missing)

    @cached_property
    def categories(self) -> list[str]:
        return sorted({t for t in self.texts if t is not None}) if self.texts is not None else []


def _read_column(name: str, cells: list[str], decimal_comma: bool) -> _Column:
    values: dict[str, float | None] = {}  # unique cell -> number (NaN: missing) or None: text
    too_big: set[str] = set()
    first_text, comma = "", False
    for cell in dict.fromkeys(cells):
        s = cell.strip()
        if s.lower() in MISSING_WORDS:
            values[cell] = math.nan
            continue
        if NUMBER.fullmatch(s):
            v = float(s)
        elif decimal_comma and COMMA_NUMBER.fullmatch(s):
            v, comma = float(s.replace(",", ".")), True
        else:
            values[cell] = None
            first_text = first_text or s
            continue
        if not abs(v) <= FLOAT32_MAX:
            v = math.nan
            too_big.add(cell)
        values[cell] = v
    if first_text:
        texts = [None if values[c] is not None and math.isnan(values[c]) and c not in too_big else c.strip()
                 for c in cells]
        return _Column(name, np.array([t is None for t in texts], dtype=bool), texts=texts, first_text=first_text)
    numbers = np.array([values[c] for c in cells], dtype=np.float64)
    out_of_range = sum(1 for c in cells if c in too_big) if too_big else 0
    return _Column(name, np.isnan(numbers), numbers=numbers, decimal_comma=comma, out_of_range=out_of_range)


def _take(col: _Column, keep: np.ndarray) -> _Column:
    idx = np.flatnonzero(keep)
    texts = None if col.texts is None else [col.texts[i] for i in idx]
    numbers = None if col.numbers is None else col.numbers[idx]
    return _Column(col.name, col.missing[idx], numbers, texts, col.first_text, col.decimal_comma, col.out_of_range)


def _fill(col: _Column) -> tuple[_Column, int]:
    """Missing cells imputed: the median (numbers) or the most frequent value (texts)."""
    n_missing = int(col.missing.sum())
    if not n_missing:
        return col, 0
    if col.numbers is not None:
        numbers = col.numbers.copy()
        numbers[col.missing] = float(np.median(numbers[~col.missing]))
        return _Column(col.name, np.zeros_like(col.missing), numbers=numbers), n_missing
    counts = Counter(t for t in col.texts if t is not None)
    top = min(counts, key=lambda t: (-counts[t], t))
    return _Column(col.name, np.zeros_like(col.missing), texts=[top if t is None else t for t in col.texts],
                   first_text=col.first_text), n_missing


def _encode(col: _Column) -> tuple[np.ndarray, list[str]]:
    """[n, k] float64 and the feature names: the numbers, or one-hot columns `name=value`."""
    if col.numbers is not None:
        return col.numbers[:, None], [col.name]
    categories = col.categories
    index = {c: i for i, c in enumerate(categories)}
    out = np.zeros((len(col.texts), len(categories)))
    out[np.arange(len(col.texts)), [index[t] for t in col.texts]] = 1.0
    return out, [f"{col.name}={_plain(c, NAME_CHARS)}" for c in categories]


# --- the target -------------------------------------------------------------------
def _target(col: _Column, notes: list[str]) -> tuple[np.ndarray, Task, tuple[str, ...]]:
    """(y, task, class names) from the target column of the kept rows."""
    name = _q(col.name)
    if col.numbers is not None:
        values = col.numbers
        distinct = np.unique(values)
        whole = bool(np.all(values == np.round(values)) and np.all(np.abs(values) <= 2**53))
        if whole and len(distinct) <= FEW_VALUES and len(distinct) <= len(values) / 2:
            if len(distinct) < 2:
                raise CsvError(f"The target column {name} needs at least two classes; every row has {distinct[0]:g}.")
            notes.append(f"The target {name} has {len(distinct)} whole-number values, so each is a class.")
            labels = np.searchsorted(distinct, values)
            return labels.astype(np.int64), _task(len(distinct)), tuple(str(int(v)) for v in distinct)
        if len(distinct) < 2:
            raise CsvError(f"The target column {name} has the same value ({distinct[0]:g}) in every row, "
                           f"so there is nothing to predict.")
        notes.append(f"The target {name} is a number with {len(distinct):,} different values, so this is a "
                     f"regression.")
        return values.astype(np.float32), "regression", ()
    classes = col.categories
    if len(classes) < 2:
        raise CsvError(f"The target column {name} needs at least two classes; every row has {_q(classes[0])}.")
    if len(classes) > MAX_CLASSES:
        raise CsvError(f"The target column {name} has {len(classes):,} different values; a classification "
                       f"target can have at most {MAX_CLASSES} classes (choose another target column).")
    index = {c: i for i, c in enumerate(classes)}
    shown, _ = _unique([_plain(c, NAME_CHARS) for c in classes])
    return np.array([index[t] for t in col.texts], dtype=np.int64), _task(len(classes)), tuple(shown)


def _task(k: int) -> Task:
    return "binary" if k == 2 else "multiclass"


# --- parse_csv ------------------------------------------------------------------
def parse_csv(raw: bytes, *, target: str | None = None, missing: Literal["drop", "impute"] = "drop",
              standardize: bool = False, max_categories: int = 20, limits: CsvLimits | None = None) -> Table:
    """The numeric Table in a CSV file's bytes; CsvError (one sentence) for a file it cannot use."""
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise TypeError("parse_csv needs the file's bytes")
    if missing not in ("drop", "impute"):
        raise ValueError(f"missing must be 'drop' or 'impute', got {missing!r}")
    if isinstance(max_categories, bool) or not isinstance(max_categories, int) or max_categories < 1:
        raise ValueError(f"max_categories must be a positive integer, got {max_categories!r}")
    raw = bytes(raw)
    limits = limits or CsvLimits()
    notes: list[str] = []
    text, encoding, delimiter = _open(raw, limits, notes)
    header, rows, padded = _read_rows(text, delimiter, limits)
    names = _names(header, notes)
    if all(NUMBER.fullmatch(h.strip()) for h in header):
        notes.append("The first row is all numbers, but it is read as the header (a file must start with one).")
    if not rows:
        raise CsvError("The file has a header but no rows of data.")
    if padded:
        notes.append(f"{_plural(padded, 'row')} had fewer fields than the header; the missing cells count as empty.")
    preview = pd.DataFrame([[safe_cell(_plain(c, CELL_CHARS)) for c in r] for r in rows[:PREVIEW_ROWS]],
                           columns=[safe_cell(n) for n in names])

    t = _target_index(target, header, names)
    comma_ok = delimiter != ","
    target_col = _read_column(names[t], [r[t] for r in rows], comma_ok)
    has_target = ~target_col.missing
    if not has_target.any():
        raise CsvError(f"The target column {_q(names[t])} has no values.")
    if not has_target.all():
        rows = [r for r, ok in zip(rows, has_target, strict=True) if ok]
        target_col = _take(target_col, has_target)
    rows_dropped = int((~has_target).sum())

    features, dropped, reasons = _features(rows, names, t, comma_ok, max_categories)
    if not features:
        if len(names) == 1:
            raise CsvError(f"The file has only one column ({_q(names[0])}); it needs at least one feature "
                           f"column besides the target.")
        raise CsvError(f"No column can be used as a feature: {'; '.join(reasons[:5])}.")
    notes += [f"Column {r}, so it was dropped." for r in reasons[:10]]
    width = sum(len(c.categories) if c.texts is not None else 1 for c in features)
    if width > limits.max_columns:
        raise CsvError(f"One-hot encoding gives {width:,} feature columns, over the limit of {limits.max_columns:,}.")
    out_of_range = sum(c.out_of_range for c in features) + target_col.out_of_range
    if out_of_range:
        notes.append(f"{_plural(out_of_range, 'cell')} held numbers beyond ±3.4e38 and count as missing.")
    commas = [c.name for c in [*features, target_col] if c.decimal_comma]
    if commas:
        notes.insert(0, f"Decimal commas were read as decimal points (1,5 = 1.5) in {_listed(commas)}.")

    cells_imputed = 0
    any_missing = np.zeros(len(rows), dtype=bool)
    for c in features:
        any_missing |= c.missing
    if missing == "drop" and any_missing.any():
        keep = ~any_missing
        rows_dropped += int(any_missing.sum())
        features, target_col = [_take(c, keep) for c in features], _take(target_col, keep)
    elif missing == "impute":
        filled = [_fill(c) for c in features]
        features, cells_imputed = [c for c, _ in filled], sum(k for _, k in filled)
    n = len(target_col.missing)
    if rows_dropped:
        notes.append(f"{_plural(rows_dropped, 'row')} with a missing value {'was' if rows_dropped == 1 else 'were'} "
                     f"dropped.")
    if cells_imputed:
        notes.append(f"{_plural(cells_imputed, 'missing cell')} {'was' if cells_imputed == 1 else 'were'} filled "
                     f"in (median or most frequent value).")
    if n < MIN_ROWS and not rows_dropped:
        raise CsvError(f"The file has only {_plural(n, 'row')} of data; at least {MIN_ROWS} are needed.")
    if n < MIN_ROWS:
        hint = " (filling in missing values instead would keep more)" if missing == "drop" else ""
        raise CsvError(f"Only {_plural(n, 'row')} {'is' if n == 1 else 'are'} left after dropping "
                       f"{_plural(rows_dropped, 'row')} with missing values; at least {MIN_ROWS} are needed{hint}.")

    y, task, class_names = _target(target_col, notes)
    blocks = [_encode(c) for c in features]
    x = np.concatenate([b for b, _ in blocks], axis=1)
    feature_names, _ = _unique([name for _, block_names in blocks for name in block_names])
    constant = [name for name, col in zip(feature_names, x.T, strict=True) if np.all(col == col[0])]
    if constant:
        notes.append(f"{_listed(constant)} {'has' if len(constant) == 1 else 'have'} the same value in every row "
                     f"(kept, though {'it carries' if len(constant) == 1 else 'they carry'} no information).")
    if standardize:
        std = x.std(axis=0)
        std[std == 0] = 1.0
        x = (x - x.mean(axis=0)) / std
    x = x.astype(np.float32)
    x.flags.writeable = y.flags.writeable = False
    counts = np.bincount(y, minlength=len(class_names)) if task != "regression" else []
    return Table(
        x=x, y=y, feature_names=tuple(feature_names), target_name=names[t], task=task, class_names=class_names,
        class_counts={c: int(k) for c, k in zip(class_names, counts, strict=False)}, n_rows=n,
        rows_dropped=rows_dropped, cells_imputed=cells_imputed, notes=tuple(notes), preview=preview,
        content_hash=hashlib.sha256(raw).hexdigest(), encoding=encoding, delimiter=delimiter,
        columns=tuple(names), columns_dropped=tuple(dropped),
    )


def csv_columns(raw: bytes, *, limits: CsvLimits | None = None) -> tuple[str, ...]:
    """The column names of a CSV file as parse_csv names them (what `target=` takes), reading only the header.

    For a picker of the target column; CsvError as parse_csv for a file it cannot read.
    """
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise TypeError("csv_columns needs the file's bytes")
    limits = limits or CsvLimits()
    text, _, delimiter = _open(bytes(raw), limits, [])
    reader = _records(text, delimiter)
    try:
        header = next((r for r in reader if r), None)
    except csv.Error as exc:
        raise CsvError(f"The file could not be read as CSV near line {reader.line_num:,} ({exc}).") from None
    if header is None:
        raise CsvError("The file has no rows.")
    if len(header) > limits.max_columns:
        raise CsvError(f"The file has {len(header):,} columns, over the limit of {limits.max_columns:,}.")
    return tuple(_names(header, []))


def _open(raw: bytes, limits: CsvLimits, notes: list[str]) -> tuple[str, str, str]:
    """(text, encoding, delimiter) of a file that passes the size, emptiness and binary checks."""
    if len(raw) > limits.max_bytes:
        raise CsvError(f"The file is {_size(len(raw))}, over the {_size(limits.max_bytes)} limit.")
    if not raw.strip():
        raise CsvError("The file is empty.")
    text, encoding = _decode(raw)
    if not text.strip():
        raise CsvError("The file is empty.")
    sample = text[:65536]
    if len(BINARY_CONTROL.findall(sample)) > max(8, 0.01 * len(sample)):
        raise CsvError("This looks like a binary file (it contains control characters), not CSV text.")
    if encoding != "UTF-8":
        notes.append(f"The file is not UTF-8; it was read as {encoding} text.")
    sep_line = SEP_LINE.match(text)  # Excel's "sep=;" first line names the delimiter
    if sep_line:
        return text[sep_line.end():], encoding, sep_line.group(1)
    return text, encoding, _sniff(text)


def _target_index(target: str | None, header: list[str], names: list[str]) -> int:
    if target is None:
        return len(names) - 1
    for candidates in (names, [h.strip() for h in header]):
        if target in candidates:
            return candidates.index(target)
    raise CsvError(f"There is no column named {_q(target)}; the columns are {_listed(names, 8)}.")


def _features(rows: list[list[str]], names: list[str], t: int, comma_ok: bool,
              max_categories: int) -> tuple[list[_Column], list[str], list[str]]:
    """(usable feature columns, dropped column names, why each was dropped)."""
    features, dropped, reasons = [], [], []
    for i, name in enumerate(names):
        if i == t:
            continue
        col = _read_column(name, [r[i] for r in rows], comma_ok)
        if col.missing.all():
            dropped.append(name)
            reasons.append(f"{_q(name)} is empty")
        elif col.texts is not None and len(col.categories) > max_categories:
            dropped.append(name)
            reasons.append(f"{_q(name)} holds text (such as {_q(col.first_text)}) with {len(col.categories):,} "
                           f"different values, over the cap of {max_categories}")
        else:
            features.append(col)
    return features, dropped, reasons
