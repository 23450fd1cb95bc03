"""GFPGAN baseline (Wang et al., CVPR 2021; TencentARC/GFPGAN @ 7552a77; Apache-2.0).

* :mod:`.arch`: :class:`GFPGANv1Clean` (the v1.3 / v1.4 generator), named so that the released
  ``params_ema`` keys load exactly, and the strict loader :func:`load_gfpgan_weights`.
* :mod:`.method`: :class:`GFPGANMethod`, registered as ``gfpgan`` (official aligned-face inference).
"""
from baselines.gfpgan.arch import (
    RELEASED_CONFIG,
    GFPGANv1Clean,
    StateDictMismatchError,
    StyleGAN2GeneratorCSFT,
    extract_gfpgan_state,
    load_gfpgan_weights,
)
from baselines.gfpgan.method import GFPGANMethod, load_gfpgan

__all__ = [
    "RELEASED_CONFIG",
    "GFPGANMethod",
    "GFPGANv1Clean",
    "StateDictMismatchError",
    "StyleGAN2GeneratorCSFT",
    "extract_gfpgan_state",
    "load_gfpgan",
    "load_gfpgan_weights",
]
