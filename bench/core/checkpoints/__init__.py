"""One checkpoint toolkit for the whole suite (bottom layer: imports only :mod:`bench.core`).

* :mod:`~bench.core.checkpoints.loading` — load parameter files without executing code from them
  (safetensors, ``torch.load(weights_only=True)``, ``numpy.load(allow_pickle=False)``);
* :mod:`~bench.core.checkpoints.strict` — strict key-and-shape checks with one error class,
  :class:`StateDictMismatchError`, and manifest comparison;
* :mod:`~bench.core.checkpoints.networks` — an official checkpoint (a path or a named asset) or seeded
  random weights into a network built on the ``meta`` device;
* :mod:`~bench.core.checkpoints.saving` — atomic saving of safetensors checkpoints (training state
  included), never a half-written file;
* sha256 of files: :func:`bench.core.provenance.file_sha256` (memoised per file version).
"""
from bench.core.provenance import file_sha256

from .loading import CheckpointLoadError, load_npz, load_state_dict
from .networks import RANDOM_WEIGHTS_WARNING, build_random, build_with_state, load_network, read_official_state
from .saving import save_safetensors_atomic
from .strict import (
    StateDictMismatchError,
    check_state_dict,
    load_strict,
    manifest_mismatches,
    state_dict_mismatches,
)

__all__ = ["CheckpointLoadError", "RANDOM_WEIGHTS_WARNING", "StateDictMismatchError", "build_random",
           "build_with_state", "check_state_dict", "file_sha256", "load_network", "load_npz", "load_state_dict",
           "load_strict", "manifest_mismatches", "read_official_state", "save_safetensors_atomic",
           "state_dict_mismatches"]
