"""Fixed-scale bicubic downsampling protocols (registry names in brackets):

* ``bicubic_x4/x8/x16/x32`` [``x4`` … ``x32``]: bicubic downsampling only, with PIL
  ``Image.resize(..., Image.BICUBIC)`` on the ``uint8`` image: Keys cubic, a = −0.5, antialiased (the
  kernel support is stretched by the scale factor, like MATLAB ``imresize``), output rounded to
  ``uint8`` by PIL.  LQ size per side: ``max(1, floor(N/s + 1/2))`` — N/s rounded half *up*
  (MATLAB-style rounding, not Python's half-to-even ``round``), e.g. 200/16 = 12.5 → 13.  When ``s`` does
  not divide ``N`` the effective factor is ``N/n`` (PIL maps the whole image extent).  Nothing random.
  Smallest HQ side: the smallest ``N`` whose LQ side is at least ``MIN_LQ_SIDE`` = 4, i.e.
  ``ceil(s·(2·4 − 1)/2)``: 14, 28, 56, 112 for x4, x8, x16, x32 (:mod:`.base`).
"""
from __future__ import annotations

import numpy as np

from bench.data.degradation.base import MIN_LQ_SIDE, Degradation, _check_replay_size


def bicubic_lq_size(size: int, scale: int) -> int:
    """LQ side of the fixed-scale protocols: ``max(1, floor(size/scale + 1/2))`` (half rounded up)."""
    return max(1, (2 * size + scale) // (2 * scale))


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

    def min_hq_side(self) -> int:
        """Smallest N with ``bicubic_lq_size(N, scale) >= MIN_LQ_SIDE``: ``ceil(scale·(2·MIN_LQ_SIDE − 1)/2)``."""
        return (self.scale * (2 * MIN_LQ_SIDE - 1) + 1) // 2

    def min_size_rule(self) -> str:
        return f"its LQ must keep at least {MIN_LQ_SIDE} pixels a side at x{self.scale}"

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
