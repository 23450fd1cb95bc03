"""Helpers shared by the baseline tests (tests/baselines/test_*.py).

* :func:`golden` / :func:`golden_manifest`: the fixtures under ``../shared/golden/<folder>`` (skip when absent).
* :func:`synthetic_state`: the ``golden_full_synthetic`` recipe weights (stored ``sd.*`` tensors, else
  ``mean + std * N(0, 1)`` from a ``RandomState`` seeded with the CRC32 of the key).
* :func:`close`: max-abs error within ``rel * max|ref|``.
* :func:`assert_loaded`: a loader returned exactly the saved state dict and named its file.
* :func:`check_restore_contract`: shape, range, determinism (and batch independence) of ``restore``.
* :func:`check_harness_run`: the registered method run through ``bench.api.run`` on 8 real UTKFace faces.
"""
from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tests.conftest import shared_path


def as_tuple(v):
    """A JSON list back as the tuple of a Python config."""
    return tuple(v) if isinstance(v, list) else v


def golden(folder: str, name: str = "golden_small.safetensors") -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """``(all tensors, state dict)`` of a golden file; the state dict is the ``sd.*`` entries without the prefix."""
    from safetensors.torch import load_file

    data = load_file(str(shared_path("golden", folder, name)))
    return data, {k[3:]: v for k, v in data.items() if k.startswith("sd.")}


def golden_manifest(folder: str, name: str = "manifest_full.json") -> dict:
    """A golden manifest with ``keys`` = ``{key: [shape, dtype, "param" | "buffer"]}`` added."""
    raw = json.loads(shared_path("golden", folder, name).read_text())
    buffers = set(raw["buffer_keys_in_state_dict"])
    raw["keys"] = {k: [shape, dtype, "buffer" if k in buffers else "param"]
                   for k, (shape, dtype) in raw["state_dict"].items()}
    return raw


def synthetic_state(shapes: Mapping[str, Sequence[int]], params: Mapping[str, Sequence[float]],
                    data: Mapping[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """The recipe weights for ``{key: shape}``: ``data['sd.' + key]`` when stored, else the seeded normal draw."""
    state = {}
    for key, shape in shapes.items():
        if data is not None and "sd." + key in data:
            state[key] = data["sd." + key]
            continue
        mean, std = params[key]
        z = np.random.RandomState(zlib.crc32(key.encode())).standard_normal(int(np.prod(shape)))
        state[key] = torch.from_numpy((mean + std * z).astype(np.float32).reshape(tuple(shape)))
    return state


def net_shapes(net: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    """``{key: shape}`` of a network's state dict (works on the ``meta`` device)."""
    return {k: tuple(t.shape) for k, t in net.state_dict().items()}


def close(ours: torch.Tensor, ref: torch.Tensor, rel: float = 1e-5, check_shape: bool = True) -> float:
    """Assert ``max|ours - ref| <= rel * max|ref|`` (and equal shapes unless ``check_shape=False``)."""
    err = float((ours - ref).abs().max())
    if check_shape:
        assert ours.shape == ref.shape and err <= rel * float(ref.abs().max()), err
    else:
        assert err <= rel * float(ref.abs().max()), err
    return err


def save_flat_safetensors(path: Path, state: Mapping[str, torch.Tensor]) -> Path:
    """``state`` as a flat ``.safetensors`` file (a converted checkpoint)."""
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return path


def assert_loaded(net: torch.nn.Module, info: Mapping[str, Any], path: Path,
                  state: Mapping[str, torch.Tensor]) -> None:
    """The provenance names ``path`` and every tensor of ``state`` was loaded unchanged."""
    assert info["weights"] == str(path)
    assert all(torch.equal(net.state_dict()[k], v) for k, v in state.items())


def check_restore_contract(make: Callable[[], Any], batch: int = 3,
                           single_atol: float | None = 1e-5) -> tuple[Any, torch.Tensor, torch.Tensor]:
    """``restore`` of a random batch to ``out_size=(100, 90)``: shape, float32, range [0, 1], the same output
    from a second method built by ``make``, and (``single_atol``) one image alone as within the batch.
    Returns ``(method, lq, out)``."""
    method = make()
    lq = torch.rand(batch, 3, 24, 20, generator=torch.Generator().manual_seed(0))
    out = method.restore(lq, out_size=(100, 90))
    assert out.shape == (batch, 3, 100, 90) and out.dtype == torch.float32
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    again = make().restore(lq, out_size=(100, 90))
    assert torch.equal(out, again)
    if single_atol is not None:
        single = method.restore(lq[1:2], out_size=(100, 90))
        assert torch.allclose(single, out[1:2], atol=single_atol)
    return method, lq, out


def check_harness_run(tmp_path: Path, utkface_dir: Path, method: str, method_options: Mapping[str, Any]) -> None:
    """`bench run --method <method> -M ...` path: registry + options, 8 real UTKFace faces, rows stored."""
    from bench.api import run
    from bench.core.registry import METHODS
    from bench.harness.store import ResultStore

    assert method in METHODS
    store = tmp_path / "store.sqlite"
    summary = run(method=method, dataset="utkface", root=utkface_dir, degradation="x8", limit=8,
                  metrics="psnr,ssim", store=store, out=tmp_path / "out", batch_size=4,
                  method_options=dict(method_options), progress=False)
    assert summary.n_failed == 0 and summary.n_ok == 8, summary.errors
    assert summary.metric_means["psnr"]["n"] == 8 and np.isfinite(summary.metric_means["psnr"]["mean"])
    with ResultStore(store) as db:
        rows = db.scores(summary.run_id)
    assert len(rows) == 16 and all(error is None and np.isfinite(value) for *_, value, error in rows)


def full_synthetic(folder: str, factory: Callable[[], torch.nn.Module],
                   loader: Callable[[torch.nn.Module, dict[str, torch.Tensor]], Any],
                   suffix: str = "") -> tuple[torch.nn.Module, dict[str, torch.Tensor], torch.Tensor]:
    """The production network ``factory()`` with the ``golden_full_synthetic<suffix>`` recipe weights.

    Built on ``meta``, filled by :func:`synthetic_state` and strictly loaded by ``loader``; returns
    ``(net in eval mode, the fixture's tensors, its input in [-1, 1] from in.x_u8)``.
    """
    data, _ = golden(folder, f"golden_full_synthetic{suffix}.safetensors")
    config = json.loads(shared_path("golden", folder, f"config_full_synthetic{suffix}.json").read_text())
    with torch.device("meta"):
        net = factory()
    state = synthetic_state(net_shapes(net), config["synthetic_params"], data)
    net = net.to_empty(device="cpu")
    loader(net, state)
    del state
    x = (data["in.x_u8"].to(torch.float32) / 255.0 - 0.5) / 0.5
    return net.eval(), data, x
