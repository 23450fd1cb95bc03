"""Small helpers shared by the dataset loaders: label parsing, stable hashing, file lookup.

Parsers raise ``ValueError`` with a short cause; the loaders turn that into a
:class:`~bench.core.types.DatasetIssue` naming the file (and row) so that indexing never crashes on bad data.
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import io
import math
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from bench.core.types import AGE_BIN_LABELS, age_bin_from_label

#: Spellings accepted for gender in label files (case-insensitive), mapped to 0 = female, 1 = male.
GENDER_WORDS = {
    "0": 0, "f": 0, "female": 0, "woman": 0, "w": 0,
    "1": 1, "m": 1, "male": 1, "man": 1,
}


def is_blank(value: Any) -> bool:
    """True for ``None``, empty/whitespace strings and NaN floats (a missing label)."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == "" or value.strip().lower() in ("nan", "na")
    if isinstance(value, float):
        return math.isnan(value)
    return False


def parse_gender(value: Any) -> int | None:
    """Gender label -> 0 (female) / 1 (male); ``None`` when blank; ``ValueError`` when unrecognised.

    Accepts 0/1 (suite convention, also ``"0.0"``/``"1.0"``), female/male, F/M, woman/man.
    """
    if is_blank(value):
        return None
    text = str(value).strip().lower()
    if text in GENDER_WORDS:
        return GENDER_WORDS[text]
    try:
        number = float(text)
    except ValueError:
        number = None
    if number in (0.0, 1.0):
        return int(number)
    raise ValueError(f"unrecognised gender {value!r} (expected 0/1, female/male, F/M or woman/man)")


def parse_age(value: Any) -> float | None:
    """Age in years (>= 0, finite); ``None`` when blank; ``ValueError`` otherwise."""
    if is_blank(value):
        return None
    try:
        age = float(str(value).strip())
    except ValueError:
        raise ValueError(f"age {value!r} is not a number") from None
    if not math.isfinite(age) or age < 0:
        raise ValueError(f"age {value!r} is not a finite number of years >= 0")
    return int(age) if age.is_integer() else age


def parse_age_bin(value: Any) -> int | None:
    """FFHQ-Aging group: an index 0..9 or a label such as ``"20-29"``; ``None`` when blank."""
    if is_blank(value):
        return None
    text = str(value).strip()
    if "-" in text[1:]:
        return age_bin_from_label(text)
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"age bin {value!r} is neither an index 0-{len(AGE_BIN_LABELS) - 1} "
                         f"nor a label like '20-29'") from None
    if not number.is_integer() or not 0 <= number < len(AGE_BIN_LABELS):
        raise ValueError(f"age bin index {value!r} is not an integer in 0..{len(AGE_BIN_LABELS) - 1}")
    return int(number)


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


def open_text(path: Path) -> io.TextIOBase:
    """Open a text file, transparently gunzipping ``*.gz``; ``utf-8-sig`` drops a BOM."""
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def read_csv_dicts(path: Path, required_any: Iterable[str] = (),
                   select: tuple[str, Callable[[str], bool]] | None = None
                   ) -> tuple[list[str], Iterator[tuple[int, dict]]]:
    """Header and ``(line_number, row_dict)`` pairs of a CSV file (``.csv`` or ``.csv.gz``).

    ``select=(column, keep)`` returns only the rows whose ``column`` value passes ``keep`` (cheap
    pre-filtering of large label files). Raises ``ValueError`` naming the file when the header lacks all
    of ``required_any``. The file is read entirely (label files are small: 70k rows at most here).
    """
    try:
        with open_text(path) as handle:
            reader = csv.reader(handle)
            header = [h.strip() for h in next(reader, [])]
            key_index = header.index(select[0]) if select is not None and select[0] in header else None
            rows = []
            for fields in reader:
                if not fields:
                    continue
                if key_index is not None and (key_index >= len(fields) or not select[1](fields[key_index])):
                    continue
                rows.append((reader.line_num, dict(zip(header, fields))))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"{path}: cannot read CSV ({exc})") from None
    required_any = list(required_any)
    if required_any and not any(name in header for name in required_any):
        raise ValueError(f"{path}: CSV header {header} has none of the columns {required_any}")
    return header, iter(rows)


def find_existing(folder: Path, candidates: Iterable[str]) -> list[Path]:
    """The candidates (relative names) that exist under ``folder``, in the given order."""
    return [folder / name for name in candidates if (folder / name).exists()]
