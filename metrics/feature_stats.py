"""Inception features for set-level metrics: one shared extractor, flat-memory states, reference statistics.

Pieces shared by FID (:mod:`metrics.fid`), KID (:mod:`metrics.kid`), the per-group variants and the
Inception Score (:mod:`metrics.inception_score`).

Feature extraction
------------------
:class:`InceptionFeatures` wraps the FID Inception-v3 of :mod:`reference_models.shared.fid_inception` (loaded
once per process and device) and remembers the features of the last few batches by content hash (in
one memo shared by all extractors), so that FID, KID and the per-group metrics of one run share one
forward pass per batch.  The *feature
configuration* — network parameters (sha256 fingerprint), feature layer, resize mode, dtype — is a dict
(:meth:`InceptionFeatures.config`) that keys cached reference statistics.

Moments (FID)
-------------
A set of ``n`` feature vectors ``f_i`` (``D = 2048``) is summarised by ``n``, ``Σ f_i`` and ``Σ f_i f_iᵀ``,
all float64 and summed over batches (mergeable by addition, independent of order and sharding).  The
outer-product sum is symmetric and stored as its packed upper triangle (``D(D+1)/2`` values, 16.8 MB at
2048-d instead of 33.6 MB).  Mean and unbiased covariance follow at the end:
``μ = S/n``, ``Σ = (Q − n μ μᵀ)/(n − 1)`` — the ``np.mean`` / ``np.cov`` of torch-fidelity and clean-fid up
to float64 rounding (Inception pool3 features are non-negative and O(1), so no cancellation worth
mentioning at float64).

Bottom-k samples (KID, per-group metrics)
-----------------------------------------
KID's unbiased MMD needs pairwise kernel values, so it cannot be a sum of per-sample terms (an exact
streaming form for the cubic kernel exists through third-order tensor moments, D³ = 8.6e9 numbers:
not feasible).  Like torch-fidelity and clean-fid, frbench therefore computes KID on random subsets of
features, and keeps a *bounded uniform sample* of them: every sample gets a 64-bit priority
``sha256(f"{seed}:{sample_id}")`` and a state keeps the ``k`` samples with the smallest priorities
(a bottom-k sketch).  Merging two states keeps the ``k`` smallest of their union, so the kept sample is
exactly the same whatever the batch order, resumption or sharding, and it is a uniform random subset of
size ``min(n, k)`` of everything seen.  Its size is bounded: ``k × D × 4`` bytes per side (float32
features, as the extractor returns them).
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

#: Feature layer used by FID and KID (pool3).
FEATURE_DIM: int = 2048


# ------------------------------------------------------------------------------------------ extractor


#: images per Inception forward pass: 8 was the fastest on the 2-core AVX-512 CPU of the measurements
#: (eager, channels-last: 17.3-18.7 images/s at 8 against 15.1-16.0 at 16 and 15.4 at 32, 200 px faces
#: resized to 299; benchmarks/fid_speed.py --batch-size).  Features do not depend on it beyond float32
#: rounding (~1e-7 relative), and it is not part of a metric's recorded configuration.
INCEPTION_BATCH = 8


class InceptionFeatures:
    """Pool3 (or other) features of ``uint8`` RGB batches with the FID Inception-v3.

    ``weights``: see :func:`reference_models.shared.fid_inception_weights.load_fid_inception` (default ``"auto"``);
    ``resize``: ``"tf1-bilinear"`` (torch-fidelity) or ``"clean"`` (clean-fid); ``device``: ``None`` picks
    CUDA when available; ``batch_size``: images per forward pass (:data:`INCEPTION_BATCH`); ``arithmetic``:
    ``"fast"`` (default) or ``"torch-fidelity"`` (bit-identical to torch-fidelity's features, at its speed;
    see :mod:`reference_models.shared.fid_inception`).
    """

    _models: dict[tuple[str, str], Any] = {}
    _lock = threading.Lock()
    #: features of the last batches, shared by every extractor (FID, KID, groups of one run: one pass)
    _memo: OrderedDict = OrderedDict()
    _memo_size: int = 8

    def __init__(self, weights: str = "auto", resize: str = "tf1-bilinear", device: str | None = None,
                 batch_size: int = INCEPTION_BATCH, arithmetic: str = "fast") -> None:
        from reference_models.shared.fid_inception import ARITHMETICS, RESIZE_MODES

        if resize not in RESIZE_MODES:
            raise ValueError(f"unknown resize mode {resize!r}; expected one of {', '.join(RESIZE_MODES)}")
        if arithmetic not in ARITHMETICS:
            raise ValueError(f"unknown arithmetic {arithmetic!r}; expected one of {', '.join(ARITHMETICS)}")
        self.weights, self.resize, self.batch_size = weights, resize, int(batch_size)
        self.arithmetic = arithmetic
        self._device = device
        self._fingerprint: str | None = None

    @property
    def device(self) -> str:
        if self._device is None:
            import torch

            self._device = "cuda" if torch.cuda.is_available() else "cpu"
        return self._device

    @property
    def model(self):
        """The network (loaded on first use; shared by all extractors with the same weights and device)."""
        from reference_models.shared.fid_inception_weights import load_fid_inception

        from bench.core.provenance import cached

        key = (self.weights, self.device)
        with self._lock:  # a cache hit re-notes the parameter files into the active run-identity recorder
            return cached(self._models, key, lambda: load_fid_inception(self.weights, device=self.device))

    @property
    def has_logits(self) -> bool:
        return self.model.has_logits

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            from reference_models.shared.fid_inception_weights import weights_fingerprint

            self._fingerprint = weights_fingerprint(self.model)
        return self._fingerprint

    def channel(self, feature: str = "2048") -> str:
        """Store channel of these features: every setting that determines their values (see
        :meth:`bench.core.types.SetMetric.channels`)."""
        # the default arithmetic keeps the channel names stores already hold
        dtype = "float32" if self.arithmetic == "fast" else f"float32-{self.arithmetic}"
        if feature == "2048":
            return f"fid-inception/{feature}/{self.resize}/{dtype}/w={self.fingerprint()[:16]}"
        from reference_models.shared.fid_inception_weights import weights_fingerprint

        return f"fid-inception/{feature}/{self.resize}/{dtype}/w={weights_fingerprint(self.model, True)[:16]}"

    def config(self, feature: str = "2048") -> dict[str, Any]:
        """What determines the features (the key of cached reference statistics)."""
        return {"network": "fid-inception-v3 (TF inception-2015-12-05)", "weights_sha256": self.fingerprint(),
                "feature": feature, "resize": self.resize, "internal_dtype": "float32",
                "input": "uint8 RGB, 0..255", **({"arithmetic": self.arithmetic} if self.arithmetic != "fast" else {})}

    def __call__(self, images, features: Sequence[str] = ("2048",)) -> dict[str, np.ndarray]:
        """``{feature: float32 [B, D]}`` of a ``[B, 3, H, W]`` uint8 (or 0..255 float) tensor."""
        import torch

        images = torch.as_tensor(images)
        key = (self.weights, self.device, self.resize, self.arithmetic, tuple(features), _content_hash(images))
        with self._lock:
            hit = self._memo.get(key)
            if hit is not None:
                self._memo.move_to_end(key)
                return hit
        parts: dict[str, list[np.ndarray]] = {f: [] for f in features}
        for start in range(0, images.shape[0], self.batch_size):
            chunk = images[start:start + self.batch_size]
            n = chunk.shape[0]
            if n < self.batch_size and self.device == "cpu":
                # a short chunk is padded with zero images to the batch shape: the network sees one input
                # shape (one set of reordered weights, no re-packing) and every image's features are the
                # same whatever the chunk it falls in (tests/metrics/test_feature_stats.py)
                chunk = torch.cat([chunk, chunk.new_zeros((self.batch_size - n,) + tuple(chunk.shape[1:]))])
            out = self.model(chunk, features=features, resize=self.resize, arithmetic=self.arithmetic)
            for name in features:
                parts[name].append(out[name][:n].cpu().numpy())
        result = {name: (np.concatenate(v) if v else np.zeros((0, 0), np.float32)) for name, v in parts.items()}
        with self._lock:
            self._memo[key] = result
            while len(self._memo) > self._memo_size:
                self._memo.popitem(last=False)
        return result


class InceptionVectors:
    """The per-image vectors of the Inception-feature metrics (FID, KID, per-group FID): pool3 features of
    the restored image (``x``) and, when the reference is the run's HQ images (``reference == "hq"``), of
    the HQ image (``y``), both float32 in one store channel (:meth:`InceptionFeatures.channel`)."""

    features: InceptionFeatures
    reference: str = "hq"

    def prepare(self) -> None:
        self.features.model  # noqa: B018 - loads the network (and notes its parameter file)

    def channels(self) -> dict[str, tuple[str, str]]:
        channel = self.features.channel("2048")
        return {"x": ("restored", channel), **({"y": ("reference", channel)} if self.reference == "hq" else {})}

    def restored_vectors(self, restored, samples) -> dict[str, np.ndarray]:
        return {"x": self.features(restored)["2048"].astype(np.float32)}

    def reference_vectors(self, reference, samples) -> dict[str, np.ndarray]:
        return {"y": self.features(reference)["2048"].astype(np.float32)} if self.reference == "hq" else {}


def _content_hash(images) -> tuple:
    array = images.detach().cpu().contiguous().numpy()
    return (array.shape, str(array.dtype), hashlib.blake2b(array.tobytes(), digest_size=16).hexdigest())


# ------------------------------------------------------------------------------------------ moments


def _triu(dim: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(dim)


_TRIU_CACHE: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def triu_indices(dim: int) -> tuple[np.ndarray, np.ndarray]:
    if dim not in _TRIU_CACHE:
        _TRIU_CACHE[dim] = _triu(dim)
    return _TRIU_CACHE[dim]


def moments_state(features: np.ndarray, prefix: str) -> dict[str, np.ndarray]:
    """``{prefix+"n", prefix+"sum", prefix+"outer"}`` of a float ``[B, D]`` array (float64 sums)."""
    f = np.asarray(features, dtype=np.float64)
    rows, cols = triu_indices(f.shape[1])
    outer = f.T @ f
    return {f"{prefix}n": np.array(f.shape[0], dtype=np.int64), f"{prefix}sum": f.sum(axis=0),
            f"{prefix}outer": outer[rows, cols]}


def unpack_symmetric(packed: np.ndarray, dim: int) -> np.ndarray:
    rows, cols = triu_indices(dim)
    full = np.zeros((dim, dim), dtype=np.float64)
    full[rows, cols] = packed
    full[cols, rows] = packed
    return full


def mean_cov(state: Mapping[str, np.ndarray], prefix: str) -> tuple[int, np.ndarray, np.ndarray]:
    """``(n, mean, unbiased covariance)`` from a moments state (``n >= 2`` for a covariance)."""
    n = int(state[f"{prefix}n"])
    total = np.asarray(state[f"{prefix}sum"], dtype=np.float64)
    dim = total.shape[0]
    if n < 2:
        raise ValueError(f"a covariance needs at least 2 feature vectors, got {n}")
    mu = total / n
    cov = unpack_symmetric(state[f"{prefix}outer"], dim)  # (Σffᵀ − n μμᵀ) / (n − 1), in place (one 2048² temporary)
    centre = np.outer(mu, mu)
    centre *= n
    cov -= centre
    del centre
    cov /= n - 1
    return n, mu, cov


# ------------------------------------------------------------------------------------------ bottom-k


def priority(seed: int, sample_id: str) -> np.uint64:
    """64-bit priority of a sample for bottom-k sampling: first 8 bytes of sha256(f"{seed}:{id}")."""
    digest = hashlib.sha256(f"{int(seed)}:{sample_id}".encode("utf-8")).digest()
    return np.uint64(int.from_bytes(digest[:8], "big"))


def priorities(seed: int, sample_ids: Iterable[str]) -> np.ndarray:
    return np.array([priority(seed, s) for s in sample_ids], dtype=np.uint64)


def bottom_k(keys: np.ndarray, arrays: Sequence[np.ndarray], k: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """The ``k`` entries with the smallest keys (sorted ascending) and the matching rows of ``arrays``."""
    order = np.argsort(keys, kind="stable")[:k]
    return keys[order], [a[order] for a in arrays]


def merge_bottom_k(states: Sequence[Mapping[str, np.ndarray]], capacity: int) -> dict[str, np.ndarray]:
    """Merge states holding sums and bottom-k samples.

    Keys ``P#NAME`` are per-sample arrays of the sample group ``P`` (rows in step); ``P#key`` holds their
    uint64 priorities.  The merged group keeps the ``capacity`` smallest priorities of the union, sorted
    ascending.  Every key without ``#`` is summed (counts and moments).
    """
    merged: dict[str, np.ndarray] = {}
    groups = sorted({k.split("#", 1)[0] for s in states for k in s if "#" in k})
    for group in groups:
        members = [s for s in states if f"{group}#key" in s]
        names = sorted({k for s in members for k in s if k.startswith(f"{group}#") and k != f"{group}#key"})
        for s in members:
            if any(n not in s for n in names):
                raise ValueError(f"bottom-k merge of '{group}': states hold different arrays")
        keys = np.concatenate([np.asarray(s[f"{group}#key"], dtype=np.uint64) for s in members])
        arrays = [np.concatenate([np.asarray(s[n]) for s in members]) for n in names]
        if len(np.unique(keys)) != len(keys):
            raise ValueError(f"bottom-k merge of '{group}': the same sample appears in two states")
        keys, arrays = bottom_k(keys, arrays, capacity)
        merged[f"{group}#key"] = keys
        merged.update(dict(zip(names, arrays)))
    for state in states:
        for key, value in state.items():
            if "#" in key:
                continue
            merged[key] = merged[key] + value if key in merged else np.array(value, copy=True)
    return merged


# ------------------------------------------------------------------------------------------ reference sets

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files under ``folder`` (recursive), sorted by relative path."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"reference folder {root} does not exist")
    files = sorted((p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS),
                   key=lambda p: p.relative_to(root).as_posix())
    if not files:
        raise ValueError(f"reference folder {root} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    return files


def content_key(files: Sequence[Path], root: Path, config: Mapping[str, Any]) -> str:
    """sha256 over the reference files' relative names and bytes, and the feature configuration."""
    digest = hashlib.sha256()
    digest.update(json.dumps(dict(config), sort_keys=True).encode())
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        file_hash = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                file_hash.update(chunk)
        digest.update(file_hash.digest())
    return digest.hexdigest()


def default_stats_dir() -> Path:
    """``<asset cache>/fid-stats`` (``$FRBENCH_CACHE`` or ``~/.cache/frbench/assets``)."""
    from bench.core.assets import AssetManager

    return AssetManager(progress=False).cache_dir / "fid-stats"


def reference_moments(name: str, folder: str | os.PathLike, extractor: InceptionFeatures,
                      cache_dir: str | os.PathLike | None = None, batch_size: int = INCEPTION_BATCH,
                      kid_capacity: int = 0, seed: int = 0, progress: bool = False) -> dict[str, np.ndarray]:
    """Moments (and optionally a bottom-k feature sample) of a named reference image folder, cached.

    The cache file is ``<cache_dir>/<name>-<key[:16]>.npz`` with ``key`` = :func:`content_key` (file names,
    bytes, feature configuration, ``kid_capacity`` and ``seed``): a changed image, an added file or another
    network gives another key, so stale statistics are never used.  Images are decoded as RGB ``uint8``
    (the runner's decoding) and must all have one size per batch (mixed sizes are processed one by one).
    Returns the state with keys ``ref.n``, ``ref.sum``, ``ref.outer`` (+ ``ref#key``/``ref#feat``).
    """
    import torch

    from bench.core.imageio import read_image

    root = Path(folder)
    files = list_images(root)
    config = {**extractor.config(), "kid_capacity": int(kid_capacity), "seed": int(seed), "name": name}
    key = content_key(files, root, config)
    directory = Path(cache_dir) if cache_dir is not None else default_stats_dir()
    target = directory / f"{_safe(name)}-{key[:16]}.npz"
    if target.is_file():
        with np.load(target, allow_pickle=False) as data:
            state = {k: data[k] for k in data.files if k != "meta"}
            if str(data["meta"]) and json.loads(str(data["meta"])).get("key") == key:
                return state
    state: dict[str, np.ndarray] | None = None
    pending: list[tuple[str, np.ndarray]] = []

    def flush() -> None:
        nonlocal state
        if not pending:
            return
        by_shape: dict[tuple, list[tuple[str, np.ndarray]]] = {}
        for rel, image in pending:
            by_shape.setdefault(image.shape, []).append((rel, image))
        for items in by_shape.values():
            batch = torch.from_numpy(np.stack([im for _, im in items])).permute(0, 3, 1, 2).contiguous()
            feats = extractor(batch)["2048"]
            part = moments_state(feats, "ref.")
            if kid_capacity:
                part["ref#key"] = priorities(seed, [rel for rel, _ in items])
                part["ref#feat"] = feats.astype(np.float32)
            state = merge_bottom_k([part] if state is None else [state, part], kid_capacity)
        pending.clear()

    iterator: Iterable[Path] = files
    if progress:
        from tqdm import tqdm

        iterator = tqdm(files, desc=f"reference statistics {name}", unit="img")
    for path in iterator:
        pending.append((path.relative_to(root).as_posix(), read_image(path, name=str(path))))
        if len(pending) >= batch_size:
            flush()
    flush()
    assert state is not None
    meta = {"key": key, "name": name, "folder": str(root.resolve()), "n_files": len(files), "config": config}
    directory.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part.npz")
    np.savez(tmp, meta=np.array(json.dumps(meta)), **state)
    os.replace(tmp, target)
    return state


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "reference"
