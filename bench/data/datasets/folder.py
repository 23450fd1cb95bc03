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
    A CSV with a column ``id`` (the file stem / relative id), ``filename`` (the file name) or ``file``
    (FairFace's column: ``val/1.jpg``), and any of ``age``, ``age_bin``, ``gender`` and ``race``; other
    columns go to ``Attributes.extra`` as text. A row's id is matched to an image id exactly, or else by
    its last path component (``fairface/val/2963.jpg`` -> ``2963`` in a flat folder); rows for images
    that are not in the folder are counted (a label file may cover more faces than the folder holds), not
    reported one by one. Blank cells mean unknown.
    Label values (:mod:`bench.data.datasets.codings`): text is read in its own vocabulary (genders
    female/male, F/M, woman/man; age groups as FFHQ-Aging labels ``"20-29"`` or FairFace groups ``"3-9"``,
    ``"more than 70"``, mapped to FFHQ-Aging groups where they nest and counted as coarse where they do
    not). Integers need a declared coding, option ``coding`` (``-D coding=frbench`` or
    ``-D coding=fairface-hf``): a file with an integer label and no coding is refused with a one-line
    message offering both. Ages in years are ASCII decimals in ``0..max_age`` (option, default 120).
    A row with an unparsable value, an ``age`` and ``age_bin`` that disagree, more or fewer fields than
    the header, a field over 64 KiB, bytes that are not UTF-8 or a NUL byte is an issue naming the file
    and line (the row is not used); every row of an id that appears on several rows is an issue and none
    of them is used (they may disagree). An image without a usable row has no attributes (also an issue,
    since a CSV was given). Only a CSV that cannot be read at all, has no usable header or needs a coding
    that was not declared stops indexing (``ValueError`` naming the file).
    Every file or row not used is counted by reason in :attr:`filter_counts`
    (:class:`~bench.data.datasets._common.RowCounts`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.core.types import Attributes, Dataset, DatasetIssue, Sample
from bench.data.framing import check_framing
from bench.data.datasets._common import (COARSE, FILTER, MAX_AGE, RowCounts, check_max_age, is_blank, listed_images,
                                         optional_str, read_csv_dicts, shown, unique_rows)
from bench.data.datasets.codings import check_coding, check_coding_name, decode_labels

KINDS = ("hq", "lq")
_LABEL_COLUMNS = ("id", "filename", "file", "age", "age_bin", "gender", "race")
#: Reasons counted in ``filter_counts``.
NO_IMAGE = "label row for an image not in the folder"
BAD_LABEL = "label row with an unreadable value"
NO_PARTNER = "image without its hq/ or lq/ partner"
SAME_ID = "second image file with the same id"


class FolderDataset(Dataset):
    """Any folder of HQ and/or LQ face images with an optional attributes CSV."""

    name = "folder"
    description = "Any folder of HQ and/or LQ face images with an optional attributes CSV."
    citation = "any folder of the user's faces"
    licence = "that of the user's images"
    has_hq = True
    synthetic = False

    def __init__(self, root=None, *, kind: str | None = None, attributes: str | None = None,
                 recursive: bool = False, max_age: float = MAX_AGE, coding: str | None = None,
                 framing: str = "unaligned") -> None:
        if kind is not None and kind not in KINDS:
            raise ValueError(f"kind must be 'hq' or 'lq', got {kind!r}")
        attributes = optional_str(attributes)
        max_age = check_max_age(max_age)
        coding = check_coding_name(coding)
        framing = check_framing(framing, "dataset 'folder' option framing")
        # max_age and coding are recorded only when set, so that default run records stay as they were
        super().__init__(root, kind=kind, attributes=attributes, recursive=recursive,
                         **({} if max_age == MAX_AGE else {"max_age": max_age}),
                         **({} if coding is None else {"coding": coding}),
                         **({} if framing == "unaligned" else {"framing": framing}))
        self.framing = framing  # how the faces are framed (bench.data.framing; -D framing=ffhq)
        self.max_age = max_age
        self.coding = coding
        self.filter_counts = RowCounts()
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
        for path in listed_images(folder, recursive=self.recursive, issues=self.issues, counts=self.filter_counts):
            key = path.relative_to(folder).with_suffix("").as_posix()
            if key in files:
                self.issues.append(DatasetIssue(str(path), f"same id {key!r} as {files[key].name}; skipped"))
                self.filter_counts.bad(SAME_ID, str(path))
            else:
                files[key] = path
        return files

    @staticmethod
    def _row_id(row: dict) -> str:
        key = (row.get("id") or "").strip()
        for column in ("filename", "file"):
            if not key and not is_blank(row.get(column)):
                key = Path(row[column].strip()).with_suffix("").as_posix()  # ValueError for "/" or "."
        if not key:
            raise ValueError("no id, filename or file")
        return key

    def _read_attributes(self, path: Path, ids: set[str]) -> dict[str, Attributes]:
        _, rows = read_csv_dicts(path, required_any=("id", "filename", "file"), issues=self.issues,
                                 counts=self.filter_counts)
        rows = list(rows)
        check_coding(path, rows, self.coding)
        keyed = []
        for line, row in rows:
            try:
                key = self._row_id(row)
            except ValueError as exc:
                self.issues.append(DatasetIssue(f"{path} line {line}", str(exc)))
                self.filter_counts.bad(BAD_LABEL, f"{path} line {line}")
                continue
            if key not in ids and "/" in key and key.rsplit("/", 1)[1] in ids:
                key = key.rsplit("/", 1)[1]  # a label file of a split folder (val/1.jpg) for a flat folder
            if key not in ids:
                self.filter_counts.add(NO_IMAGE, f"{path} line {line} ({shown(key)})", FILTER)
                continue
            keyed.append((key, line, row))
        table: dict[str, Attributes] = {}
        for key, (line, row) in unique_rows(keyed, path, self.issues, counts=self.filter_counts).items():
            try:
                labels, coarse = decode_labels(row, self.coding, self.max_age)
            except ValueError as exc:
                self.issues.append(DatasetIssue(f"{path} line {line}", str(exc)))
                self.filter_counts.bad(BAD_LABEL, f"{path} line {line}")
                continue
            if coarse is not None:
                self.filter_counts.add(coarse, f"{path} line {line}", COARSE)
            extra: dict[str, Any] = {k: v.strip() for k, v in row.items()
                                     if k and k not in _LABEL_COLUMNS and not is_blank(v)}
            extra.update(labels.pop("extra"))
            table[key] = Attributes(**labels, extra=extra)
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
        self.filter_counts = RowCounts()
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
                self.filter_counts.bad(NO_PARTNER, str(hq.get(key) or lq.get(key)))
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
