"""Fairness discrepancy (Choi et al., ICML 2020), target-based FD for restoration, demographic composition.

Uniform target (Choi et al.; generated sets)
--------------------------------------------
``FD = || p_hat - 1/K ||_2`` where ``p_hat`` are the class proportions (shares in [0, 1]) of the *hard*
(argmax) predictions over all ``K`` classes; FD is unitless, in [0, sqrt(1 - 1/K)].  Unlike the reference
code (fairgen ``utils.py``, built with ``np.unique``), a class that is never predicted is kept with
proportion 0 (``bincount(minlength=K)``): with K = 2 and every sample in one class, FD = sqrt(0.5) = 0.707,
not 0.5 (``docs/protocols/evaluation.md`` §2.2).  L1 and KL(p_hat || uniform) are returned too.

Target FD (restoration: the headline of the ``attr`` metrics)
--------------------------------------------------------------
A restorer should reproduce the test set's distribution, not the uniform one: a bicubic x8 that turns boys
into girls can move a skewed set *towards* 50/50 and "win" on the uniform FD.  :func:`target_fd`:

    FD_target = || (p_hat_1 .. p_hat_K, p_noface) - (t_1 .. t_K, 0) ||_2          in [0, sqrt(2)]

``p_hat`` = shares of the restored predictions, ``t`` = shares of the target (the HQ faces' predictions,
or the dataset labels), both over the same images (those with a known target), and ``p_noface`` = share of
those images whose restored version has no detectable face (a class the target never has, so destroying
faces is not rewarded; 0 with the known alignment).  Gender: K = 2; age: K = 10 FFHQ-Aging bins
(0-2, 3-6, 7-9, 10-14, 15-19, 20-29, 30-39, 40-49, 50-69, 70+).  The uniform age target has no clear
meaning: the bins are 3 to 51 years wide, so equal bin shares describe neither a uniform age distribution
nor any real population; the age FD is therefore only reported against a target (the uniform one is kept
as an informational value).  :func:`reference_fd` is the target FD without a no-face share.

Generated-set mode (:func:`composition_report`): classify a folder of generated faces with no HQ and
report the demographic composition and FD, as in the debiasing-diffusion evaluation.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np


def proportions(counts: np.ndarray) -> np.ndarray:
    """``[..., K]`` counts -> proportions (nan when a row is empty)."""
    counts = np.asarray(counts, np.float64)
    total = counts.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, counts / np.where(total > 0, total, 1), np.nan)


def class_counts(labels: Sequence[int], k: int) -> np.ndarray:
    """Hard labels -> counts over all ``k`` classes (negative labels = no prediction, ignored)."""
    labels = np.asarray(labels, np.int64)
    labels = labels[labels >= 0]
    if labels.size and labels.max() >= k:
        raise ValueError(f"label {labels.max()} out of range for {k} classes")
    return np.bincount(labels, minlength=k)


def fairness_discrepancy(counts: np.ndarray) -> np.ndarray:
    """L2 distance of the class proportions to uniform; ``counts`` ``[..., K]`` (vectorised)."""
    p = proportions(counts)
    k = p.shape[-1]
    return np.sqrt(((p - 1.0 / k) ** 2).sum(axis=-1))


def fairness_discrepancy_l1(counts: np.ndarray) -> np.ndarray:
    p = proportions(counts)
    return np.abs(p - 1.0 / p.shape[-1]).sum(axis=-1)


def fairness_kl(counts: np.ndarray) -> np.ndarray:
    """KL(p_hat || uniform) in nats (0 log 0 = 0)."""
    p = proportions(counts)
    k = p.shape[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p * k), 0.0)
    return terms.sum(axis=-1)


def reference_fd(counts: np.ndarray, reference_counts: np.ndarray) -> np.ndarray:
    """``|| p_hat - p_hat_ref ||_2``: distance of the restored set's composition to the HQ set's."""
    return np.sqrt(((proportions(counts) - proportions(reference_counts)) ** 2).sum(axis=-1))


def target_fd(counts: np.ndarray, target_counts: np.ndarray, no_face=0) -> np.ndarray:
    """Target FD over one set of ``n`` images (module documentation; vectorised over leading axes).

    ``counts [..., K]``: restored predictions per class; ``no_face [...]``: images of the set whose restored
    version has no face; ``target_counts [..., K]``: the targets of the same images (the HQ predictions or
    the labels), ``n = target_counts.sum(-1) = counts.sum(-1) + no_face``.  Returns
    ``sqrt(sum_k (counts_k - target_k)^2 + no_face^2) / n`` (nan for an empty set).
    """
    counts = np.asarray(counts, np.float64)
    target_counts = np.asarray(target_counts, np.float64)
    no_face = np.asarray(no_face, np.float64)
    n = target_counts.sum(axis=-1)
    if np.any(np.abs(counts.sum(axis=-1) + no_face - n) > 1e-9):
        raise ValueError("target_fd: restored counts + no-face count must cover the target's images")
    d = np.sqrt(((counts - target_counts) ** 2).sum(axis=-1) + no_face ** 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, d / np.where(n > 0, n, 1), np.nan)


def composition_report(images: Sequence[Any] | str | Path, classifier=None, batch: int = 64,
                       bootstrap: bool = True) -> dict[str, Any]:
    """Generated-set mode: composition and FD of a folder (or list) of generated faces, no HQ.

    ``images``: a folder (every image file in it, sorted) or a list of paths / ``uint8 [H, W, 3]`` arrays.
    ``classifier``: an :class:`~reference_models.shared.attribute_classifiers.AttributeClassifier` (default
    dlib-onnx with detection alignment, since generated faces are not necessarily aligned).
    Returns counts, proportions, FD (gender over 2 classes, age over the 10 bins) with bootstrap 95 %
    intervals, and the share of images without a face (excluded from the composition).
    """
    from bench.core.imageio import IMAGE_EXTENSIONS, read_image
    from metrics.bootstrap import bootstrap_counts
    from reference_models.shared.attribute_classifiers import make_classifier

    if isinstance(images, (str, Path)):
        folder = Path(images)
        images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    if classifier is None:
        classifier = make_classifier("dlib_onnx", align="detect")
    genders, bins, statuses, errors = [], [], [], []
    for start in range(0, len(images), batch):
        chunk = []
        for item in images[start:start + batch]:
            try:
                chunk.append(read_image(item) if isinstance(item, (str, Path)) else np.asarray(item, np.uint8))
            except Exception as exc:  # unreadable file: recorded, not fatal
                errors.append((str(item), str(exc)))
        if not chunk:
            continue
        pred = classifier.predict(chunk)
        genders.extend(pred.gender.tolist())
        bins.extend(pred.age_bin.tolist())
        statuses.extend(pred.status.tolist())
    statuses = np.asarray(statuses, np.int64)
    gender_counts = class_counts(genders, 2)
    age_counts = class_counts(bins, 10)
    out: dict[str, Any] = {
        "n_images": int(len(statuses)), "n_unreadable": len(errors), "unreadable": errors,
        "no_face_share": float(np.mean(statuses == 1)) if len(statuses) else float("nan"),
        "multiple_faces_share": float(np.mean(statuses == 2)) if len(statuses) else float("nan"),
        "gender_counts": gender_counts.tolist(), "gender_proportions": proportions(gender_counts).tolist(),
        "age_bin_counts": age_counts.tolist(), "age_bin_proportions": proportions(age_counts).tolist(),
        "fd_gender": float(fairness_discrepancy(gender_counts)), "fd_age": float(fairness_discrepancy(age_counts)),
        "fd_gender_l1": float(fairness_discrepancy_l1(gender_counts)),
        "kl_gender": float(fairness_kl(gender_counts)),
        "classifier": classifier.describe(),
    }
    if bootstrap and gender_counts.sum():
        ci = bootstrap_counts(gender_counts, fairness_discrepancy)
        out["fd_gender_ci95"] = [ci.lo, ci.hi]
        ci = bootstrap_counts(age_counts, fairness_discrepancy)
        out["fd_age_ci95"] = [ci.lo, ci.hi]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m metrics.fairness FOLDER [--align template|detect] [--template ffhq]``: generated-set mode."""
    import argparse
    import json

    from reference_models.shared.attribute_classifiers import make_classifier

    parser = argparse.ArgumentParser(prog="python -m metrics.fairness",
                                     description="demographic composition and FD of a folder of faces (no HQ)")
    parser.add_argument("folder")
    parser.add_argument("--align", default="detect", choices=("detect", "template"))
    parser.add_argument("--template", default="ffhq")
    args = parser.parse_args(argv)
    classifier = make_classifier("dlib_onnx", align=args.align, template=args.template)
    report = composition_report(args.folder, classifier=classifier)
    report.pop("unreadable")
    print(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
