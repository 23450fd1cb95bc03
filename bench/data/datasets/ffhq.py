"""FFHQ: aligned high-quality faces, with age/gender labels from ONE chosen label source.

Dataset
    Karras, Laine, Aila, "A Style-Based Generator Architecture for Generative Adversarial Networks",
    CVPR 2019; https://github.com/NVlabs/ffhq-dataset . 70,000 aligned 1024x1024 PNG faces with ids
    ``00000``-``69999``. Images under their Flickr licences (CC BY / BY-NC / PD); the dataset and metadata
    under CC BY-NC-SA 4.0 (NVIDIA).

Image layout
    ``<root>/<images>/NNNNN.png`` (``images`` defaults to the root itself, e.g. ``images="hq1024"``), or
    the official thousand-block layout ``<root>/<images>/00000/00000.png``, ``.../01000/01000.png``
    (``images1024x1024`` and FFHQ-Aging downloads). Any image extension is accepted. Files whose stem is
    not a five-digit (ASCII) FFHQ id are reported as issues and skipped, and so are entries with an image
    extension that are not usable files (:func:`bench.core.imageio.list_images`). Two files with the same
    id (``00001.png`` and ``00001.jpg``) are an issue, the first by name kept (two encodings of one face).
    Every file or label record not used is counted by reason in :attr:`filter_counts`
    (:class:`~bench.data.datasets._common.RowCounts`).

Label sources (option ``labels``; one source per dataset object: never mix them in an experiment,
``docs/protocols/evaluation.md`` §1.1)
    * ``"features"``: DCGM ``ffhq-features-dataset`` (https://github.com/DCGM/ffhq-features-dataset,
      CC BY-NC-SA 4.0): Microsoft Face API predictions computed on the 128x128 thumbnails - an
      *automatic* apparent age (float years) and a gender string. Either its own folder of per-image
      JSON files ``json/NNNNN.json`` (each a list of detected faces ``[{"faceRectangle": ...,
      "faceAttributes": {"gender": "female", "age": 26.0, ...}}]``; an empty list means no face was
      detected: 529 of the 70,000) or a flattened CSV(.gz) with one row per image
      (``image_id, n_faces, gender, age, smile, head_pitch, ... , blur_value, noise_value, ...``;
      ``n_faces`` 0 = no face). With several faces in a JSON the largest face rectangle is used (the API
      lists faces by decreasing size). Images without a face or without a label get no attributes and
      an issue.
    * ``"aging"``: FFHQ-Aging (Or-El et al., "Lifespan Age Transformation Synthesis", ECCV 2020;
      https://github.com/royorel/FFHQ-Aging-Dataset, CC BY-NC-SA 4.0): ``ffhq_aging_labels.csv``
      with ``image_number, age_group, age_group_confidence, gender, gender_confidence, head_pitch,
      head_roll, head_yaw, left_eye_occluded, right_eye_occluded, glasses``; crowd-sourced age
      *groups* (``"20-29"``, the ten FFHQ-Aging bins, so ``Attributes.age`` stays ``None``) and
      ``male``/``female``. The suite's canonical training labels.
    * ``"none"``: images only.

``labels_path`` names the label file or JSON folder; when omitted it is looked for in ``root``
(features: ``ffhq_msface_attributes.csv[.gz]``, ``json/``, ``ffhq-features-dataset/json/``;
aging: ``ffhq_aging_labels.csv``). Label rows for images that are not present are ignored.

Bad label content never stops indexing (policy of :mod:`bench.data.datasets._common`): ages must be
ASCII decimals (or JSON numbers) in ``0..max_age`` (option, default 120), ``n_faces`` and
``image_number`` ASCII whole numbers; a malformed CSV row (field count, a field over 64 KiB, invalid
UTF-8, NUL) is an issue naming the file and line; every row of an id that appears on several rows is
reported and none is used (the rows may disagree); a JSON file larger than 1 MiB, nested too deeply or
not in the Face API format is an issue for its image.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from bench.core.types import Attributes, Dataset, DatasetIssue, Sample, age_bin_from_label
from bench.data.datasets._common import (MAX_AGE, RowCounts, check_max_age, cut, find_existing, is_blank,
                                         listed_images, optional_str, parse_age, parse_gender, parse_index,
                                         read_csv_dicts, shown, unique_rows)

LABEL_SOURCES = ("features", "aging", "none")
FEATURES_CANDIDATES = ("ffhq_msface_attributes.csv.gz", "ffhq_msface_attributes.csv", "json",
                       "ffhq-features-dataset/json")
AGING_CANDIDATES = ("ffhq_aging_labels.csv",)
_FFHQ_ID = re.compile(r"[0-9]{5}")  # ASCII digits, used with fullmatch
#: Largest per-image ffhq-features JSON read (the real ones are about 2 KB).
MAX_JSON_BYTES = 2**20
#: Reasons counted in ``filter_counts`` (images without a usable label are kept, unlabelled; their label
#: record is counted as not used).
BAD_NAME = "file name that is not a five-digit FFHQ id"
SAME_ID = "second file of an FFHQ id"
BAD_LABEL = "label record not used (no face, unreadable value)"
#: Columns of the flattened ffhq-features CSV copied into ``Attributes.extra`` (as floats / strings).
_FEATURE_EXTRA = ("smile", "head_pitch", "head_roll", "head_yaw", "glasses", "blur_value", "noise_value",
                  "exposure_value", "beard", "moustache", "bald")
_AGING_EXTRA = ("age_group_confidence", "gender_confidence", "head_pitch", "head_roll", "head_yaw",
                "left_eye_occluded", "right_eye_occluded", "glasses")


def _number_or_text(value: Any) -> Any:
    if is_blank(value):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value).strip()


def _face_gender(text: Any) -> int:
    gender = parse_gender(text)
    if gender is None:
        raise ValueError("gender is missing")
    return gender


def _size(value: Any) -> float:
    """A face-rectangle side: a finite JSON number >= 0 (``ValueError`` otherwise)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"face rectangle size {shown(value)} is not a number")
    try:
        size = float(value)
    except OverflowError:
        size = float("inf")
    if not 0 <= size < float("inf"):
        raise ValueError(f"face rectangle size {shown(value)} is not a finite number >= 0")
    return size


def attributes_from_face_record(faces: Any, max_age: float = MAX_AGE) -> tuple[Attributes, int]:
    """Attributes of the largest face of one ffhq-features JSON record, and the number of faces.

    Total: raises only ``ValueError`` (short cause) for an empty list (no face), a record not in the
    Face API format, a missing/unparsable gender or an age that is not a number in ``0..max_age``.
    """
    if not isinstance(faces, list):
        raise ValueError("JSON is not a list of faces")
    if not faces:
        raise ValueError("no face detected (empty JSON list)")

    def area(face: dict) -> float:
        rect = face.get("faceRectangle") or {}
        return _size(rect.get("width", 0)) * _size(rect.get("height", 0))

    try:
        face = max(faces, key=area)  # max keeps the first of equal areas
        attrs = face["faceAttributes"]
        age = parse_age(attrs["age"], max_age)
        if age is None:
            raise ValueError("age is missing")
        age = float(age)
        gender = _face_gender(attrs["gender"])
        pose = attrs.get("headPose") or {}
        extra = {
            "smile": attrs.get("smile"),
            "head_pitch": pose.get("pitch"), "head_roll": pose.get("roll"), "head_yaw": pose.get("yaw"),
            "glasses": attrs.get("glasses"),
            "blur_value": (attrs.get("blur") or {}).get("value"),
            "noise_value": (attrs.get("noise") or {}).get("value"),
            "exposure_value": (attrs.get("exposure") or {}).get("value"),
            "beard": (attrs.get("facialHair") or {}).get("beard"),
            "moustache": (attrs.get("facialHair") or {}).get("moustache"),
            "bald": (attrs.get("hair") or {}).get("bald"),
            "n_faces": len(faces),
        }
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"face record lacks {cut(str(exc))}") from None
    return Attributes(age=age, gender=gender, extra=extra), len(faces)


class FFHQ(Dataset):
    """FFHQ aligned faces with ffhq-features (Face API) or FFHQ-Aging age and gender labels."""

    name = "ffhq"
    description = "FFHQ aligned faces with ffhq-features (Microsoft Face API) age and gender labels."
    citation = (
        "Karras, Laine, Aila, A Style-Based Generator Architecture for GANs, CVPR 2019 (FFHQ); labels: "
        "ffhq-features (Microsoft Face API) or FFHQ-Aging (Or-El et al., ECCV 2020)"
    )
    licence = "dataset: CC BY-NC-SA 4.0 (NVIDIA), each image under its Flickr licence"
    has_hq = True
    synthetic = False
    framing = "ffhq"  # FFHQ-aligned squares (bench.data.framing)

    def __init__(self, root=None, *, images: str = "", labels: str = "features",
                 labels_path: str | None = None, max_age: float = MAX_AGE) -> None:
        if labels not in LABEL_SOURCES:
            raise ValueError(f"labels must be one of {', '.join(LABEL_SOURCES)}; got {labels!r}")
        images, labels_path = ("" if images is None else str(images)), optional_str(labels_path)
        max_age = check_max_age(max_age)
        # max_age is recorded only when overridden, so that default run records stay as they were
        super().__init__(root, images=images, labels=labels, labels_path=labels_path,
                         **({} if max_age == MAX_AGE else {"max_age": max_age}))
        self.max_age = max_age
        self.images = images
        self.labels = labels
        self.labels_path = labels_path
        self.filter_counts = RowCounts()

    # -- files ---------------------------------------------------------------------------------
    def image_folder(self) -> Path:
        root = self.require_root()
        folder = Path(self.images) if Path(self.images).is_absolute() else root / self.images
        if not folder.is_dir():
            raise FileNotFoundError(f"dataset 'ffhq': image folder {folder} does not exist")
        return folder

    def _image_files(self, folder: Path) -> list[Path]:
        files = listed_images(folder, issues=self.issues, counts=self.filter_counts)
        try:  # official layout: 00000/, 01000/, ... of 1,000 images each
            blocks = sorted(p for p in folder.iterdir() if _FFHQ_ID.fullmatch(p.name) and p.is_dir())
        except OSError:  # an unlistable folder is already an issue (list_images)
            blocks = []
        for block in blocks:
            files.extend(listed_images(block, issues=self.issues, counts=self.filter_counts))
        return sorted(files)

    def resolve_labels_path(self) -> Path | None:
        """The label file/folder used, or ``None`` for ``labels="none"``; clear errors when missing."""
        if self.labels == "none":
            return None
        if self.labels_path is not None:
            path = Path(self.labels_path)
            if not path.is_absolute() and self.root is not None and not path.exists():
                path = self.root / path
            if not path.exists():
                raise FileNotFoundError(f"dataset 'ffhq': labels_path {path} does not exist")
            return path
        candidates = FEATURES_CANDIDATES if self.labels == "features" else AGING_CANDIDATES
        found = find_existing(self.require_root(), candidates)
        if not found:
            raise FileNotFoundError(
                f"dataset 'ffhq': no {self.labels!r} labels in {self.root} (looked for "
                f"{', '.join(candidates)}); pass labels_path=... or labels='none'")
        if len(found) > 1:
            raise ValueError(f"dataset 'ffhq': several {self.labels!r} label files in {self.root}: "
                             f"{', '.join(map(str, found))}; choose one with labels_path=...")
        return found[0]

    # -- labels --------------------------------------------------------------------------------
    def _features_json(self, folder: Path, ids: set[str]) -> dict[str, Attributes | str]:
        table: dict[str, Attributes | str] = {}
        for image_id in sorted(ids):
            path = folder / f"{image_id}.json"
            if not path.is_file():
                continue
            try:
                if path.stat().st_size > MAX_JSON_BYTES:
                    raise ValueError(f"larger than {MAX_JSON_BYTES} bytes; not read")
                faces = json.loads(path.read_text(encoding="utf-8"))
                table[image_id], _ = attributes_from_face_record(faces, self.max_age)
            except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
                table[image_id] = f"{path}: unreadable JSON ({cut(str(exc), 120)})"
            except ValueError as exc:  # also json's "exceeds the limit (4300 digits)" for huge integers
                table[image_id] = f"{path}: {exc}"
        return table

    def _features_csv(self, path: Path, ids: set[str]) -> dict[str, Attributes | str]:
        table: dict[str, Attributes | str] = {}
        _, rows = read_csv_dicts(path, required_any=("image_id",), issues=self.issues, counts=self.filter_counts,
                                 select=("image_id", lambda value: value.strip().zfill(5) in ids))
        keyed = [(image_id, line, row) for line, row in rows
                 if (image_id := row.get("image_id", "").strip().zfill(5)) in ids]
        for image_id, (line, row) in self._unique(keyed, path, table).items():
            where = f"{path} line {line}"
            try:
                n_faces = 1 if is_blank(row.get("n_faces")) else parse_index(row.get("n_faces"), "n_faces")
                if n_faces == 0:
                    raise ValueError("no face detected (n_faces = 0)")
                age = parse_age(row.get("age"), self.max_age)
                if age is None:
                    raise ValueError("age is missing")
                gender = _face_gender(row.get("gender"))
                extra: dict[str, Any] = {k: _number_or_text(row.get(k)) for k in _FEATURE_EXTRA if k in row}
                extra["n_faces"] = n_faces
                table[image_id] = Attributes(age=float(age), gender=gender, extra=extra)
            except ValueError as exc:
                table[image_id] = f"{where}: {exc}"
        return table

    def _unique(self, keyed: list, path: Path, table: dict[str, Attributes | str]) -> dict[str, tuple[int, dict]]:
        """Rows of ids on one row only; each row of a repeated id is an issue and its image gets none."""
        unique = unique_rows(keyed, path, self.issues, counts=self.filter_counts)
        for image_id in {key for key, _, _ in keyed} - set(unique):
            table[image_id] = f"{path}: several rows for this image; none is used"
        return unique

    def _aging_csv(self, path: Path, ids: set[str]) -> dict[str, Attributes | str]:
        table: dict[str, Attributes | str] = {}
        _, rows = read_csv_dicts(path, required_any=("image_number",), issues=self.issues, counts=self.filter_counts)
        keyed = []
        for line, row in rows:
            try:
                image_id = f"{parse_index(row.get('image_number'), 'image_number', maximum=99999):05d}"
            except ValueError as exc:
                self.issues.append(DatasetIssue(f"{path} line {line}", str(exc)))
                self.filter_counts.bad(BAD_LABEL, f"{path} line {line}")
                continue
            if image_id in ids:
                keyed.append((image_id, line, row))
        for image_id, (line, row) in self._unique(keyed, path, table).items():
            where = f"{path} line {line}"
            try:
                age_bin = age_bin_from_label(row.get("age_group") or "")
                gender = _face_gender(row.get("gender"))
                extra = {k: _number_or_text(row.get(k)) for k in _AGING_EXTRA if k in row}
                table[image_id] = Attributes(age_bin=age_bin, gender=gender, extra=extra)
            except ValueError as exc:
                table[image_id] = f"{where}: {exc}"
        return table

    def _load_labels(self, path: Path, ids: set[str]) -> dict[str, Attributes | str]:
        if self.labels == "aging":
            return self._aging_csv(path, ids)
        if path.is_dir():
            return self._features_json(path, ids)
        return self._features_csv(path, ids)

    # -- index ---------------------------------------------------------------------------------
    def index(self) -> list[Sample]:
        self.issues = []
        self.filter_counts = RowCounts()
        folder = self.image_folder()
        labels_path = self.resolve_labels_path()
        images: dict[str, Path] = {}
        for path in self._image_files(folder):
            if not _FFHQ_ID.fullmatch(path.stem):
                self.issues.append(DatasetIssue(str(path), "file name is not a five-digit FFHQ id; skipped"))
                self.filter_counts.bad(BAD_NAME, str(path))
            elif path.stem in images:
                self.issues.append(DatasetIssue(str(path), f"duplicate FFHQ id {path.stem} "
                                                           f"(also {images[path.stem].name}); skipped"))
                self.filter_counts.bad(SAME_ID, str(path))
            else:
                images[path.stem] = path
        if not images and not self.issues:
            raise FileNotFoundError(f"dataset 'ffhq': no images in {folder} (expected NNNNN.png files; "
                                    "set images='<subfolder>' if they are in a subfolder)")
        table = self._load_labels(labels_path, set(images)) if labels_path is not None else {}
        source = {"features": "ffhq-features", "aging": "ffhq-aging", "none": None}[self.labels]
        samples = []
        for image_id in sorted(images):
            attributes = Attributes()
            if labels_path is not None:
                entry = table.get(image_id)
                if entry is None:
                    self.issues.append(DatasetIssue(str(images[image_id]), f"no label in {labels_path}"))
                elif isinstance(entry, str):
                    self.issues.append(DatasetIssue(str(images[image_id]), entry))
                    self.filter_counts.bad(BAD_LABEL, entry.split(": ", 1)[0])
                else:
                    attributes = entry
            samples.append(Sample(id=image_id, hq=images[image_id], attributes=attributes,
                                  meta={"file": images[image_id].name, "label_source": source}))
        return samples
