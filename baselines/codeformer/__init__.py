"""CodeFormer baseline (Zhou et al., NeurIPS 2022; sczhou/CodeFormer @ b33cc7d; NTU S-Lab License 1.0, non-commercial).

* :mod:`.arch`: the network (:class:`CodeFormer`), named so that the released ``params_ema`` keys load
  exactly, and the strict loader (:func:`load_codeformer_weights`, :class:`StateDictMismatchError`).
* :mod:`.method`: :class:`CodeFormerMethod`, registered as ``codeformer`` (official aligned-face inference).
"""
from baselines.codeformer.arch import (
    PRODUCTION_CONFIG,
    CodeFormer,
    StateDictMismatchError,
    check_state_dict,
    load_codeformer_weights,
)
from baselines.codeformer.method import CodeFormerMethod, load_codeformer

__all__ = [
    "PRODUCTION_CONFIG",
    "CodeFormer",
    "CodeFormerMethod",
    "StateDictMismatchError",
    "check_state_dict",
    "load_codeformer",
    "load_codeformer_weights",
]
