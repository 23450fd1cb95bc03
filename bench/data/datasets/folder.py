"""Any folder of face images: HQ and/or captured LQ, with an optional attributes CSV.

Layouts (``root``)
    * ``hq/`` and/or ``lq/`` subfolders, paired by file stem (``hq/0001.png`` with ``lq/0001.jpg``).
      With both folders, a file without its partner is an issue and is skipped; ``hq/`` alone gives
      HQ-only samples (the harness synthesises the LQ); ``lq/`` alone gives captured-LQ samples
      (no HQ, no full-reference metrics).
    * otherwise a flat folder of images: HQ (``kind="hq"``: the LQ is synthesised by the degradation
      protocol) or captured LQ (``kind="lq"``: no-reference metrics only).  There is no default: a
      folder of real low-quality faces silently taken as HQ would be scored against itself, so a flat
      folder without ``kind`` is refused with a message offering both.
    ``recursive=True`` also walks subfolders; ids are then the relative path without extension
    (``"set1/0001"``). Files are recognised by their image extension (:data:`bench.core.imageio.IMAGE_EXTENSIONS`)
    and are NOT opened here: the runner decodes them and records unreadable files per image. An entry
    with an image extension that is not a usable file (a folder named ``x.jpg``, a broken link, a link
    loop, a FIFO, an unreadable file) is an issue (:func:`bench.core.imageio.list_images`).
    Two files with the same stem in one folder (``a.png`` and ``a.jpg``) are an issue; the first by
    name is kept: they are normally two encodings of one face and carry no labels that could disagree
    (unlike duplicate label rows, below).

Attributes (optional; ``attributes.csv`` in ``root`` or option ``attributes=PATH``)
    A CSV with a column ``id`` (the file stem / relative id) or ``filename`` (the file name), and any of
    ``age`` (years), ``age_bin`` (FFHQ-Aging group index 0-9 or label like ``"20-29"``) and ``gender``
    (0/1, female/male, F/M, woman/man; suite convention 0 = female, 1 = male). Other columns go to
    ``Attributes.extra`` as text. Blank cells mean unknown. Ages are ASCII decimals in ``0..max_age``
    (option, default 120). A row with an unparsable value, an ``age`` and ``age_bin`` that disagree, an
    id without an image, more or fewer fields than the header, a field over 64 KiB, bytes that are not
    UTF-8 or a NUL byte is an issue naming the file and line (the row is not used); every row of an id
    that appears on several rows is an issue and none of them is used (they may disagree). An image
    without a usable row has no attributes (also an issue, since a CSV was given). Only a CSV that
    cannot be read at all or has no usable header stops indexing (``ValueError`` naming the file).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.core.imageio import list_images
from bench.core.types import Attributes, Dataset, DatasetIssue, Sample, age_to_bin
from bench.data.datasets._common import (MAX_AGE, check_max_age, is_blank, optional_str, parse_age, parse_age_bin,
                                         parse_gender, read_csv_dicts, shown, unique_rows)

KINDS = ("hq", "lq")
_LABEL_COLUMNS = ("id", "filename", "age", "age_bin", "gender")


class FolderDataset(Dataset):
    """Any folder of HQ and/or LQ face images with an optional attributes CSV."""

    name = "folder"
    description = "Any folder of HQ and/or LQ face images with an optional attributes CSV."
    citation = "any folder of the user's faces"
    licence = "that of the user's images"
    has_hq = True
    synthetic = False

    def __init__(self, root=None, *, kind: str | None = None, attributes: str | None = None,
                 recursive: bool = False, max_age: float = MAX_AGE) -> None:
        if kind is not None and kind not in KINDS:
            raise ValueError(f"kind must be 'hq' or 'lq', got {kind!r}")
        attributes = optional_str(attributes)
        max_age = check_max_age(max_age)
        # max_age is recorded only when overridden, so that default run records stay as they were
        super().__init__(root, kind=kind, attributes=attributes, recursive=recursive,
                         **({} if max_age == MAX_AGE else {"max_age": max_age}))
        self.max_age = max_age
        self.kind = kind
        self.attributes = attributes
        self.recursive = recursive
        # an instance attribute: known from the folder layout (refreshed by index())
        self.has_hq = kind != "lq"
        if self.root is not None and self.root.is_dir():
            self.has_hq = self._layout()[0] is not None

    def _layout(self) -> tuple[Path | None, Path | None]:
        """``(hq folder, lq folder)``, either may be ``None``."""
        root = self.root
        hq, lq = root / "hq", root / "lq"
        if hq.is_dir() or lq.is_dir():
            return (hq if hq.is_dir() else None), (lq if lq.is_dir() else None)
        if self.kind is None:
            raise ValueError(
                f"dataset 'folder': {root} is a flat folder of images; say what they are: -D kind=hq (high-quality "
                f"faces: the LQ is synthesised with --degradation, full-reference metrics) or -D kind=lq (captured "
                f"low-quality faces: restored as they are, no-reference metrics)")
        return (root, None) if self.kind == "hq" else (None, root)

    def _files(self, folder: Path) -> dict[str, Path]:
        files: dict[str, Path] = {}
        for path in list_images(folder, recursive=self.recursive, issues=self.issues):
            key = path.relative_to(folder).with_suffix("").as_posix()
            if key in files:
                self.issues.append(DatasetIssue(str(path), f"same id {key!r} as {files[key].name}; skipped"))
            else:
                files[key] = path
        return files

    @staticmethod
    def _row_id(row: dict) -> str:
        key = (row.get("id") or "").strip()
        if not key and not is_blank(row.get("filename")):
            key = Path(row["filename"].strip()).with_suffix("").as_posix()  # ValueError for "/" or "."
        if not key:
            raise ValueError("no id or filename")
        return key

    def _read_attributes(self, path: Path, ids: set[str]) -> dict[str, Attributes]:
        _, rows = read_csv_dicts(path, required_any=("id", "filename"), issues=self.issues)
        keyed = []
        for line, row in rows:
            try:
                key = self._row_id(row)
                if key not in ids:
                    raise ValueError(f"no image with id {shown(key)}")
            except ValueError as exc:
                self.issues.append(DatasetIssue(f"{path} line {line}", str(exc)))
                continue
            keyed.append((key, line, row))
        table: dict[str, Attributes] = {}
        for key, (line, row) in unique_rows(keyed, path, self.issues).items():
            try:
                age = parse_age(row.get("age"), self.max_age)
                age_bin = parse_age_bin(row.get("age_bin"))
                if age is not None and age_bin is not None and age_to_bin(age) != age_bin:
                    raise ValueError(f"age {age} is not in age bin {age_bin}")
                gender = parse_gender(row.get("gender"))
                extra: dict[str, Any] = {k: v.strip() for k, v in row.items()
                                         if k and k not in _LABEL_COLUMNS and not is_blank(v)}
                table[key] = Attributes(age=age, age_bin=age_bin, gender=gender, extra=extra)
            except ValueError as exc:
                self.issues.append(DatasetIssue(f"{path} line {line}", str(exc)))
        return table

    def _attribute_file(self, root: Path) -> Path | None:
        if self.attributes is None:
            default = root / "attributes.csv"
            # a folder or a broken link named attributes.csv is not "no labels": reading it fails, naming it
            return default if default.exists() or default.is_symlink() else None
        path = Path(self.attributes)
        if not path.is_absolute() and not path.exists():
            path = root / path
        if not path.is_file():
            raise FileNotFoundError(f"dataset 'folder': attributes file {path} does not exist")
        return path

    def index(self) -> list[Sample]:
        self.issues = []
        root = self.require_root()
        if not root.is_dir():
            raise NotADirectoryError(f"dataset 'folder': root {root} is not a folder")
        hq_dir, lq_dir = self._layout()
        self.has_hq = hq_dir is not None
        hq = self._files(hq_dir) if hq_dir is not None else {}
        lq = self._files(lq_dir) if lq_dir is not None else {}
        if hq_dir is not None and lq_dir is not None:
            for key in sorted(set(hq) ^ set(lq)):
                missing = "lq" if key in hq else "hq"
                self.issues.append(DatasetIssue(str((hq.get(key) or lq.get(key))),
                                                f"no {missing}/ partner with the same stem; skipped"))
            ids = sorted(set(hq) & set(lq))
        else:
            ids = sorted(set(hq) | set(lq))
        if not ids and not self.issues:
            folders = " and ".join(str(f) for f in (hq_dir, lq_dir) if f is not None)
            raise FileNotFoundError(f"dataset 'folder': no images in {folders}")
        csv_path = self._attribute_file(root)
        table = self._read_attributes(csv_path, set(ids)) if csv_path is not None else {}
        samples = []
        for key in ids:
            attributes = table.get(key)
            if attributes is None:
                attributes = Attributes()
                if csv_path is not None:
                    self.issues.append(DatasetIssue(str(hq.get(key) or lq.get(key)), f"no usable row in {csv_path}"))
            source = hq.get(key) or lq.get(key)
            samples.append(Sample(id=key, hq=hq.get(key), lq=lq.get(key), attributes=attributes,
                                  meta={"file": source.relative_to(root).as_posix()}))
        return samples
