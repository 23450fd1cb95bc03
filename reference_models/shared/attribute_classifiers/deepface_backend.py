"""DeepFace age and gender (optional extra ``[deepface]``), as used by the debiasing-diffusion evaluation.

DeepFace (serengil/deepface, MIT) predicts gender ``Woman``/``Man`` with probabilities and an apparent age
= the expectation of a 101-way softmax (``docs/protocols/evaluation.md`` §2.2); inputs are resized to
224x224 by DeepFace itself.  Its weights (``age_model_weights.h5``, ``gender_model_weights.h5``, about
0.5 GB each) come from GitHub releases and are NOT reachable offline: this backend checks that they are in
``$DEEPFACE_HOME/.deepface/weights/`` (default ``~``) before anything else and raises
:class:`DeepFaceUnavailableError` saying where to put them; it never lets DeepFace start a download.

Detection: ``detector_backend='skip'`` (default here: aligned faces and restored outputs; the whole image is
the face) or any DeepFace detector (``'opencv'`` is DeepFace's default).  With a detector,
``enforce_detection=False`` and a face whose detection confidence is 0 is recorded as ``no_face``;
several faces: the largest is used (``multiple_faces``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from bench.core.types import age_to_bin

from reference_models.shared.attribute_classifiers.base import AttributeClassifier, AttributePrediction

WEIGHT_FILES = ("age_model_weights.h5", "gender_model_weights.h5")
RELEASE_PAGE = "https://github.com/serengil/deepface_models/releases"


class DeepFaceUnavailableError(RuntimeError):
    pass


def deepface_weights_dir() -> Path:
    return Path(os.environ.get("DEEPFACE_HOME") or Path.home()) / ".deepface" / "weights"


def check_deepface_available() -> Path:
    """The weights folder, or a clear error naming what is missing and how to provide it."""
    try:
        import deepface  # noqa: F401
    except ImportError as exc:
        raise DeepFaceUnavailableError(
            "the deepface attribute backend needs the optional extra: pip install 'frbench[deepface]' "
            "(deepface + tensorflow)") from exc
    folder = deepface_weights_dir()
    missing = [name for name in WEIGHT_FILES if not (folder / name).is_file()]
    if missing:
        raise DeepFaceUnavailableError(
            f"DeepFace weights absent: {', '.join(missing)} not in {folder}. They are published on {RELEASE_PAGE} "
            "(not reachable offline); download them on a connected machine and copy them there, or set "
            "DEEPFACE_HOME to a folder holding .deepface/weights/.")
    return folder


class DeepFaceClassifier(AttributeClassifier):
    name = "deepface"
    predicts_age_years = True
    evaluator = "DeepFace (VGG-Face age/gender heads)"

    def __init__(self, detector_backend: str = "skip") -> None:
        self.weights = check_deepface_available()
        from deepface import DeepFace  # noqa: WPS433

        from bench.core.provenance import note_file

        for name in WEIGHT_FILES:  # read by DeepFace itself at the first analyze()
            note_file(self.weights / name, "deepface weights")

        self._deepface = DeepFace
        self.detector_backend = detector_backend

    def identity(self) -> dict[str, Any]:
        import deepface

        return {"name": self.name, "deepface": getattr(deepface, "__version__", "?"),
                "detector_backend": self.detector_backend, "version": 1}

    def _predict_list(self, images):
        out = AttributePrediction.empty(len(images), status=0)
        for i, image in enumerate(images):
            try:
                faces = self._deepface.analyze(img_path=np.ascontiguousarray(image[:, :, ::-1]),
                                               actions=("age", "gender"), enforce_detection=False,
                                               detector_backend=self.detector_backend, silent=True)
            except Exception:
                out.status[i] = 3
                continue
            faces = faces if isinstance(faces, list) else [faces]
            if not faces or (self.detector_backend != "skip" and all(f.get("face_confidence", 1) == 0 for f in faces)):
                out.status[i], out.n_faces[i] = 1, 0
                continue
            face = max(faces, key=lambda f: f.get("region", {}).get("w", 0) * f.get("region", {}).get("h", 0))
            out.n_faces[i] = len(faces)
            out.status[i] = 2 if len(faces) > 1 else 0
            age = float(face["age"])
            p_man = float(face["gender"]["Man"]) / 100.0
            out.age_years[i], out.age_bin[i] = age, age_to_bin(np.floor(age + 0.5))
            out.p_male[i], out.gender[i] = p_man, int(p_man >= 0.5)
        return out
