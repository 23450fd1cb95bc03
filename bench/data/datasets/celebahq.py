"""CelebA-HQ: 30,000 high-quality CelebA faces, labelled with CelebA's binary ``Male`` and ``Young``.

Dataset
    Karras, Aila, Laine, Lehtinen, "Progressive Growing of GANs", ICLR 2018 (CelebA-HQ, 1024x1024,
    https://github.com/tkarras/progressive_growing_of_gans); distributed with attributes and masks as
    CelebAMask-HQ (Lee et al., CVPR 2020, https://github.com/switchablenorms/CelebAMask-HQ). Source
    photographs: CelebA (Liu et al., ICCV 2015, https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html).
    Licence: non-commercial research and educational use only (CelebA agreement).

Layout (``root``)
    * images: ``CelebA-HQ-img/<idx>.jpg`` (CelebAMask-HQ), or a folder of ``<idx>.png|jpg`` (option
      ``images``; default: ``CelebA-HQ-img/`` when present, else ``root``). ``idx`` is the CelebA-HQ
      index 0-29999, zero-padded or not.
    * attributes, either
      - ``CelebAMask-HQ-attribute-anno.txt``: line 1 the count, line 2 the 40 attribute names, then rows
        ``<idx>.jpg  -1 1 ...`` keyed by the CelebA-HQ index; or
      - CelebA's ``list_attr_celeba.txt`` (same format, rows keyed ``000001.jpg`` ... ``202599.jpg``)
        together with ``CelebA-HQ-to-CelebA-mapping.txt`` (header ``idx orig_idx orig_file``, then
        whitespace rows ``0 119613 119614.jpg``).
      Option ``attributes`` names the file (default: the first of these found in ``root``); the key
      style is recognised from the rows (six-digit zero-padded CelebA names need the mapping, option
      ``mapping``, default ``root/CelebA-HQ-to-CelebA-mapping.txt``).

Labels
    ``Male`` 1 -> gender 1 (male), -1 -> 0 (female). CelebA has NO ages and no age bins: ``age`` and
    ``age_bin`` stay ``None`` (the reference protocol classifies the HQ image, spec §1.2 and §2.1).
    ``Young`` (1 = young) and any attributes named in ``extra_attributes`` go to ``Attributes.extra``
    as 0/1 integers. Sample ids are the index zero-padded to five digits (``"00042"`` for ``42.jpg``),
    so that sorting by id is numeric order.

Bad input (policy of :mod:`bench.data.datasets._common`; never a crash)
    An image whose stem is not an ASCII index 0-29999, or an entry with an image extension that is not a
    usable file (:func:`bench.core.imageio.list_images`), is an issue and skipped; two files with the same
    index (``7.jpg`` and ``00007.png``) are an issue, the first by name kept (two encodings of one face).
    In the attribute and mapping files a line with bytes that are not UTF-8, a NUL byte, the wrong
    number of values or values other than ``-1``/``1`` is an issue naming the file and line; every row of
    a key (file name, index) that appears on several rows is reported and none is used (they may
    disagree). Only a file that cannot be read, or whose two header lines are unusable, stops indexing
    (``ValueError`` naming the file). Every file or row not used is counted by reason in
    :attr:`filter_counts` (:class:`~bench.data.datasets._common.RowCounts`).
"""
from __future__ import annotations

import re
from pathlib import Path

from bench.core.types import Attributes, Dataset, DatasetIssue, Sample
from bench.data.datasets._common import (DUPLICATE_ROW, UNREADABLE_ROW, RowCounts, listed_images, optional_str,
                                         read_label_text, shown, text_lines, text_problem, unique_rows)

HQ_ANNOTATION = "CelebAMask-HQ-attribute-anno.txt"
CELEBA_ANNOTATION = "list_attr_celeba.txt"
MAPPING = "CelebA-HQ-to-CelebA-mapping.txt"
IMAGE_FOLDER = "CelebA-HQ-img"
_CELEBA_KEY = re.compile(r"[0-9]{6}\.(jpg|png)", re.IGNORECASE)  # ASCII digits, used with fullmatch
#: Largest CelebA-HQ index.
MAX_INDEX = 29999
_VALUES = {"1": 1, "+1": 1, "-1": -1}
#: Reasons counted in ``filter_counts``.
BAD_VALUE = "attribute row with a value other than -1 or 1"
BAD_KEY = "attribute row key that is not a CelebA-HQ index"
BAD_NAME = "image name that is not a CelebA-HQ index"
SAME_INDEX = "second image of a CelebA-HQ index"


def hq_index(text: str) -> int | None:
    """The CelebA-HQ index written by ``text`` (1-5 ASCII digits, at most :data:`MAX_INDEX`), or ``None``."""
    if re.fullmatch(r"[0-9]{1,5}", text) is None or int(text) > MAX_INDEX:
        return None
    return int(text)


def _lines(path: Path, what: str) -> list[str]:
    """Physical lines of a label text file; ``ValueError`` naming the file when it cannot be read."""
    try:
        return text_lines(read_label_text(path))
    except ValueError as exc:
        raise ValueError(f"{exc} ({what})") from None


def read_attribute_table(path: Path, issues: list[DatasetIssue],
                         counts: RowCounts | None = None) -> tuple[list[str], dict[str, list[int]]]:
    """``(attribute names, {file key: [+1/-1, ...]})`` of a CelebA-format attribute file.

    Malformed rows are reported in ``issues`` (and counted in ``counts``); an unreadable file or header
    raises ``ValueError``.
    """
    counts = counts if counts is not None else RowCounts()
    lines = _lines(path, "attribute file")
    if len(lines) < 2:
        raise ValueError(f"{path}: attribute file needs a count line and a line of attribute names")
    if re.fullmatch(r"[0-9]{1,9}", lines[0].strip()) is None:
        raise ValueError(f"{path}: line 1 should be the number of rows, got {shown(lines[0].strip())}")
    declared = int(lines[0].strip())
    names = lines[1].split()
    if text_problem(lines[1]) is not None:
        raise ValueError(f"{path}: line 2 (attribute names) is unusable ({text_problem(lines[1])})")
    if "Male" not in names:
        raise ValueError(f"{path}: line 2 (attribute names) has no 'Male' column")
    keyed = []
    for number, line in enumerate(lines[2:], start=3):
        fields = line.split()
        if not fields:
            continue
        where = f"{path} line {number}"
        problem = text_problem(line)
        if problem is not None:
            issues.append(DatasetIssue(where, f"{problem}; row not used"))
            counts.bad(UNREADABLE_ROW, where)
            continue
        if len(fields) != len(names) + 1:
            issues.append(DatasetIssue(where, f"{len(fields) - 1} values for {len(names)} attributes"))
            counts.bad(UNREADABLE_ROW, where)
            continue
        values = [_VALUES.get(v) for v in fields[1:]]
        if None in values:
            issues.append(DatasetIssue(where, "attribute values must be -1 or 1"))
            counts.bad(BAD_VALUE, where)
            continue
        keyed.append((fields[0], number, values))
    table = {key: values for key, (_, values) in unique_rows(keyed, path, issues, what="row key",
                                                             counts=counts).items()}
    if declared != len(table):
        issues.append(DatasetIssue(str(path), f"line 1 declares {declared} rows, {len(table)} valid rows read"))
    return names, table


def read_mapping(path: Path, issues: list[DatasetIssue], counts: RowCounts | None = None) -> dict[int, str]:
    """``{CelebA-HQ idx: CelebA file name}`` from ``CelebA-HQ-to-CelebA-mapping.txt`` (rows not used counted)."""
    counts = counts if counts is not None else RowCounts()
    keyed = []
    for number, line in enumerate(_lines(path, "mapping file"), start=1):
        fields = line.split()
        if not fields or (number == 1 and fields[0] == "idx"):
            continue
        problem = text_problem(line)
        if problem is not None:
            issues.append(DatasetIssue(f"{path} line {number}", f"{problem}; row not used"))
            counts.bad(UNREADABLE_ROW, f"{path} line {number}")
            continue
        idx = hq_index(fields[0]) if len(fields) == 3 else None
        if idx is None or re.fullmatch(r"[0-9]{1,9}", fields[1]) is None:
            issues.append(DatasetIssue(f"{path} line {number}", f"expected 'idx orig_idx orig_file' with idx "
                                                                f"0-{MAX_INDEX}; row not used"))
            counts.bad(UNREADABLE_ROW, f"{path} line {number}")
            continue
        keyed.append((str(idx), number, fields[2]))
    return {int(key): name for key, (_, name) in unique_rows(keyed, path, issues, what="idx", counts=counts).items()}


class CelebAHQ(Dataset):
    """CelebA-HQ images with CelebA Male/Young attributes through the HQ-to-CelebA mapping."""

    name = "celebahq"
    description = "CelebA-HQ images with CelebA Male/Young attributes through the HQ-to-CelebA mapping."
    citation = (
        "Karras, Aila, Laine, Lehtinen, Progressive Growing of GANs, ICLR 2018 (CelebA-HQ); Liu, Luo, "
        "Wang, Tang, Deep Learning Face Attributes in the Wild, ICCV 2015 (CelebA)"
    )
    licence = "non-commercial research purposes only (CelebA terms)"
    has_hq = True
    synthetic = False
    framing = "ffhq"  # CelebA-HQ is FFHQ-style aligned (bench.data.framing)

    def __init__(self, root=None, *, images: str | None = None, attributes: str | None = None,
                 mapping: str | None = None, extra_attributes: tuple[str, ...] = ("Young",)) -> None:
        images, attributes, mapping = optional_str(images), optional_str(attributes), optional_str(mapping)
        extra_attributes = (extra_attributes,) if isinstance(extra_attributes, str) else tuple(extra_attributes)
        super().__init__(root, images=images, attributes=attributes, mapping=mapping,
                         extra_attributes=extra_attributes)
        self.images = images
        self.attributes = attributes
        self.mapping = mapping
        self.extra_attributes = extra_attributes
        self.filter_counts = RowCounts()

    def _path(self, value: str) -> Path:
        path = Path(value)
        return path if path.is_absolute() or self.root is None else self.root / path

    def image_folder(self) -> Path:
        root = self.require_root()
        if self.images is not None:
            folder = self._path(self.images)
        else:
            folder = root / IMAGE_FOLDER if (root / IMAGE_FOLDER).is_dir() else root
        if not folder.is_dir():
            raise FileNotFoundError(f"dataset 'celebahq': image folder {folder} does not exist")
        return folder

    def attribute_file(self) -> Path:
        root = self.require_root()
        if self.attributes is not None:
            path = self._path(self.attributes)
            if not path.is_file():
                raise FileNotFoundError(f"dataset 'celebahq': attribute file {path} does not exist")
            return path
        for name in (HQ_ANNOTATION, CELEBA_ANNOTATION):
            if (root / name).is_file():
                return root / name
        raise FileNotFoundError(f"dataset 'celebahq': no attribute file in {root} "
                                f"(expected {HQ_ANNOTATION} or {CELEBA_ANNOTATION}); pass attributes=PATH")

    def _labels(self) -> tuple[list[str], dict[int, list[int] | str], Path]:
        """Attribute names and ``{hq idx: values or reason}``."""
        path = self.attribute_file()
        names, table = read_attribute_table(path, self.issues, self.filter_counts)
        missing = [a for a in self.extra_attributes if a not in names]
        if missing:
            raise ValueError(f"{path}: no attribute(s) {', '.join(missing)} (extra_attributes)")
        if table and all(_CELEBA_KEY.fullmatch(key) for key in table):
            mapping_path = self._path(self.mapping) if self.mapping else self.require_root() / MAPPING
            if not mapping_path.is_file():
                raise FileNotFoundError(f"dataset 'celebahq': {path} is keyed by CelebA file names and "
                                        f"needs the mapping file {mapping_path} (option mapping=PATH)")
            by_hq: dict[int, list[int] | str] = {}
            for idx, celeba_file in read_mapping(mapping_path, self.issues, self.filter_counts).items():
                values = table.get(celeba_file)
                name = celeba_file if len(celeba_file) <= 40 else shown(celeba_file)
                by_hq[idx] = values if values is not None else f"CelebA file {name} has no row in {path}"
            return names, by_hq, path
        keyed = []
        for key, values in table.items():
            idx = hq_index(key.rsplit(".", 1)[0])
            if idx is None:
                self.issues.append(DatasetIssue(str(path), f"row key {shown(key)} is not a CelebA-HQ index "
                                                           f"0-{MAX_INDEX}"))
                self.filter_counts.bad(BAD_KEY, str(path))
            else:
                keyed.append((str(idx), 0, values))
        unique = unique_rows(keyed, path, [])  # "7.jpg" and "07.jpg": one index, two rows
        for key in sorted({k for k, _, _ in keyed} - set(unique)):
            self.issues.append(DatasetIssue(str(path), f"index {key} has several rows (e.g. '7.jpg' and "
                                                       "'07.jpg'); none is used"))
            self.filter_counts.add(DUPLICATE_ROW, str(path), n=sum(1 for k, _, _ in keyed if k == key))
        by_hq = {int(key): values for key, (_, values) in unique.items()}
        return names, by_hq, path

    def index(self) -> list[Sample]:
        self.issues = []
        self.filter_counts = RowCounts()
        folder = self.image_folder()
        images: dict[int, Path] = {}
        files = listed_images(folder, issues=self.issues, counts=self.filter_counts)
        if not files and not self.issues:
            raise FileNotFoundError(f"dataset 'celebahq': no images in {folder}")
        for path in files:
            idx = hq_index(path.stem)
            if idx is None:
                self.issues.append(DatasetIssue(str(path), f"file name is not a CelebA-HQ index 0-{MAX_INDEX}; "
                                                           "skipped"))
                self.filter_counts.bad(BAD_NAME, str(path))
            elif idx in images:
                self.issues.append(DatasetIssue(str(path), f"duplicate CelebA-HQ index {idx} "
                                                           f"(also {images[idx].name}); skipped"))
                self.filter_counts.bad(SAME_INDEX, str(path))
            else:
                images[idx] = path
        names, labels, label_path = self._labels()
        male = names.index("Male")
        samples = []
        for idx in sorted(images):
            path = images[idx]
            entry = labels.get(idx, f"no row for index {idx} in {label_path}")
            attributes = Attributes()
            if isinstance(entry, str):
                self.issues.append(DatasetIssue(str(path), entry))
            else:
                extra = {a: int(entry[names.index(a)] == 1) for a in self.extra_attributes}
                attributes = Attributes(gender=int(entry[male] == 1), extra=extra)
            samples.append(Sample(id=f"{idx:05d}", hq=path, attributes=attributes,
                                  meta={"file": path.name, "celebahq_index": idx}))
        return samples
