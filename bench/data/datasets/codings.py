"""Label codings of CSV label files: which integer means what, and FairFace's own text vocabulary.

Why a coding must be declared
    An integer in a label file means nothing by itself: ``gender = 0`` is *female* in frbench's coding and
    *male* in the Hugging Face copy of FairFace; ``age = 3`` is 3 years in frbench's coding and the FairFace
    age group ``20-29`` (index 3) in the Hugging Face copy. A file with an integer in one of the label
    columns ``age``, ``age_bin``, ``gender``, ``race`` and no declared coding is refused
    (:func:`check_coding`) with a one-line message offering the codings:

    * ``frbench``: ``age`` in years, ``age_bin`` = FFHQ-Aging group index 0-9
      (:data:`bench.core.types.AGE_BINS`), ``gender`` 0 = female, 1 = male; ``race`` kept as written.
    * ``fairface-hf``: the Hugging Face dataset ``HuggingFaceM4/FairFace`` (dataset card
      https://huggingface.co/datasets/HuggingFaceM4/FairFace, ``class_label`` names): ``age`` = index
      0-8 of :data:`FAIRFACE_AGE_GROUPS`, ``gender`` 0 = Male, 1 = Female, ``race`` = index 0-6 of
      :data:`FAIRFACE_HF_RACES`. It has no ``age_bin`` column.

Text labels are self-describing and need no coding: genders ``female``/``male``/``F``/``M``/...
(:func:`bench.data.datasets._common.parse_gender`), age groups written as FFHQ-Aging labels (``"20-29"``)
or in FairFace's own vocabulary (Kärkkäinen & Joo, "FairFace: Face Attribute Dataset for Balanced Race,
Gender, and Age", WACV 2021; label files ``fairface_label_{train,val}.csv`` of
https://github.com/joojs/fairface: columns ``file, age, gender, race, service_test``).

FairFace age groups -> FFHQ-Aging groups
    A FairFace group ``[lo, hi]`` (``more than 70`` = ``[70, 120]``) overlaps the FFHQ-Aging groups
    ``[a, b]`` with ``a <= hi`` and ``lo <= b`` (:func:`fairface_bins`). When it overlaps exactly one, it
    nests and gives that ``age_bin`` (``0-2``, ``20-29``, ``30-39``, ``40-49``, ``50-59`` and ``60-69`` in
    ``50-69``, ``more than 70`` in ``70-120``); when it overlaps several (``3-9``: ``3-6``, ``7-9``;
    ``10-19``: ``10-14``, ``15-19``) the label is *coarse*: ``age_bin`` stays unknown, the FairFace group is
    kept in ``extra["age_group"]`` and the row is counted as a coarse label. Every FairFace row keeps its
    group in ``extra["age_group"]``.
"""
from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

from bench.core.types import AGE_BIN_LABELS, AGE_BINS, age_to_bin
from bench.data.datasets._common import (MAX_AGE, label_text, parse_age, parse_age_bin, parse_gender, parse_index,
                                         shown)

#: Declared codings of integer labels (``-D coding=NAME``), with what they mean (for messages).
CODINGS: dict[str, str] = {
    "frbench": "age in years, age_bin = FFHQ-Aging group 0-9, gender 0 = female, 1 = male",
    "fairface-hf": "Hugging Face FairFace: age = group index 0-8, gender 0 = male, 1 = female, race index 0-6",
}
#: FairFace age groups, in the order of the Hugging Face ``class_label`` (index 0-8).
FAIRFACE_AGE_GROUPS: tuple[str, ...] = ("0-2", "3-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69",
                                        "more than 70")
#: Hugging Face FairFace genders by index (FairFace text: ``Male``/``Female``).
FAIRFACE_HF_GENDERS: tuple[str, ...] = ("Male", "Female")
#: Hugging Face FairFace races by index.
FAIRFACE_HF_RACES: tuple[str, ...] = ("East Asian", "Indian", "Black", "White", "Middle Eastern", "Latino_Hispanic",
                                      "Southeast Asian")
#: The label columns whose integers need a coding.
CODED_COLUMNS: tuple[str, ...] = ("age", "age_bin", "gender", "race")
_INTEGER = re.compile(r"[0-9]+(?:\.0*)?")
_FAIRFACE_RANGES = {label: (int(label.split("-")[0]), int(label.split("-")[1])) if "-" in label else (70, 120)
                    for label in FAIRFACE_AGE_GROUPS}


def check_coding_name(coding: Any) -> str | None:
    """A ``coding`` option: ``None`` or one of :data:`CODINGS`, else ``ValueError`` listing them."""
    if coding is None or coding in CODINGS:
        return coding
    raise ValueError(f"unknown label coding {shown(coding)}; expected one of: "
                     + "; ".join(f"{name} ({meaning})" for name, meaning in CODINGS.items()))


def is_integer_code(value: Any) -> bool:
    """True when a label cell is a whole number written in ASCII digits (``"0"``, ``"3"``, ``"34.0"``)."""
    return isinstance(value, str) and _INTEGER.fullmatch(value.strip()) is not None


def check_coding(path: Any, rows: Iterable[tuple[int, Mapping[str, str]]], coding: str | None) -> None:
    """Refuse (``ValueError``, one line naming the file, line and value) integer labels without a coding."""
    if coding is not None:
        return
    for line, row in rows:
        for column in CODED_COLUMNS:
            if is_integer_code(row.get(column)):
                raise ValueError(
                    f"{path} line {line}: integer-coded label ({column} = {row[column].strip()!r}) and no declared "
                    "coding; say which: " + "; ".join(f"-D coding={n} ({m})" for n, m in CODINGS.items()))


def fairface_bins(group: str) -> tuple[int, ...]:
    """Indices of the FFHQ-Aging groups a FairFace age group overlaps (one when it nests)."""
    lo, hi = _FAIRFACE_RANGES[group]
    return tuple(i for i, (a, b) in enumerate(AGE_BINS) if a <= hi and lo <= b)


def age_group(text: str) -> tuple[int | None, str | None, str | None]:
    """``(age_bin, fairface_group, coarse_reason)`` of an age-group label (FFHQ-Aging or FairFace text).

    ``coarse_reason`` is a fixed phrase (for counting) when a FairFace group spans several FFHQ-Aging
    groups; ``ValueError`` when the text is in neither vocabulary.
    """
    text = text.strip()
    group = next((g for g in FAIRFACE_AGE_GROUPS if g.lower() == text.lower()), None)
    if text in AGE_BIN_LABELS and group is None:
        return AGE_BIN_LABELS.index(text), None, None
    if group is None:
        raise ValueError(f"unknown age group {shown(text)}; expected an FFHQ-Aging group "
                         f"({', '.join(AGE_BIN_LABELS)}) or a FairFace group ({', '.join(FAIRFACE_AGE_GROUPS)})")
    bins = fairface_bins(group)
    if len(bins) == 1:
        return bins[0], group, None
    return None, group, (f"FairFace age group {group} spans FFHQ-Aging groups "
                         f"{', '.join(AGE_BIN_LABELS[b] for b in bins)} (age_bin left unknown)")


def decode_labels(row: Mapping[str, str], coding: str | None, max_age: float = MAX_AGE) -> tuple[dict, str | None]:
    """``({"age", "age_bin", "gender", "extra"}, coarse_reason)`` of a label row; ``ValueError`` when a value
    cannot be read in the declared coding (integers without a coding are refused by :func:`check_coding`)."""
    hf = coding == "fairface-hf"
    age = age_bin = None
    extra: dict[str, Any] = {}
    coarse = None
    text = label_text(row.get("age"), "age")
    if text is not None:
        if hf and is_integer_code(text):
            group = FAIRFACE_AGE_GROUPS[parse_index(text, "FairFace age index", len(FAIRFACE_AGE_GROUPS) - 1)]
            age_bin, extra["age_group"], coarse = age_group(group)
        elif "-" in text[1:] or text.lower() == "more than 70":
            age_bin, group, coarse = age_group(text)
            if group is not None:
                extra["age_group"] = group
        elif hf:
            raise ValueError(f"age {shown(text)} is neither a FairFace group index 0-8 nor a group label")
        else:
            age = parse_age(text, max_age)
    text = label_text(row.get("age_bin"), "age bin")
    if text is not None:
        if hf and is_integer_code(text):
            raise ValueError("coding fairface-hf has no age_bin column (its age groups are in 'age')")
        if is_integer_code(text):
            row_bin, coarse_bin = parse_age_bin(text), None
        else:
            row_bin, group, coarse_bin = age_group(text)
            if group is not None:
                extra["age_group"] = group
        if age_bin is not None and row_bin is not None and row_bin != age_bin:
            raise ValueError(f"age group {shown(row.get('age'))} and age_bin {shown(text)} disagree")
        age_bin = row_bin if row_bin is not None else age_bin
        coarse = coarse or coarse_bin
    if age is not None and age_bin is not None and age_to_bin(age) != age_bin:
        raise ValueError(f"age {age} is not in age bin {age_bin}")
    gender = row.get("gender")
    if hf and is_integer_code(gender):
        index = parse_index(gender, "FairFace gender index", len(FAIRFACE_HF_GENDERS) - 1)
        gender = FAIRFACE_HF_GENDERS[index]
    gender = parse_gender(gender)
    race = label_text(row.get("race"), "race")
    if race is not None:
        extra["race"] = FAIRFACE_HF_RACES[parse_index(race, "FairFace race index", 6)] if hf and is_integer_code(race) \
            else race
    return {"age": age, "age_bin": age_bin, "gender": gender, "extra": extra}, coarse
