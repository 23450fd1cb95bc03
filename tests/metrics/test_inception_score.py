"""Inception Score: computed only with real logits weights; a clear refusal with the TorchScript copy."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from metrics.inception_score import InceptionScore
from reference_models.shared.fid_inception import FIDInceptionV3, NoLogitsError
from tests.conftest import require_module

from tests.metrics.fid_support import fid_weights  # noqa: F401
from tests.metrics.test_fid import _batch, _Sample


def test_refuses_clearly_without_logits(fid_weights):
    metric = InceptionScore(weights=str(fid_weights))  # constructing loads no network (the leaderboard builds one)
    with pytest.raises(NoLogitsError) as info:
        metric.prepare()  # the runner prepares every metric before its first image
    text = str(info.value)
    assert "no IS value is reported" in text and "logits" in text and "fid_inception_pytorch_fid" in text


def test_equals_torch_fidelity_formula_with_logits_weights(tmp_path):
    from safetensors.torch import save_file
    isc_features_to_metric = require_module("torch_fidelity.metric_isc").isc_features_to_metric

    torch.manual_seed(0)
    model = FIDInceptionV3(logits=True)
    with torch.no_grad():  # random but tame parameters (a stand-in for the official file's fc layer)
        for name, p in model.named_parameters():
            p.copy_(torch.randn_like(p) * (0.02 if "fc" in name else 0.1) + (1.0 if name.endswith("bn.weight") else 0))
        for name, b in model.named_buffers():
            if name.endswith("running_var"):
                b.fill_(1.0)
        model.refresh()
        pool3 = model(_batch(2, 1, size=32))["2048"]
        model.fc.weight.mul_(3.0 / (0.02 * pool3.norm(dim=1).mean() + 1e-12))  # logits of order 3: soft p(y|x)
    path = tmp_path / "with-logits.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    metric = InceptionScore(weights=str(path), splits=1)
    images = _batch(6, 3, size=32)
    samples = [_Sample(f"i{i}") for i in range(6)]
    state = metric.merge([metric.partial(images[:4], None, samples[:4]), metric.partial(images[4:], None, samples[4:])])
    out = metric.compute(state)
    logits = metric.features(images, features=("logits_unbiased",))["logits_unbiased"]
    theirs = isc_features_to_metric(torch.from_numpy(logits), splits=1, shuffle=False)
    assert out["value"] == pytest.approx(theirs["inception_score_mean"], rel=1e-9)
    assert out["n"] == 6 and out["splits"] == 1
    three = InceptionScore(weights=str(path), splits=3)
    out3 = three.compute(three.partial(images, None, samples))  # features served from the shared memo
    assert out3["n"] == 6 and 1 <= out3["splits"] <= 3 and np.isfinite(out3["value"])
