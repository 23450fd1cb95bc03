"""RestoreFormer++ baseline (Wang et al., TPAMI 2023; wzhouxiff/RestoreFormerPlusPlus @ 59d250f; Apache-2.0).

* :mod:`.arch`: the network (:class:`RestoreFormerPP`, ``VQVAEGANMultiHeadTransformer``; also the older
  RestoreFormer with :data:`RESTOREFORMER_CONFIG`), named so that the generator entries of the released
  Lightning checkpoint load exactly, and the strict loader :func:`load_restoreformer_weights`.
* :mod:`.method`: :class:`RestoreFormerPPMethod`, registered as ``restoreformerpp`` (official ``--aligned`` path).
"""
from baselines.restoreformerpp.arch import (
    RELEASED_CONFIG,
    RESTOREFORMER_CONFIG,
    RestoreFormerPP,
    StateDictMismatchError,
    load_restoreformer_weights,
)
from baselines.restoreformerpp.method import RestoreFormerPPMethod, generator_state, load_restoreformer

__all__ = ["RELEASED_CONFIG", "RESTOREFORMER_CONFIG", "RestoreFormerPP", "RestoreFormerPPMethod",
           "StateDictMismatchError", "generator_state", "load_restoreformer", "load_restoreformer_weights"]
