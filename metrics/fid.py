"""Fréchet Inception Distance (FID): streaming, against the run's HQ images or a named reference set.

Definition (Heusel et al., "GANs trained by a two time-scale update rule converge to a local Nash
equilibrium", NeurIPS 2017; TTUR's ``fid.py``)
---------------------------------------------------------------------------------------------------
With ``(μ₁, Σ₁)`` and ``(μ₂, Σ₂)`` the mean and unbiased covariance of the 2048-d pool3 features of the
TF Inception-v3 (``reference_models.shared.fid_inception``) over two image sets::

    FID = |μ₁ − μ₂|² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁ Σ₂)^{1/2}

``tr (Σ₁Σ₂)^{1/2}`` is the sum of the square roots of the eigenvalues of ``Σ₁Σ₂``, which are those of the
symmetric positive semi-definite ``A = Rᵀ Σ₂ R`` for any factor ``Σ₁ = R Rᵀ``.  :func:`frechet_distance`
takes ``R`` from a Cholesky factorisation (or, for a singular Σ₁, from ``eigh``) and finishes with one
symmetric ``eigvalsh`` of A; eigenvalues at round-off level count as 0.  No ``scipy.linalg.sqrtm``
(whose ``disp`` path is deprecated, and which is ~6x slower at 2048-d: ``benchmarks/fid_speed.py``), no
complex arithmetic.  torch-fidelity 0.4.0 uses the same eigenvalue identity through a non-symmetric
``eigvals``; clean-fid and pytorch-fid use ``sqrtm``.  Both add ``√(round-off)`` for every zero eigenvalue
of a singular product (sets smaller than 2048 images), which puts their values ~1e-6 (relative) below the
exact one on small sets; on real faces frbench equals torch-fidelity to ~1e-6 and clean-fid ("clean") to
~1e-6 (``tests/metrics/test_fid.py``).

Conventions (torch-fidelity ``inception-v3-compat`` / clean-fid ``mode="clean"``)
------------------------------------------------------------------------------------
* Images enter as 8-bit RGB (the runner quantises restored images as if saved to PNG).
* ``resize="tf1-bilinear"`` (default): TF1 bilinear to 299x299, as torch-fidelity and TTUR —
  FID values equal torch-fidelity's.  ``resize="clean"``: PIL bicubic on float channels, as clean-fid's
  ``mode="clean"`` (its values, with the same network).
* Units: squared feature distance, dimensionless; 0 for identical distributions; lower is better.  FID is
  biased upward for small sets (Chong & Forsyth 2020): compare only values computed with the same number
  of images and the same reference set; every result carries both counts.

Streaming state
---------------
The state of a run is ``n``, ``Σf`` and the packed ``Σffᵀ`` (float64) of the restored images and, when the
reference is the run's HQ images, of the HQ images too (:mod:`metrics.feature_stats`): two 2048-d moment
sets, ~34 MB, merged by addition.  With a named reference folder (e.g. FFHQ) only the restored moments
are kept; the folder's moments are computed once and cached under a key derived from the files' content
and the feature configuration (:func:`metrics.feature_stats.reference_moments`).

Results: ``value`` (the FID), ``n`` (restored images), ``ref=<name>.n`` (reference images), so the reference
set is named and counted in every table.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, ClassVar, Mapping

import numpy as np

from bench.core.types import SetMetric

from metrics.feature_stats import (
    INCEPTION_BATCH,
    InceptionVectors,
    InceptionFeatures,
    mean_cov,
    merge_bottom_k,
    moments_state,
    priorities,
    reference_moments,
)

#: how ``tr (Σ₁Σ₂)^{1/2}`` is computed (recorded in every FID configuration, so values of another algorithm
#: are never mixed with these in one run)
FRECHET_ALGORITHM: str = "eigh(R^T S2 R), S1 = R R^T; eigenvalues below sqrt(d)*eps*max are 0"

#: Below this many images per set FID is strongly biased (the usual advice: at least the feature dim).
FID_MIN_RECOMMENDED: int = 2048


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     n1: int | None = None, n2: int | None = None, overwrite: bool = False) -> float:
    """Fréchet distance between N(μ₁, Σ₁) and N(μ₂, Σ₂) through symmetric eigendecompositions (float64).

    ``n1``/``n2``: sample counts behind the covariances (optional; a covariance of ``n`` samples has rank
    ≤ ``n − 1``, which lets the smaller-rank one be factorised with a partial eigendecomposition).
    ``overwrite``: the covariances may be symmetrised in place (float64 arrays the caller no longer needs;
    the same values, 2 x 32 MB less at the peak for 2048-d).
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.shape[0],) * 2:
        raise ValueError(f"shape mismatch: mu {mu1.shape} vs {mu2.shape}, sigma {s1.shape} vs {s2.shape}")
    s1, s2 = _symmetrised(s1, overwrite), _symmetrised(s2, overwrite)
    if n2 is not None and (n1 is None or n2 <= n1):
        # factorise the lower-rank covariance (tr is symmetric); on a tie the second one, the reference: its
        # factor is cached, so every method and degradation of a study on the same faces reuses it
        s1, s2, n1 = s2, s1, n2
    trace_sqrt = sqrt_product_trace(s1, s2, rank=None if n1 is None else max(int(n1) - 1, 0))
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt)


def sqrt_product_trace(s1: np.ndarray, s2: np.ndarray, rank: int | None = None) -> float:
    """``tr (Σ₁Σ₂)^{1/2}`` for symmetric PSD Σ₁, Σ₂: Σ sqrt(eig(Rᵀ Σ₂ R)) with Σ₁ = R Rᵀ.

    ``R`` is the Cholesky factor when Σ₁ is positive definite (the usual case with more images than
    dimensions), else ``V diag(√w)`` from ``eigh(Σ₁)`` restricted to its numerically non-zero eigenvalues
    (``w > √d·ε·max w``, :func:`round_off_level`; small sets: rank ≤ n − 1).  ``Rᵀ Σ₂ R`` is symmetric PSD with the eigenvalues of
    Σ₁Σ₂, so one ``eigvalsh`` finishes; eigenvalues below ``√d·ε·max`` (round-off around the zeros of a
    singular Σ₂, whose square roots would each add ~√ε) count as 0.  ``rank``: an upper bound
    of rank(Σ₁) (``n₁ − 1`` for a sample covariance); when below ``d`` only that many leading eigenpairs
    are computed (a covariance of ``n ≤ d`` samples is singular: Cholesky is skipped).
    """
    from scipy.linalg import eigh

    root = _psd_root(s1, rank)
    if root.shape[1] == 0:
        return 0.0
    a = s2 @ root
    a = root.T @ a
    a = _symmetrised(a, overwrite=True)
    eig = eigh(a, eigvals_only=True, driver="evd", check_finite=False, overwrite_a=True)
    # eigenvalues at round-off level are zeros (singular Σ₂): their square roots would add ~√ε noise each
    eig[eig < round_off_level(eig)] = 0.0
    return float(np.sqrt(eig).sum())


def _symmetrised(m: np.ndarray, overwrite: bool = False) -> np.ndarray:
    """``(m + mᵀ) / 2`` with at most one temporary, in ``m`` itself when ``overwrite`` (the same floating-point
    result: numpy buffers the overlapping ``mᵀ``)."""
    if overwrite and m.flags.writeable and m.flags.c_contiguous:
        m += m.T
    else:
        m = m + m.T
    m /= 2
    return m


def round_off_level(eigenvalues: np.ndarray) -> float:
    """``√d · ε · λ_max``: the size of the round-off in the eigenvalues of a symmetric ``d x d`` matrix.

    A backward-stable symmetric eigensolver returns each eigenvalue to within ``O(ε ‖A‖₂)``; forming
    ``Rᵀ Σ₂ R`` adds errors of the same order, growing at most like ``√d`` for random rounding.  Below this
    level an eigenvalue cannot be told from 0.  An earlier threshold, ``d · ε · λ_max``, dropped genuine
    small eigenvalues of singular covariances (n < 2048): on 1,000 real faces it put the FID 2.1e-7 (relative)
    above the exact nuclear-norm value; with ``√d`` it agrees with it to ~1e-12 (``tests/metrics/test_fid.py``).
    """
    d = max(int(eigenvalues.shape[0]), 1)
    return max(float(eigenvalues.max(initial=0.0)), 0.0) * np.sqrt(d) * np.finfo(np.float64).eps


#: the last few factors R of :func:`_psd_root`, keyed by the covariance's bytes and the rank bound (a study
#: computes FID against the same HQ covariance once per method and degradation; 2048-d: 32 MB each)
_ROOT_CACHE: dict[tuple[str, int | None], np.ndarray] = {}
_ROOT_CACHE_SIZE = 4


def _psd_root(s1: np.ndarray, rank: int | None) -> np.ndarray:
    """``R`` with ``Σ₁ = R Rᵀ`` (see :func:`sqrt_product_trace`), cached per covariance content."""
    import hashlib

    from scipy.linalg import LinAlgError, cholesky, eigh

    s1 = np.ascontiguousarray(s1, np.float64)
    key = (hashlib.blake2b(s1.tobytes(), digest_size=16).hexdigest() + str(s1.shape), rank)
    if key in _ROOT_CACHE:
        return _ROOT_CACHE[key]
    d = s1.shape[0]
    try:
        if rank is not None and rank < d:
            raise LinAlgError("rank-deficient by construction")
        root = cholesky(s1, lower=True, check_finite=True)
    except LinAlgError:
        if rank is not None and 0 < rank < d:
            w, v = eigh(s1, subset_by_index=[d - rank, d - 1], driver="evr", check_finite=False)
        else:
            w, v = eigh(s1, driver="evd", check_finite=False)
        keep = w > round_off_level(w)
        root = v[:, keep] * np.sqrt(w[keep])
    if len(_ROOT_CACHE) >= _ROOT_CACHE_SIZE:
        _ROOT_CACHE.pop(next(iter(_ROOT_CACHE)))
    root.setflags(write=False)
    _ROOT_CACHE[key] = root
    return root


def fid_from_moments(state: Mapping[str, np.ndarray], prefix1: str, ref: Mapping[str, np.ndarray],
                     prefix2: str) -> float:
    n1, mu1, s1 = mean_cov(state, prefix1)
    n2, mu2, s2 = mean_cov(ref, prefix2)
    return frechet_distance(mu1, s1, mu2, s2, n1=n1, n2=n2, overwrite=True)


class FID(InceptionVectors, SetMetric):
    """FID of the restored images against the run's HQ images (default) or a named reference folder.

    ``reference``: ``"hq"`` (the run's own HQ images, accumulated in the same pass) or a name for the
    folder ``reference_folder`` (statistics cached, see :func:`metrics.feature_stats.reference_moments`).
    ``resize``: ``"tf1-bilinear"`` (torch-fidelity) or ``"clean"`` (clean-fid).  ``weights``: the
    Inception parameters (:func:`reference_models.shared.fid_inception_weights.load_fid_inception`).
    ``arithmetic``: ``"fast"`` or ``"torch-fidelity"`` (features bit-identical to torch-fidelity's, at its
    speed; :mod:`reference_models.shared.fid_inception`).
    """
    description = "FID vs the run's HQ images (TF Inception pool3, torch-fidelity resize), streaming float64 moments."
    citation = (
        "Heusel, Ramsauer, Unterthiner, Nessler, Hochreiter, GANs Trained by a Two Time-Scale Update Rule"
        " Converge to a Local Nash Equilibrium, NeurIPS 2017; torch-fidelity / clean-fid conventions"
    )
    licence = "MIT (frbench code); Inception weights: Google, TensorFlow inception-2015-12-05 (Apache-2.0)"
    value_range = (0.0, float("inf"))

    name: ClassVar[str] = "fid"
    higher_is_better: ClassVar[bool] = False
    #: the image counts of the restored set and of the named reference set appear in every table
    leaderboard_counts: ClassVar[tuple[str, ...]] = ("n", "ref=*.n")
    unit: ClassVar[str] = ""

    def __init__(self, reference: str = "hq", reference_folder: str | Path | None = None,
                 resize: str = "tf1-bilinear", weights: str = "auto", device: str | None = None,
                 batch_size: int = INCEPTION_BATCH, stats_dir: str | Path | None = None,
                 arithmetic: str = "fast") -> None:
        if reference != "hq" and reference_folder is None:
            raise ValueError(f"FID reference {reference!r} needs reference_folder=PATH (or use reference='hq')")
        self.reference, self.reference_folder = reference, reference_folder
        self.needs_reference = reference == "hq"
        self.resize, self.weights = resize, weights
        self.stats_dir = stats_dir
        self.features = InceptionFeatures(weights=weights, resize=resize, device=device, batch_size=batch_size,
                                          arithmetic=arithmetic)

    def prepare(self) -> None:
        super().prepare()
        if self.reference != "hq":
            self.reference_state()

    def fold(self, vectors, samples) -> dict[str, np.ndarray]:
        state = moments_state(vectors["x"], "x.")
        if self.reference == "hq":
            if "y" not in vectors:
                raise ValueError("FID against the HQ images needs the HQ features (dataset without HQ?)")
            state.update(moments_state(vectors["y"], "y."))
        return state

    def reference_state(self) -> tuple[dict[str, np.ndarray], str]:
        """Moments of the reference set (prefix ``y.``) and its name."""
        ref = reference_moments(self.reference, self.reference_folder, self.features, cache_dir=self.stats_dir)
        return {k.replace("ref.", "y.", 1): v for k, v in ref.items()}, self.reference

    def compute(self, state: Mapping[str, np.ndarray]) -> dict[str, float]:
        if self.reference == "hq":
            ref, name = state, "hq"
        else:
            ref, name = self.reference_state()
        n_x, n_y = int(state["x.n"]), int(ref["y.n"])
        value = fid_from_moments(state, "x.", ref, "y.") if min(n_x, n_y) >= 2 else float("nan")
        if min(n_x, n_y) < FID_MIN_RECOMMENDED:
            warnings.warn(f"FID on {n_x} restored vs {n_y} reference ({name}) images: below "
                          f"{FID_MIN_RECOMMENDED} images FID is biased upward; compare only equal counts",
                          stacklevel=2)
        return {"value": value, "n": float(n_x), f"ref={name}.n": float(n_y)}

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info.update({"reference": self.reference, "reference_folder": str(self.reference_folder or ""),
                     "resize": self.resize, "weights": self.weights, "frechet": FRECHET_ALGORITHM,
                     **({"arithmetic": self.features.arithmetic} if self.features.arithmetic != "fast" else {})})
        return info


def fid_clean(**options: Any) -> FID:
    """FID vs the run's HQ images with clean-fid's mode='clean' resize (PIL bicubic on float channels)."""
    return FID(resize="clean", **options)


# ------------------------------------------------------------------------------------------ per group

#: Attributes the per-group metrics split by, and how a sample's group label is read.
GROUP_ATTRIBUTES: tuple[str, ...] = ("gender", "age_bin")


def _group_labels(sample) -> dict[str, str]:
    from bench.core.types import AGE_BIN_LABELS, GENDER_LABELS

    attrs = sample.attributes
    labels = {}
    if attrs.gender is not None:
        labels["gender"] = GENDER_LABELS[attrs.gender]
    if attrs.age_bin is not None:
        labels["age_bin"] = AGE_BIN_LABELS[attrs.age_bin]
    return labels


class GroupFID(InceptionVectors, SetMetric):
    """FID and KID per attribute group (gender, age bin) on equal-size random subsamples.

    Each group keeps a bottom-k sample (:mod:`metrics.feature_stats`) of at most ``capacity`` samples:
    their priority ``sha256(seed:sample id)``, restored features and HQ features (float32).  At the end,
    for each attribute, the subsample size is ``m = min(capacity, smallest group size)`` over the groups
    with at least ``min_group_size`` samples; each such group contributes its ``m`` lowest-priority samples
    — an exactly uniform random subsample of the group, the same whatever the batching, resumption or
    sharding.  FID (restored vs the same samples' HQ) and KID (``kid_subsets`` subsets of
    ``min(kid_subset_size, m)``) are computed on it.  Results per attribute: ``<attr>.m`` (the equal
    subsample size), ``<attr>=<group>.n`` (group size), ``<attr>=<group>.fid`` / ``.kid``, and
    ``<attr>.fid_gap`` (largest minus smallest group FID).  Groups below ``min_group_size`` get their
    count only.  A warning is issued (and ``<attr>.biased`` = 1) when ``m < 2048``.

    State size: ``groups × min(n_group, capacity) × 2 × 8 KB`` — for 3,000 faces at most
    2 attributes × 3,000 × 16 KB = 96 MB; bounded by 12 groups × ``capacity`` × 16 KB.
    """
    description = "FID and KID per gender and age bin on equal-size seeded subsamples (size reported; biased < 2048)."
    citation = (
        "FID (Heusel et al., NeurIPS 2017) and KID (Binkowski et al., ICLR 2018) per attribute group on "
        "equal-size subsamples (frbench)"
    )
    licence = "MIT (frbench code); Inception weights: Google, TensorFlow inception-2015-12-05 (Apache-2.0)"
    value_range = (0.0, float("inf"))

    name: ClassVar[str] = "fid_groups"
    higher_is_better: ClassVar[bool] = False
    leaderboard_headline: ClassVar[tuple[str, ...]] = ("gender.fid_gap", "age_bin.fid_gap")
    leaderboard_counts: ClassVar[tuple[str, ...]] = ("*.m",)
    outputs: ClassVar[Mapping[str, str]] = {"*.fid_gap": "lower", "*.fid": "lower", "*.kid": "lower"}
    needs_reference: ClassVar[bool] = True

    def __init__(self, capacity: int = 2048, min_group_size: int = 50, seed: int = 0,
                 kid_subsets: int = 100, kid_subset_size: int = 1000, resize: str = "tf1-bilinear",
                 weights: str = "auto", device: str | None = None, batch_size: int = INCEPTION_BATCH,
                 arithmetic: str = "fast") -> None:
        self.capacity, self.min_group_size, self.seed = int(capacity), int(min_group_size), int(seed)
        self.kid_subsets, self.kid_subset_size = int(kid_subsets), int(kid_subset_size)
        self.features = InceptionFeatures(weights=weights, resize=resize, device=device, batch_size=batch_size,
                                          arithmetic=arithmetic)

    def fold(self, vectors, samples) -> dict[str, np.ndarray]:
        if "y" not in vectors:
            raise ValueError("per-group FID compares restored and HQ images of each group; the batch has no HQ")
        fx, fy = np.asarray(vectors["x"], np.float32), np.asarray(vectors["y"], np.float32)
        keys = priorities(self.seed, [s.id for s in samples])
        state: dict[str, np.ndarray] = {}
        buckets: dict[str, list[int]] = {}
        for index, sample in enumerate(samples):
            for attribute, label in _group_labels(sample).items():
                buckets.setdefault(f"{attribute}={label}", []).append(index)
        for group, rows in buckets.items():
            rows_a = np.array(rows)
            state[f"{group}#key"] = keys[rows_a]
            state[f"{group}#x"] = fx[rows_a]
            state[f"{group}#y"] = fy[rows_a]
            state[f"{group}.n"] = np.array(len(rows), dtype=np.int64)
        return merge_bottom_k([state], self.capacity)

    def merge(self, states):  # type: ignore[override]
        return merge_bottom_k(states, self.capacity)

    def compute(self, state: Mapping[str, np.ndarray]) -> dict[str, float]:
        from metrics.kid import kid_from_features

        results: dict[str, float] = {}
        groups = sorted(k[: -len(".n")] for k in state if k.endswith(".n") and "#" not in k)
        for attribute in GROUP_ATTRIBUTES:
            members = [g for g in groups if g.split("=", 1)[0] == attribute]
            if not members:
                continue
            sizes = {g: int(state[f"{g}.n"]) for g in members}
            for g, n in sizes.items():
                results[f"{g}.n"] = float(n)
            eligible = [g for g in members if sizes[g] >= max(2, self.min_group_size)]
            if not eligible:
                warnings.warn(f"per-group FID by {attribute}: no group has {self.min_group_size} samples "
                              f"(sizes {sizes}); nothing computed", stacklevel=2)
                continue
            m = min(self.capacity, min(sizes[g] for g in eligible))
            results[f"{attribute}.m"] = float(m)
            results[f"{attribute}.biased"] = float(m < FID_MIN_RECOMMENDED)
            if m < FID_MIN_RECOMMENDED:
                warnings.warn(f"per-group FID by {attribute} on {m} samples per group: below "
                              f"{FID_MIN_RECOMMENDED} samples FID is biased upward (compare groups only "
                              f"at equal size, as done here)", stacklevel=2)
            fids = {}
            for g in eligible:
                x = np.asarray(state[f"{g}#x"][:m], np.float64)  # rows are sorted by priority
                y = np.asarray(state[f"{g}#y"][:m], np.float64)
                fids[g] = frechet_distance(x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False),
                                           n1=m, n2=m)
                results[f"{g}.fid"] = fids[g]
                kid = kid_from_features(x, y, subsets=self.kid_subsets, subset_size=min(self.kid_subset_size, m),
                                        seed=self.seed)
                results[f"{g}.kid"] = kid["kid"]
            results[f"{attribute}.fid_gap"] = float(max(fids.values()) - min(fids.values()))
        return results
