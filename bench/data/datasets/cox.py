"""COX Face DB: faces captured by surveillance camcorders (captured LQ) with one HQ still per subject.

Dataset
    Huang, Shan, Wang, Zhang, Lao, Kuerban, Chen, "A Benchmark and Comparative Study of Video-Based Face
    Recognition on COX Face Database", IEEE TIP 24(12), 2015. 1,000 subjects, each with a high-quality
    still and videos from three camcorders simulating video surveillance. Distributed on request by VIPL
    (ICT, CAS) under a licence agreement; not redistributable: the suite ships no COX file.

Layout expected under ``root`` (the distributed COX Face DB package)
    * ``still/<subject_id>_<n>.bmp``: the HQ still(s) of each subject, e.g. ``still/201103180001_0000.bmp``
      (the subject is the part before the ``_``, as independent loaders of the package split it; any
      image extension). A still named ``still/<subject_id>.<ext>`` (frbench's earlier layout, kept for
      folders prepared that way) is accepted too;
    * ``video/cam1|cam2|cam3/<subject_id>/<subject_id>_000k.bmp``: the frames of each camera (any
      ``cam<k>`` folder is accepted, any frame name and image extension);
    * optional ``metadata.csv`` with columns ``subject_id, age, gender`` (age in years; gender 0/1,
      female/male or F/M, suite convention 0 = female, 1 = male). Whether the licence package ships
      demographics is not known (spec §1.4); without it samples carry no attributes and the reference
      protocol (a classifier on the still) applies. Ages are ASCII decimals in ``0..max_age`` (option,
      default 120). A row with a bad value, more or fewer fields than the header, a field over 64 KiB,
      invalid UTF-8 or a NUL byte is an issue naming the file and line (row not used); every row of a
      subject that appears on several rows is reported and none is used (they may disagree).
    Entries with an image extension that are not usable files (folders, broken links, link loops,
    unreadable files; :func:`bench.core.imageio.list_images`) and images lying directly in a camera
    folder instead of a subject folder are issues. Several stills of one subject (``a_0000.bmp``,
    ``a_0001.bmp``, or ``a.jpg`` and ``a.png``): the first by name is the reference, the others are
    counted (an identity reference needs one photograph). Every subject folder, frame or still not used
    is counted by reason in :attr:`filter_counts` (:class:`~bench.data.datasets._common.RowCounts`).

Samples ([SUITE] ``cox-lq``, ``docs/protocols/evaluation.md`` §1.4)
    One sample per subject per camera, id ``<subject>_cam<k>``: ``lq`` = the sharpest frame, by the
    variance of the Laplacian (3x3 kernel ``[[0,1,0],[1,-4,1],[0,1,0]]``, valid region) of the BT.601
    luma; ties go to the first frame by name. ``hq`` is ``None``: the still is an *identity-level*
    reference, not pixel-aligned, and is given as the path string ``meta["still"]`` (``None`` when
    missing: an issue).
    ``meta`` also records the camera, the sharpness and the number of frames considered.

    Not yet applied: the spec restricts the choice to frames with a detectable face and aligns the chosen
    frame to the FFHQ template; both need a face detector added by a later issue. Frames are decoded at
    index time (this is what choosing the sharpest one costs); a frame that cannot be decoded is an issue
    and is skipped.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from bench.core.imageio import IMAGE_EXTENSIONS, ImageReadError, read_image
from bench.core.types import Attributes, Dataset, DatasetIssue, Sample
from bench.data.datasets._common import (MAX_AGE, RowCounts, check_max_age, listed_images, optional_str, parse_age,
                                         parse_gender, read_csv_dicts, unique_rows)

_CAMERA = re.compile(r"^cam(\d+)$", re.IGNORECASE)
#: A still of the distributed package: ``<subject>_<n>`` (``201103180001_0000``).
_STILL = re.compile(r"^(?P<subject>[^_]+)_(?P<n>[0-9]+)$")
#: Reasons counted in ``filter_counts``.
EXTRA_STILL = "another still of a subject (the first by name is the reference)"
NO_FRAME = "subject folder without a decodable frame"
BAD_FRAME = "frame that cannot be decoded"
LOOSE_IMAGE = "image outside a subject folder"
STILL_ONLY = "still of a subject without video frames"
BAD_METADATA = "metadata row with an unreadable value"
OTHER_CAMERA = "camera not selected (cameras option)"


def still_subject(stem: str) -> str:
    """Subject id of a still's file stem: ``201103180001_0000`` -> ``201103180001``; a stem without a
    ``_<n>`` tail (the earlier layout ``still/<subject>.jpg``) is the subject itself."""
    match = _STILL.match(stem)
    return match["subject"] if match else stem


def laplacian_variance(image: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of the BT.601 luma of a ``uint8 [H, W, 3]`` image.

    The usual focus measure (Pech-Pacheco et al., ICPR 2000; OpenCV ``Laplacian`` with ``ksize=1``);
    computed on the valid region only, so borders do not count.
    """
    luma = image[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    if luma.shape[0] < 3 or luma.shape[1] < 3:
        return 0.0
    lap = (luma[:-2, 1:-1] + luma[2:, 1:-1] + luma[1:-1, :-2] + luma[1:-1, 2:] - 4.0 * luma[1:-1, 1:-1])
    return float(lap.var())


class COX(Dataset):
    """COX Face DB surveillance frames (captured LQ), sharpest frame per subject and camera."""

    name = "cox"
    description = "COX Face DB surveillance frames (captured LQ), sharpest frame per subject and camera."
    citation = (
        "Huang, Shan, Wang, Zhang, Lao, Kuerban, Chen, A Benchmark and Comparative Study of Video-Based "
        "Face Recognition on COX Face Database, IEEE TIP 2015"
    )
    licence = "research use under the COX Face DB release agreement (ICT-CAS)"
    has_hq = False
    synthetic = False
    framing = "unaligned"  # surveillance frames (bench.data.framing)

    def __init__(self, root=None, *, metadata: str | None = None, cameras: tuple[int, ...] | None = None,
                 max_age: float = MAX_AGE) -> None:
        metadata = optional_str(metadata)
        if isinstance(cameras, int):
            cameras = (cameras,)
        cameras = tuple(int(c) for c in cameras) if cameras is not None else None
        max_age = check_max_age(max_age)
        # max_age is recorded only when overridden, so that default run records stay as they were
        super().__init__(root, metadata=metadata, cameras=cameras,
                         **({} if max_age == MAX_AGE else {"max_age": max_age}))
        self.max_age = max_age
        self.metadata = metadata
        self.cameras = cameras
        self.filter_counts = RowCounts()

    def _camera_folders(self, root: Path) -> dict[int, Path]:
        video = root / "video"
        if not video.is_dir():
            raise FileNotFoundError(f"dataset 'cox': no video/ folder in {root} "
                                    "(expected video/cam1|cam2|cam3/<subject_id>/<frame>.jpg)")
        folders = {}
        for folder in sorted(video.iterdir()):
            match = _CAMERA.match(folder.name)
            if folder.is_dir() and match and (self.cameras is None or int(match[1]) in self.cameras):
                folders[int(match[1])] = folder
            elif folder.is_dir() and match:
                self.filter_counts.filtered(OTHER_CAMERA, str(folder))
        if not folders:
            raise FileNotFoundError(f"dataset 'cox': no camera folders cam<k> in {video}")
        return folders

    def _stills(self, root: Path) -> dict[str, Path]:
        folder = root / "still"
        stills: dict[str, Path] = {}
        if not folder.is_dir():
            self.issues.append(DatasetIssue(str(folder), "no still/ folder: samples have no HQ still reference"))
            return stills
        for path in listed_images(folder, issues=self.issues, counts=self.filter_counts):
            subject = still_subject(path.stem)
            if subject in stills:
                self.filter_counts.bad(EXTRA_STILL, str(path))
            else:
                stills[subject] = path
        return stills

    def _attributes(self, root: Path) -> dict[str, Attributes]:
        path = Path(self.metadata) if self.metadata is not None else root / "metadata.csv"
        if self.metadata is not None and not path.is_absolute() and not path.exists():
            path = root / path
        if not path.is_file():
            if self.metadata is not None:
                raise FileNotFoundError(f"dataset 'cox': metadata file {path} does not exist")
            if not (path.exists() or path.is_symlink()):  # a folder or broken link: reading it fails, naming it
                return {}
        _, rows = read_csv_dicts(path, required_any=("subject_id",), issues=self.issues, counts=self.filter_counts)
        keyed = []
        for line, row in rows:
            subject = (row.get("subject_id") or "").strip()
            if subject:
                keyed.append((subject, line, row))
            else:
                self.issues.append(DatasetIssue(f"{path} line {line}", "empty subject_id"))
                self.filter_counts.bad(BAD_METADATA, f"{path} line {line}")
        table: dict[str, Attributes] = {}
        for subject, (line, row) in unique_rows(keyed, path, self.issues, what="subject_id",
                                                counts=self.filter_counts).items():
            try:
                table[subject] = Attributes(age=parse_age(row.get("age"), self.max_age),
                                            gender=parse_gender(row.get("gender")))
            except ValueError as exc:
                self.issues.append(DatasetIssue(f"{path} line {line}", str(exc)))
                self.filter_counts.bad(BAD_METADATA, f"{path} line {line}")
        return table

    def _subject_folders(self, cam_folder: Path) -> list[Path]:
        """Subject folders of a camera folder; an image lying in the camera folder itself is an issue."""
        try:
            entries = sorted(cam_folder.iterdir())
        except OSError as exc:
            self.issues.append(DatasetIssue(str(cam_folder), f"cannot list folder: {exc.strerror or exc}"))
            return []
        folders = [p for p in entries if p.is_dir()]
        for path in entries:
            if path.suffix.lower() in IMAGE_EXTENSIONS and not path.is_dir():
                self.issues.append(DatasetIssue(str(path), "image outside a subject folder "
                                                           "(video/cam<k>/<subject_id>/<frame>); skipped"))
                self.filter_counts.bad(LOOSE_IMAGE, str(path))
        return folders

    def _sharpest(self, frames: list[Path]) -> tuple[Path | None, float]:
        best, best_score = None, -1.0
        for frame in frames:
            try:
                score = laplacian_variance(read_image(frame))
            except ImageReadError as exc:
                self.issues.append(DatasetIssue(exc.path, f"frame skipped: {exc.cause}"))
                self.filter_counts.bad(BAD_FRAME, str(exc.path))
                continue
            if score > best_score:
                best, best_score = frame, score
        return best, best_score

    def index(self) -> list[Sample]:
        self.issues = []
        self.filter_counts = RowCounts()
        root = self.require_root()
        cameras = self._camera_folders(root)
        stills = self._stills(root)
        attributes = self._attributes(root)
        samples = []
        seen_subjects: set[str] = set()
        for cam, cam_folder in cameras.items():
            for subject_folder in self._subject_folders(cam_folder):
                subject = subject_folder.name
                seen_subjects.add(subject)
                frames = listed_images(subject_folder, issues=self.issues, counts=self.filter_counts)
                best, sharpness = self._sharpest(frames)
                if best is None:
                    self.issues.append(DatasetIssue(str(subject_folder), "no decodable frame; no sample"))
                    self.filter_counts.bad(NO_FRAME, str(subject_folder))
                    continue
                still = stills.get(subject)
                if still is None:
                    self.issues.append(DatasetIssue(str(subject_folder), f"no still for subject {subject}"))
                samples.append(Sample(
                    id=f"{subject}_cam{cam}", hq=None, lq=best,
                    attributes=attributes.get(subject, Attributes()),
                    meta={"subject": subject, "camera": cam, "still": str(still) if still else None,
                          "sharpness": sharpness, "frame": best.name, "n_frames": len(frames)}))
        for subject in sorted(set(stills) - seen_subjects):
            self.issues.append(DatasetIssue(str(stills[subject]), "still without video frames; no sample"))
            self.filter_counts.bad(STILL_ONLY, str(stills[subject]))
        samples.sort(key=lambda s: s.id)
        return samples
