"""Safe loading: tensors only, never arbitrary pickled objects."""
from __future__ import annotations

import pathlib

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from bench.core.checkpoints import CheckpointLoadError, load_npz, load_state_dict


class Payload:
    """Unpickling this object would create a marker file (stands for arbitrary code execution)."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


class CustomConfig:
    def __init__(self) -> None:
        self.lr = 0.1


def _weights() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return {"conv.weight": torch.randn(4, 3, 3, 3, generator=gen), "conv.bias": torch.randn(4, generator=gen)}


def test_safetensors_file_is_loaded(tmp_path):
    weights = _weights()
    save_file(weights, str(tmp_path / "w.safetensors"))
    loaded = load_state_dict(tmp_path / "w.safetensors")
    assert loaded.keys() == weights.keys()
    assert all(torch.equal(loaded[k], weights[k]) for k in weights)


def test_plain_tensor_state_dict_and_sub_dict_keys(tmp_path):
    weights = _weights()
    torch.save(weights, tmp_path / "plain.pth")
    assert torch.equal(load_state_dict(tmp_path / "plain.pth")["conv.bias"], weights["conv.bias"])

    # BasicSR-style checkpoint: sub-dicts plus plain metadata
    torch.save({"params_ema": weights, "params": {k: v * 0 for k, v in weights.items()}, "iter": 800000},
               tmp_path / "basicsr.pth")
    ema = load_state_dict(tmp_path / "basicsr.pth", key="params_ema")
    assert torch.equal(ema["conv.weight"], weights["conv.weight"])
    first_present = load_state_dict(tmp_path / "basicsr.pth", key=("missing", "params"))
    assert float(first_present["conv.weight"].abs().sum()) == 0.0

    with pytest.raises(CheckpointLoadError, match=r"pass key= one of \['params_ema', 'params'\]"):
        load_state_dict(tmp_path / "basicsr.pth")
    with pytest.raises(CheckpointLoadError, match=r"basicsr.pth.*top-level keys are: params_ema, params, iter"):
        load_state_dict(tmp_path / "basicsr.pth", key="model_state_dict")


def test_pickle_with_a_code_executing_object_is_refused(tmp_path):
    marker = tmp_path / "PWNED"
    torch.save({"conv.weight": torch.zeros(2), "evil": Payload(marker)}, tmp_path / "evil.pth")
    assert not marker.exists()
    with pytest.raises(CheckpointLoadError) as info:
        load_state_dict(tmp_path / "evil.pth")
    assert str(tmp_path / "evil.pth") in str(info.value) and "weights_only" in str(info.value)
    assert not marker.exists()  # nothing in the pickle ran


def test_checkpoint_with_a_custom_class_is_refused(tmp_path):
    torch.save({"state_dict": _weights(), "config": CustomConfig()}, tmp_path / "custom.pth")
    with pytest.raises(CheckpointLoadError, match="custom.pth"):
        load_state_dict(tmp_path / "custom.pth", key="state_dict")


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")
def test_torchscript_archive_is_not_taken_for_a_state_dict(tmp_path):
    torch.jit.script(torch.nn.Linear(2, 2)).save(str(tmp_path / "net.pt"))
    with pytest.raises(CheckpointLoadError, match="TorchScript archive"):
        load_state_dict(tmp_path / "net.pt")


def test_missing_or_garbage_file_names_the_file(tmp_path):
    with pytest.raises(CheckpointLoadError, match="does not exist"):
        load_state_dict(tmp_path / "absent.pth")
    (tmp_path / "garbage.pth").write_bytes(b"<html>not a checkpoint</html>")
    with pytest.raises(CheckpointLoadError, match="garbage.pth"):
        load_state_dict(tmp_path / "garbage.pth")


def test_npz_is_loaded_without_pickle(tmp_path):
    np.savez(tmp_path / "ok.npz", mu=np.arange(36.0).reshape(1, 36), cov=np.eye(36))
    arrays = load_npz(tmp_path / "ok.npz", keys=["mu", "cov"])
    assert arrays["mu"].shape == (1, 36) and np.array_equal(arrays["cov"], np.eye(36))
    with pytest.raises(CheckpointLoadError, match=r"missing arrays \['gaussian_window'\]"):
        load_npz(tmp_path / "ok.npz", keys=["gaussian_window"])

    np.savez(tmp_path / "objects.npz", obj=np.array([{"a": 1}], dtype=object))
    with pytest.raises(CheckpointLoadError, match="objects.npz"):
        load_npz(tmp_path / "objects.npz")
