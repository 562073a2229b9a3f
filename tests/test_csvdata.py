"""vgrad.csvdata: one test per rule and per hostile kind of file, then a fuzz.

Whatever the bytes, parse_csv returns a clean Table or raises CsvError (one sentence); nothing else.
"""

from __future__ import annotations

import codecs
import hashlib
import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from vgrad import settings as vgrad_settings
from vgrad.csvdata import (
    CHUNK,
    MAX_CLASSES,
    CsvError,
    CsvLimits,
    Table,
    csv_columns,
    parse_csv,
    read_limited,
    safe_cell,
)

FUZZ = settings(max_examples=1000, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def refused(raw: bytes, *words: str, **kwargs) -> str:
    """parse_csv refuses `raw` with one plain sentence containing `words`."""
    with pytest.raises(CsvError) as exc:
        parse_csv(raw, **kwargs)
    text = str(exc.value)
    assert text[0].isupper() and text.endswith(".") and "\n" not in text and "Traceback" not in text, text
    assert text.count(". ") == 0 or "e.g." in text, f"more than one sentence: {text}"
    for word in words:
        assert word in text, f"{word!r} not in {text!r}"
    return text


def check_table(t: Table) -> None:
    """The invariants of every Table parse_csv returns."""
    n, f = t.n_rows, len(t.feature_names)
    assert n >= 2 and f >= 1
    assert t.x.shape == (n, f) and t.x.dtype == np.float32 and np.isfinite(t.x).all()
    assert t.y.shape == (n,)
    assert not t.x.flags.writeable and not t.y.flags.writeable
    if t.task == "regression":
        assert t.y.dtype == np.float32 and np.isfinite(t.y).all()
        assert t.class_names == () and t.class_counts == {}
    else:
        k = len(t.class_names)
        assert t.task == ("binary" if k == 2 else "multiclass") and 2 <= k <= MAX_CLASSES
        assert t.y.dtype == np.int64 and t.y.min() >= 0 and t.y.max() <= k - 1
        assert set(t.y.tolist()) == set(range(k))
        assert list(t.class_counts) == list(t.class_names) and sum(t.class_counts.values()) == n
    assert len(set(t.feature_names)) == f and all(len(name) <= 130 for name in t.feature_names)
    assert all(isinstance(s, str) and s for s in t.notes)
    assert isinstance(t.preview, pd.DataFrame) and len(t.preview) <= 10
    assert all(isinstance(v, str) for v in t.preview.to_numpy().ravel())
    assert t.rows_dropped >= 0 and t.cells_imputed >= 0 and len(t.content_hash) == 64
    assert t.target_name in t.columns and len(t.preview.columns) == len(t.columns)
    summary = t.summary()
    assert summary["rows"] == n and summary["features"] == f


def csv_bytes(text: str, encoding: str = "utf-8") -> bytes:
    return text.encode(encoding)


IRIS_LIKE = "sepal,petal,species\n5.1,1.4,setosa\n7.0,4.7,versicolor\n6.3,6.0,virginica\n4.9,1.4,setosa\n" \
            "6.4,4.5,versicolor\n5.8,5.1,virginica\n"


# --- the happy path ----------------------------------------------------------------
def test_string_class_labels_give_multiclass_with_those_names():
    t = parse_csv(csv_bytes(IRIS_LIKE))
    check_table(t)
    assert t.task == "multiclass" and t.class_names == ("setosa", "versicolor", "virginica")
    assert t.y.tolist() == [0, 1, 2, 0, 1, 2] and t.class_counts == {"setosa": 2, "versicolor": 2, "virginica": 2}
    assert t.feature_names == ("sepal", "petal") and t.target_name == "species"
    assert t.x[0].tolist() == pytest.approx([5.1, 1.4]) and t.encoding == "UTF-8" and t.delimiter == ","
    assert t.summary() == {"rows": 6, "features": 2, "task": "multiclass", "target": "species", "rows_dropped": 0,
                           "cells_imputed": 0, "classes": 3,
                           "class_counts": {"setosa": 2, "versicolor": 2, "virginica": 2}}


def test_content_hash_is_the_sha256_of_the_bytes():
    raw = csv_bytes(IRIS_LIKE)
    assert parse_csv(raw).content_hash == hashlib.sha256(raw).hexdigest() == parse_csv(bytes(raw)).content_hash
    assert parse_csv(raw + b"5.0,1.5,setosa\n").content_hash != parse_csv(raw).content_hash


def test_target_by_name_default_last_and_unknown_name():
    t = parse_csv(csv_bytes(IRIS_LIKE), target="sepal")
    assert t.target_name == "sepal" and t.task == "regression" and t.y.dtype == np.float32
    assert t.feature_names[0] == "petal" and t.feature_names[1].startswith("species=")
    text = refused(csv_bytes(IRIS_LIKE), "no column named 'colour'", "'sepal', 'petal', 'species'", target="colour")
    assert text.startswith("There is")


def test_target_names_a_renamed_duplicate_or_the_raw_header_text():
    raw = b"a,a, y \n1,2,0\n3,4,1\n5,6,0\n7,8,1\n"
    assert parse_csv(raw, target="a_2").target_name == "a_2"
    assert parse_csv(raw, target="y").target_name == "y"


# --- encodings and binaries -------------------------------------------------------
def test_windows_1252_file():
    raw = csv_bytes("café,prix,catégorie\n1,2,é\n3,4,è\n5,6,é\n7,8,è\n", "cp1252")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    t = parse_csv(raw)
    check_table(t)
    assert t.encoding == "Windows-1252" and t.feature_names == ("café", "prix") and t.class_names == ("è", "é")
    assert any("not UTF-8" in n for n in t.notes)


def test_latin_1_file():
    raw = csv_bytes("name,n,y\nJosé,1,a\nZoë,2,b\nJosé,3,a\nZoë,4,b\n", "latin-1") + b"\x81x,5,a\n"
    t = parse_csv(raw)  # 0x81 is not Windows-1252, so this is read as Latin-1
    assert t.encoding == "Latin-1" and "name=José" in t.feature_names


@pytest.mark.parametrize("codec, bom", [("utf-8", codecs.BOM_UTF8), ("utf-16-le", codecs.BOM_UTF16_LE),
                                        ("utf-16-be", codecs.BOM_UTF16_BE), ("utf-32-le", codecs.BOM_UTF32_LE)])
def test_byte_order_marks(codec, bom):
    t = parse_csv(bom + IRIS_LIKE.encode(codec))
    check_table(t)
    assert t.feature_names == ("sepal", "petal") and t.class_names[0] == "setosa"


def test_utf16_without_bom():
    t = parse_csv(IRIS_LIKE.encode("utf-16-le"))
    assert t.encoding == "UTF-16" and t.n_rows == 6


@pytest.mark.parametrize("magic, kind", [
    (b"\x89PNG\r\n\x1a\n", "PNG image"), (b"PK\x03\x04", "zip archive"), (b"%PDF-1.7\n", "PDF"),
    (b"\x1f\x8b\x08", "gzip"), (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "Excel .xls"),
    (b"SQLite format 3\x00", "SQLite"), (b"\xff\xd8\xff\xe0", "JPEG"),
])
def test_binary_file_renamed_csv(magic, kind):
    raw = magic + np.random.default_rng(0).bytes(2000)
    refused(raw, "looks like a binary file", kind, "not CSV text")


def test_random_bytes_and_nul_bytes_and_control_characters():
    refused(np.random.default_rng(1).bytes(5000), "binary file")
    refused(b"a,b\n1,\x00\n2,3\n", "binary file", "NUL")
    refused(b"a,b\n" + b"\x01\x02\x03," * 50 + b"\n", "binary file", "control characters")


def test_broken_utf16_after_a_bom():
    refused(codecs.BOM_UTF16_LE + b"a\x00,\x00\x00\xd8", "UTF-16 byte-order mark")


# --- delimiters, quotes, line endings -----------------------------------------------
@pytest.mark.parametrize("delimiter", [";", "\t", "|", ","])
def test_delimiters_are_sniffed(delimiter):
    t = parse_csv(IRIS_LIKE.replace(",", delimiter).encode())
    assert t.delimiter == delimiter and t.feature_names == ("sepal", "petal") and t.n_rows == 6


def test_semicolon_file_with_decimal_commas():
    t = parse_csv(b"a;b;y\n1,5;2;0\n-2,25;3,0;1\n3;4,5e1;0\n4,0;5;1\n")
    assert t.delimiter == ";" and t.x[:, 0].tolist() == [1.5, -2.25, 3.0, 4.0] and t.x[2, 1] == 45.0
    assert "Decimal commas" in t.notes[0]


def test_excel_sep_line_names_the_delimiter():
    t = parse_csv(b"sep=;\r\na;b;y\r\n1,5;2;x\r\n2;3;z\r\n")
    assert t.delimiter == ";" and t.columns == ("a", "b", "y") and t.x[0].tolist() == [1.5, 2.0]


def test_csv_columns_reads_the_header_only():
    assert csv_columns(b"a,a,,y\n1,2,3,4\n") == ("a", "a_2", "column_3", "y")
    assert csv_columns(b"size;colour\n") == ("size", "colour")
    rows = "".join(f"{i},c{i}\n" for i in range(3000))
    assert csv_columns(f"a,y\n{rows}".encode()) == ("a", "y")  # parse_csv refuses the target, the picker works
    with pytest.raises(CsvError, match="binary"):
        csv_columns(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(CsvError, match="10,000 columns"):
        csv_columns((",".join(f"c{i}" for i in range(10_000)) + "\n").encode())


def test_one_column_file_is_read_and_refused_for_having_no_feature():
    refused(b"y\n1\n2\n3\n", "only one column ('y')", "feature")


def test_quotes_embedded_delimiters_and_newlines_and_line_endings():
    raw = b'note,n,y\r\n"a, b",1,x\r\n"line\r\nbreak",2,y\r\n"say ""hi""",3,x\r\n"a, b",4,y\r\n'
    t = parse_csv(raw)
    assert t.n_rows == 4 and "note=a, b" in t.feature_names and 'note=say "hi"' in t.feature_names
    assert parse_csv(raw.replace(b"\r\n", b"\r")).n_rows == 4
    assert parse_csv(raw.replace(b"\r\n", b"\n")).n_rows == 4


def test_an_unclosed_quote_over_the_field_size_is_refused():
    raw = b'a,y\n1,0\n"' + b"x" * 200_000 + b"\n2,1\n"
    refused(raw, "could not be read as CSV near line")


def test_row_with_extra_fields_is_refused_short_rows_are_padded():
    refused(b"a,b,y\n1,2,0\n3,4,1,9\n", "Line 3 has 4 fields but the header has 3")
    t = parse_csv(b"a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1,,\n9,10,0\n11\n", missing="impute")
    assert t.n_rows == 5 and t.rows_dropped == 1  # the short row has no target
    assert any("fewer fields" in n for n in t.notes)


# --- header --------------------------------------------------------------------
def test_duplicated_and_empty_header_names():
    t = parse_csv(b"a,a,,a_2, ,y\n1,2,3,4,5,0\n6,7,8,9,1,1\n2,2,2,2,2,0\n3,3,3,3,3,1\n")
    assert t.feature_names == ("a", "a_3", "column_3", "a_2", "column_5")
    assert any("column_3, column_5" in n for n in t.notes)
    assert any("'a' to 'a_3'" in n for n in t.notes)
    assert list(t.preview.columns) == ["a", "a_3", "column_3", "a_2", "column_5", "y"]


def test_long_header_names_are_capped_everywhere():
    long = "h" * 5000
    t = parse_csv(f"{long},{long},y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n".encode())
    assert all(len(n) <= 60 for n in t.feature_names) and len(set(t.feature_names)) == 2
    assert all(len(c) <= 61 for c in t.preview.columns)
    assert all(len(n) < 300 for n in t.notes)
    text = refused(f"{long}\n1\n2\n".encode(), "only one column")
    assert len(text) < 200


def test_a_header_of_numbers_is_still_the_header():
    t = parse_csv(b"1,2,3\n4,5,0\n6,7,1\n8,9,0\n1,1,1\n")
    assert t.feature_names == ("1", "2") and t.n_rows == 4 and any("all numbers" in n for n in t.notes)


def test_control_characters_in_names_become_spaces():
    t = parse_csv(b'"a\x01b","c\nd",y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n')
    assert t.feature_names == ("a b", "c d")


# --- features ------------------------------------------------------------------
def test_all_text_features_are_one_hot_encoded():
    t = parse_csv(b"colour,size,y\nred,S,0\nblue,M,1\nred,L,0\nblue,S,1\n")
    check_table(t)
    assert t.feature_names == ("colour=blue", "colour=red", "size=L", "size=M", "size=S")
    assert t.x.tolist()[0] == [0, 1, 0, 0, 1] and t.x.sum(axis=1).tolist() == [2, 2, 2, 2]


def test_unicode_digits_and_odd_numbers_are_text():
    t = parse_csv("a,b,y\n²,1_000,0\n٣,0x10,1\n²,1_000,0\n٣,0x10,1\n".encode())
    assert t.feature_names == ("a=²", "a=٣", "b=0x10", "b=1_000")
    t = parse_csv(b"a,y\n 1 ,0\n+2.,1\n.5e-1,0\n-7E2,1\n")
    assert t.x[:, 0].tolist() == pytest.approx([1, 2, 0.05, -700])


def test_a_column_over_the_category_cap_is_dropped_or_refused_when_alone():
    rows = "".join(f"id{i},{i % 3},{i % 2}\n" for i in range(40))
    t = parse_csv(f"name,n,y\n{rows}".encode())
    assert t.feature_names == ("n",) and t.columns_dropped == ("name",)
    assert any("'name' holds text" in n and "40 different values" in n and "cap of 20" in n for n in t.notes)
    assert parse_csv(f"name,n,y\n{rows}".encode(), max_categories=50).n_features == 41
    only = "".join(f"id{i},{i % 2}\n" for i in range(40))
    refused(f"name,y\n{only}".encode(), "No column can be used as a feature", "'name' holds text", "40 different")


def test_no_features_at_all():
    refused(b"a,b,y\n,,0\nNA,,1\n,null,0\n", "No column can be used", "'a' is empty", "'b' is empty")


def test_constant_columns_are_kept_with_a_note():
    t = parse_csv(b"a,c,y\n1,5,0\n2,5,1\n3,5,0\n4,5,1\n", standardize=True)
    assert t.feature_names == ("a", "c") and t.x[:, 1].tolist() == [0, 0, 0, 0]
    assert any("'c' has the same value in every row" in n for n in t.notes)


def test_one_hot_width_over_the_column_limit():
    rows = "".join(f"x{i % 15},z{(i * 7) % 15},{i % 2}\n" for i in range(60))
    refused(f"a,b,y\n{rows}".encode(), "One-hot encoding gives 30 feature columns", "limit of 20",
            limits=CsvLimits(max_columns=20))


def test_standardize():
    t = parse_csv(b"a,b,y\n1,100,0\n2,200,1\n3,300,0\n4,400,1\n", standardize=True)
    assert np.allclose(t.x.mean(axis=0), 0, atol=1e-6) and np.allclose(t.x.std(axis=0), 1, atol=1e-6)
    assert parse_csv(b"a,y\n1,0\n3,1\n").x[:, 0].tolist() == [1, 3]


# --- missing values ------------------------------------------------------------
MESSY = b"a,b,c,y\n1,inf,red,0\n,2,blue,1\nNaN,3,,0\n4,1e400,red,1\n5,-Infinity,blue,0\n7,8,red,1\n9,10,red,0\n" \
        b"11,12,#N/A,1\n13,14,blue,\n"


def test_missing_rows_are_dropped():
    t = parse_csv(MESSY)
    check_table(t)
    assert t.n_rows == 2 and t.rows_dropped == 7 and t.cells_imputed == 0
    assert t.x.tolist() == [[7, 8, 1], [9, 10, 1]] and t.feature_names == ("a", "b", "c=red")  # of the kept rows
    assert any("beyond ±3.4e38" in n for n in t.notes) and any("7 rows" in n for n in t.notes)


def test_missing_cells_are_imputed_but_a_missing_target_drops_the_row():
    t = parse_csv(MESSY, missing="impute")
    check_table(t)
    assert t.n_rows == 8 and t.rows_dropped == 1 and t.cells_imputed == 7
    assert t.x[:, 0].tolist() == [1, 6, 6, 4, 5, 7, 9, 11]  # the median of 1, 4, 5, 7, 9, 11
    assert t.x[:, 1].tolist() == [8, 2, 3, 8, 8, 8, 10, 12]
    assert t.feature_names[2:] == ("c=blue", "c=red") and t.x[2, 2:].tolist() == [0, 1]  # most frequent: red


def test_dropping_everything_is_refused_with_a_hint():
    refused(b"a,b,y\n1,,0\n,2,1\n3,,0\n", "Only 0 rows are left after dropping 3 rows", "filling in")


def test_a_missing_target_everywhere():
    refused(b"a,y\n1,\n2,NA\n", "The target column 'y' has no values")


# --- the target ------------------------------------------------------------------
def test_a_single_class_is_refused():
    refused(b"a,y\n1,cat\n2,cat\n3,cat\n", "needs at least two classes", "'cat'")
    refused(b"a,y\n1,1\n2,1\n3,1\n", "needs at least two classes", "every row has 1")


def test_one_row_is_refused():
    refused(b"a,y\n1,0\n", "only 1 row of data", "at least 2")
    refused(b"a,y\n1,cat\n", "only 1 row")


def test_a_header_only_and_an_empty_file():
    refused(b"a,b,y\n", "header but no rows")
    refused(b"", "empty")
    refused(b" \n\r\n", "empty")
    refused(codecs.BOM_UTF8, "empty")


def test_thousands_of_classes_are_refused_with_the_number():
    rows = "".join(f"{i},c{i}\n" for i in range(3000))
    refused(f"a,y\n{rows}".encode(), "3,000 different values", f"at most {MAX_CLASSES} classes")


@pytest.mark.parametrize("values, task, classes", [
    ([0, 1, 0, 1], "binary", ("0", "1")),
    ([2, 10, 2, 10, -1, -1], "multiclass", ("-1", "2", "10")),
    ([1.0, 2.0, 1.0, 2.0], "binary", ("1", "2")),
    ([0.5, 1.5, 0.5, 1.5], "regression", ()),
    ([1, 2, 3, 4, 5, 1, 2, 3], "regression", ()),  # 5 values > 8 rows / 2
    (list(range(21)) * 3, "regression", ()),  # 21 values > 20
    (list(range(20)) * 3, "multiclass", tuple(str(i) for i in range(20))),
])
def test_numeric_target_rule(values, task, classes):
    rows = "".join(f"{i},{v}\n" for i, v in enumerate(values))
    t = parse_csv(f"a,y\n{rows}".encode())
    check_table(t)
    assert t.task == task and t.class_names == classes


def test_a_constant_regression_target_is_refused():
    refused(b"a,y\n1,0.5\n2,0.5\n3,0.5\n", "same value (0.5) in every row")


# --- formulas ------------------------------------------------------------------
def test_formula_text_is_plain_text_and_the_preview_is_safe():
    raw = b"=cmd|' /C calc'!A0,@user,y\n=1+2,+x,0\n=HYPERLINK(\"http://x\"),-2,1\n=1+2,@SUM(A1),0\n4,-2,1\n"
    t = parse_csv(raw)
    check_table(t)
    assert t.feature_names[0].startswith("=cmd|' /C calc'!A0=")  # plain text, never evaluated
    assert "=cmd|' /C calc'!A0==1+2" in t.feature_names
    assert list(t.preview.columns) == ["'=cmd|' /C calc'!A0", "'@user", "y"]
    assert t.preview.iloc[0].tolist() == ["'=1+2", "'+x", "0"]
    assert t.preview.iloc[1].tolist() == ["'=HYPERLINK(\"http://x\")", "-2", "1"]


@pytest.mark.parametrize("text, safe", [
    ("=1+2", "'=1+2"), ("+x", "'+x"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"), ("\t=x", "'\t=x"),
    (" =1", "' =1"), ("-1.5", "-1.5"), ("+3", "+3"), ("1e5", "1e5"), ("hello", "hello"), ("", ""), (7, "7"),
])
def test_safe_cell(text, safe):
    assert safe_cell(text) == safe


# --- limits --------------------------------------------------------------------
def test_a_million_rows_are_refused_cheaply_with_the_number():
    raw = b"a,y\n" + b"1,0\n" * 1_000_000
    refused(raw, "1,000,000 rows", "limit of 100,000", limits=CsvLimits(max_bytes=10**8, max_rows=100_000))


def test_ten_thousand_columns_are_refused_with_the_number():
    raw = (",".join(f"c{i}" for i in range(10_000)) + "\n" + ",".join("1" * 10_000) + "\n").encode()
    refused(raw, "10,000 columns", "limit of 1,000", limits=CsvLimits(max_columns=1000))


def test_multiline_cells_do_not_count_as_rows():
    raw = b"note,y\n" + b'"a\nb\nc",0\n"d\ne\nf",1\n' * 2
    assert parse_csv(raw, limits=CsvLimits(max_rows=4)).n_rows == 4
    refused(raw, "has 4 rows of data, over the limit of 3", limits=CsvLimits(max_rows=3))


def test_a_file_over_the_byte_limit_is_refused_with_both_sizes():
    raw = csv_bytes(IRIS_LIKE)
    text = refused(raw, f"{len(raw):,} bytes, over the 100 bytes limit", limits=CsvLimits(max_bytes=100))
    assert text.startswith("The file is")


def test_limits_default_from_the_environment(monkeypatch):
    monkeypatch.setenv("VGRAD_MAX_ROWS", "3")
    monkeypatch.setenv("VGRAD_MAX_UPLOAD_MB", "2")
    limits = CsvLimits()
    assert limits.max_rows == 3 and limits.max_bytes == 2 * 1024 * 1024 and limits.max_columns == 1000
    refused(csv_bytes(IRIS_LIKE), "limit of 3")


def test_upload_settings_are_documented():
    upload = {s.name: s.default for s in vgrad_settings.SETTINGS.values() if s.group == "Uploads"}
    assert upload == {"VGRAD_MAX_UPLOAD_MB": "20", "VGRAD_MAX_ROWS": "100000", "VGRAD_MAX_COLUMNS": "1000",
                      "VGRAD_MAX_DATASETS_PER_CLIENT": "10", "VGRAD_MAX_DATASET_BYTES": str(500 * 1024 * 1024)}
    assert vgrad_settings.max_datasets_per_client() == 10 and vgrad_settings.max_dataset_bytes() == 500 * 2**20
    assert "VGRAD_MAX_UPLOAD_MB" in vgrad_settings.describe()


def test_read_limited_refuses_a_known_size_without_reading():
    big = io.BytesIO(b"x" * (3 * CHUNK))
    with pytest.raises(CsvError, match=r"3 MB \(3,145,728 bytes\), over the 1 MB \(1,048,576 bytes\) limit"):
        read_limited(big, CHUNK)
    assert big.tell() == 0


def test_read_limited_stops_a_stream_as_soon_as_the_limit_is_passed():
    pulled = []

    def endless():
        while True:  # 200 MB and more, were it read whole
            pulled.append(CHUNK)
            yield b"a,b\n" * (CHUNK // 4)

    with pytest.raises(CsvError, match=r"larger than the 2 MB \(2,097,152 bytes\) limit"):
        read_limited(endless(), 2 * CHUNK)
    assert len(pulled) == 3


def test_read_limited_on_a_file_without_size_or_seek():
    class Pipe:
        def __init__(self, total):
            self.left, self.read_bytes = total, 0

        def read(self, n):
            n = min(n, self.left, 65536)
            self.left -= n
            self.read_bytes += n
            return b"1" * n

    pipe = Pipe(200 * CHUNK)
    with pytest.raises(CsvError):
        read_limited(pipe, CHUNK // 2)
    assert pipe.read_bytes <= CHUNK // 2 + 65536
    assert read_limited(Pipe(1000), 1000) == b"1" * 1000
    assert read_limited(io.BytesIO(b"a,b\n"), 4) == b"a,b\n"
    with pytest.raises(TypeError):
        read_limited(io.StringIO("a,b"), 100)


def test_read_limited_uses_an_upload_size_attribute():
    class Upload(io.BytesIO):
        size = 50 * 2**20

    with pytest.raises(CsvError, match="50 MB"):
        read_limited(Upload(b"small"), 20 * 2**20)


def test_bad_arguments_are_programming_errors():
    with pytest.raises(ValueError, match="missing"):
        parse_csv(b"a,y\n1,0\n2,1\n", missing="zero")
    with pytest.raises(ValueError, match="max_categories"):
        parse_csv(b"a,y\n1,0\n2,1\n", max_categories=0)
    with pytest.raises(TypeError):
        parse_csv("a,y\n1,0\n")


# --- fuzz ------------------------------------------------------------------------
HOSTILE_CELLS = [
    "", " ", "NA", "nan", "NaN", "null", "None", "?", "#N/A", "#DIV/0!", "inf", "-inf", "Infinity", "1e400",
    "-1e400", "1e39", "3.4e38", "-3.4028235e38", "1e-400", "0", "1", "2", "-1", "1.5", "1,5", ".5", "7.",
    "²", "٣", "１", "=1+2", "+1", "-x", "@SUM(A1)", "=cmd|' /C calc'!A0", "\x00", "\x01", '"', '""', '"a,b"',
    '"x\ny"', "a\nb", "\r", "\ufeff", "a", "b", "é", "Ω", "\t", ";", "|", ",", "true", "FALSE",
    "9" * 400, "1" + "0" * 5000,
]
cells = (st.sampled_from(HOSTILE_CELLS) | st.integers(-3, 3).map(str)
         | st.floats(allow_nan=True, allow_infinity=True).map(repr) | st.text(max_size=6))
plain_cells = (st.integers(-3, 3).map(str) | st.floats(-1e3, 1e3).map(lambda v: f"{v:.3g}")
               | st.sampled_from(["a", "b", "c", "", "NA"]) | st.sampled_from(HOSTILE_CELLS))
TARGETS = ["0", "1", "2", "a", "b", "setosa", "", "2.5", "-1", "1e400", "=1+2"]
target_cells = st.sampled_from(TARGETS)
NAMES = ["a", "a", "y", "", "=cmd|' /C calc'!A0", "x" * 80, "\ufeffid", "NA"]
POOL = [*HOSTILE_CELLS, *(str(i) for i in range(-3, 4)), "0.25", "-7.5", "1e3", "a", "b", "c"]
ENCODINGS = {"utf-8": b"", "utf-16": b"", "cp1252": b"", "latin-1": b"", "utf-8-sig": b"",
             "utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE, "utf-32": b""}
HOSTILE_PREFIXES = [codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, b"\xff\xfe\x00\x00", b"\x89PNG",
                    b"PK\x03\x04", b"%PDF-", b"\x00"]


@st.composite
def csvish(draw) -> bytes:
    """CSV-like bytes: mostly rectangular files of hostile cells, sometimes ragged, re-encoded, prefixed."""
    delimiter = draw(st.sampled_from([",", ",", ";", "\t", "|", " "]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    width = draw(st.integers(1, 5))
    n_rows = draw(st.sampled_from([0, 1, 2, 3, 4, 5, 6, 8, 10]))
    coin = draw(st.randoms(use_true_random=False))
    kind = draw(st.integers(0, 3))
    if kind == 0:  # rectangular, cells picked by the seeded coin (cheap: many rows, few draws)
        header = [coin.choice(NAMES) for _ in range(width)]
        rows = [[*(coin.choice(POOL) for _ in range(width - 1)), coin.choice(TARGETS)] for _ in range(n_rows * 3)]
    elif kind in (1, 2):  # rectangular: a header, features and a target
        header = draw(st.lists(cells | st.sampled_from(NAMES), min_size=width, max_size=width))
        feature = plain_cells if draw(st.booleans()) else cells
        rows = [[*draw(st.lists(feature, min_size=width - 1, max_size=width - 1)), draw(target_cells)]
                for _ in range(n_rows)]
    else:  # ragged
        header = draw(st.lists(cells, min_size=1, max_size=width))
        rows = [draw(st.lists(cells, min_size=0, max_size=width + 1)) for _ in range(n_rows)]
    quote_share = draw(st.sampled_from([0.0, 0.0, 0.3, 1.0]))
    lines = [delimiter.join(f'"{c}"' if coin.random() < quote_share else c for c in row)
             for row in [header, *rows]]
    text = newline.join(lines) + draw(st.sampled_from(["", newline, newline * 3]))
    encoding = draw(st.sampled_from(sorted(ENCODINGS)))
    raw = ENCODINGS[encoding] + text.encode(encoding, errors="replace")
    if draw(st.integers(0, 19)) == 0:
        raw = draw(st.sampled_from(HOSTILE_PREFIXES)) + raw
    return raw


options = st.fixed_dictionaries({
    "missing": st.sampled_from(["drop", "impute"]), "standardize": st.booleans(),
    "max_categories": st.integers(1, 6),
    "limits": st.one_of(st.none(), st.none(), st.builds(CsvLimits, max_bytes=st.integers(1, 5000),
                                                        max_rows=st.integers(1, 12), max_columns=st.integers(1, 8))),
})


def parse_or_refuse(raw: bytes, target: str | None = None, **kwargs) -> Table | None:
    try:
        t = parse_csv(raw, target=target, **kwargs)
    except CsvError as exc:
        text = str(exc)
        assert text and text.endswith(".") and "\n" not in text and len(text) < 1000, text
        return None
    check_table(t)
    return t


@FUZZ
@given(st.binary(max_size=400), options)
@example(b"", {})
@example(b"a,b,y\n", {})
@example(b"\xef\xbb\xbf", {})
@example(b"a,y\n1e400,0\n-1e400,1\n1,0\n2,1\n", {"missing": "impute", "standardize": True})
@example(b"a,y\n3.4e38,0\n-3.4e38,1\n", {"standardize": True})
@example(b"a,y\n1,3.4e38\n2,-3.4e38\n3,1\n", {})
@example("x,y\n²,0\n٣,1\n".encode(), {})
def test_fuzz_random_bytes(raw, opts):
    parse_or_refuse(raw, **opts)


@FUZZ
@given(csvish(), options, st.none() | st.sampled_from(["y", "a", "column_1", "=1+2", ""]))
def test_fuzz_csvish_files(raw, opts, target):
    parse_or_refuse(raw, target, **opts)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.lists(st.floats(-1e6, 1e6, allow_nan=False) | st.sampled_from(["", "x", "y"]),
                         min_size=3, max_size=3), min_size=2, max_size=20),
       st.sampled_from([",", ";", "\t", "|"]))
def test_fuzz_well_formed_tables_round_trip(rows, delimiter):
    """Rectangular files parse to a table whose numeric columns hold the file's numbers."""
    text = "p" + delimiter + "q" + delimiter + "y\n" + "".join(
        delimiter.join(repr(c) if isinstance(c, float) else c for c in r) + "\n" for r in rows)
    t = parse_or_refuse(text.encode(), missing="impute")
    if t is not None and t.feature_names[0] == "p":
        col = [c for c in (r[0] for r in rows) if isinstance(c, float)]
        assert np.float32(min(col)) <= t.x[:, 0].min() and t.x[:, 0].max() <= np.float32(max(col))


def test_big_upload_parses_in_reasonable_time():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(20_000, 10))
    labels = rng.choice(["a", "b", "c"], size=20_000)
    lines = [",".join(f"f{i}" for i in range(10)) + ",y"]
    lines += [",".join(f"{v:.4f}" for v in row) + "," + lab for row, lab in zip(values, labels, strict=True)]
    t = parse_csv("\n".join(lines).encode())
    assert t.x.shape == (20_000, 10) and t.class_names == ("a", "b", "c")
    assert np.allclose(t.x, values, atol=1e-4)


def test_preview_and_notes_are_plain_strings():
    raw = b"<b>x</b>,**y**,t\n<script>alert(1)</script>,[a](javascript:x),0\n1,2,1\n3,4,0\n5,6,1\n"
    t = parse_csv(raw)
    assert t.preview.iloc[0, 0] == "<script>alert(1)</script>"  # shown as text by st.dataframe
    assert all(isinstance(n, str) for n in t.notes)
    assert not any("\n" in n for n in t.notes)
