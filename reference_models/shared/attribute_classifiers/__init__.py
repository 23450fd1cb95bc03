"""Attribute (age, gender) classifiers behind one interface, used by the attribute-bias metrics.

Backends (``make_classifier(name, **options)``):

* ``dlib_onnx`` (default): dlib-models age-v1 / gender-v1 ONNX networks with dlib chip alignment
  (:mod:`.dlib_onnx`); real and offline.
* ``dbfr``: DebiasFR's low-resolution attribute predictor, ResNet-34, 10 age bins / 2 genders
  (:mod:`.dbfr_attribute_predictor`); official weights by manifest (not reachable offline).
* ``deepface``: DeepFace's age/gender models, optional extra ``[deepface]`` (:mod:`.deepface_backend`).
* ``trained``: a classifier trained by this suite (``bench train attribute-classifier``; :mod:`.trained`).
"""
from __future__ import annotations

from reference_models.shared.attribute_classifiers.base import (
    AttributeClassifier,
    AttributePrediction,
    PredictionCache,
    images_to_list,
)

BACKENDS = {
    "dlib_onnx": "reference_models.shared.attribute_classifiers.dlib_onnx:DlibOnnxClassifier",
    "dbfr": "reference_models.shared.attribute_classifiers.dbfr_attribute_predictor:DBFRAttributeClassifier",
    "deepface": "reference_models.shared.attribute_classifiers.deepface_backend:DeepFaceClassifier",
    "trained": "reference_models.shared.attribute_classifiers.trained:TrainedAttributeClassifier",
}


def make_classifier(name: str = "dlib_onnx", **options) -> AttributeClassifier:
    import importlib

    try:
        target = BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown attribute classifier {name!r}; known: {', '.join(BACKENDS)}") from None
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)(**options)


__all__ = ["AttributeClassifier", "AttributePrediction", "PredictionCache", "images_to_list",
           "make_classifier", "BACKENDS"]
