"""Kernel Inception Distance (KID) on bounded, seeded, mergeable samples of Inception features.

Definition (Bińkowski et al., "Demystifying MMD GANs", ICLR 2018)
------------------------------------------------------------------
KID is the unbiased estimate of the squared MMD between the pool3 feature distributions of two image
sets with the cubic polynomial kernel ``k(x, y) = (xᵀy / d + 1)³`` (``d = 2048``)::

    MMD²_u = 1/(m(m−1)) Σ_{i≠j} [k(x_i, x_j) + k(y_i, y_j)] − 2/m² Σ_{i,j} k(x_i, y_j)

averaged over ``subsets`` random subsets of ``m`` features of each set (torch-fidelity: 100 subsets of
1,000, ``rng_seed`` 2020, error when a set is smaller; clean-fid: 100 subsets of ``min(n, 1000)``).
frbench uses ``m = min(subset_size, n_x, n_y)`` (clean-fid's rule), draws subsets with
``numpy.random.RandomState(seed)`` in torch-fidelity's order, and reports the mean, the standard deviation
over subsets, ``m`` and the counts.  Units: squared kernel distance, dimensionless, 0 for equal
distributions (the unbiased estimate can be slightly negative); lower is better.

Streaming state — KID is computed on subsets, as in torch-fidelity and clean-fid
-----------------------------------------------------------------------------------
The pairwise sums have no flat-memory exact form at 2048-d (the cubic kernel would need third-order
moment tensors, d³ ≈ 8.6e9 numbers).  The state therefore keeps, for the restored and the reference
images, a bottom-k sample (:mod:`metrics.feature_stats`) of at most ``capacity`` feature vectors
(default 2,048 each: 16 MB per side), chosen by a per-sample priority ``sha256(seed:sample id)``: a uniform
random subset of everything seen, identical for any batching, resumption or sharding, mergeable.  While a
set has at most ``capacity`` images, every feature is kept and KID equals torch-fidelity's KID on the
same features up to the random choice of subsets (exactly equal when ``m = n``, since the estimate is then
invariant to the subset order).  Beyond that, KID subsets are drawn from the bounded uniform sample, which
is still an unbiased estimate of the same MMD² (a uniform subset of a uniform subset is uniform).  The
counts of all images seen are reported beside ``m``.
"""
from __future__ import annotations

from typing import Any, ClassVar, Mapping

import numpy as np

from bench.core.types import SetMetric

from metrics.feature_stats import INCEPTION_BATCH, InceptionFeatures, InceptionVectors, merge_bottom_k, priorities


def polynomial_mmd2_unbiased(x: np.ndarray, y: np.ndarray, degree: int = 3, coef0: float = 1.0,
                             gamma: float | None = None) -> float:
    """Unbiased MMD² of two equal-size feature sets with ``k(a, b) = (γ aᵀb + c)^degree`` (γ = 1/d)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    m = x.shape[0]
    if y.shape[0] != m or m < 2:
        raise ValueError(f"unbiased MMD² needs two sets of equal size >= 2, got {x.shape[0]} and {y.shape[0]}")
    gamma = 1.0 / x.shape[1] if gamma is None else gamma
    kxx = (x @ x.T * gamma + coef0) ** degree
    kyy = (y @ y.T * gamma + coef0) ** degree
    kxy = (x @ y.T * gamma + coef0) ** degree
    within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(within - 2.0 * kxy.sum() / (m * m))


def kid_from_features(x: np.ndarray, y: np.ndarray, subsets: int = 100, subset_size: int = 1000,
                      seed: int = 2020) -> dict[str, float]:
    """KID mean and std over ``subsets`` random subsets of ``min(subset_size, n_x, n_y)`` features."""
    m = int(min(subset_size, len(x), len(y)))
    if m < 2:
        return {"kid": float("nan"), "kid_std": float("nan"), "m": float(m)}
    rng = np.random.RandomState(seed)
    values = np.empty(subsets)
    for index in range(subsets):
        a = x[rng.choice(len(x), m, replace=False)]
        b = y[rng.choice(len(y), m, replace=False)]
        values[index] = polynomial_mmd2_unbiased(a, b)
    return {"kid": float(values.mean()), "kid_std": float(values.std()), "m": float(m)}


class KID(InceptionVectors, SetMetric):
    """KID of the restored images against the run's HQ images (or a named reference folder).

    ``capacity``: features kept per side (bottom-k sample); ``subsets``/``subset_size``: KID subsets
    (torch-fidelity defaults 100 x 1000); ``seed``: priorities of the kept sample and the subset draw
    (torch-fidelity's default ``rng_seed`` 2020).
    """
    description = (
        "KID vs the run's HQ images: cubic-kernel MMD^2 on 100 subsets of a seeded bottom-2048 feature "
        "sample."
    )
    citation = (
        "Binkowski, Sutherland, Arbel, Gretton, Demystifying MMD GANs, ICLR 2018; torch-fidelity / clean-"
        "fid conventions"
    )
    licence = "MIT (frbench code); Inception weights: Google, TensorFlow inception-2015-12-05 (Apache-2.0)"
    value_range = (float("-inf"), float("inf"))

    name: ClassVar[str] = "kid"
    higher_is_better: ClassVar[bool] = False
    leaderboard_counts: ClassVar[tuple[str, ...]] = ("subset_size",)

    def __init__(self, capacity: int = 2048, subsets: int = 100, subset_size: int = 1000, seed: int = 2020,
                 reference: str = "hq", reference_folder=None, resize: str = "tf1-bilinear",
                 weights: str = "auto", device: str | None = None, batch_size: int = INCEPTION_BATCH,
                 stats_dir=None, arithmetic: str = "fast") -> None:
        if reference != "hq" and reference_folder is None:
            raise ValueError(f"KID reference {reference!r} needs reference_folder=PATH (or use reference='hq')")
        self.capacity, self.subsets, self.subset_size, self.seed = int(capacity), int(subsets), int(subset_size), int(seed)
        self.reference, self.reference_folder, self.stats_dir = reference, reference_folder, stats_dir
        self.needs_reference = reference == "hq"
        self.features = InceptionFeatures(weights=weights, resize=resize, device=device, batch_size=batch_size,
                                          arithmetic=arithmetic)

    def fold(self, vectors, samples) -> dict[str, np.ndarray]:
        keys = priorities(self.seed, [s.id for s in samples])
        fx = np.asarray(vectors["x"], np.float32)
        state = {"x#key": keys, "x#feat": fx, "x.n": np.array(len(fx), dtype=np.int64)}
        if self.reference == "hq":
            if "y" not in vectors:
                raise ValueError("KID against the HQ images needs the HQ features (dataset without HQ?)")
            fy = np.asarray(vectors["y"], np.float32)
            state.update({"y#key": keys.copy(), "y#feat": fy, "y.n": np.array(len(fy), dtype=np.int64)})
        return merge_bottom_k([state], self.capacity)

    def merge(self, states):  # type: ignore[override]
        return merge_bottom_k(states, self.capacity)

    def compute(self, state: Mapping[str, np.ndarray]) -> dict[str, float]:
        if self.reference == "hq":
            fy, n_y, name = state["y#feat"], int(state["y.n"]), "hq"
        else:
            from metrics.feature_stats import reference_moments

            ref = reference_moments(self.reference, self.reference_folder, self.features, cache_dir=self.stats_dir,
                                    kid_capacity=self.capacity, seed=self.seed)
            fy, n_y, name = ref["ref#feat"], int(ref["ref.n"]), self.reference
        out = kid_from_features(np.asarray(state["x#feat"], np.float64), np.asarray(fy, np.float64),
                                subsets=self.subsets, subset_size=self.subset_size, seed=self.seed)
        return {"value": out["kid"], "std": out["kid_std"], "subset_size": out["m"],
                "subsets": float(self.subsets), "n": float(int(state["x.n"])), f"ref={name}.n": float(n_y)}

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info.update({"capacity": self.capacity, "subsets": self.subsets, "subset_size": self.subset_size,
                     "seed": self.seed, "reference": self.reference,
                     **({"arithmetic": self.features.arithmetic} if self.features.arithmetic != "fast" else {})})
        return info
