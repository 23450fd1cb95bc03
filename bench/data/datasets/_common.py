"""Small helpers shared by the dataset loaders: label parsing, label-file reading, stable hashing, file lookup.

Policy (every bad label ends in a clear, recorded outcome)
    * Parsers (:func:`parse_age`, :func:`parse_gender`, :func:`parse_age_bin`, :func:`parse_index`) are
      total: whatever the input (huge numbers, ``inf``/``nan`` spellings, non-ASCII digits, control
      characters, very long text, objects whose ``str()`` fails) only ``ValueError`` with a short cause
      (at most :data:`SHOWN_CHARS` characters of the value) leaves them. Numbers must be written with
      ASCII digits: Python's ``float``, ``int`` and ``str.isdigit`` accept Arabic-Indic ``'٣'`` (and
      ``float`` takes ``'1e308'``, ``'inf'``), which no label file means. Blank cells, ``nan`` and ``NA``
      mean unknown (``None``).
    * Ages are checked against ``0..max_age`` years, :data:`MAX_AGE` = 120 by default (the upper edge of
      the last FFHQ-Aging group, ``70-120``); each dataset may override ``max_age``.
    * Label files (:func:`read_csv_dicts`, :func:`read_label_text`): a file that cannot be opened, is
      larger than :data:`MAX_LABEL_FILE_BYTES` or has no usable header is a whole-file ``ValueError``
      naming the file. Every other problem is per row: a :class:`~bench.core.types.DatasetIssue`
      naming the file and line, the row not used (more or fewer fields than the header, a field longer
      than :data:`MAX_FIELD_CHARS`, bytes that are not UTF-8, a NUL byte, an unparsable CSV record).
    * Duplicates (:func:`unique_rows`): every row of a key that occurs more than once is not used and each
      is reported: the rows may disagree and nothing says which one is right.
    * Counting (:class:`RowCounts`, each loader's ``filter_counts``): every row, file or metadata entry a
      loader does not turn into a sample is counted under a short reason, with a few example locations,
      and a kind: :data:`BAD_DATA` (the entry is wrong: an unparsable name, a photo taken before birth, a
      malformed label row), :data:`FILTER` (the entry is fine but outside the selection asked for: an age
      over ``max_age``, the other split, a low face score) or :data:`COARSE` (kept, but a label is coarser
      than the suite's: a FairFace age group spanning two FFHQ-Aging groups). The run summary prints them,
      the store keeps them with the run and ``bench errors`` lists them.
The loaders turn a parser's ``ValueError`` into a ``DatasetIssue`` naming the file (and row), so that
indexing never crashes on bad label content.
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import io
import math
import numbers
import re
import zlib
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TypeVar

from bench.core.imageio import list_images
from bench.core.types import AGE_BIN_LABELS, DatasetIssue, age_bin_from_label

T = TypeVar("T")

#: Spellings accepted for gender in label files (case-insensitive), mapped to 0 = female, 1 = male.
GENDER_WORDS = {
    "0": 0, "f": 0, "female": 0, "woman": 0, "w": 0,
    "1": 1, "m": 1, "male": 1, "man": 1,
}
#: Default largest accepted age, in years (the upper edge of the FFHQ-Aging group ``70-120``).
MAX_AGE = 120
#: Longest CSV field read, in characters (64 KiB); a row with a longer field is an issue, not used.
MAX_FIELD_CHARS = 64 * 1024
#: Largest label file read, in bytes after gunzip (the 70,000-row FFHQ features CSV is about 14 MB).
MAX_LABEL_FILE_BYTES = 256 * 1024 * 1024
#: Longest text a label parser looks at: no age, gender or index is longer.
MAX_LABEL_CHARS = 64
#: Characters of a bad value quoted in a message.
SHOWN_CHARS = 40
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")  # ASCII only: no sign, exponent, inf or nan
_BINARY = re.compile(r"[01](?:\.0*)?")
_INDEX = re.compile(r"[0-9]+(?:\.0*)?")
_NEWLINE = re.compile(r"\r\n|\r|\n")
_BAD_TEXT = re.compile("[\x00\udc80-\udcff]")  # NUL, or a byte that was not UTF-8 (surrogateescape)


def shown(value: Any, limit: int = SHOWN_CHARS) -> str:
    """A short printable form of a bad value for messages: long text cut, huge integers summarised."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and int(value).bit_length() > 64:
        return f"<integer of {int(value).bit_length()} bits>"
    if isinstance(value, str):
        return repr(value) if len(value) <= limit else f"{value[:limit]!r}... ({len(value)} characters)"
    try:
        text = repr(value)
    except Exception:  # a hostile __repr__ must not turn a label problem into a crash
        return f"<{type(value).__name__}>"
    return text if len(text) <= limit + 2 else text[:limit] + "..."


def cut(text: str, limit: int = SHOWN_CHARS) -> str:
    """``text`` itself when short, else its first ``limit`` characters and the length (for messages)."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def is_blank(value: Any) -> bool:
    """True for ``None``, empty/whitespace strings, ``"nan"``/``"NA"`` and NaN floats (a missing label)."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == "" or value.strip().lower() in ("nan", "na")
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        try:
            return math.isnan(value)
        except (TypeError, ValueError, OverflowError):
            return False
    return False


def label_text(value: Any, what: str) -> str | None:
    """A label cell as stripped text; ``None`` when blank; ``ValueError`` when not text-like or too long."""
    if is_blank(value):
        return None
    try:
        text = value if isinstance(value, str) else str(value)
    except Exception:  # str() of a huge int raises ValueError, a hostile __str__ anything
        raise ValueError(f"{what} {shown(value)} cannot be read as text") from None
    text = text.strip()
    if is_blank(text):
        return None
    if len(text) > MAX_LABEL_CHARS:
        raise ValueError(f"{what} {shown(text)} is too long to be a label")
    return text


def parse_gender(value: Any) -> int | None:
    """Gender label -> 0 (female) / 1 (male); ``None`` when blank; ``ValueError`` when unrecognised.

    Accepts (ASCII, case-insensitive) 0/1 (suite convention, also ``"0.0"``/``"1.0"``), female/male,
    F/M, woman/man.
    """
    text = label_text(value, "gender")
    if text is None:
        return None
    if text.isascii():
        if text.lower() in GENDER_WORDS:
            return GENDER_WORDS[text.lower()]
        if _BINARY.fullmatch(text):
            return int(text[0])
    raise ValueError(f"unrecognised gender {shown(text)} (expected 0/1, female/male, F/M or woman/man)")


def parse_age(value: Any, max_age: float = MAX_AGE) -> float | None:
    """Age in years in ``0..max_age``; ``None`` when blank; ``ValueError`` otherwise.

    Text must be an ASCII decimal (``34``, ``71.5``, ``34.0``): no sign, exponent, ``inf`` or non-ASCII
    digits. Numbers (``int``/``float``, not ``bool``) are range-checked as they are. Whole numbers are
    returned as ``int``.
    """
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and not is_blank(value):
        number = value
        try:
            finite = isinstance(value, numbers.Integral) or math.isfinite(value)
        except (TypeError, ValueError, OverflowError):  # e.g. a Fraction too large for a float
            finite = False
        if not finite:
            raise ValueError(f"age {shown(value)} is not a finite number of years")
    else:
        text = label_text(value, "age")
        if text is None:
            return None
        if not _DECIMAL.fullmatch(text):
            raise ValueError(f"age {shown(text)} is not a number of years (ASCII digits, e.g. 34 or 71.5)")
        number = float(text)  # at most MAX_LABEL_CHARS digits: cannot overflow
    if not 0 <= number <= max_age:
        raise ValueError(f"age {shown(value if not isinstance(value, str) else value.strip())} is outside "
                         f"0-{max_age} years")
    number = float(number)
    return int(number) if number.is_integer() else number


def parse_age_bin(value: Any) -> int | None:
    """FFHQ-Aging group: an index 0..9 (ASCII) or a label such as ``"20-29"``; ``None`` when blank."""
    text = label_text(value, "age bin")
    if text is None:
        return None
    if "-" in text[1:]:
        return age_bin_from_label(text)
    if not _DECIMAL.fullmatch(text):
        raise ValueError(f"age bin {shown(text)} is neither an index 0-{len(AGE_BIN_LABELS) - 1} "
                         f"nor a label like '20-29'")
    number = float(text)
    if not number.is_integer() or not 0 <= number < len(AGE_BIN_LABELS):
        raise ValueError(f"age bin index {shown(text)} is not an integer in 0..{len(AGE_BIN_LABELS) - 1}")
    return int(number)


def parse_index(value: Any, what: str, maximum: int | None = None) -> int:
    """A non-negative whole number written with ASCII digits (``"42"``, also ``"42.0"``); ``ValueError``
    when blank, malformed or above ``maximum``."""
    text = label_text(value, what)
    if text is None:
        raise ValueError(f"{what} is missing")
    if not _INDEX.fullmatch(text):
        raise ValueError(f"{what} {shown(text)} is not a whole number (ASCII digits)")
    number = int(text.split(".")[0])
    if maximum is not None and number > maximum:
        raise ValueError(f"{what} {number} is above {maximum}")
    return number


def check_max_age(max_age: Any) -> float:
    """A dataset's ``max_age`` option: a finite number of years > 0, else ``ValueError``."""
    finite = isinstance(max_age, numbers.Integral) or (isinstance(max_age, numbers.Real) and math.isfinite(max_age))
    if isinstance(max_age, bool) or not finite or max_age <= 0:
        raise ValueError(f"max_age must be a finite number of years > 0, got {shown(max_age)}")
    return max_age


def optional_str(value: Any) -> str | None:
    """A path-like option as text (command-line values arrive YAML-typed: ``00000`` would be an int)."""
    return None if value is None else str(value)


def stable_unit(key: str, salt: str = "") -> float:
    """A deterministic number in ``[0, 1)`` from the SHA-1 of ``salt + key`` (same on every machine)."""
    digest = hashlib.sha1(f"{salt}{key}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


def check_split(split: str, test_fraction: float) -> None:
    if split not in ("all", "train", "test"):
        raise ValueError(f"split must be 'all', 'train' or 'test', got {split!r}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")


def in_split(sample_id: str, split: str, test_fraction: float, seed: int = 0) -> bool:
    """Seeded hash split: a sample is in ``test`` when ``stable_unit(id, salt) < test_fraction``.

    The salt is empty for ``seed == 0`` (the split every earlier frbench run and trained model used) and
    ``"frbench-split:{seed}:"`` otherwise, so another seed gives another random partition; either way
    the assignment depends on the id alone, never on the file order.
    """
    if split == "all":
        return True
    is_test = stable_unit(sample_id, "" if int(seed) == 0 else f"frbench-split:{int(seed)}:") < test_fraction
    return is_test if split == "test" else not is_test


def read_label_text(path: Path) -> str:
    """Text of a label file (``*.gz`` gunzipped) decoded as UTF-8, a BOM dropped.

    Bytes that are not UTF-8 are kept as lone surrogates (``surrogateescape``) so that the line holding
    them can be reported alone (:func:`text_problem`) instead of failing the whole file. Raises
    ``ValueError`` naming the file when it cannot be read at all or is larger than
    :data:`MAX_LABEL_FILE_BYTES`.
    """
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as handle:
            data = handle.read(MAX_LABEL_FILE_BYTES + 1)
    except (OSError, EOFError, zlib.error, ValueError) as exc:  # missing, a folder, corrupt gzip, ...
        raise ValueError(f"{path}: cannot read label file ({cut(str(exc), 200)})") from None
    if len(data) > MAX_LABEL_FILE_BYTES:
        raise ValueError(f"{path}: label file larger than {MAX_LABEL_FILE_BYTES // 2**20} MiB; not read")
    return data.decode("utf-8-sig", errors="surrogateescape")


def text_lines(text: str) -> list[str]:
    """Physical lines of ``text`` (``\\r\\n``, ``\\r`` or ``\\n``), numbered as an editor numbers them."""
    return _NEWLINE.split(text)


def text_problem(text: str) -> str | None:
    """Why a piece of label text cannot be used (invalid UTF-8 bytes, a NUL byte), or ``None``."""
    bad = _BAD_TEXT.search(text)
    if bad is None:
        return None
    if bad.group() == "\x00":
        return "contains a NUL byte"
    return f"byte 0x{ord(bad.group()) - 0xdc00:02x} is not UTF-8"


def _where(path: Path, first: int, last: int) -> str:
    return f"{path} line {first}" if first >= last else f"{path} lines {first}-{last}"


def _row_problem(fields: list[str], width: int) -> str | None:
    longest = max(len(f) for f in fields)
    if longest > MAX_FIELD_CHARS:
        return f"a field of {longest} characters (over the {MAX_FIELD_CHARS}-character limit)"
    if len(fields) != width:
        return f"{len(fields)} field{'' if len(fields) == 1 else 's'}, the header has {width}"
    for text in fields:
        problem = text_problem(text)
        if problem is not None:
            return problem
    return None


#: Kinds of :class:`RowCounts` entries: the entry is wrong / outside the selection asked for / kept, coarser.
BAD_DATA, FILTER, COARSE = "bad data", "filter", "coarse label"
KINDS = (BAD_DATA, FILTER, COARSE)
#: Example locations kept per reason (``bench errors --examples`` shows them).
MAX_EXAMPLES = 5
#: Reasons counted by the helpers of this module.
UNREADABLE_ROW = "unreadable label row (wrong field count, bad bytes, over-long field)"
DUPLICATE_ROW = "label row of an id given on several rows (none used)"
UNUSABLE_ENTRY = "unusable image entry (folder, broken link, unreadable file)"


class RowCounts:
    """How many rows (files, label rows, metadata entries) a loader dropped, filtered or coarsened, by reason.

    ``add(reason, where, kind)`` counts one entry; ``reason`` is a short fixed phrase (no per-row values,
    so that entries group), ``where`` a location (file, ``file line N``, ``imdb.mat imdb[i]``) of which the
    first :data:`MAX_EXAMPLES` are kept. ``counts[reason]`` is the count of a reason (0 when absent).
    :meth:`records` is the stored / printed form: one dict per reason, bad data first, then filters, then
    coarse labels, each by decreasing count.
    """

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Any]] = {}

    def add(self, reason: str, where: str, kind: str = BAD_DATA, n: int = 1) -> None:
        if kind not in KINDS:
            raise ValueError(f"row count kind must be one of {KINDS}, got {kind!r}")
        entry = self._entries.setdefault(reason, {"reason": reason, "kind": kind, "count": 0, "examples": []})
        if entry["kind"] != kind:
            raise ValueError(f"reason {reason!r} counted as {entry['kind']!r} and as {kind!r}")
        entry["count"] += n
        if len(entry["examples"]) < MAX_EXAMPLES:
            entry["examples"].append(str(where))

    def bad(self, reason: str, where: str) -> None:
        self.add(reason, where, BAD_DATA)

    def filtered(self, reason: str, where: str) -> None:
        self.add(reason, where, FILTER)

    def __getitem__(self, reason: str) -> int:
        entry = self._entries.get(reason)
        return 0 if entry is None else entry["count"]

    def __len__(self) -> int:
        return len(self._entries)

    def as_dict(self) -> dict[str, int]:
        """``{reason: count}`` (for tests and quick looks)."""
        return {reason: entry["count"] for reason, entry in self._entries.items()}

    def total(self, kind: str | None = None) -> int:
        return sum(e["count"] for e in self._entries.values() if kind is None or e["kind"] == kind)

    def records(self) -> list[dict[str, Any]]:
        """``[{"reason", "kind", "count", "examples"}]``: bad data, filters, coarse labels; larger counts first."""
        order = {kind: i for i, kind in enumerate(KINDS)}
        return [dict(e, examples=list(e["examples"])) for e in
                sorted(self._entries.values(), key=lambda e: (order[e["kind"]], -e["count"], e["reason"]))]


def read_csv_dicts(path: Path, required_any: Iterable[str] = (),
                   select: tuple[str, Callable[[str], bool]] | None = None, *,
                   issues: list[DatasetIssue], counts: RowCounts | None = None,
                   ) -> tuple[list[str], Iterator[tuple[int, dict]]]:
    """Header and ``(line_number, row_dict)`` pairs of a CSV file (``.csv`` or ``.csv.gz``).

    Whole-file ``ValueError`` naming the file: it cannot be read (:func:`read_label_text`), it has no
    header line, the header has bytes that are not UTF-8, a NUL byte, a field longer than
    :data:`MAX_FIELD_CHARS`, a repeated column name, or none of ``required_any``. Per row, appended to
    ``issues`` as ``DatasetIssue("<file> line N", reason)`` and the row not used: more or fewer fields
    than the header, a field longer than :data:`MAX_FIELD_CHARS`, invalid UTF-8, a NUL byte, a record the
    ``csv`` module refuses. Blank lines are skipped. ``line_number`` is the first line of the record.
    ``select=(column, keep)`` returns only the rows whose ``column`` value passes ``keep`` (cheap
    pre-filtering of large label files; rows it drops are not checked). Python's own
    ``csv.field_size_limit`` is raised to the file-size bound so that it never fires first. Each row not
    used is also counted in ``counts`` (bad data, "unreadable label row").
    """
    text = read_label_text(path)
    csv.field_size_limit(max(csv.field_size_limit(), MAX_LABEL_FILE_BYTES + 1))
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] = []
    try:
        while not header:
            fields = next(reader, None)
            if fields is None:
                raise ValueError(f"{path}: empty file, no CSV header")
            header = [h.strip() for h in fields] if any(h.strip() for h in fields) else []
    except csv.Error as exc:
        raise ValueError(f"{path} line {reader.line_num}: unreadable CSV header ({exc})") from None
    problem = _row_problem(header, len(header))
    named = [h for h in header if h]
    if problem is None and len(set(named)) != len(named):
        problem = "a column name is repeated"
    if problem is not None:
        raise ValueError(f"{path} line {reader.line_num}: unusable CSV header ({problem})")
    required_any = list(required_any)
    if required_any and not any(name in header for name in required_any):
        raise ValueError(f"{path}: CSV header {shown(header, 200)} has none of the columns {required_any}")
    key_index = header.index(select[0]) if select is not None and select[0] in header else None
    rows = []
    first = reader.line_num + 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # defensive: with the raised field limit the reader accepts any text
            issues.append(DatasetIssue(_where(path, first, reader.line_num), f"unreadable CSV record ({exc}); "
                                                                            "row not used"))
            if counts is not None:
                counts.bad(UNREADABLE_ROW, _where(path, first, reader.line_num))
            first = reader.line_num + 1
            continue
        where, line, first = _where(path, first, reader.line_num), first, reader.line_num + 1
        if not any(f.strip() for f in fields):
            continue
        if key_index is not None and key_index < len(fields) and not select[1](fields[key_index]):
            continue
        problem = _row_problem(fields, len(header))
        if problem is not None:
            issues.append(DatasetIssue(where, f"{problem}; row not used"))
            if counts is not None:
                counts.bad(UNREADABLE_ROW, where)
            continue
        rows.append((line, dict(zip(header, fields))))
    return header, iter(rows)


def unique_rows(keyed: Iterable[tuple[str, int, T]], path: Path | str, issues: list[DatasetIssue],
                what: str = "id", counts: RowCounts | None = None) -> dict[str, tuple[int, T]]:
    """``{key: (line, row)}`` of the keys that occur once in ``(key, line, row)`` triples.

    Every row of a key that occurs more than once is not used, and each is reported in ``issues``
    (``"<path> line N"``): the rows may disagree and nothing says which one is right.
    """
    groups: dict[str, list[tuple[int, T]]] = {}
    for key, line, row in keyed:
        groups.setdefault(key, []).append((line, row))
    unique: dict[str, tuple[int, T]] = {}
    for key, group in groups.items():
        if len(group) == 1:
            unique[key] = group[0]
            continue
        lines = ", ".join(str(line) for line, _ in group[:10]) + (", ..." if len(group) > 10 else "")
        for line, _ in group:
            issues.append(DatasetIssue(f"{path} line {line}", f"{what} {shown(key)} is on {len(group)} rows "
                                                              f"(lines {lines}); none of them is used"))
            if counts is not None:
                counts.bad(DUPLICATE_ROW, f"{path} line {line}")
    return unique


def find_existing(folder: Path, candidates: Iterable[str]) -> list[Path]:
    """The candidates (relative names) that exist under ``folder``, in the given order."""
    return [folder / name for name in candidates if (folder / name).exists()]


def listed_images(folder: Path, *, issues: list[DatasetIssue], counts: RowCounts,
                  recursive: bool = False) -> list[Path]:
    """:func:`bench.core.imageio.list_images`, each unusable entry it reports also counted (bad data)."""
    before = len(issues)
    files = list_images(folder, recursive=recursive, issues=issues)
    for issue in issues[before:]:
        counts.bad(UNUSABLE_ENTRY, issue.path)
    return files
