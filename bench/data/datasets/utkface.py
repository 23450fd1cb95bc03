"""UTKFace: aligned and cropped faces labelled with age, gender and race in their file names.

Dataset
    Zhang, Song, Qi, "Age Progression/Regression by Conditional Adversarial Autoencoder", CVPR 2017.
    Project page https://susanqq.github.io/UTKFace/ . About 23,700 faces aged 0-116, aligned and
    cropped to 200x200 JPEG ("Aligned&Cropped Faces" archive ``UTKFace.tar.gz``). Licence: non-commercial
    research only; the copyright of the images stays with their owners.

Layout
    A flat folder of ``AGE_GENDER_RACE_DATETIME.jpg.chip.jpg`` files, e.g.
    ``26_1_2_20170116174525125.jpg.chip.jpg``. ``root`` may be that folder or a folder holding it as
    ``images/``.

Labels (from the file name)
    * AGE: integer years written with ASCII digits (1 to 3 of them). The dataset documents 0-116; names
      up to ``max_age`` (default 120, the suite-wide bound: the upper edge of the last FFHQ-Aging group)
      are accepted, so that a corrected or extended release is not cut silently, while a typo such as
      ``999`` is refused. Non-ASCII digits (``'٣'``, which Python's ``\\d`` and ``int`` accept) are refused.
    * GENDER: UTKFace codes 0 = male, 1 = female; converted here to the suite convention
      0 = female, 1 = male.
    * RACE: 0 White, 1 Black, 2 Asian, 3 Indian, 4 Other (Hispanic, Latino, Middle Eastern...);
      stored in ``Attributes.extra`` as ``race`` (code) and ``race_name``.
    * DATETIME: ``yyyymmddHHMMSSFFF`` (17 digits), when the image was collected. It is not a label: the
      public archive also has shorter stamps (``14_0_0_2017011022340900``, 16 digits), so any run of ASCII
      digits (at most 64, the longest label text read) is accepted and kept as written in ``meta["datetime"]``.
    A name whose labels do not parse (a field missing, a code out of range, an age above ``max_age``, a
    datetime that is not digits) is reported in :attr:`issues` and skipped: its labels cannot be trusted.
    The public archive contains a few such names (e.g. ``39_1_20170116174525125``, race missing).
    Entries with an image extension that are not usable files (folders, broken links, link loops,
    unreadable files) are issues too (:func:`bench.core.imageio.list_images`). Two files giving the same
    id (``x.jpg.chip.jpg`` and ``x.jpg``) are an issue and the first by name is kept: their labels come
    from the same name, so they cannot disagree.

Every file not used is counted by reason in :attr:`filter_counts` (an unparsable name, a duplicate id
and an unusable entry as bad data, the other side of the split as a filter).

Sample ids are the file names without the ``.jpg.chip.jpg`` tail. ``split`` selects a seeded
train/test partition by the SHA-1 of the id (``test`` when the hash falls below ``test_fraction``;
``split_seed`` salts the hash, 0 = the partition of every earlier frbench run): it is stable across
machines and file orders.  Within a split, ``--limit`` takes the run's seeded permutation
(:mod:`bench.harness.selection`), never name order. UTKFace has no identity labels, so the same person
may appear on both sides of the split.
"""
from __future__ import annotations

import re
from pathlib import Path

from bench.core.types import Attributes, Dataset, DatasetIssue, Sample
from bench.data.datasets._common import (MAX_AGE, MAX_LABEL_CHARS, RowCounts, check_max_age, check_split, in_split,
                                         listed_images, shown)

RACE_NAMES = ("White", "Black", "Asian", "Indian", "Other")
#: The chip suffix of the aligned & cropped archive (the in-the-wild archive has plain ``.jpg``).
CHIP_SUFFIX = ".jpg.chip.jpg"
#: ASCII digits only (`\d` would take Arabic-Indic digits); matched with fullmatch (no trailing newline).
_NAME = re.compile(r"(?P<age>[0-9]{1,3})_(?P<gender>[01])_(?P<race>[0-4])_(?P<datetime>[0-9]{1,%d})" % MAX_LABEL_CHARS)
#: Reasons counted in ``filter_counts``.
BAD_NAME = "file name whose labels do not parse"
SAME_ID = "second file with the same UTKFace id"
OTHER_SPLIT = "in the other side of the train/test split"


def parse_utkface_name(stem: str, max_age: float = MAX_AGE) -> tuple[int, int, int, str]:
    """``(age, suite_gender, race, datetime)`` from an id such as ``26_1_2_20170116174525125``.

    Total: raises only ``ValueError`` saying (briefly) what is wrong with the name, whatever the input.
    """
    if not isinstance(stem, str):
        raise ValueError(f"malformed UTKFace name: {type(stem).__name__} is not text")
    match = _NAME.fullmatch(stem)
    if match is None:
        fields = stem.split("_")
        if len(fields) != 4:
            raise ValueError(f"malformed UTKFace name: {len(fields)} fields instead of 4 "
                             "(AGE_GENDER_RACE_DATETIME)")
        age, gender, race, stamp = fields
        if re.fullmatch(r"[0-9]{1,3}", age) is None:
            raise ValueError(f"malformed UTKFace name: age {shown(age)} is not a whole number of years "
                             "(1-3 ASCII digits)")
        if gender not in ("0", "1"):
            raise ValueError(f"malformed UTKFace name: gender {shown(gender)} is not 0 (male) or 1 (female)")
        if race not in ("0", "1", "2", "3", "4"):
            raise ValueError(f"malformed UTKFace name: race {shown(race)} is not a code 0-4")
        raise ValueError(f"malformed UTKFace name: datetime {shown(stamp)} is not 1-{MAX_LABEL_CHARS} ASCII digits "
                         "(yyyymmddHHMMSSFFF)")
    age = int(match["age"])
    if age > max_age:
        raise ValueError(f"malformed UTKFace name: age {age} is outside 0-{max_age} years")
    return age, 1 - int(match["gender"]), int(match["race"]), match["datetime"]


class UTKFace(Dataset):
    """UTKFace aligned crops; age, gender, race parsed from AGE_GENDER_RACE_DATETIME file names."""

    name = "utkface"
    description = "UTKFace aligned crops; age, gender, race parsed from AGE_GENDER_RACE_DATETIME file names."
    citation = (
        "Zhang, Song, Qi, Age Progression/Regression by Conditional Adversarial Autoencoder, CVPR 2017 "
        "(UTKFace)"
    )
    licence = "non-commercial research use only (UTKFace terms); images belong to their owners"
    has_hq = True
    synthetic = False
    framing = "utkface"  # UTKFace aligned-and-cropped framing (bench.data.framing)

    def __init__(self, root=None, *, split: str = "all", test_fraction: float = 0.2, split_seed: int = 0,
                 max_age: float = MAX_AGE) -> None:
        check_split(split, test_fraction)
        max_age = check_max_age(max_age)
        # max_age is recorded only when overridden, so that default run records stay as they were
        super().__init__(root, split=split, test_fraction=test_fraction, split_seed=int(split_seed),
                         **({} if max_age == MAX_AGE else {"max_age": max_age}))
        self.split = split
        self.test_fraction = test_fraction
        self.split_seed = int(split_seed)
        self.max_age = max_age
        self.filter_counts = RowCounts()

    def image_folder(self) -> Path:
        root = self.require_root()
        return root / "images" if (root / "images").is_dir() else root

    def index(self) -> list[Sample]:
        folder = self.image_folder()
        self.issues = []
        self.filter_counts = RowCounts()
        samples = []
        seen: set[str] = set()
        files = listed_images(folder, issues=self.issues, counts=self.filter_counts)
        if not files and not self.issues:
            raise FileNotFoundError(f"dataset 'utkface': no images in {folder} "
                                    "(expected AGE_GENDER_RACE_DATETIME.jpg.chip.jpg files)")
        for path in files:
            name = path.name
            stem = name[: -len(CHIP_SUFFIX)] if name.lower().endswith(CHIP_SUFFIX) else path.stem
            try:
                age, gender, race, stamp = parse_utkface_name(stem, self.max_age)
            except ValueError as exc:
                self.issues.append(DatasetIssue(str(path), str(exc)))
                self.filter_counts.bad(BAD_NAME, str(path))
                continue
            if stem in seen:
                self.issues.append(DatasetIssue(str(path), f"duplicate UTKFace id {stem!r}; file skipped"))
                self.filter_counts.bad(SAME_ID, str(path))
                continue
            seen.add(stem)
            if not in_split(stem, self.split, self.test_fraction, self.split_seed):
                self.filter_counts.filtered(OTHER_SPLIT, str(path))
                continue
            attributes = Attributes(age=age, gender=gender,
                                    extra={"race": race, "race_name": RACE_NAMES[race]})
            samples.append(Sample(id=stem, hq=path, attributes=attributes,
                                  meta={"file": name, "datetime": stamp}))
        samples.sort(key=lambda s: s.id)
        return samples
