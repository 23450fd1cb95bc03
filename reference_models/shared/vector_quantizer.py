"""Codebook look-ups shared by the vector-quantised baselines (CodeFormer, VQFR, RestoreFormer++).

A codebook is the ``[num_code, code_dim]`` weight of an ``nn.Embedding`` (official key
``*.embedding.weight``); tokens are the cells of an ``h x w`` latent grid in row-major order.

* :func:`nearest_code_index`: ``k_i = argmin_j |z_i - e_j|^2``, computed in the expanded form
  ``|z_i|^2 + |e_j|^2 - 2 z_i . e_j`` of the VQ-VAE/VQGAN code (van den Oord et al., NeurIPS 2017; Esser
  et al., CVPR 2021); ties go to the first minimum.
* :func:`codes_to_feature`: ``[B, h*w]`` indices -> ``[B, code_dim, h, w]`` code vectors.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["codes_to_feature", "nearest_code_index"]


def nearest_code_index(flat: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """``flat [N, code_dim]``, ``table [num_code, code_dim]`` -> ``[N]`` indices of the nearest codes."""
    dist = (torch.sum(flat ** 2, dim=1, keepdim=True) + torch.sum(table ** 2, dim=1)
            - 2 * torch.matmul(flat, table.t()))
    return torch.argmin(dist, dim=1)


def codes_to_feature(table: torch.Tensor, index: torch.Tensor, h: int) -> torch.Tensor:
    """``[B, h*w]`` row-major code indices -> ``[B, code_dim, h, w]`` rows of ``table`` (not made contiguous)."""
    b, n = index.shape
    return F.embedding(index, table).reshape(b, h, n // h, table.shape[1]).permute(0, 3, 1, 2)
