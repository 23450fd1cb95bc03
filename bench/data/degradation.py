"""Synthesising the low-quality (LQ) input from the HQ face: seeded, recorded, replayable.

Interface
---------
A :class:`Degradation` maps an HQ ``uint8 [H, W, 3]`` RGB array to an LQ ``uint8 [h, w, 3]`` array kept at
its **native small size** (methods do their own upsampling), plus a JSON-serialisable ``params`` dict::

    lq, params = degradation.apply(hq, seed, sample_id)

Everything random is drawn from a :class:`numpy.random.SeedSequence` built from the run seed and the
SHA-256 digest of the UTF-8 sample id (never Python's salted ``hash``), so the LQ depends on
``(seed, sample_id)`` only: not on the order of samples, the batch, the thread or the process.  Each
random component (kernel, scale, noise, JPEG quality, greyscale) has its own child stream
(``SeedSequence.spawn``), so fixing one of them (e.g. the scale in ``debiasfr-x16``) leaves the others
unchanged: ``debiasfr-x16`` and ``debiasfr-x32`` use the same kernel, noise level and JPEG quality for a
given image.

``params`` holds every drawn value and every constant needed to redo the work
(:func:`degradation_from_params` replays it to the same LQ bytes), the pipeline name and version,
and — for information — the seed and sample id it was drawn from.

Protocols (registry names in brackets; see ``bench/registries.py``)
-------------------------------------------------------------------
* ``bicubic_x4/x8/x16/x32`` [``x4`` … ``x32``]: bicubic downsampling only, with PIL
  ``Image.resize(..., Image.BICUBIC)`` on the ``uint8`` image: Keys cubic, a = −0.5, antialiased (the
  kernel support is stretched by the scale factor, like MATLAB ``imresize``), output rounded to
  ``uint8`` by PIL.  LQ size per side: ``max(1, floor(N/s + 1/2))`` — N/s rounded half *up*
  (MATLAB-style rounding, not Python's half-to-even ``round``), e.g. 200/16 = 12.5 → 13.  When ``s`` does
  not divide ``N`` the effective factor is ``N/n`` (PIL maps the whole image extent).  Nothing random.
* ``debiasfr_random`` [``debiasfr``]: DebiasFR's training degradation (``../shared/spec/debiasfr.md`` §5;
  official ``dbfr/data/ffhq_degradation_dataset.py`` and ``dbfr/Degradations.py``), per image:

  1. blur with a 41×41 Gaussian kernel, isotropic or anisotropic with p = 0.5 each (BasicSR
     ``random_mixed_kernels``): σx ~ U[0.1, 10]; isotropic: σy = σx, θ = 0; anisotropic: σy ~ U[0.1, 10],
     θ ~ U[−π, π]; covariance ``R(θ) diag(σx², σy²) R(θ)ᵀ``; x = column offset, y = row offset; kernel
     normalised to sum 1; applied per channel with **reflect padding 20** ('valid' afterwards, so the size
     is kept; numpy ``reflect`` = torch ``reflect``: the edge pixel is not repeated);
  2. scale s ~ U[1, 20] (continuous); resize to ``max(1, int(H // s)) × max(1, int(W // s))`` with
     ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False, antialias=False)``;
  3. Gaussian noise σ ~ U[0, 20] (8-bit units), i.i.d. per pixel and channel at the LQ size, drawn as
     ``numpy.random.default_rng(noise_seed).standard_normal((h, w, 3)) · σ/255`` (``noise_seed`` a
     63-bit integer drawn from the noise stream and recorded), added, clipped to [0, 1];
  4. JPEG with quality ``int(U[60, 100))`` ∈ {60 … 99} through a **real** JPEG codec: the image is
     rounded to ``uint8`` and encoded/decoded by Pillow's libjpeg(-turbo) (4:2:0 chroma subsampling,
     baseline, no optimisation); the codec and its version are recorded.  DebiasFR itself uses DiffJPEG
     (a differentiable torch model of the IJG codec: unclipped scaled tables, 2×2-average chroma
     subsampling, float path), which differs from libjpeg in the last 8-bit levels; a DiffJPEG variant
     is left to a later change;
  5. optional greyscale (DebiasFR: p = 0.01, torchvision ``Grayscale(3)``: 0.2989 R + 0.587 G + 0.114 B,
     replicated to 3 channels), **off by default here** (``gray_prob=0``): it is a training
     augmentation, and an evaluation protocol should not turn 1 % of the test faces grey at random;
  6. 8-bit quantisation (the JPEG decoder already outputs ``uint8``; the greyscale step rounds).

  DebiasFR then bilinearly upsamples back to 512×512; here the LQ stays at its native size.
  Numerics: float64 throughout (DebiasFR: float32), the blur by FFT (``scipy.signal.fftconvolve``),
  which equals direct convolution to ~1e-15 — the kernel is point-symmetric, so convolution equals
  torch's correlation.
* ``debiasfr_x16``, ``debiasfr_x32`` [``debiasfr-x16``, ``debiasfr-x32``]: the same with the scale fixed
  (the CelebA-HQ [SUITE] tracks, ``../shared/spec/evaluation.md`` §1.2: 512 → 32×32 and 16×16 LQ).
* ``identity`` [``none``]: LQ = HQ (a copy).
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import warnings
from functools import lru_cache
from typing import Any, ClassVar, Mapping

import numpy as np

#: Version of the pipelines' behaviour; bump it whenever the same params would give other bytes.
PIPELINE_VERSION = 1

_MAX_SEED = 2 ** 64


# -- seeding ----------------------------------------------------------------------------------------
def id_digest(sample_id: str) -> bytes:
    """SHA-256 of the UTF-8 encoding of ``sample_id`` (stable across processes, unlike ``hash``)."""
    if not isinstance(sample_id, str):
        raise TypeError(f"sample_id must be a str, got {type(sample_id).__name__}")
    return hashlib.sha256(sample_id.encode("utf-8")).digest()


def sample_seed_sequence(seed: int, sample_id: str) -> np.random.SeedSequence:
    """The per-sample root :class:`~numpy.random.SeedSequence` of ``(run seed, sample id)``.

    Its entropy is the fixed-length word sequence ``[seed low 32 bits, seed high 32 bits, 8 big-endian
    32-bit words of sha256(id)]`` — fixed length, so two different (seed, id) pairs can never give the
    same entropy.  ``seed`` must be an integer in ``[0, 2**64)``.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
    seed = int(seed)
    if not 0 <= seed < _MAX_SEED:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    words = [seed & 0xFFFFFFFF, seed >> 32]
    words += [int(w) for w in np.frombuffer(id_digest(sample_id), dtype=">u4")]
    return np.random.SeedSequence(entropy=words)


def _streams(seed: int, sample_id: str, names: tuple[str, ...]) -> dict[str, np.random.Generator]:
    children = sample_seed_sequence(seed, sample_id).spawn(len(names))
    return {name: np.random.default_rng(child) for name, child in zip(names, children)}


# -- building blocks ----------------------------------------------------------------------------------
def _check_hq(hq: np.ndarray) -> tuple[int, int]:
    if not isinstance(hq, np.ndarray) or hq.dtype != np.uint8 or hq.ndim != 3 or hq.shape[2] != 3:
        shape = getattr(hq, "shape", None)
        raise ValueError(f"HQ image must be a uint8 array [H, W, 3], got {getattr(hq, 'dtype', type(hq))} {shape}")
    if hq.shape[0] < 1 or hq.shape[1] < 1:
        raise ValueError(f"HQ image is empty: {hq.shape}")
    return int(hq.shape[0]), int(hq.shape[1])


def bicubic_lq_size(size: int, scale: int) -> int:
    """LQ side of the fixed-scale protocols: ``max(1, floor(size/scale + 1/2))`` (half rounded up)."""
    return max(1, (2 * size + scale) // (2 * scale))


def debiasfr_lq_size(size: int, scale: float) -> int:
    """LQ side of the DebiasFR pipeline: ``max(1, int(size // scale))`` (floor, as the official code)."""
    return max(1, int(size // scale))


def gaussian_kernel(size: int, sigma_x: float, sigma_y: float, theta: float) -> np.ndarray:
    """Normalised bivariate Gaussian kernel ``[size, size]`` float64 (BasicSR ``bivariate_Gaussian``).

    ``k[i, j] ∝ exp(−½ vᵀ Σ⁻¹ v)`` with ``v = (j − c, i − c)`` (x = column, y = row offset from the centre
    ``c = (size − 1)/2``) and ``Σ = R(θ) diag(σx², σy²) R(θ)ᵀ``, ``R(θ) = [[cos θ, −sin θ], [sin θ, cos θ]]``;
    sums to 1; point-symmetric (``k[::-1, ::-1] == k``); isotropic (σx = σy) kernels are also symmetric
    under transposition and flips.
    """
    if size < 1 or size % 2 == 0:
        raise ValueError(f"kernel size must be odd and positive, got {size}")
    if sigma_x <= 0 or sigma_y <= 0:
        raise ValueError(f"kernel sigmas must be > 0, got {sigma_x}, {sigma_y}")
    axis = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    xx, yy = np.meshgrid(axis, axis)
    cos, sin = math.cos(theta), math.sin(theta)
    rot = np.array([[cos, -sin], [sin, cos]])
    cov = rot @ np.diag([sigma_x ** 2, sigma_y ** 2]) @ rot.T
    inv = np.linalg.inv(cov)
    quad = inv[0, 0] * xx * xx + (inv[0, 1] + inv[1, 0]) * xx * yy + inv[1, 1] * yy * yy
    kernel = np.exp(-0.5 * quad)
    return kernel / kernel.sum()


def blur_reflect(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Blur each channel of a float ``[H, W, C]`` image with ``kernel`` (odd square, point-symmetric), with
    reflect padding of half the kernel size, keeping the size (DebiasFR ``GaussianBlurConv``).

    numpy's ``reflect`` mirrors about the edge pixel without repeating it (torch ``F.pad(mode="reflect")``);
    unlike torch it also accepts images smaller than the padding (it reflects repeatedly).
    """
    from scipy.signal import fftconvolve

    pad = kernel.shape[0] // 2
    padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="reflect")
    return fftconvolve(padded, kernel[:, :, None], mode="valid", axes=(0, 1))


def resize_bilinear_torch(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a float64 ``[H, W, C]`` image to ``size = (h, w)`` with torch bilinear, ``align_corners=False``,
    no antialias (DebiasFR ``F.interpolate(..., mode='bilinear')``)."""
    import torch
    import torch.nn.functional as F

    tensor = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float64)).permute(2, 0, 1).unsqueeze(0)
    out = F.interpolate(tensor, size=tuple(int(v) for v in size), mode="bilinear", align_corners=False,
                        antialias=False)
    return out[0].permute(1, 2, 0).numpy()


@lru_cache(maxsize=1)
def jpeg_codec() -> str:
    """Name and version of the JPEG codec used (Pillow and its libjpeg build)."""
    import PIL
    from PIL import features

    if features.check_feature("libjpeg_turbo"):
        lib = f"libjpeg-turbo {features.version('libjpeg_turbo')}"
    else:
        lib = f"libjpeg {features.version('jpg')}"
    return f"Pillow {PIL.__version__} / {lib} (API {features.version('jpg')})"


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode ``uint8 [h, w, 3]`` as baseline JPEG (IJG tables scaled by ``quality``, 4:2:0) and decode it."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=int(quality), subsampling="4:2:0",
                                optimize=False, progressive=False)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB"), dtype=np.uint8).copy()


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float image in [0, 1] -> ``uint8``: ``round(clip(x, 0, 1)·255)`` (round half to even, as ``torch.round``)."""
    return np.rint(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def gray_torchvision(image: np.ndarray) -> np.ndarray:
    """3-channel grey of a ``uint8`` image with torchvision's ``Grayscale(3)`` weights (0.2989, 0.587, 0.114),
    rounded to ``uint8``."""
    x = image.astype(np.float64)
    gray = np.rint(0.2989 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]).clip(0, 255).astype(np.uint8)
    return np.repeat(gray[:, :, None], 3, axis=2)


def _jsonable(params: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON round trip (tuples -> lists, numpy scalars refused early) — what a store would keep."""
    return json.loads(json.dumps(params, allow_nan=False))


# -- the interface -------------------------------------------------------------------------------------
class Degradation:
    """Base class: ``apply(hq, seed, sample_id) -> (lq, params)``.

    Subclasses implement :meth:`draw` (all random choices, from ``(seed, sample_id)`` and the HQ size,
    into a params dict) and :meth:`render` (the deterministic image processing given the params), and
    :meth:`from_params` (the object able to replay a params dict).  ``apply`` is ``render(hq, draw(...))``,
    so a replay from the recorded params runs the very same code.
    """

    #: Pipeline family written into ``params["pipeline"]`` and used by :func:`degradation_from_params`.
    pipeline: ClassVar[str] = "base"
    version: ClassVar[int] = PIPELINE_VERSION

    def __init__(self, name: str) -> None:
        self.name = name

    # to implement
    def draw(self, seed: int, sample_id: str, hq_size: tuple[int, int]) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def render(self, hq: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "Degradation":  # pragma: no cover
        raise NotImplementedError

    # shared behaviour
    def _header(self, seed: int, sample_id: str, hq_size: tuple[int, int]) -> dict[str, Any]:
        return {"pipeline": self.pipeline, "version": self.version, "degradation": self.name,
                "seed": int(seed), "sample_id": sample_id, "hq_size": [int(hq_size[0]), int(hq_size[1])]}

    def apply(self, hq: np.ndarray, seed: int, sample_id: str) -> tuple[np.ndarray, dict[str, Any]]:
        """Degrade ``hq`` (``uint8 [H, W, 3]``) -> ``(lq uint8 [h, w, 3], params)``, deterministic in (seed, id)."""
        hq_size = _check_hq(hq)
        params = _jsonable(self.draw(seed, sample_id, hq_size))
        lq = self.render(hq, params)
        params["lq_size"] = [int(lq.shape[0]), int(lq.shape[1])]
        return lq, params

    __call__ = apply

    def describe(self) -> dict[str, Any]:
        """What identifies the protocol in a run record (name, pipeline, version, options, software)."""
        import PIL
        import scipy
        import torch

        return {"name": self.name, "pipeline": self.pipeline, "version": self.version,
                "options": self.options(), "software": {"numpy": np.__version__, "scipy": scipy.__version__,
                                                        "torch": torch.__version__, "pillow": PIL.__version__}}

    def options(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, {self.options()})"


class Identity(Degradation):
    """No degradation: LQ = HQ (a copy)."""

    pipeline = "identity"

    def __init__(self, name: str = "none") -> None:
        super().__init__(name)

    def draw(self, seed, sample_id, hq_size):
        return self._header(seed, sample_id, hq_size)

    def render(self, hq, params):
        _check_replay_size(hq, params)
        return hq.copy()

    @classmethod
    def from_params(cls, params):
        return cls(params.get("degradation", "none"))


class BicubicDownsample(Degradation):
    """Fixed-scale bicubic downsampling only: PIL ``Image.BICUBIC`` (Keys a = −0.5, antialiased), LQ side
    ``max(1, floor(N/scale + 1/2))``."""

    pipeline = "bicubic"

    def __init__(self, scale: int, name: str | None = None) -> None:
        if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
            raise ValueError(f"bicubic scale must be an integer >= 1, got {scale!r}")
        super().__init__(name or f"x{scale}")
        self.scale = scale

    def options(self):
        return {"scale": self.scale, "resample": "PIL.Image.BICUBIC (Keys a=-0.5, antialiased)",
                "lq_size_rule": "max(1, floor(N/scale + 1/2))"}

    def draw(self, seed, sample_id, hq_size):
        params = self._header(seed, sample_id, hq_size)
        params.update(scale=self.scale, lq_size=[bicubic_lq_size(hq_size[0], self.scale),
                                                 bicubic_lq_size(hq_size[1], self.scale)],
                      resample="PIL.Image.BICUBIC")
        return params

    def render(self, hq, params):
        from PIL import Image

        _check_replay_size(hq, params)
        height, width = (int(v) for v in params["lq_size"])
        lq = Image.fromarray(hq).resize((width, height), Image.BICUBIC)
        return np.asarray(lq, dtype=np.uint8).copy()

    @classmethod
    def from_params(cls, params):
        return cls(int(params["scale"]), name=params.get("degradation"))


class DebiasFRDegradation(Degradation):
    """DebiasFR's degradation: mixed Gaussian blur, bilinear down by s, Gaussian noise, real JPEG (see module doc).

    Options: ``scale`` (``None`` = drawn from ``scale_range``, or a fixed number), ``gray_prob`` (default 0:
    off for evaluation; DebiasFR trains with 0.01), and the training ranges (defaults from
    ``options/degradation_tune_lr_wpseudo.yml``).
    """

    pipeline = "debiasfr"

    def __init__(self, scale: float | None = None, *, gray_prob: float = 0.0, kernel_size: int = 41,
                 iso_prob: float = 0.5, sigma_range: tuple[float, float] = (0.1, 10.0),
                 scale_range: tuple[float, float] = (1.0, 20.0), noise_range: tuple[float, float] = (0.0, 20.0),
                 jpeg_range: tuple[int, int] = (60, 100), name: str | None = None) -> None:
        if scale is not None and not scale >= 1:
            raise ValueError(f"scale must be >= 1, got {scale!r}")
        if not 0.0 <= gray_prob <= 1.0 or not 0.0 <= iso_prob <= 1.0:
            raise ValueError("gray_prob and iso_prob must be probabilities in [0, 1]")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        for label, (lo, hi) in (("sigma_range", sigma_range), ("scale_range", scale_range),
                                ("noise_range", noise_range), ("jpeg_range", jpeg_range)):
            if not lo <= hi:
                raise ValueError(f"{label} must be (low, high) with low <= high, got {(lo, hi)}")
        if (sigma_range[0] <= 0 or scale_range[0] < 1 or noise_range[0] < 0
                or not 1 <= jpeg_range[0] <= jpeg_range[1] <= 100):
            raise ValueError("ranges out of bounds: sigma > 0, scale >= 1, noise >= 0, 1 <= JPEG quality <= 100")
        default_name = "debiasfr" if scale is None else f"debiasfr-x{scale:g}"
        super().__init__(name or default_name)
        self.scale = None if scale is None else float(scale)
        self.gray_prob = float(gray_prob)
        self.kernel_size = int(kernel_size)
        self.iso_prob = float(iso_prob)
        self.sigma_range = (float(sigma_range[0]), float(sigma_range[1]))
        self.scale_range = (float(scale_range[0]), float(scale_range[1]))
        self.noise_range = (float(noise_range[0]), float(noise_range[1]))
        self.jpeg_range = (int(jpeg_range[0]), int(jpeg_range[1]))

    def options(self):
        return {"scale": self.scale if self.scale is not None else "random", "scale_range": list(self.scale_range),
                "kernel_size": self.kernel_size, "iso_prob": self.iso_prob, "sigma_range": list(self.sigma_range),
                "noise_range": list(self.noise_range), "jpeg_range": list(self.jpeg_range),
                "gray_prob": self.gray_prob, "jpeg_codec": jpeg_codec(),
                "resize": "torch bilinear, align_corners=False, antialias=False"}

    def draw(self, seed, sample_id, hq_size):
        rng = _streams(seed, sample_id, ("kernel", "scale", "noise", "jpeg", "gray"))
        k = rng["kernel"]
        kernel_type = "iso" if k.random() < self.iso_prob else "aniso"
        sigma_x = float(k.uniform(*self.sigma_range))
        if kernel_type == "iso":
            sigma_y, theta = sigma_x, 0.0
        else:
            sigma_y, theta = float(k.uniform(*self.sigma_range)), float(k.uniform(-math.pi, math.pi))
        scale = self.scale if self.scale is not None else float(rng["scale"].uniform(*self.scale_range))
        noise_sigma = float(rng["noise"].uniform(*self.noise_range))
        noise_seed = int(rng["noise"].integers(0, 2 ** 63))
        quality = int(rng["jpeg"].uniform(*self.jpeg_range))
        gray = bool(self.gray_prob > 0 and rng["gray"].random() < self.gray_prob)
        params = self._header(seed, sample_id, hq_size)
        params.update(
            kernel_type=kernel_type, kernel_size=self.kernel_size, kernel_padding="reflect",
            sigma_x=sigma_x, sigma_y=sigma_y, theta=theta,
            scale=scale, scale_mode="random" if self.scale is None else "fixed",
            lq_size=[debiasfr_lq_size(hq_size[0], scale), debiasfr_lq_size(hq_size[1], scale)],
            resample="torch bilinear align_corners=False antialias=False",
            noise_sigma=noise_sigma, noise_seed=noise_seed, noise="numpy PCG64 standard_normal (h, w, 3) * sigma/255",
            jpeg_quality=quality, jpeg_codec=jpeg_codec(), jpeg_subsampling="4:2:0",
            gray=gray, gray_prob=self.gray_prob,
        )
        return params

    def render(self, hq, params):
        _check_replay_size(hq, params)
        image = hq.astype(np.float64) / 255.0
        kernel = gaussian_kernel(int(params["kernel_size"]), float(params["sigma_x"]), float(params["sigma_y"]),
                                 float(params["theta"]))
        image = blur_reflect(image, kernel)
        height, width = (int(v) for v in params["lq_size"])
        image = resize_bilinear_torch(image, (height, width))
        noise = np.random.default_rng(int(params["noise_seed"])).standard_normal((height, width, 3))
        image = image + noise * (float(params["noise_sigma"]) / 255.0)
        lq = jpeg_roundtrip(to_uint8(image), int(params["jpeg_quality"]))
        if params.get("gray"):
            lq = gray_torchvision(lq)
        return lq

    @classmethod
    def from_params(cls, params):
        scale = float(params["scale"]) if params.get("scale_mode") == "fixed" else None
        return cls(scale, kernel_size=int(params["kernel_size"]), gray_prob=float(params.get("gray_prob", 0.0)),
                   name=params.get("degradation"))


_PIPELINES: dict[str, type[Degradation]] = {c.pipeline: c for c in (Identity, BicubicDownsample, DebiasFRDegradation)}


def _check_replay_size(hq: np.ndarray, params: Mapping[str, Any]) -> None:
    size = _check_hq(hq)
    recorded = params.get("hq_size")
    if recorded is not None and [int(v) for v in recorded] != list(size):
        raise ValueError(f"HQ image is {size[0]}x{size[1]} but the params were drawn for "
                         f"{recorded[0]}x{recorded[1]} (HxW)")


def degradation_from_params(hq: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
    """Replay a recorded ``params`` dict on ``hq``: the same LQ bytes as the original ``apply``.

    Uses only the recorded values (not the seed or sample id).  Raises ``ValueError`` for an unknown
    pipeline, a params dict written by another pipeline version, or an HQ of another size.  The JPEG step
    is exact only with the same codec build (``params["jpeg_codec"]``).
    """
    pipeline = params.get("pipeline")
    if pipeline not in _PIPELINES:
        raise ValueError(f"unknown degradation pipeline {pipeline!r}; known: {', '.join(sorted(_PIPELINES))}")
    if int(params.get("version", -1)) != PIPELINE_VERSION:
        raise ValueError(f"params were written by {pipeline} version {params.get('version')!r}; this is version "
                         f"{PIPELINE_VERSION}, which may not reproduce them")
    codec = params.get("jpeg_codec")
    if codec is not None and codec != jpeg_codec():
        warnings.warn(f"params were recorded with JPEG codec {codec!r}, replaying with {jpeg_codec()!r}: "
                      "the LQ may differ in a few 8-bit levels", RuntimeWarning, stacklevel=2)
    cls = _PIPELINES[pipeline]
    return cls.from_params(params).render(hq, params)


# -- registry factories ------------------------------------------------------------------------------
def bicubic_x4() -> BicubicDownsample:
    """Fixed-scale x4: bicubic (PIL, antialiased, a=-0.5) downsampling only."""
    return BicubicDownsample(4)


def bicubic_x8() -> BicubicDownsample:
    """Fixed-scale x8: bicubic (PIL, antialiased, a=-0.5) downsampling only."""
    return BicubicDownsample(8)


def bicubic_x16() -> BicubicDownsample:
    """Fixed-scale x16: bicubic (PIL, antialiased, a=-0.5) downsampling only."""
    return BicubicDownsample(16)


def bicubic_x32() -> BicubicDownsample:
    """Fixed-scale x32: bicubic (PIL, antialiased, a=-0.5) downsampling only."""
    return BicubicDownsample(32)


def debiasfr_random(**options: Any) -> DebiasFRDegradation:
    """DebiasFR training degradation: blur, bilinear down s~U[1,20], noise, JPEG, seeded per image."""
    return DebiasFRDegradation(None, **options)


def debiasfr_x16(**options: Any) -> DebiasFRDegradation:
    """DebiasFR degradation with the scale fixed at 16 (CelebA-HQ [SUITE] track)."""
    return DebiasFRDegradation(16, **options)


def debiasfr_x32(**options: Any) -> DebiasFRDegradation:
    """DebiasFR degradation with the scale fixed at 32 (CelebA-HQ [SUITE] track)."""
    return DebiasFRDegradation(32, **options)


def identity() -> Identity:
    """No degradation: LQ = HQ (or the dataset's captured LQ)."""
    return Identity()


__all__ = ["PIPELINE_VERSION", "Degradation", "Identity", "BicubicDownsample", "DebiasFRDegradation",
           "id_digest", "sample_seed_sequence", "gaussian_kernel", "blur_reflect", "resize_bilinear_torch",
           "jpeg_roundtrip", "jpeg_codec", "bicubic_lq_size", "debiasfr_lq_size", "degradation_from_params",
           "bicubic_x4", "bicubic_x8", "bicubic_x16", "bicubic_x32", "debiasfr_random", "debiasfr_x16",
           "debiasfr_x32", "identity"]
