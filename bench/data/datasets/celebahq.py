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
"""
from __future__ import annotations

import re
from pathlib import Path

from bench.core.imageio import IMAGE_EXTENSIONS
from bench.core.types import Attributes, Dataset, DatasetIssue, Sample
from bench.data.datasets._common import optional_str

HQ_ANNOTATION = "CelebAMask-HQ-attribute-anno.txt"
CELEBA_ANNOTATION = "list_attr_celeba.txt"
MAPPING = "CelebA-HQ-to-CelebA-mapping.txt"
IMAGE_FOLDER = "CelebA-HQ-img"
_CELEBA_KEY = re.compile(r"^\d{6}\.(jpg|png)$", re.IGNORECASE)


def read_attribute_table(path: Path, issues: list[DatasetIssue]) -> tuple[list[str], dict[str, list[int]]]:
    """``(attribute names, {file key: [+1/-1, ...]})`` of a CelebA-format attribute file.

    Malformed rows are reported in ``issues``; an unreadable file or header raises ``ValueError``.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read attribute file ({exc})") from None
    if len(lines) < 2:
        raise ValueError(f"{path}: attribute file needs a count line and a line of attribute names")
    try:
        declared = int(lines[0].strip())
    except ValueError:
        raise ValueError(f"{path}: line 1 should be the number of rows, got {lines[0].strip()!r}") from None
    names = lines[1].split()
    if "Male" not in names:
        raise ValueError(f"{path}: line 2 (attribute names) has no 'Male' column")
    table: dict[str, list[int]] = {}
    for number, line in enumerate(lines[2:], start=3):
        fields = line.split()
        if not fields:
            continue
        where = f"{path} line {number}"
        if len(fields) != len(names) + 1:
            issues.append(DatasetIssue(where, f"{len(fields) - 1} values for {len(names)} attributes"))
            continue
        try:
            values = [int(v) for v in fields[1:]]
        except ValueError:
            values = []
        if len(values) != len(names) or any(v not in (-1, 1) for v in values):
            issues.append(DatasetIssue(where, "attribute values must be -1 or 1"))
            continue
        if fields[0] in table:
            issues.append(DatasetIssue(where, f"duplicate row for {fields[0]}"))
            continue
        table[fields[0]] = values
    if declared != len(table):
        issues.append(DatasetIssue(str(path), f"line 1 declares {declared} rows, {len(table)} valid rows read"))
    return names, table


def read_mapping(path: Path, issues: list[DatasetIssue]) -> dict[int, str]:
    """``{CelebA-HQ idx: CelebA file name}`` from ``CelebA-HQ-to-CelebA-mapping.txt``."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read mapping file ({exc})") from None
    mapping: dict[int, str] = {}
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields or (number == 1 and fields[0] == "idx"):
            continue
        if len(fields) != 3 or not fields[0].isdigit() or not fields[1].isdigit():
            issues.append(DatasetIssue(f"{path} line {number}", "expected 'idx orig_idx orig_file'"))
            continue
        mapping[int(fields[0])] = fields[2]
    return mapping


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
        names, table = read_attribute_table(path, self.issues)
        missing = [a for a in self.extra_attributes if a not in names]
        if missing:
            raise ValueError(f"{path}: no attribute(s) {', '.join(missing)} (extra_attributes)")
        if table and all(_CELEBA_KEY.match(key) for key in table):
            mapping_path = self._path(self.mapping) if self.mapping else self.require_root() / MAPPING
            if not mapping_path.is_file():
                raise FileNotFoundError(f"dataset 'celebahq': {path} is keyed by CelebA file names and "
                                        f"needs the mapping file {mapping_path} (option mapping=PATH)")
            by_hq: dict[int, list[int] | str] = {}
            for idx, celeba_file in read_mapping(mapping_path, self.issues).items():
                values = table.get(celeba_file)
                by_hq[idx] = values if values is not None else f"CelebA file {celeba_file} has no row in {path}"
            return names, by_hq, path
        by_hq = {}
        for key, values in table.items():
            stem = key.rsplit(".", 1)[0]
            if stem.isdigit():
                by_hq[int(stem)] = values
            else:
                self.issues.append(DatasetIssue(str(path), f"row key {key!r} is not a CelebA-HQ index"))
        return names, by_hq, path

    def index(self) -> list[Sample]:
        self.issues = []
        folder = self.image_folder()
        images: dict[int, Path] = {}
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise FileNotFoundError(f"dataset 'celebahq': no images in {folder}")
        for path in files:
            if not path.stem.isdigit():
                self.issues.append(DatasetIssue(str(path), "file name is not a CelebA-HQ index; skipped"))
            elif int(path.stem) in images:
                self.issues.append(DatasetIssue(str(path), f"duplicate CelebA-HQ index {int(path.stem)} "
                                                           f"(also {images[int(path.stem)].name}); skipped"))
            else:
                images[int(path.stem)] = path
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
