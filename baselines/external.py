"""Method ``external``: restorations made outside frbench, read from a folder by sample id and scored.

    bench run --method external -M folder=PATH -M name=MyRestorer --dataset utkface --root R --degradation x8

Nothing is restored here: for each sample the runner asks for, the restored image is the file of ``folder``
named after the sample id, decoded by :func:`bench.core.imageio.read_image` (same pixel/byte limits, EXIF
orientation, greyscale -> RGB and refusals of alpha / 16-bit images as every input of frbench).  The degraded
LQ frbench synthesises is ignored; ``bench lq`` writes those same LQ inputs for the external restorer.

Matching (one rule).  An image file of ``folder`` (any extension of
:data:`bench.core.imageio.IMAGE_EXTENSIONS`, case-insensitive; sub-folders walked) matches the sample whose id
equals its path relative to ``folder``, ``/``-separated, with that one extension removed: ``0001.png`` is
sample ``0001``, ``set1/0001.jpg`` is sample ``set1/0001`` (ids with ``/``, as the ``folder`` dataset makes with
``recursive=True``), ``a.b.png`` is sample ``a.b``.  This is exactly how ``bench run --save-images`` and ``bench
lq`` name their files (``<sample_id>.png``), so their folders can be given as they are.

* **unmatched**: image files whose id is no sample id of the dataset; they are not used, their count and first
  names are in the run's notes (printed with the run summary);
* **missing**: a sample of the run without a file is a per-image error (stage ``restore``; ``bench errors``
  lists it); so is a sample with several files (``a.png`` and ``a.jpg``: which one was meant is unknown), an
  undecodable file, or a file changed since the run started;
* **size**: a restored image whose size differs from the HQ's is an error: nothing is resized unless
  ``-M resize=bicubic`` is given, which resizes it with Pillow's bicubic filter (Keys a = -0.5, antialiased
  when shrinking) to the HQ size; the option is part of the run identity.  Without an HQ (captured-LQ
  datasets) every size is accepted.

Provenance and identity.  :meth:`ExternalMethod.bind_dataset` (called by the run planner) hashes the matched
files once: ``files_sha256 = sha256`` of the lines ``"<relative path>\\t<size>\\t<sha256 of content>\\n"`` in
path order (contents streamed in 1 MiB chunks, :func:`bench.core.provenance.file_sha256`).  The digest, the
resolved folder, the ``name`` and ``resize`` are in :meth:`describe`, hence in the run identity: another folder,
or one file changed, added or removed, is another run id (as with changed weights), so a resume never mixes two
versions; a file changed during a run is refused for that image.  In a Ray worker (which builds the method
again, unbound) the files are read by the same rule without that per-file check.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.core.errors import ConfigurationError
from bench.core.imageio import list_images, read_image
from bench.core.provenance import file_sha256
from bench.core.types import Attributes

#: resize policies of ``-M resize=...``: none (a size mismatch is an error) or Pillow bicubic
RESIZE_CHOICES = ("bicubic",)
#: allowed display names (they become a file-name part with --save-images and a leaderboard label)
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,47}")
#: unmatched file names quoted in the run's notes
SHOWN = 5


def index_folder(folder: Path) -> tuple[dict[str, list[str]], list[str]]:
    """``({sample id: [relative paths]}, [problems])`` of the image files under ``folder`` (module doc rule)."""
    issues: list = []
    index: dict[str, list[str]] = {}
    for path in list_images(folder, recursive=True, issues=issues):
        relative = path.relative_to(folder).as_posix()
        index.setdefault(relative[: -len(path.suffix)], []).append(relative)
    return index, [f"{issue.path}: {issue.reason}" for issue in issues]


def files_digest(folder: Path, relatives: Sequence[str]) -> tuple[str, dict[str, str]]:
    """``(sha256 hex of the "path\\tsize\\tsha256" lines in path order, {relative path: content sha256})``."""
    digest, shas = hashlib.sha256(), {}
    for relative in sorted(relatives):
        path = folder / relative
        shas[relative] = file_sha256(path)
        digest.update(f"{relative}\t{path.stat().st_size}\t{shas[relative]}\n".encode("utf-8"))
    return digest.hexdigest(), shas


class ExternalMethod:
    """Restorations made outside frbench, read from a folder by sample id (provenance: the folder digest)."""

    description = ("Restorations made outside frbench, read from a folder by sample id "
                   "(-M folder=PATH -M name=NAME; outputs produced outside frbench; provenance = the folder digest).")
    citation = "outputs produced outside frbench; provenance = the folder digest (path, size, sha256 of each file)"
    licence = "that of the user's restored images (frbench code: MIT)"
    uses_attributes = False
    #: the runner passes ``sample_ids`` to :meth:`restore`, one sample per call (bench.harness.processing)
    uses_sample_ids = True

    def __init__(self, device: str = "cpu", folder: str | None = None, name: str | None = None,
                 resize: str | None = None, max_pixels: int | None = None) -> None:
        if not folder:
            raise ConfigurationError("method 'external' needs -M folder=PATH (the folder of restored images)")
        self.folder = Path(str(folder)).expanduser().resolve()
        if not self.folder.is_dir():
            raise ConfigurationError(f"method 'external': folder {self.folder} does not exist or is not a folder")
        if not name or not NAME_PATTERN.fullmatch(str(name)):
            raise ConfigurationError(f"method 'external' needs -M name=NAME (1-48 of A-Z a-z 0-9 . _ + -, starting "
                                     f"with a letter or digit), got {name!r}")
        if resize is not None and resize not in RESIZE_CHOICES:
            raise ConfigurationError(f"method 'external': resize must be one of {', '.join(RESIZE_CHOICES)} (or not "
                                     f"given: a size different from the HQ is an error), got {resize!r}")
        self.label, self.resize = str(name), resize
        self.max_pixels = None if max_pixels is None else int(max_pixels)
        self.device = device
        self._index: dict[str, list[str]] | None = None
        self._shas: dict[str, str] | None = None  # per matched file, from bind_dataset
        self._digest: str | None = None
        self._dataset: str | None = None

    @property
    def name(self) -> str:
        return f"external:{self.label}"

    # -- the run planner's hook ------------------------------------------------------------------
    def lookup(self) -> dict[str, list[str]]:
        """``{sample id: [relative paths]}`` of the folder (listed once)."""
        if self._index is None:
            self._index, _ = index_folder(self.folder)
        return self._index

    def bind_dataset(self, dataset: Any) -> list[str]:
        """Match the folder against ``dataset``'s sample ids, hash the matched files; return notes for the run."""
        self._index, problems = index_folder(self.folder)
        ids = {sample.id for sample in dataset.samples}
        matched = sorted(rel for sid, rels in self._index.items() if sid in ids for rel in rels)
        unmatched = sorted(rel for sid, rels in self._index.items() if sid not in ids for rel in rels)
        self._digest, self._shas = files_digest(self.folder, matched)
        self._dataset = dataset.name
        notes = [f"{self.name}: {len(matched)} restored image(s) in {self.folder} match sample ids of dataset "
                 f"'{dataset.name}' (files digest {self._digest[:16]}: another folder content is another run)"]
        if unmatched:
            more = f" ... (+{len(unmatched) - SHOWN})" if len(unmatched) > SHOWN else ""
            notes.append(f"{self.name}: {len(unmatched)} unmatched image(s) in {self.folder} (no sample id of "
                         f"'{dataset.name}'; not used): {', '.join(unmatched[:SHOWN])}{more}")
        several = sorted(sid for sid, rels in self._index.items() if sid in ids and len(rels) > 1)
        if several:
            notes.append(f"{self.name}: {len(several)} sample id(s) with several restored images (refused as errors), "
                         f"e.g. {', '.join(self._index[several[0]])}")
        notes += [f"{self.name}: {problem}" for problem in problems[:SHOWN]]
        return notes

    def describe(self) -> dict[str, Any]:
        if self._digest is None:  # not bound to a dataset: every image file of the folder
            self._digest, self._shas = files_digest(self.folder, [r for rels in self.lookup().values() for r in rels])
        return {"name": self.name, "kind": "external", "folder": str(self.folder), "files": len(self._shas or {}),
                "files_sha256": self._digest, "matched_against": self._dataset, "resize": self.resize,
                "match": "relative path without its image extension == sample id"}

    # -- reading ---------------------------------------------------------------------------------
    def read(self, sample_id: str, out_size: tuple[int, int] | None) -> np.ndarray:
        """The restored ``uint8 [H, W, 3]`` of one sample (``ValueError`` / ``ImageReadError`` naming the file)."""
        found = self.lookup().get(sample_id, [])
        if not found:
            raise ValueError(f"missing: no restored image for sample {sample_id!r} in {self.folder} (expected "
                             f"{sample_id}.png, .jpg, .webp ...)")
        if len(found) > 1:
            raise ValueError(f"several restored images for sample {sample_id!r} in {self.folder}: "
                             f"{', '.join(found)}; keep one")
        path = self.folder / found[0]
        if self._shas is not None and file_sha256(path) != self._shas.get(found[0]):
            raise ValueError(f"{path}: changed since the run started (its sha256 differs from the run's files "
                             f"digest); run again to score the new folder content as a new run")
        image = read_image(path, max_pixels=self.max_pixels)
        if out_size is not None and tuple(image.shape[:2]) != tuple(out_size):
            if self.resize is None:
                raise ValueError(f"{path}: restored image is {image.shape[0]}x{image.shape[1]} (HxW), the HQ is "
                                 f"{out_size[0]}x{out_size[1]}; frbench does not resize silently "
                                 f"(-M resize=bicubic resizes to the HQ size)")
            from PIL import Image

            with Image.fromarray(image) as pil:
                image = np.asarray(pil.resize((int(out_size[1]), int(out_size[0])), Image.BICUBIC), dtype=np.uint8)
        return image

    def restore(self, lq, attributes: Sequence[Attributes] | None = None, out_size: tuple[int, int] | None = None,
                sample_ids: Sequence[str] | None = None):
        """The files of ``sample_ids`` as ``float32 [B, 3, H, W]`` in ``[0, 1]`` (``lq`` is not used)."""
        import torch

        if sample_ids is None or len(sample_ids) != int(lq.shape[0]):
            raise ValueError("method 'external' reads restorations by sample id: the runner passes sample_ids "
                             "(it cannot restore an LQ tensor)")
        images = [self.read(str(sid), out_size) for sid in sample_ids]
        if len({image.shape for image in images}) > 1:
            raise ValueError(f"restored images of different sizes in one batch: {[image.shape for image in images]}")
        array = np.stack(images, axis=0)
        return torch.from_numpy(array).permute(0, 3, 1, 2).to(torch.float32).div_(255.0)
