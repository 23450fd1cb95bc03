"""pyiqa's NIQE and BRISQUE run offline with the project's provisioned LIVE parameters (cross-checks only).

pyiqa (``pip install pyiqa``, in the ``test`` extra) downloads its own parameter files from GitHub
releases by default, which this project cannot reach.  Its ``NIQE`` and ``BRISQUE`` architectures accept
``pretrained_model_path``; this module writes the *same* verified parameters the frbench metrics use
(:mod:`metrics.nr_params`) into the layouts pyiqa loads:

* NIQE: a ``.mat`` file with ``mu_prisparam`` (1x36) and ``cov_prisparam`` (36x36) (``scipy.io.savemat``);
* BRISQUE: a torch file holding the tuple ``(sv_coef [774], sv [774, 36])`` (float64).  pyiqa keeps its own
  built-in copy of the LIVE feature ranges, γ = 0.05 and ρ = −153.591.

The files go to ``<dir>/pyiqa-offline`` (default: the asset cache of the NIQE asset's parent), never into
the repository.  Nothing here is used by the metrics themselves.
"""
from __future__ import annotations

from pathlib import Path


def pyiqa_available() -> bool:
    try:
        import pyiqa  # noqa: F401
    except Exception:
        return False
    return True


def write_pyiqa_files(folder: str | Path, niqe_params, brisque_params) -> dict[str, Path]:
    """Write the pyiqa-layout parameter files into ``folder``; returns ``{"niqe": path, "brisque": path}``."""
    import numpy as np
    import scipy.io
    import torch

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    niqe_path = folder / "niqe_modelparameters.mat"
    scipy.io.savemat(niqe_path, {"mu_prisparam": np.asarray(niqe_params.mu, dtype=np.float64).reshape(1, 36),
                                 "cov_prisparam": np.asarray(niqe_params.cov, dtype=np.float64)})
    brisque_path = folder / "brisque_svm_weights.pth"
    torch.save((torch.tensor(brisque_params.sv_coef, dtype=torch.float64),
                torch.tensor(brisque_params.sv, dtype=torch.float64)), brisque_path)
    return {"niqe": niqe_path, "brisque": brisque_path}


def pyiqa_metrics(folder: str | Path, niqe_params, brisque_params, device: str = "cpu") -> dict:
    """``{"niqe": metric, "brisque": metric}``: pyiqa metrics built offline from the given parameters.

    Each takes ``[B, 3, H, W]`` float RGB in [0, 1] and returns ``[B]`` (or ``[B, 1]``) scores.
    """
    import pyiqa

    paths = write_pyiqa_files(folder, niqe_params, brisque_params)
    return {name: pyiqa.create_metric(name, device=device, pretrained_model_path=str(paths[name]))
            for name in ("niqe", "brisque")}


__all__ = ["pyiqa_available", "write_pyiqa_files", "pyiqa_metrics"]
