"""GPEN baseline (Yang et al., CVPR 2021; yangxy/GPEN @ 2c73670; no licence stated, research use only).

* :mod:`.arch`: :class:`FullGenerator` (GPEN-BFR generator, plain torch, CPU-capable), named so that the
  released ``GPEN-BFR-512.pth`` keys load exactly, and the strict loader :func:`load_gpen_weights`.
* :mod:`.method`: :class:`GPENMethod`, registered as ``gpen`` (official aligned-face inference).
"""
from baselines.gpen.arch import CONFIG_256, RELEASED_CONFIG, FullGenerator, StateDictMismatchError, load_gpen_weights
from baselines.gpen.method import GPENMethod, load_gpen

__all__ = ["CONFIG_256", "RELEASED_CONFIG", "FullGenerator", "GPENMethod", "StateDictMismatchError",
           "load_gpen", "load_gpen_weights"]
