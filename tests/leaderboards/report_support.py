"""A small results store for the report tests: bicubic and bilinear at x4 and x8 on 8 synthetic 64 px faces.

Metrics psnr, ssim, attr and attr_pred with a detail-sensitive stub classifier (no model download): gender
and age follow the mean horizontal gradient, so blurrier restorations flip genders and get younger -- the
error rates, flips and groups differ between methods and factors.  bicubic saves its images
(``--save-images``), bilinear does not (the gallery regenerates it).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import metrics.attribute_error as ae
from reference_models.shared.attribute_classifiers.base import (
    AttributeClassifier,
    AttributePrediction,
    PredictionCache,
)

METHODS, SCALES, N = ("bicubic", "bilinear"), ("x4", "x8"), 8


class DetailStub(AttributeClassifier):
    """score = mean brightness + 6 x mean |horizontal gradient|: male when score > 150, age score / 3 years,
    age bin min(9, score // 20).  Blur lowers the gradient: restorations turn female and younger."""

    name = "detailstub"
    predicts_age_years = True

    def _predict_list(self, images):
        out = AttributePrediction.empty(len(images), status=0)
        for i, im in enumerate(images):
            im = np.asarray(im, np.float64)
            score = im.mean() + 6.0 * float(np.abs(np.diff(im, axis=1)).mean())
            out.gender[i], out.p_male[i] = int(score > 150), float(score > 150)
            out.age_years[i] = score / 3.0
            out.age_bin[i] = min(9, int(score // 20))
        return out


def stub_classifier(monkeypatch: pytest.MonkeyPatch) -> None:
    clf = DetailStub()
    caches = (clf, PredictionCache(clf, persistent=False), PredictionCache(clf, persistent=False))
    monkeypatch.setattr(ae, "shared_classifier", lambda backend, options: caches)


def build_store(folder: Path, metrics: str = "psnr,ssim,attr,attr_pred", methods=METHODS, scales=SCALES,
                limits: dict | None = None) -> Path:
    """Run every method x scale into ``folder/s.sqlite`` (restored images of bicubic under ``folder/out``)."""
    from bench.harness.runner import Runner

    store = folder / "s.sqlite"
    with pytest.MonkeyPatch.context() as mp:
        stub_classifier(mp)
        for scale in scales:
            for method in methods:
                Runner(method, "synthetic", metrics=metrics, degradation=scale, limit=(limits or {}).get(method, N),
                       store=store, dataset_options={"n": N, "size": 64}, out=folder / "out",
                       save_images=method == "bicubic", progress=False).run()
    return store


@pytest.fixture(scope="module")
def report_store(tmp_path_factory) -> Path:
    return build_store(tmp_path_factory.mktemp("report-store"))
