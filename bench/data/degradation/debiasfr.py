"""DebiasFR's degradation as evaluation protocols (registry names in brackets), and the one table of its
ranges, :data:`DEBIASFR_RANGES` (also the defaults of the differentiable training degradation,
:mod:`reference_models.debiasfr.degradation`):

* ``debiasfr_random`` [``debiasfr``]: DebiasFR's training degradation (``docs/protocols/debiasfr.md`` §5;
  official ``dbfr/data/ffhq_degradation_dataset.py`` and ``dbfr/Degradations.py``), per image:

  0. **the HQ is first resized to 512×512** (:data:`OFFICIAL_SIZE`), whatever its native size, as the
     official data pipeline does before degrading (``cv2.resize(img_gt, (512, 512),
     interpolation=cv2.INTER_LINEAR)`` on the float image): here torch bilinear, ``align_corners=False``,
     no antialias (the same half-pixel sampling without low-pass filter) on ``uint8 / 255`` in float64,
     rounded to ``uint8``.  The 41-px kernel, the blur σ and the scale are calibrated for 512 px, so a
     1024-px CelebA-HQ face at ``debiasfr-x16`` gives a 32×32 LQ (not 64×64) and a 200-px UTKFace face is
     upsampled 2.56× first (not blurred 2.56× more strongly relative to the face).  This 512-px HQ is the
     protocol's **reference**: :meth:`DebiasFRDegradation.reference` returns it, the runner scores the
     restorations against it, so every metric is computed at 512 px;  ``reference_size=None`` restores the
     earlier native-size behaviour (params recorded without ``reference_size`` replay that way);

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

  DebiasFR's training code then bilinearly upsamples back to 512×512; here the LQ stays at its native size.
  Numerics: float64 throughout (DebiasFR: float32), the blur by FFT (``scipy.signal.fftconvolve``),
  which equals direct convolution to ~1e-15 — the kernel is point-symmetric, so convolution equals
  torch's correlation.
* ``debiasfr_x16``, ``debiasfr_x32`` [``debiasfr-x16``, ``debiasfr-x32``]: the same with the scale fixed
  (the CelebA-HQ [SUITE] tracks, ``docs/protocols/evaluation.md`` §1.2: 512 → 32×32 and 16×16 LQ, for
  faces of any native size).

Smallest HQ side (:meth:`DebiasFRDegradation.min_hq_side`, :mod:`.base`), checked on the **native** HQ: at
512 px, the side of the LQ at the **largest** scale the protocol can draw (``scale_range[1]`` = 20 when the
scale is random, so that whether an image is accepted never depends on its seeded draw): 25 for
``debiasfr``, 32 for ``debiasfr-x16``, 16 for ``debiasfr-x32`` -- a face with fewer pixels than its LQ
would be upsampled into a reference with less detail than the input.  At the working size the blur's need
(a side above the reflect padding 20) and ``MIN_LQ_SIDE`` hold by construction.  With
``reference_size=None`` (native size): the larger of ``kernel_size // 2 + 1`` = 21 and the smallest ``N``
with ``N // s ≥ MIN_LQ_SIDE`` = 4 at the largest scale (80, 64, 128).

Run identity: :meth:`DebiasFRDegradation.options` holds ``reference_size`` and the resize, so runs made at
the native size (before the 512-px reference) and runs at 512 px never share a run id; the pipeline
``version`` is unchanged because a params dict still replays to the same bytes.
"""
from __future__ import annotations

import math
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from bench.data.degradation.base import MIN_LQ_SIDE, Degradation, _check_hq, _check_min_size, _check_replay_size, _streams
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


#: DebiasFR's working resolution: the official pipeline resizes every ground truth to 512x512 before degrading.
OFFICIAL_SIZE = 512

#: How the HQ becomes the 512-px reference (recorded in the options and in every params dict).
REFERENCE_RESIZE = ("uint8/255 in float64, torch bilinear align_corners=False antialias=False (= cv2.resize "
                    "INTER_LINEAR, ffhq_degradation_dataset.py), rounded to uint8")


def resize_to_reference(hq: np.ndarray, size: int) -> np.ndarray:
    """``uint8 [H, W, 3]`` -> ``uint8 [size, size, 3]`` by :data:`REFERENCE_RESIZE` (``hq`` itself at that size)."""
    if hq.shape[:2] == (size, size):
        return hq
    return to_uint8(resize_bilinear_torch(hq.astype(np.float64) / 255.0, (size, size)))


def debiasfr_lq_size(size: int, scale: float) -> int:
    """LQ side of the DebiasFR pipeline: ``max(1, int(size // scale))`` (floor, as the official code)."""
    return max(1, int(size // scale))


class DebiasFRDegradation(Degradation):
    """DebiasFR's degradation: mixed Gaussian blur, bilinear down by s, Gaussian noise, real JPEG (see module doc).

    Options: ``scale`` (``None`` = drawn from ``scale_range``, or a fixed number), ``gray_prob`` (default 0:
    off for evaluation; DebiasFR trains with 0.01), the training ranges (defaults: :data:`DEBIASFR_RANGES`,
    from ``options/degradation_tune_lr_wpseudo.yml``), and ``reference_size`` (default 512: the HQ is
    resized to it first and is the metrics' reference; ``None``: the native size).
    """

    pipeline = "debiasfr"

    def __init__(self, scale: float | None = None, *, gray_prob: float = 0.0,
                 kernel_size: int = DEBIASFR_RANGES["kernel_size"], iso_prob: float = DEBIASFR_RANGES["iso_prob"],
                 sigma_range: tuple[float, float] = DEBIASFR_RANGES["sigma_range"],
                 scale_range: tuple[float, float] = DEBIASFR_RANGES["scale_range"],
                 noise_range: tuple[float, float] = DEBIASFR_RANGES["noise_range"],
                 jpeg_range: tuple[int, int] = DEBIASFR_RANGES["jpeg_range"], name: str | None = None,
                 reference_size: int | None = OFFICIAL_SIZE) -> None:
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
        if reference_size is not None and not int(reference_size) > kernel_size // 2:
            raise ValueError(f"reference_size must exceed the blur padding {kernel_size // 2}, got {reference_size}")
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
        self.reference_size = None if reference_size is None else int(reference_size)

    def options(self):
        return {"scale": self.scale if self.scale is not None else "random", "scale_range": list(self.scale_range),
                "kernel_size": self.kernel_size, "iso_prob": self.iso_prob, "sigma_range": list(self.sigma_range),
                "noise_range": list(self.noise_range), "jpeg_range": list(self.jpeg_range),
                "gray_prob": self.gray_prob, "jpeg_codec": jpeg_codec(),
                "resize": "torch bilinear, align_corners=False, antialias=False",
                "reference_size": self.reference_size,
                "reference_resize": REFERENCE_RESIZE if self.reference_size is not None else "none (native size)"}

    # -- the 512-px reference ------------------------------------------------------------------------
    def reference(self, hq: np.ndarray) -> np.ndarray:
        """The HQ the protocol degrades and the metrics compare with: ``hq`` resized to ``reference_size``
        (module doc, step 0; the native minimum is checked here), ``hq`` itself at that size or when
        ``reference_size`` is ``None``."""
        size = _check_hq(hq)
        target = self.reference_size
        if target is None or size == (target, target):
            return hq
        _check_min_size(size, self.min_hq_side(), self.name, self.min_size_rule())
        return resize_to_reference(hq, target)

    def apply(self, hq, seed, sample_id):
        """:meth:`Degradation.apply` on :meth:`reference` (``hq`` of any size; ``params["hq_size"]`` is 512)."""
        return super().apply(self.reference(hq), seed, sample_id)

    __call__ = apply

    def min_hq_side(self) -> int:
        """Native HQ minimum (module doc): the LQ side at 512 px and the largest scale; with
        ``reference_size=None``, ``max(kernel_size // 2 + 1, smallest N with N // s_max >= MIN_LQ_SIDE)``."""
        largest = self.scale if self.scale is not None else self.scale_range[1]
        if self.reference_size is not None:
            return max(MIN_LQ_SIDE, debiasfr_lq_size(self.reference_size, largest))
        side = max(1, math.ceil(MIN_LQ_SIDE * largest))
        while debiasfr_lq_size(side, largest) < MIN_LQ_SIDE:  # float floor division: never trust ceil alone
            side += 1
        while side > 1 and debiasfr_lq_size(side - 1, largest) >= MIN_LQ_SIDE:
            side -= 1
        return max(self.kernel_size // 2 + 1, side)

    def min_size_rule(self) -> str:
        largest = self.scale if self.scale is not None else self.scale_range[1]
        if self.reference_size is not None:
            return (f"it is resized to {self.reference_size} px first, and a face smaller than its "
                    f"{self.min_hq_side()}-px LQ at scale {largest:g}, the largest it draws, would give a "
                    f"reference with less detail than the LQ")
        return (f"its LQ must keep at least {MIN_LQ_SIDE} pixels a side at scale {largest:g}, the largest it "
                f"draws, and its {self.kernel_size}x{self.kernel_size} blur needs a side above its padding")

    def draw(self, seed, sample_id, hq_size):
        if self.reference_size is not None:      # the draw is for the reference, whatever size it is given
            hq_size = (self.reference_size, self.reference_size)
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
        if self.reference_size is not None:
            params.update(reference_size=self.reference_size, reference_resize=REFERENCE_RESIZE)
        return params

    def render(self, hq, params):
        if params.get("reference_size") is not None:      # replay from the native HQ too
            _check_hq(hq)
            hq = resize_to_reference(hq, int(params["reference_size"]))
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
        size = params.get("reference_size")
        return cls(scale, kernel_size=int(params["kernel_size"]), gray_prob=float(params.get("gray_prob", 0.0)),
                   name=params.get("degradation"), reference_size=None if size is None else int(size))


# -- registry factories ------------------------------------------------------------------------------
def debiasfr_random(**options: Any) -> DebiasFRDegradation:
    """DebiasFR training degradation at 512 px (HQ resized to 512 first; metrics at 512): blur, bilinear down s~U[1,20], noise, JPEG."""
    return DebiasFRDegradation(None, **options)


def debiasfr_x16(**options: Any) -> DebiasFRDegradation:
    """DebiasFR degradation at 512 px with the scale fixed at 16 (HQ resized to 512, 32x32 LQ; metrics at 512)."""
    return DebiasFRDegradation(16, **options)


def debiasfr_x32(**options: Any) -> DebiasFRDegradation:
    """DebiasFR degradation at 512 px with the scale fixed at 32 (HQ resized to 512, 16x16 LQ; metrics at 512)."""
    return DebiasFRDegradation(32, **options)
