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
    * AGE: integer years, 0-116.
    * GENDER: UTKFace codes 0 = male, 1 = female; converted here to the suite convention
      0 = female, 1 = male.
    * RACE: 0 White, 1 Black, 2 Asian, 3 Indian, 4 Other (Hispanic, Latino, Middle Eastern...);
      stored in ``Attributes.extra`` as ``race`` (code) and ``race_name``.
    * DATETIME: ``yyyymmddHHMMSSFFF`` (17 digits), when the image was collected.
    A name that does not match this pattern exactly (a field missing, a code out of range, a
    datetime that is not 17 digits) is reported in :attr:`issues` and skipped: its labels cannot
    be trusted. The public archive contains a few such names.

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

from bench.core.imageio import IMAGE_EXTENSIONS
from bench.core.types import Attributes, Dataset, DatasetIssue, Sample
from bench.data.datasets._common import check_split, in_split

RACE_NAMES = ("White", "Black", "Asian", "Indian", "Other")
#: The chip suffix of the aligned & cropped archive (the in-the-wild archive has plain ``.jpg``).
CHIP_SUFFIX = ".jpg.chip.jpg"
_NAME = re.compile(r"^(?P<age>\d{1,3})_(?P<gender>[01])_(?P<race>[0-4])_(?P<datetime>\d{17})$")


def parse_utkface_name(stem: str) -> tuple[int, int, int, str]:
    """``(age, suite_gender, race, datetime)`` from an id such as ``26_1_2_20170116174525125``.

    Raises ``ValueError`` saying what is wrong with the name.
    """
    match = _NAME.match(stem)
    if match is None:
        fields = stem.split("_")
        if len(fields) != 4:
            raise ValueError(f"malformed UTKFace name: {len(fields)} fields instead of 4 "
                             "(AGE_GENDER_RACE_DATETIME)")
        age, gender, race, stamp = fields
        if not age.isdigit():
            raise ValueError(f"malformed UTKFace name: age {age!r} is not a whole number")
        if gender not in ("0", "1"):
            raise ValueError(f"malformed UTKFace name: gender {gender!r} is not 0 (male) or 1 (female)")
        if race not in ("0", "1", "2", "3", "4"):
            raise ValueError(f"malformed UTKFace name: race {race!r} is not a code 0-4")
        raise ValueError(f"malformed UTKFace name: datetime {stamp!r} is not 17 digits (yyyymmddHHMMSSFFF)")
    utk_gender = int(match["gender"])
    return int(match["age"]), 1 - utk_gender, int(match["race"]), match["datetime"]


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

    def __init__(self, root=None, *, split: str = "all", test_fraction: float = 0.2, split_seed: int = 0) -> None:
        check_split(split, test_fraction)
        super().__init__(root, split=split, test_fraction=test_fraction, split_seed=int(split_seed))
        self.split = split
        self.test_fraction = test_fraction
        self.split_seed = int(split_seed)

    def image_folder(self) -> Path:
        root = self.require_root()
        return root / "images" if (root / "images").is_dir() else root

    def index(self) -> list[Sample]:
        folder = self.image_folder()
        self.issues = []
        samples = []
        seen: set[str] = set()
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise FileNotFoundError(f"dataset 'utkface': no images in {folder} "
                                    "(expected AGE_GENDER_RACE_DATETIME.jpg.chip.jpg files)")
        for path in files:
            name = path.name
            stem = name[: -len(CHIP_SUFFIX)] if name.lower().endswith(CHIP_SUFFIX) else path.stem
            try:
                age, gender, race, stamp = parse_utkface_name(stem)
            except ValueError as exc:
                self.issues.append(DatasetIssue(str(path), str(exc)))
                continue
            if stem in seen:
                self.issues.append(DatasetIssue(str(path), f"duplicate UTKFace id {stem!r}; file skipped"))
                continue
            seen.add(stem)
            if not in_split(stem, self.split, self.test_fraction, self.split_seed):
                continue
            attributes = Attributes(age=age, gender=gender,
                                    extra={"race": race, "race_name": RACE_NAMES[race]})
            samples.append(Sample(id=stem, hq=path, attributes=attributes,
                                  meta={"file": name, "datetime": stamp}))
        samples.sort(key=lambda s: s.id)
        return samples
