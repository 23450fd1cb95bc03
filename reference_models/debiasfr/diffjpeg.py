"""DiffJPEG: the differentiable float model of the baseline IJG JPEG codec used by DebiasFR.

Provenance: ``docs/protocols/debiasfr.md`` §5.1; official ``dbfr/DiffJPEG.py`` (Seeyn/DebiasFR @ 7016255:
model L7–53, compression L153–216, decompression L314–375, STE rounding L381–388, quality factor
L391–402), itself the well-known "DiffJPEG" layer.  This is the project's own batched re-implementation
in plain torch (no parameters, no module state): per-image quality, any ``[B, 3, H, W]`` size.

The model, for an RGB image ``x ∈ [0, 1]`` (computed on ``255·x``):

1. **Padding.** ``H, W`` are replicate-padded up to the next multiple of 16 (one 4:2:0 MCU), the pad split
   as in the official code (``top = ⌊pad_h/2⌋``, the rest at the bottom; same for left/right; option
   ``padding="end"`` puts it all at the bottom/right, as libjpeg does); the result is cropped back at the
   end.  (The official crop ``[top:-bottom, left:-right]`` returns an *empty* image when only one of the
   two dimensions needed padding — ``-0`` — here the crop is done correctly.)  The centred pad shifts the
   8×8 block grid against the image (e.g. by 4 px for a 200×200 face), which costs ~4–5 dB against Pillow
   on images that were themselves JPEG-coded on the unshifted grid.
2. **Colour.** JPEG (JFIF, full-range BT.601) RGB→YCbCr::

       Y  =  0.299    R + 0.587    G + 0.114    B
       Cb = −0.168736 R − 0.331264 G + 0.5      B + 128
       Cr =  0.5      R − 0.418688 G − 0.081312 B + 128

3. **4:2:0 chroma subsampling**: Cb and Cr are 2×2 average-pooled (stride 2).
4. **Block DCT** of each channel in 8×8 blocks after level shift (−128): ``F = C (X − 128) Cᵀ`` with the
   orthonormal DCT-II matrix ``C[u, x] = ½ α(u) cos((2x + 1) u π / 16)``, ``α(0) = 1/√2``, ``α(u>0) = 1``
   (identical to the official ``0.25 α(u) α(v) Σ cos cos`` form).  ``F[u, v]``: u = vertical frequency.
5. **Quantisation** by the standard IJG tables (ITU-T T.81 Annex K, natural order, row = vertical
   frequency; luma for Y, chroma for Cb/Cr) times the IJG quality factor::

       f(q) = (5000 / q) / 100   if q < 50
       f(q) = (200 − 2 q) / 100  otherwise

   ``Fq = round(F / (T · f(q)))``.  As in the official code the scaled table ``T · f(q)`` is **not**
   rounded nor clipped to [1, 255] (libjpeg does both), so ``q = 100`` gives ``f = 0`` and a division by
   zero (inf/NaN output in the official code).  Here any quality outside ``[1, 100)`` is **refused with a
   ValueError** (:func:`quality_to_factor`); DebiasFR only draws q ∈ {60 … 99}.
6. **De-quantisation** ``F̂ = Fq · T · f(q)`` and **IDCT** ``X̂ = Cᵀ F̂ C + 128``.
7. **Chroma up-sampling by pixel repetition** (each chroma sample to a 2×2 block; libjpeg instead uses
   "fancy" triangular up-sampling by default), YCbCr→RGB::

       R = Y + 1.402 (Cr − 128)
       G = Y − 0.344136 (Cb − 128) − 0.714136 (Cr − 128)
       B = Y + 1.772 (Cb − 128)

8. **Clamp** to [0, 255] and divide by 255 (the output is *not* quantised to 8 bit).

**Rounding** (step 5): ``differentiable=False`` uses ``torch.round`` (half to even; its gradient is zero
everywhere, so nothing flows back through the codec); ``differentiable=True`` uses the straight-through
estimator ``round(x) − x.detach() + x`` (forward: round; backward: identity), official ``diff_round``.
DebiasFR uses the first to synthesise training LQs (dataset) and the second to re-degrade network outputs
in the pseudo-pair loss (model, ``Degradation(differentiable=True)``).  Only the quantisation is rounded
(the official decompressor receives the rounding function but never uses it), and the final clamp passes
zero gradient where it saturates.

Known differences from a real codec (libjpeg/Pillow) at the same quality: unrounded/unclipped tables,
float (not integer) DCT, float chroma averaging, pixel-repetition chroma up-sampling, no 8-bit rounding of
the decoded pixels, edge padding by replication of a *centred* pad (libjpeg pads at the right/bottom).
They cost a few 8-bit levels; the tests measure the gap against Pillow.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

__all__ = [
    "CHROMA_TABLE",
    "LUMA_TABLE",
    "DiffJPEG",
    "dct_matrix",
    "diff_jpeg",
    "quality_to_factor",
    "rgb_to_ycbcr",
    "ste_round",
    "ycbcr_to_rgb",
]

#: IJG / ITU-T T.81 Annex K.1 luminance quantisation table (natural order, row = vertical frequency).
LUMA_TABLE = (
    (16, 11, 10, 16, 24, 40, 51, 61),
    (12, 12, 14, 19, 26, 58, 60, 55),
    (14, 13, 16, 24, 40, 57, 69, 56),
    (14, 17, 22, 29, 51, 87, 80, 62),
    (18, 22, 37, 56, 68, 109, 103, 77),
    (24, 35, 55, 64, 81, 104, 113, 92),
    (49, 64, 78, 87, 103, 121, 120, 101),
    (72, 92, 95, 98, 112, 100, 103, 99),
)
#: IJG / ITU-T T.81 Annex K.2 chrominance quantisation table (upper-left 4×4 given, 99 elsewhere).
CHROMA_TABLE = tuple(
    tuple(v for v in row) for row in (
        (17, 18, 24, 47, 99, 99, 99, 99),
        (18, 21, 26, 66, 99, 99, 99, 99),
        (24, 26, 56, 99, 99, 99, 99, 99),
        (47, 66, 99, 99, 99, 99, 99, 99),
    ) + ((99,) * 8,) * 4
)

_RGB_TO_YCBCR = ((0.299, 0.587, 0.114),
                 (-0.168736, -0.331264, 0.5),
                 (0.5, -0.418688, -0.081312))
_YCBCR_TO_RGB = ((1.0, 0.0, 1.402),
                 (1.0, -0.344136, -0.714136),
                 (1.0, 1.772, 0.0))

Quality = int | float | Sequence[float] | torch.Tensor


def quality_to_factor(quality: Quality) -> torch.Tensor:
    """IJG quality → table scale factor, float64 tensor of the quality's shape (spec §5.1).

    ``f(q) = 50/q`` for ``q < 50`` and ``f(q) = (200 − 2q)/100`` otherwise, *unrounded*.  Quality must be in
    ``[1, 100)``: ``q = 100`` would give ``f = 0`` — every coefficient divided by zero (the official code
    returns inf/NaN there) — so it is refused, as is anything outside the IJG range.
    """
    q = torch.as_tensor(quality, dtype=torch.float64)
    if not torch.isfinite(q).all():
        raise ValueError(f"JPEG quality must be finite, got {quality!r}")
    if (q >= 100).any():
        raise ValueError("DiffJPEG quality 100 (or more) is refused: the unrounded IJG scale factor "
                         "200 - 2q is 0 at q = 100 and the quantisation would divide by zero; use q <= 99")
    if (q < 1).any():
        raise ValueError(f"JPEG quality must be in [1, 100), got {quality!r}")
    return torch.where(q < 50, 5000.0 / q, 200.0 - 2.0 * q) / 100.0


def ste_round(x: torch.Tensor) -> torch.Tensor:
    """Straight-through rounding: forward ``torch.round(x)``, backward identity (official ``diff_round``)."""
    return torch.round(x) - x.detach() + x


def dct_matrix(dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """Orthonormal 8-point DCT-II matrix ``C[u, x] = ½ α(u) cos((2x+1)uπ/16)`` (``F = C X Cᵀ``, ``X = Cᵀ F C``)."""
    u = torch.arange(8, dtype=torch.float64).unsqueeze(1)
    x = torch.arange(8, dtype=torch.float64).unsqueeze(0)
    c = 0.5 * torch.cos((2 * x + 1) * u * math.pi / 16)
    c[0] = c[0] / math.sqrt(2.0)
    return c.to(dtype=dtype, device=device)


def rgb_to_ycbcr(image: torch.Tensor) -> torch.Tensor:
    """``[B, 3, H, W]`` RGB in [0, 255] → JPEG YCbCr (chroma offset 128)."""
    m = torch.tensor(_RGB_TO_YCBCR, dtype=image.dtype, device=image.device)
    shift = torch.tensor((0.0, 128.0, 128.0), dtype=image.dtype, device=image.device).view(1, 3, 1, 1)
    return torch.einsum("ij,bjhw->bihw", m, image) + shift


def ycbcr_to_rgb(image: torch.Tensor) -> torch.Tensor:
    """``[B, 3, H, W]`` JPEG YCbCr → RGB (no clamping)."""
    m = torch.tensor(_YCBCR_TO_RGB, dtype=image.dtype, device=image.device)
    shift = torch.tensor((0.0, 128.0, 128.0), dtype=image.dtype, device=image.device).view(1, 3, 1, 1)
    return torch.einsum("ij,bjhw->bihw", m, image - shift)


def _to_blocks(channel: torch.Tensor) -> torch.Tensor:
    """``[B, H, W]`` (multiples of 8) → ``[B, H/8, W/8, 8, 8]``."""
    b, h, w = channel.shape
    return channel.reshape(b, h // 8, 8, w // 8, 8).permute(0, 1, 3, 2, 4)


def _from_blocks(blocks: torch.Tensor) -> torch.Tensor:
    b, nh, nw = blocks.shape[:3]
    return blocks.permute(0, 1, 3, 2, 4).reshape(b, nh * 8, nw * 8)


def _code_channel(channel: torch.Tensor, table: torch.Tensor, factor: torch.Tensor,
                  rounding: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """DCT, quantise (``rounding``), de-quantise, IDCT one ``[B, H, W]`` channel (values 0…255)."""
    c = dct_matrix(channel.dtype, channel.device)
    blocks = _to_blocks(channel - 128.0)
    coeffs = c @ blocks @ c.T
    step = table * factor.view(-1, 1, 1, 1, 1)  # [B, 1, 1, 8, 8]
    coeffs = rounding(coeffs / step) * step
    return _from_blocks(c.T @ coeffs @ c) + 128.0


def _per_image_quality(quality: Quality, batch: int) -> torch.Tensor:
    q = torch.as_tensor(quality, dtype=torch.float64)
    if q.ndim == 0:
        q = q.expand(batch)
    if q.shape != (batch,):
        raise ValueError(f"quality must be a scalar or have shape [{batch}], got {tuple(q.shape)}")
    return q


def diff_jpeg(image: torch.Tensor, quality: Quality, differentiable: bool = True, *,
              padding: str = "centre") -> torch.Tensor:
    """JPEG-compress and decompress ``image`` (``[B, 3, H, W]`` float in [0, 1]) with DiffJPEG (module doc).

    ``quality``: a number for the whole batch or one per image (``[B]`` tensor / sequence), each in
    ``[1, 100)`` (q = 100 is refused: division by zero).  ``differentiable``: straight-through rounding
    (gradients flow) or ``torch.round`` (zero gradient through the quantiser).  Returns ``[B, 3, H, W]``
    float in [0, 1], same dtype and device; not quantised to 8 bit.  ``padding``: where the replicate pad
    to a multiple of 16 goes — ``"centre"`` (official, default: split between both sides, which shifts the
    8×8 block grid against the image when H or W is not a multiple of 16) or ``"end"`` (bottom/right only,
    block grid anchored at the top-left corner like libjpeg).
    """
    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"DiffJPEG expects [B, 3, H, W], got {tuple(image.shape)}")
    if not image.is_floating_point():
        raise TypeError(f"DiffJPEG expects a float image in [0, 1], got {image.dtype}")
    batch, _, height, width = image.shape
    factor = quality_to_factor(_per_image_quality(quality, batch)).to(image.dtype).to(image.device)
    rounding = ste_round if differentiable else torch.round

    pad_h, pad_w = (-height) % 16, (-width) % 16
    if padding == "centre":
        top, left = pad_h // 2, pad_w // 2
    elif padding == "end":
        top, left = 0, 0
    else:
        raise ValueError(f"padding must be 'centre' (official) or 'end' (libjpeg-like), got {padding!r}")
    x = image * 255.0
    if pad_h or pad_w:
        x = F.pad(x, [left, pad_w - left, top, pad_h - top], mode="replicate")

    ycc = rgb_to_ycbcr(x)
    luma = ycc[:, 0]
    chroma = F.avg_pool2d(ycc[:, 1:], kernel_size=2, stride=2)
    y_table = torch.tensor(LUMA_TABLE, dtype=image.dtype, device=image.device)
    c_table = torch.tensor(CHROMA_TABLE, dtype=image.dtype, device=image.device)
    luma = _code_channel(luma, y_table, factor, rounding)
    cb = _code_channel(chroma[:, 0], c_table, factor, rounding)
    cr = _code_channel(chroma[:, 1], c_table, factor, rounding)
    chroma = torch.stack((cb, cr), dim=1).repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    rgb = ycbcr_to_rgb(torch.cat((luma.unsqueeze(1), chroma), dim=1)).clamp(0.0, 255.0)
    rgb = rgb[:, :, top:top + height, left:left + width]
    return rgb / 255.0


class DiffJPEG(torch.nn.Module):
    """Module wrapper of :func:`diff_jpeg` (no parameters); ``forward(image, quality)``.

    Unlike the official layer (quality fixed at construction, changed with ``set_quality``) the quality is
    passed with each call, one per image if wanted.
    """

    def __init__(self, differentiable: bool = True, padding: str = "centre") -> None:
        super().__init__()
        self.differentiable = bool(differentiable)
        self.padding = padding

    def forward(self, image: torch.Tensor, quality: Quality) -> torch.Tensor:
        return diff_jpeg(image, quality, differentiable=self.differentiable, padding=self.padding)

    def extra_repr(self) -> str:
        return f"differentiable={self.differentiable}, padding={self.padding!r}"
