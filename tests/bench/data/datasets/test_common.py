"""Label parsers and label-file reading of bench.data.datasets._common: total, per-row issues, no crash."""
import csv
import gzip
from pathlib import Path

import numpy as np
import pytest

from bench.data.datasets._common import (MAX_FIELD_CHARS, check_max_age, parse_age, parse_age_bin, parse_gender,
                                         parse_index, read_csv_dicts, read_label_text, unique_rows)


@pytest.mark.parametrize("value, expected", [
    ("34", 34), (" 71.5 ", 71.5), ("34.0", 34), ("0", 0), ("120", 120), ("120.0", 120), (".5", 0.5),
    (34, 34), (12.25, 12.25), (np.float32(3.5), 3.5), (np.int64(7), 7),
    ("", None), ("  ", None), (None, None), ("nan", None), ("NA", None), (float("nan"), None),
])
def test_parse_age_accepts_ascii_decimals_in_range(value, expected):
    assert parse_age(value) == expected


@pytest.mark.parametrize("value, cause", [
    ("1e308", "not a number of years"), (1e308, "outside 0-120"), (int(1e308), "outside 0-120"),
    pytest.param(10 ** 5000, "outside 0-120", id="int-5000-digits"),
    ("\u0663", "not a number"), ("\u0663\u0660", "not a number"),  # Arabic-Indic digits
    ("\uff13\uff10", "not a number"),  # full-width digits: float() takes them
    ("inf", "not a number"), ("-Infinity", "not a number"), (float("inf"), "not a finite"),
    ("-1", "not a number"), ("+30", "not a number"), ("1_000", "not a number"), ("121", "outside 0-120"),
    ("120.5", "outside 0-120"), (-0.5, "outside"), ("3\x00", "not a number"), ("\x1b[31m30", "not a number"),
    (True, "not a number"), (b"30", "not a number"), pytest.param("9" * 100_000, "too long", id="100k-digits"),
])
def test_parse_age_refuses_with_a_short_value_error(value, cause):
    with pytest.raises(ValueError, match=cause) as caught:
        parse_age(value)
    assert len(str(caught.value)) < 200  # the cause is short whatever the input


def test_parse_age_max_age_is_overridable():
    assert parse_age("116", max_age=116) == 116
    with pytest.raises(ValueError, match="outside 0-116 years"):
        parse_age("117", max_age=116)
    assert parse_age("150", max_age=200) == 150
    for bad in (0, -1, float("inf"), float("nan"), True, "120"):
        with pytest.raises(ValueError, match="max_age"):
            check_max_age(bad)


def test_parse_gender_and_age_bin_are_ascii_and_short():
    assert [parse_gender(v) for v in ("F", "male", " Woman ", "1.0", "0", 1, 0.0, "", None)] == [
        0, 1, 0, 1, 0, 1, 0, None, None]
    for bad in ("\u0661", "1e0", "2", "True", "\u212a", "m\x00", "x" * 100_000):  # \u212a: Kelvin sign
        with pytest.raises(ValueError) as caught:
            parse_gender(bad)
        assert len(str(caught.value)) < 200
    assert [parse_age_bin(v) for v in ("20-29", " 70-120 ", "3", "9.0", 4, "")] == [5, 9, 3, 9, 4, None]
    for bad in ("\u0663", "10", "3.5", "-1", "25-35", "inf", "1e0", "x-" * 50_000):
        with pytest.raises(ValueError) as caught:
            parse_age_bin(bad)
        assert len(str(caught.value)) < 200


def test_parse_index():
    assert parse_index("00042", "image_number") == 42 and parse_index("7.0", "n") == 7
    for bad in ("", "inf", "1e308", "\u0663", "-1", "4.5"):
        with pytest.raises(ValueError):
            parse_index(bad, "image_number")
    with pytest.raises(ValueError, match="above 99999"):
        parse_index("100000", "image_number", maximum=99999)


def _csv(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_bad_rows_become_issues_naming_file_and_line(tmp_path):
    path = _csv(tmp_path / "labels.csv", b"\xef\xbb\xbfid,age\r\n"  # a BOM and CRLF line ends
                b"a,30\r\n"
                b"b,30,surplus\r\n"                 # line 3: a field more than the header
                b"c\r\n"                            # line 4: a field fewer
                b"d,3\xff0\r\n"                     # line 5: not UTF-8
                b"e,3\x000\r\n"                     # line 6: NUL
                b"\r\n"                             # line 7: blank, skipped silently
                b"\"f\nstill f\",31\r\n"            # lines 8-9: a quoted newline is one record
                b"g,32\r\n")
    issues = []
    header, rows = read_csv_dicts(path, required_any=("id",), issues=issues)
    assert header == ["id", "age"]
    assert [(line, row["id"]) for line, row in rows] == [(2, "a"), (8, "f\nstill f"), (10, "g")]
    assert [(Path(i.path).name, i.reason) for i in issues] == [
        ("labels.csv line 3", "3 fields, the header has 2; row not used"),
        ("labels.csv line 4", "1 field, the header has 2; row not used"),
        ("labels.csv line 5", "byte 0xff is not UTF-8; row not used"),
        ("labels.csv line 6", "contains a NUL byte; row not used"),
    ]


def test_a_field_over_the_bound_is_an_issue_even_above_pythons_csv_limit(tmp_path):
    """Fault: a 200 KB field raised csv.Error (field_size_limit 128 KiB) out of read_csv_dicts."""
    old = csv.field_size_limit(131072)  # Python's default
    try:
        path = _csv(tmp_path / "labels.csv", (f"id,note\na,{'x' * MAX_FIELD_CHARS}\nb,{'y' * 200_000}\n"
                                              f"c,{'z' * (MAX_FIELD_CHARS + 1)}\nd,ok\n").encode())
        issues = []
        _, rows = read_csv_dicts(path, issues=issues)
        assert [row["id"] for _, row in rows] == ["a", "d"]  # exactly MAX_FIELD_CHARS is still accepted
        assert [(Path(i.path).name, i.reason.split(" (")[0]) for i in issues] == [
            ("labels.csv line 3", "a field of 200000 characters"),
            ("labels.csv line 4", f"a field of {MAX_FIELD_CHARS + 1} characters")]
    finally:
        csv.field_size_limit(max(old, csv.field_size_limit()))


def test_an_unclosed_quote_is_one_issue_with_its_line_range(tmp_path):
    path = _csv(tmp_path / "labels.csv", b'id,age\na,30\n"b,31\nc,32\nd,33\n')
    issues = []
    _, rows = read_csv_dicts(path, issues=issues)
    assert [row["id"] for _, row in rows] == ["a"]
    assert [(Path(i.path).name, i.reason) for i in issues] == [
        ("labels.csv lines 3-5", "1 field, the header has 2; row not used")]


@pytest.mark.parametrize("data, cause", [
    (b"", "empty file, no CSV header"), (b"\n\n", "empty file"), (b"id,\xffage\na,1\n", "unusable CSV header"),
    (b"id,ag\x00e\na,1\n", "NUL"), (b"id,age,age\na,1,2\n", "column name is repeated"),
    (b"name,gender\na,0\n", "none of the columns"),
])
def test_only_an_unusable_header_stops_the_file(tmp_path, data, cause):
    path = _csv(tmp_path / "labels.csv", data)
    with pytest.raises(ValueError, match=cause) as caught:
        read_csv_dicts(path, required_any=("id",), issues=[])
    assert str(path) in str(caught.value)


def test_unreadable_files_are_a_clear_whole_file_error(tmp_path):
    (tmp_path / "folder.csv").mkdir()
    _csv(tmp_path / "broken.csv.gz", b"\x1f\x8b not really gzip")
    with gzip.open(tmp_path / "good.csv.gz", "wb") as handle:
        handle.write(b"id,age\na,3\n")
    for name in ("folder.csv", "missing.csv", "broken.csv.gz"):
        with pytest.raises(ValueError, match="cannot read label file") as caught:
            read_label_text(tmp_path / name)
        assert str(tmp_path / name) in str(caught.value)
    _, rows = read_csv_dicts(tmp_path / "good.csv.gz", issues=[])
    assert [row for _, row in rows] == [{"id": "a", "age": "3"}]


def test_unique_rows_drops_every_row_of_a_repeated_key():
    issues = []
    unique = unique_rows([("a", 2, "r2"), ("b", 3, "r3"), ("a", 4, "r4"), ("a", 9, "r9")], "x.csv", issues)
    assert unique == {"b": (3, "r3")}
    assert [(i.path, i.reason) for i in issues] == [
        (f"x.csv line {n}", "id 'a' is on 3 rows (lines 2, 4, 9); none of them is used") for n in (2, 4, 9)]


def test_row_counts_group_by_reason_with_kinds_and_examples():
    from bench.data.datasets._common import MAX_EXAMPLES, RowCounts

    counts = RowCounts()
    for i in range(7):
        counts.filtered("age above max_age", f"f line {i}")
    counts.bad("age before birth", "f line 9")
    counts.add("coarse group", "f line 10", "coarse label")
    assert counts["age above max_age"] == 7 and counts["never seen"] == 0 and len(counts) == 3
    assert counts.total() == 9 and counts.total("bad data") == 1
    records = counts.records()
    assert [(r["kind"], r["count"]) for r in records] == [("bad data", 1), ("filter", 7), ("coarse label", 1)]
    assert records[1]["examples"] == [f"f line {i}" for i in range(MAX_EXAMPLES)]
    with pytest.raises(ValueError, match="counted as 'filter' and as 'bad data'"):
        counts.bad("age above max_age", "f line 11")
    with pytest.raises(ValueError, match="kind must be one of"):
        counts.add("x", "y", "dropped")
