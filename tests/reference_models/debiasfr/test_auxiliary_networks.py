"""reference_models.debiasfr.auxiliary_networks: the clean-resize augmentation of the LR predictor."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from reference_models.debiasfr.auxiliary_networks import clean_resize_mix


def test_clean_resize_mix_replaces_a_seeded_share_by_a_plain_down_up_resize():
    g = torch.Generator().manual_seed(0)
    hq = torch.rand(64, 3, 32, 32, generator=g)
    lq = torch.rand(64, 3, 32, 32, generator=g)
    same = clean_resize_mix(hq, lq, 0.0, (2.0, 8.0), torch.Generator().manual_seed(1))
    assert torch.equal(same, (lq * 255).round() / 255)
    mixed = clean_resize_mix(hq, lq, 0.5, (2.0, 8.0), torch.Generator().manual_seed(1))
    again = clean_resize_mix(hq, lq, 0.5, (2.0, 8.0), torch.Generator().manual_seed(1))
    assert torch.equal(mixed, again)                                   # seeded
    replaced = (mixed - (lq * 255).round() / 255).abs().flatten(1).amax(1) > 0
    assert 20 < int(replaced.sum()) < 44
    assert torch.equal(mixed * 255, (mixed * 255).round())            # 8-bit values
    # exactly the documented operation at the drawn scale: antialiased bicubic down, 8-bit, bilinear up
    out = clean_resize_mix(hq, lq, 1.0, (4.0, 4.0), torch.Generator().manual_seed(0))
    down = F.interpolate(hq, size=(8, 8), mode="bicubic", antialias=True, align_corners=False)
    expected = F.interpolate((down.clamp(0, 1) * 255).round() / 255, size=(32, 32), mode="bilinear", align_corners=False)
    assert torch.equal(out, (expected.clamp(0, 1) * 255).round() / 255)
    # scales are drawn for every face, so a replaced face is the same whatever the share
    full = clean_resize_mix(hq, lq, 1.0, (2.0, 8.0), torch.Generator().manual_seed(1))
    assert torch.equal(mixed[replaced], full[replaced])
