"""VQFR v2 baseline (Gu et al., ECCV 2022; TencentARC/VQFR @ 239c77a; Apache-2.0).

* :mod:`.arch`: the network (:class:`VQFRv2`), named so that the released ``VQFR_v2.pth`` keys load
  exactly, and the strict loader (:func:`load_vqfr_weights`, :class:`StateDictMismatchError`).
* :mod:`.method`: :class:`VQFRMethod`, registered as ``vqfr`` (official aligned-face inference, ``--aligned``).
"""
from baselines.vqfr.arch import (
    PRODUCTION_CONFIG,
    StateDictMismatchError,
    VQFRv2,
    check_state_dict,
    deform_conv2d_torch,
    load_vqfr_weights,
)
from baselines.vqfr.method import VQFRMethod, load_vqfr

__all__ = [
    "PRODUCTION_CONFIG",
    "StateDictMismatchError",
    "VQFRMethod",
    "VQFRv2",
    "check_state_dict",
    "deform_conv2d_torch",
    "load_vqfr",
    "load_vqfr_weights",
]
