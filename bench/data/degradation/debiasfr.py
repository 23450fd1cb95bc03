"""DebiasFR's degradation as evaluation protocols (registry names in brackets), and the one table of its
ranges, :data:`DEBIASFR_RANGES` (also the defaults of the differentiable training degradation,
:mod:`reference_models.debiasfr.degradation`):

* ``debiasfr_random`` [``debiasfr``]: DebiasFR's training degradation (``docs/protocols/debiasfr.md`` §5;
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
  (the CelebA-HQ [SUITE] tracks, ``docs/protocols/evaluation.md`` §1.2: 512 → 32×32 and 16×16 LQ).

Smallest HQ side (:meth:`DebiasFRDegradation.min_hq_side`, :mod:`.base`): the larger of the blur's need,
``kernel_size // 2 + 1`` = 21 (reflect padding 20 must be shorter than the side, as torch's ``reflect`` in
the official code requires), and the smallest ``N`` with ``N // s ≥ MIN_LQ_SIDE`` = 4 at the **largest**
scale the protocol can draw (``scale_range[1]`` = 20 when the scale is random, so that whether an image is
accepted never depends on its seeded draw): 80 for ``debiasfr``, 64 for ``debiasfr-x16``, 128 for
``debiasfr-x32``.
"""
from __future__ import annotations

import math
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from bench.data.degradation.base import MIN_LQ_SIDE, Degradation, _check_replay_size, _streams
from bench.data.degradation.ops import (
    blur_reflect,
    gaussian_kernel,
    gray_torchvision,
    jpeg_codec,
    jpeg_roundtrip,
    resize_bilinear_torch,
    to_uint8,
)

#: The ranges of DebiasFR's degradation: the official training option file
#: (``options/degradation_tune_lr_wpseudo.yml`` L23–35), read-only.  Keys are the keyword arguments of
#: :class:`DebiasFRDegradation` and of :func:`reference_models.debiasfr.degradation.sample_degradation_params`.
DEBIASFR_RANGES: Mapping[str, Any] = MappingProxyType({
    "kernel_size": 41,           # Gaussian blur kernel side (odd): 41x41
    "iso_prob": 0.5,             # P(isotropic kernel); anisotropic (sigma_y, theta drawn) otherwise
    "sigma_range": (0.1, 10.0),  # kernel sigma_x, sigma_y ~ U[0.1, 10]
    "scale_range": (1.0, 20.0),  # downscale factor s ~ U[1, 20] (continuous)
    "noise_range": (0.0, 20.0),  # Gaussian noise sigma ~ U[0, 20] in 8-bit units
    "jpeg_range": (60, 100),     # JPEG quality int(U[60, 100)), i.e. 60 ... 99
})


def debiasfr_lq_size(size: int, scale: float) -> int:
    """LQ side of the DebiasFR pipeline: ``max(1, int(size // scale))`` (floor, as the official code)."""
    return max(1, int(size // scale))


class DebiasFRDegradation(Degradation):
    """DebiasFR's degradation: mixed Gaussian blur, bilinear down by s, Gaussian noise, real JPEG (see module doc).

    Options: ``scale`` (``None`` = drawn from ``scale_range``, or a fixed number), ``gray_prob`` (default 0:
    off for evaluation; DebiasFR trains with 0.01), and the training ranges (defaults: :data:`DEBIASFR_RANGES`,
    from ``options/degradation_tune_lr_wpseudo.yml``).
    """

    pipeline = "debiasfr"

    def __init__(self, scale: float | None = None, *, gray_prob: float = 0.0,
                 kernel_size: int = DEBIASFR_RANGES["kernel_size"], iso_prob: float = DEBIASFR_RANGES["iso_prob"],
                 sigma_range: tuple[float, float] = DEBIASFR_RANGES["sigma_range"],
                 scale_range: tuple[float, float] = DEBIASFR_RANGES["scale_range"],
                 noise_range: tuple[float, float] = DEBIASFR_RANGES["noise_range"],
                 jpeg_range: tuple[int, int] = DEBIASFR_RANGES["jpeg_range"], name: str | None = None) -> None:
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

    def min_hq_side(self) -> int:
        """``max(kernel_size // 2 + 1, smallest N with N // s_max >= MIN_LQ_SIDE)`` (see the module doc)."""
        largest = self.scale if self.scale is not None else self.scale_range[1]
        side = max(1, math.ceil(MIN_LQ_SIDE * largest))
        while debiasfr_lq_size(side, largest) < MIN_LQ_SIDE:  # float floor division: never trust ceil alone
            side += 1
        while side > 1 and debiasfr_lq_size(side - 1, largest) >= MIN_LQ_SIDE:
            side -= 1
        return max(self.kernel_size // 2 + 1, side)

    def min_size_rule(self) -> str:
        largest = self.scale if self.scale is not None else self.scale_range[1]
        return (f"its LQ must keep at least {MIN_LQ_SIDE} pixels a side at scale {largest:g}, the largest it "
                f"draws, and its {self.kernel_size}x{self.kernel_size} blur needs a side above its padding")

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


# -- registry factories ------------------------------------------------------------------------------
def debiasfr_random(**options: Any) -> DebiasFRDegradation:
    """DebiasFR training degradation: blur, bilinear down s~U[1,20], noise, JPEG, seeded per image."""
    return DebiasFRDegradation(None, **options)


def debiasfr_x16(**options: Any) -> DebiasFRDegradation:
    """DebiasFR degradation with the scale fixed at 16 (CelebA-HQ [SUITE] track)."""
    return DebiasFRDegradation(16, **options)


def debiasfr_x32(**options: Any) -> DebiasFRDegradation:
    """DebiasFR degradation with the scale fixed at 32 (CelebA-HQ [SUITE] track)."""
    return DebiasFRDegradation(32, **options)
