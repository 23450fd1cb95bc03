"""metrics.feature_stats: Inception features in fixed-shape chunks."""
from __future__ import annotations

import numpy as np
import torch

from metrics.feature_stats import InceptionFeatures
from tests.metrics.fid_support import fid_weights  # noqa: F401  (real asset, persistent cache)


def test_features_of_an_image_do_not_depend_on_the_chunk_it_falls_in(fid_weights):  # noqa: F811
    """A short last chunk is padded to the batch shape: every image's features are bit-identical whether it
    is computed with 3 others, alone or in a longer call, and the network only ever sees one input shape."""
    rng = np.random.default_rng(0)
    images = torch.from_numpy(rng.integers(0, 256, (5, 3, 40, 40), dtype=np.uint8))
    extractor = InceptionFeatures(weights=str(fid_weights), device="cpu", batch_size=4)
    shapes = set()
    handle = extractor.model.Conv2d_1a_3x3.register_forward_pre_hook(lambda m, args: shapes.add(tuple(args[0].shape)))
    try:
        together = extractor(images)["2048"]  # chunks of 4 and 1 (padded to 4)
        alone = np.concatenate([extractor(images[i:i + 1])["2048"] for i in range(5)])
        shifted = extractor(torch.cat([images[4:], images[:4]]))["2048"]
    finally:
        handle.remove()
    assert together.shape == (5, 2048) and together.dtype == np.float32
    np.testing.assert_array_equal(together, alone)
    np.testing.assert_array_equal(shifted, np.concatenate([together[4:], together[:4]]))
    assert shapes == {(4, 3, 299, 299)}
    assert float(np.abs(together).max()) > 0 and not np.array_equal(together[0], together[1])


def test_torch_fidelity_arithmetic_has_its_own_channel_and_configuration(fid_weights):  # noqa: F811
    """Features of the two arithmetics differ by float32 rounding, so they are never stored under one
    channel nor share cached reference statistics; the default keeps the channel names stores hold."""
    import pytest

    fast = InceptionFeatures(weights=str(fid_weights), device="cpu")
    exact = InceptionFeatures(weights=str(fid_weights), device="cpu", arithmetic="torch-fidelity")
    assert fast.channel().startswith("fid-inception/2048/tf1-bilinear/float32/w=")
    assert exact.channel() == fast.channel().replace("/float32/", "/float32-torch-fidelity/")
    assert "arithmetic" not in fast.config() and exact.config()["arithmetic"] == "torch-fidelity"
    images = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (2, 3, 40, 40), dtype=np.uint8))
    a, b = fast(images)["2048"], exact(images)["2048"]
    assert not np.array_equal(a, b)  # the memo is keyed by arithmetic too
    np.testing.assert_allclose(a, b, rtol=0, atol=5e-6 * float(np.abs(b).max()))
    with pytest.raises(ValueError, match="unknown arithmetic"):
        InceptionFeatures(arithmetic="float16")
