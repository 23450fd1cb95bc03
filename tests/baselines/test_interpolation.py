import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from baselines.interpolation import Bicubic, Bilinear


def test_output_size_range_and_identity():
    lq = torch.rand(2, 3, 8, 10)
    for method in (Bilinear(), Bicubic()):
        out = method.restore(lq, out_size=(32, 40))
        assert out.shape == (2, 3, 32, 40)
        assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
        assert torch.equal(method.restore(lq, out_size=(8, 10)), lq)
    # captured LQ (no HQ size): the protocol's 512x512, or the size asked for
    assert Bicubic().restore(lq).shape == (2, 3, 512, 512)
    assert Bilinear(size=64).restore(lq).shape == (2, 3, 64, 64)


def test_bilinear_matches_pil_on_upsampling():
    # PIL's bilinear with align-corners=False semantics equals torch's when upsampling (no antialias needed)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(12, 12, 3), dtype=np.uint8)
    pil = np.asarray(Image.fromarray(image).resize((48, 48), Image.BILINEAR), dtype=np.float64)
    lq = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    ours = Bilinear().restore(lq, out_size=(48, 48))[0].permute(1, 2, 0).numpy() * 255
    # PIL rounds to uint8 and uses fixed-point weights; torch keeps floats
    assert np.abs(ours - pil).max() <= 1.0 + 1e-3
    assert np.abs(ours - pil).mean() < 0.5


def test_bicubic_is_clamped_cubic_convolution():
    lq = torch.zeros(1, 3, 6, 6)
    lq[..., 2:4, 2:4] = 1.0  # a bright square overshoots with cubic kernels
    raw = F.interpolate(lq, size=(24, 24), mode="bicubic", align_corners=False)
    assert float(raw.max()) > 1.0 and float(raw.min()) < 0.0
    assert torch.equal(Bicubic().restore(lq, out_size=(24, 24)), raw.clamp(0, 1))
