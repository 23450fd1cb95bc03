"""Property-based fuzzing (hypothesis) of the label parsers and of whole-file dataset indexing.

Properties
    * Parsers (``parse_age``, ``parse_gender``, ``parse_age_bin``, ``parse_index``, ``parse_utkface_name``,
      ``age_to_bin``, ``age_bin_from_label``): whatever the input, only ``ValueError`` with a short cause
      leaves them; a value they return is in range, and text they accept is written with ASCII digits.
    * ``FolderDataset.index()`` on a folder of tiny images with a generated ``attributes.csv`` (arbitrary
      text with commas, quotes, newlines, NULs, invalid UTF-8, long fields, non-ASCII digits): never
      raises with the canonical header; with a generated header, at most a ``ValueError`` naming the
      CSV; every returned label is in range; every problem row is an issue naming the file and line.
    * ``UTKFace.index()`` on a folder of generated file names: never raises; every sample's labels are
      in range and its age was written with ASCII digits.

Profiles: ``frbench-fuzz`` (default: derandomized, so CI is reproducible; about 15 s on 2 CPUs) and
``frbench-fuzz-long`` (random, ten times the examples), chosen with ``FRBENCH_FUZZ=long``. No example
database is written (``database=None``). The number of inputs generated per property and the time taken are
printed at the end of the module (``-s`` or the terminal summary shows them).
"""
from __future__ import annotations

import csv
import io
import math
import os
import re
import shutil
import time
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st  # the [test] extra

from bench.core.types import AGE_BIN_LABELS, DatasetIssue, age_bin_from_label, age_to_bin
from bench.data.datasets._common import GENDER_WORDS, MAX_AGE, parse_age, parse_age_bin, parse_gender, parse_index
from bench.data.datasets.folder import FolderDataset
from bench.data.datasets.utkface import CHIP_SUFFIX, UTKFace, parse_utkface_name

_COMMON = dict(deadline=None, database=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("frbench-fuzz", derandomize=True, max_examples=1, **_COMMON)
settings.register_profile("frbench-fuzz-long", derandomize=False, max_examples=10, **_COMMON)
_LONG = os.environ.get("FRBENCH_FUZZ", "").strip().lower() == "long"
_PROFILE = settings.get_profile("frbench-fuzz-long" if _LONG else "frbench-fuzz")


def fuzz(examples: int) -> settings:
    """The module profile with ``examples`` inputs per property (x10 under ``FRBENCH_FUZZ=long``)."""
    return settings(_PROFILE, max_examples=examples * _PROFILE.max_examples)


#: Inputs generated per property, and seconds spent, printed at the end of the module.
COUNTS: Counter = Counter()
SECONDS: Counter = Counter()
MAX_MESSAGE = 300  # a cause is "short": a value is quoted with at most 40 characters


@pytest.fixture(scope="module", autouse=True)
def _report(request):
    yield
    lines = [f"{name}: {COUNTS[name]} inputs in {SECONDS[name]:.1f} s" for name in sorted(COUNTS)]
    text = "label fuzzing (" + ("long" if _LONG else "default") + " profile): " + "; ".join(lines)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:  # pragma: no cover - run outside the usual pytest plugins
        print(text)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line("\n" + text)


@pytest.fixture(autouse=True)
def _clock():
    before, start = COUNTS.copy(), time.perf_counter()
    yield
    for name in COUNTS:  # the time of a test goes to the property it counted
        if COUNTS[name] != before[name]:
            SECONDS[name] += time.perf_counter() - start


# -- strategies ----------------------------------------------------------------------------------
#: Pieces that hostile label text is made of: ASCII and Unicode digits (Arabic-Indic, full-width,
#: superscript, Devanagari), signs, exponents, inf/nan spellings, separators, control characters.
PIECES = ["0", "1", "2", "9", "12", "120", "121", "999", "1e308", "\u0663", "\u0661", "\uff13", "\u00b2", "\u0967",
          ".", "-", "+", "e", "E", "inf", "Infinity", "nan", "NaN", "NA", " ", "\t", "\x00", "\n", "\r", "\x1b",
          "_", ",", '"', "'", "20-29", "70-120", "f", "M", "male", "Woman", "\u212a", "\ufeff", "\udcff"]
numberish = st.lists(st.sampled_from(PIECES), max_size=8).map("".join)
long_text = st.integers(60, 200_000).flatmap(lambda n: st.sampled_from(["9" * n, "x" * n, "1." + "0" * n]))
label_values = st.one_of(
    numberish, st.text(max_size=30), long_text, st.none(), st.booleans(),
    st.integers(min_value=-10 ** 400, max_value=10 ** 400), st.floats(allow_nan=True, allow_infinity=True),
    st.binary(max_size=8), st.just(np.float64("nan")), st.just(np.int64(7)), st.just(np.bool_(True)),
    st.just(object()), st.lists(st.integers(), max_size=2),
)


def _short(exc: Exception) -> None:
    assert type(exc) is ValueError, f"{type(exc).__name__} escaped: {exc}"
    assert len(str(exc)) <= MAX_MESSAGE, f"cause is not short ({len(str(exc))} characters)"


def _call(parser, *args):
    """``(True, result)`` or ``(False, None)`` after a ValueError; anything else fails the property."""
    try:
        return True, parser(*args)
    except ValueError as exc:
        _short(exc)
        return False, None


# -- parsers -------------------------------------------------------------------------------------
@fuzz(1500)
@given(value=label_values, max_age=st.one_of(st.just(MAX_AGE), st.integers(1, 1000), st.floats(0.5, 1e6)))
def test_parse_age_is_total(value, max_age):
    COUNTS["parse_age"] += 1
    ok, age = _call(parse_age, value, max_age)
    if not ok or age is None:
        return
    assert isinstance(age, (int, float)) and not isinstance(age, bool)
    assert math.isfinite(age) and 0 <= age <= max_age
    if isinstance(value, str):
        assert re.fullmatch(r"[0-9.]+", value.strip()), f"accepted non-ASCII-decimal text {value!r}"
        assert age == float(value.strip())


@fuzz(500)
@given(digits=st.from_regex(r"[0-9]{1,3}(\.[0-9]{0,3})?", fullmatch=True), pad=st.sampled_from(["", " ", "\t"]))
def test_parse_age_accepts_every_ascii_decimal_in_range(digits, pad):
    COUNTS["parse_age (valid)"] += 1
    ok, age = _call(parse_age, pad + digits + pad)
    assert ok == (float(digits) <= MAX_AGE)
    if ok:
        assert age == float(digits)


@fuzz(1500)
@given(value=label_values)
def test_parse_gender_and_age_bin_are_total(value):
    COUNTS["parse_gender+parse_age_bin"] += 1
    ok, gender = _call(parse_gender, value)
    if ok and gender is not None:
        assert gender in (0, 1)
        text = str(value).strip()
        assert text.lower() in GENDER_WORDS or re.fullmatch(r"[01](\.0*)?", text), f"accepted {value!r}"
    ok, age_bin = _call(parse_age_bin, value)
    if ok and age_bin is not None:
        assert type(age_bin) is int and 0 <= age_bin < len(AGE_BIN_LABELS)
        text = str(value).strip()
        assert text in AGE_BIN_LABELS or re.fullmatch(r"[0-9.]+", text), f"accepted {value!r}"
    ok, index = _call(parse_index, value, "index", 99999)
    if ok:
        assert type(index) is int and 0 <= index <= 99999


@fuzz(1500)
@given(value=label_values)
def test_age_to_bin_and_age_bin_from_label_are_total(value):
    COUNTS["age_to_bin+age_bin_from_label"] += 1
    ok, index = _call(age_to_bin, value)
    if ok:
        assert type(index) is int and 0 <= index < len(AGE_BIN_LABELS)
        assert not isinstance(value, (bool, str, bytes, np.bool_)) and float(value) >= 0
    ok, index = _call(age_bin_from_label, value)
    if ok:
        assert AGE_BIN_LABELS[index] == value.strip()


utk_field = st.one_of(numberish, st.from_regex(r"[0-9]{1,4}", fullmatch=True), st.sampled_from(["0", "1", "4", "5"]),
                      st.from_regex(r"[0-9]{16,18}", fullmatch=True), st.text(max_size=6))
utk_stem = st.one_of(st.lists(utk_field, min_size=1, max_size=6).map("_".join), st.text(max_size=40), long_text)


@fuzz(1000)
@given(stem=utk_stem, max_age=st.sampled_from([MAX_AGE, 116, 1000]))
def test_parse_utkface_name_is_total(stem, max_age):
    COUNTS["parse_utkface_name"] += 1
    ok, parsed = _call(parse_utkface_name, stem, max_age)
    if ok:
        age, gender, race, stamp = parsed
        assert 0 <= age <= max_age and gender in (0, 1) and race in range(5)
        assert re.fullmatch(r"[0-9]{1,64}", stamp) and stem.isascii() and "\n" not in stem


# -- whole-file indexing -------------------------------------------------------------------------
IMAGE_IDS = ("a", "b", "c", "p 1")
HEADER = ["id", "age", "age_bin", "gender", "note"]
cell = st.one_of(st.sampled_from(IMAGE_IDS + ("", "d")), numberish, st.text(max_size=12),
                 st.sampled_from(["20-29", "70-120", "female", "M", "0", "1", "34", "120", "121", "1e308"]),
                 st.integers(65_530, 65_540).map(lambda n: "x" * n))  # around the 64 KiB field bound
header_cell = st.one_of(st.sampled_from(HEADER + ["filename", "race", ""]), st.text(max_size=6))


@st.composite
def csv_bytes(draw) -> tuple[bytes, bool]:
    """An attributes.csv as bytes and whether its header is the canonical one."""
    canonical = draw(st.booleans()) or draw(st.booleans())
    header = HEADER if canonical else draw(st.lists(header_cell, min_size=1, max_size=6))
    rows = draw(st.lists(st.lists(cell, max_size=7), max_size=8))
    if draw(st.booleans()):  # properly quoted
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator=draw(st.sampled_from(["\n", "\r\n"]))).writerows(rows)
        body = buffer.getvalue()
    else:  # raw: commas, quotes and newlines inside cells break the quoting
        body = "".join(",".join(row) + draw(st.sampled_from(["\n", "\r\n", "\r"])) for row in rows)
    data = (",".join(header) + "\n").encode("utf-8") + body.encode("utf-8", "surrogateescape")
    if draw(st.booleans()):  # a few raw bytes somewhere in the body: invalid UTF-8, NUL, a stray BOM
        junk = draw(st.binary(min_size=1, max_size=3))
        at = draw(st.integers(len(",".join(header)) + 1, len(data)))
        data = data[:at] + junk + data[at:]
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    return data, canonical


@pytest.fixture(scope="module")
def folder_root(tmp_path_factory):
    from PIL import Image

    root = tmp_path_factory.mktemp("fuzz_folder")
    (root / "hq").mkdir()
    for key in IMAGE_IDS:
        Image.new("RGB", (4, 4), (90, 90, 90)).save(root / "hq" / f"{key}.png")
    return root


@fuzz(300)
@given(generated=csv_bytes())
def test_folder_index_never_raises_for_bad_label_content(folder_root, generated):
    COUNTS["FolderDataset.index"] += 1
    data, canonical = generated
    csv_path = folder_root / "attributes.csv"
    csv_path.write_bytes(data)
    dataset = FolderDataset(folder_root, coding="frbench")  # integer labels need a declared coding
    try:
        samples = dataset.index()
    except ValueError as exc:
        assert not canonical, f"index() raised for row content: {exc}"
        assert str(csv_path) in str(exc) and len(str(exc)) <= 2 * MAX_MESSAGE + len(str(csv_path))
        return
    assert sorted(s.id for s in samples) == sorted(IMAGE_IDS)
    for sample in samples:
        a = sample.attributes
        assert a.age is None or (math.isfinite(a.age) and 0 <= a.age <= MAX_AGE)
        assert a.age_bin is None or a.age_bin in range(len(AGE_BIN_LABELS))
        assert a.gender in (None, 0, 1)
        assert a.age is None or a.age_bin == age_to_bin(a.age)
        assert all("\x00" not in str(v) and not re.search("[\udc80-\udcff]", str(v)) for v in a.extra.values())
    images = {str(s.hq) for s in samples}
    for issue in dataset.issues:  # each names a CSV line (row problems) or an image (no usable row)
        assert isinstance(issue, DatasetIssue) and len(issue.reason) <= MAX_MESSAGE
        if issue.path.startswith(str(csv_path)):
            assert re.fullmatch(r" lines? [0-9]+(-[0-9]+)?", issue.path[len(str(csv_path)):]), issue.path
        else:
            assert issue.path in images and issue.reason.startswith("no usable row"), issue


utk_name = st.one_of(
    st.tuples(st.one_of(numberish, st.integers(0, 1200).map(str)), st.sampled_from(["0", "1", "2", "\u0661"]),
              st.sampled_from(["0", "4", "5", "\u0663"]), st.from_regex(r"[0-9]{15,18}", fullmatch=True)
              ).map("_".join),
    st.text(max_size=30),
)


@pytest.fixture(scope="module")
def utk_root(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz_utkface")


@fuzz(200)
@given(names=st.lists(utk_name, min_size=1, max_size=6), folder_entry=st.booleans())
def test_utkface_index_never_raises_for_generated_names(utk_root, names, folder_entry):
    COUNTS["UTKFace.index"] += 1
    folder = utk_root / "images"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    made = 0
    for stem in names:
        name = stem.replace("/", "_").replace("\x00", "_") + CHIP_SUFFIX
        if len(os.fsencode(name)) <= 255 and name not in (".", ".."):
            (folder / name).write_bytes(b"\xff\xd8")
            made += 1
    if folder_entry:
        (folder / ("9_0_0_20170116174525125" + CHIP_SUFFIX + ".d.jpg")).mkdir()
    dataset = UTKFace(utk_root)
    if made == 0 and not folder_entry:
        with pytest.raises(FileNotFoundError, match="no images"):
            dataset.index()
        return
    samples = dataset.index()
    for sample in samples:
        a = sample.attributes
        assert type(a.age) is int and 0 <= a.age <= MAX_AGE and a.gender in (0, 1) and a.extra["race"] in range(5)
        assert re.fullmatch(r"[0-9]{1,3}_[01]_[0-4]_[0-9]{1,64}", sample.id), sample.id
    assert all(len(i.reason) <= MAX_MESSAGE for i in dataset.issues)
