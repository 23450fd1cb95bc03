"""The attribute-classifier interface shared by every backend, and the prediction cache.

A classifier maps a batch of RGB faces to an :class:`AttributePrediction`: per image the age in years
(where the backend estimates one), the FFHQ-Aging age bin (0..9, :data:`bench.core.types.AGE_BINS`) with the
probability of each bin, the gender (0 = female, 1 = male) with ``p_male``, and a face status (``ok``,
``no_face``, ``multiple_faces``, ``error``; see :mod:`reference_models.shared.face_alignment`).  Missing values
are ``nan`` (floats) and ``-1`` (classes): an image without a face is recorded, never a crash.

Inputs: ``uint8 [B, 3, H, W]`` torch tensors (what the runner hands to metrics), a ``uint8 [B, H, W, 3]``
array, or a list of ``uint8 [H, W, 3]`` arrays of any sizes.

Caching: :class:`PredictionCache` keeps predictions keyed by (classifier identity, sha256 of the image
bytes and shape).  The metrics use it for the HQ images, so an HQ image is classified once per
classifier however many methods are evaluated against it (kept in ``$FRBENCH_PREDICTION_CACHE``, default
``<asset cache>/../predictions/``, one SQLite file per classifier identity).
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from bench.core.types import AGE_BINS, age_to_bin
from reference_models.shared.face_alignment import STATUS_ERROR, STATUS_NAMES

N_AGE_BINS = len(AGE_BINS)


@dataclass
class AttributePrediction:
    """Predictions for a batch of ``B`` images (numpy arrays, one entry per image)."""

    age_years: np.ndarray          # [B] float64, nan when not estimated
    age_bin: np.ndarray            # [B] int64, -1 when missing
    age_bin_probs: np.ndarray      # [B, 10] float64 (nan row when missing)
    gender: np.ndarray             # [B] int64 0 female / 1 male, -1 when missing
    p_male: np.ndarray             # [B] float64
    status: np.ndarray             # [B] int64, face_alignment.STATUS_*
    n_faces: np.ndarray = field(default=None)  # [B] int64

    def __post_init__(self) -> None:
        if self.n_faces is None:
            self.n_faces = np.where(self.status == 1, 0, 1).astype(np.int64)

    def __len__(self) -> int:
        return len(self.status)

    @classmethod
    def empty(cls, n: int, status: int = STATUS_ERROR) -> "AttributePrediction":
        return cls(np.full(n, np.nan), np.full(n, -1, np.int64), np.full((n, N_AGE_BINS), np.nan),
                   np.full(n, -1, np.int64), np.full(n, np.nan), np.full(n, status, np.int64),
                   np.zeros(n, np.int64))

    def row(self, i: int) -> dict[str, Any]:
        return {"age_years": float(self.age_years[i]), "age_bin": int(self.age_bin[i]),
                "age_bin_probs": [float(v) for v in self.age_bin_probs[i]], "gender": int(self.gender[i]),
                "p_male": float(self.p_male[i]), "status": int(self.status[i]), "n_faces": int(self.n_faces[i])}

    @classmethod
    def from_rows(cls, rows: Sequence[dict[str, Any]]) -> "AttributePrediction":
        return cls(np.array([r["age_years"] for r in rows], np.float64),
                   np.array([r["age_bin"] for r in rows], np.int64),
                   np.array([r["age_bin_probs"] for r in rows], np.float64).reshape(len(rows), N_AGE_BINS),
                   np.array([r["gender"] for r in rows], np.int64),
                   np.array([r["p_male"] for r in rows], np.float64),
                   np.array([r["status"] for r in rows], np.int64),
                   np.array([r["n_faces"] for r in rows], np.int64))

    def status_names(self) -> list[str]:
        return [STATUS_NAMES[int(s)] for s in self.status]


def images_to_list(images) -> list[np.ndarray]:
    """Any accepted batch -> list of contiguous ``uint8 [H, W, 3]`` arrays."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        torch = None
    if torch is not None and isinstance(images, torch.Tensor):
        if images.dtype != torch.uint8:
            images = images.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8)
        if images.ndim == 3:
            images = images[None]
        return list(images.detach().cpu().permute(0, 2, 3, 1).contiguous().numpy())
    if isinstance(images, np.ndarray):
        if images.ndim == 3:
            images = images[None]
        if images.dtype != np.uint8:
            raise ValueError(f"numpy images must be uint8 [B, H, W, 3], got {images.dtype}")
        return [np.ascontiguousarray(im) for im in images]
    return [np.ascontiguousarray(np.asarray(im, dtype=np.uint8)) for im in images]


def image_key(image: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(repr(tuple(image.shape)).encode())
    h.update(np.ascontiguousarray(image).tobytes())
    return h.hexdigest()


def age_bin_probs_from_age_probs(probs: np.ndarray, ages: Sequence[float]) -> np.ndarray:
    """Sum per-year class probabilities ``[B, K]`` into the 10 FFHQ-Aging bins (``ages[k]`` years)."""
    index = np.array([age_to_bin(a) for a in ages])
    out = np.zeros((probs.shape[0], N_AGE_BINS), np.float64)
    for b in range(N_AGE_BINS):
        out[:, b] = probs[:, index == b].sum(axis=1)
    return out


class AttributeClassifier:
    """Base class of the backends.

    Subclasses set ``name`` and the capability flags and implement :meth:`_predict_list` (a list of
    ``uint8 [H, W, 3]`` images -> :class:`AttributePrediction`).  :meth:`identity` must change whenever
    the predictions could (weights sha256, alignment, preprocessing): it keys the prediction cache.
    """

    name: ClassVar[str] = "classifier"
    predicts_age_years: ClassVar[bool] = False
    predicts_age_bin: ClassVar[bool] = True
    predicts_gender: ClassVar[bool] = True
    #: short description of what the classifier is, shown beside every number it produces
    evaluator: ClassVar[str] = ""

    def predict(self, images) -> AttributePrediction:
        items = images_to_list(images)
        if not items:
            return AttributePrediction.empty(0)
        return self._predict_list(items)

    def _predict_list(self, images: list[np.ndarray]) -> AttributePrediction:  # pragma: no cover
        raise NotImplementedError

    def identity(self) -> dict[str, Any]:
        return {"name": self.name}

    def identity_key(self) -> str:
        return hashlib.sha256(json.dumps(self.identity(), sort_keys=True, default=str).encode()).hexdigest()[:20]

    def describe(self) -> dict[str, Any]:
        return {**self.identity(), "evaluator": self.evaluator}


def default_prediction_cache_dir() -> Path:
    env = os.environ.get("FRBENCH_PREDICTION_CACHE")
    if env:
        return Path(env).expanduser()
    assets = os.environ.get("FRBENCH_CACHE")
    base = Path(assets).expanduser() if assets else Path("~/.cache/frbench/assets").expanduser()
    return base.parent / "predictions"


class PredictionCache:
    """Per-image predictions of one classifier, keyed by image content (SQLite, safe across processes)."""

    def __init__(self, classifier: AttributeClassifier, folder: str | Path | None = None,
                 persistent: bool = True, max_memory: int = 4096) -> None:
        # max_memory: rows kept in memory (one row, with the age distribution, is a few KB: 4,096 rows stay
        # below ~20 MB whatever the dataset size; the SQLite file keeps every row)
        self.classifier = classifier
        self.max_memory = int(max_memory)
        self._memory: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._conn = None
        self.hits = self.misses = 0
        if persistent:
            folder = Path(folder) if folder is not None else default_prediction_cache_dir()
            try:
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f"{classifier.name}-{classifier.identity_key()}.sqlite"
                self._conn = sqlite3.connect(str(path), timeout=60, check_same_thread=False)
                self._conn.execute("CREATE TABLE IF NOT EXISTS predictions (key TEXT PRIMARY KEY, row TEXT)")
                self._conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
                self._conn.execute("INSERT OR REPLACE INTO meta VALUES ('identity', ?)",
                                   (json.dumps(classifier.identity(), sort_keys=True, default=str),))
                self._conn.commit()
            except (OSError, sqlite3.Error):
                self._conn = None  # a read-only home: memory cache only

    def predict(self, images) -> AttributePrediction:
        items = images_to_list(images)
        keys = [image_key(im) for im in items]
        rows: list[dict | None] = [None] * len(items)
        with self._lock:
            for i, key in enumerate(keys):
                row = self._memory.get(key)
                if row is None and self._conn is not None:
                    found = self._conn.execute("SELECT row FROM predictions WHERE key=?", (key,)).fetchone()
                    if found is not None:
                        row = json.loads(found[0])
                        self._memory[key] = row
                rows[i] = row
        todo = [i for i, r in enumerate(rows) if r is None]
        self.hits += len(items) - len(todo)
        self.misses += len(todo)
        if todo:
            fresh = self.classifier.predict([items[i] for i in todo])
            new = []
            for j, i in enumerate(todo):
                rows[i] = fresh.row(j)
                new.append((keys[i], json.dumps(rows[i])))
            with self._lock:
                if len(self._memory) + len(new) > self.max_memory:
                    self._memory.clear()  # bounded memory; the SQLite file keeps everything
                for key, text in new:
                    self._memory[key] = json.loads(text)
                if self._conn is not None:
                    try:
                        self._conn.executemany("INSERT OR REPLACE INTO predictions VALUES (?, ?)", new)
                        self._conn.commit()
                    except sqlite3.Error:
                        pass
        return AttributePrediction.from_rows(rows)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
