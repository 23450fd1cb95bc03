"""DiffJPEG (reference_models/debiasfr/diffjpeg.py): closeness to a real codec, STE gradients, edge cases."""
import io

import numpy as np
import pytest
import torch

from reference_models.debiasfr.diffjpeg import (
    DiffJPEG,
    dct_matrix,
    diff_jpeg,
    quality_to_factor,
    rgb_to_ycbcr,
    ycbcr_to_rgb,
)
from tests.conftest import shared_path


def _pil_jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality, subsampling="4:2:0")
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB"), dtype=np.float64)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0 ** 2 / np.mean((a - b) ** 2)))


@pytest.fixture(scope="module")
def faces():
    from PIL import Image

    folder = shared_path("data", "utkface", "images")
    files = sorted(folder.glob("*.jpg"))[::1000][:6]
    if not files:
        pytest.skip(f"no UTKFace images in {folder}")
    images = [np.asarray(Image.open(f).convert("RGB"), dtype=np.uint8) for f in files]
    if len({im.shape for im in images}) != 1:
        pytest.skip("UTKFace images of different sizes")
    return np.stack(images)


def _psnr_vs_pil(faces, quality, padding="centre"):
    x = torch.from_numpy(faces).permute(0, 3, 1, 2).float() / 255.0
    ours = diff_jpeg(x, quality, differentiable=False, padding=padding).permute(0, 2, 3, 1).double().numpy() * 255
    return [_psnr(ours[i], _pil_jpeg(face, quality)) for i, face in enumerate(faces)]


def test_close_to_pil_at_q90_on_real_faces(faces):
    # measured (6 UTKFace 200x200 faces): mean ~42.7 dB, worst ~38 dB (official centred padding)
    psnrs = _psnr_vs_pil(faces, 90)
    assert min(psnrs) > 35.0, psnrs
    # with the block grid anchored like libjpeg the two codecs agree better still
    assert min(_psnr_vs_pil(faces, 90, padding="end")) > 40.0


def test_gap_to_pil_grows_as_quality_falls(faces):
    means = [float(np.mean(_psnr_vs_pil(faces, q))) for q in (95, 80, 60)]
    assert means[0] > means[1] > means[2] > 33.0, means


def test_error_vs_original_grows_as_quality_falls(faces):
    x = torch.from_numpy(faces).permute(0, 3, 1, 2).float() / 255.0
    errors = [float(((diff_jpeg(x, q, differentiable=False) - x) ** 2).mean()) for q in (95, 75, 50, 20)]
    assert errors == sorted(errors), errors


def test_per_image_quality_matches_single_calls():
    torch.manual_seed(0)
    x = torch.rand(3, 3, 24, 40)
    q = torch.tensor([95, 60, 30])
    batched = diff_jpeg(x, q)
    for i in range(3):
        assert torch.allclose(batched[i:i + 1], diff_jpeg(x[i:i + 1], int(q[i])), atol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        diff_jpeg(x, torch.tensor([90, 90]))


def test_quality_factor_formula_and_q100_refused():
    assert torch.allclose(quality_to_factor(torch.tensor([10, 49, 50, 75, 99])),
                          torch.tensor([5.0, 5000 / 49 / 100, 1.0, 0.5, 0.02], dtype=torch.float64))
    x = torch.rand(1, 3, 16, 16)
    with pytest.raises(ValueError, match="divide by zero"):
        diff_jpeg(x, 100)
    with pytest.raises(ValueError, match="divide by zero"):
        diff_jpeg(torch.rand(2, 3, 16, 16), torch.tensor([90, 100]))
    with pytest.raises(ValueError):
        diff_jpeg(x, 0)


def test_shapes_range_and_padding_crop():
    torch.manual_seed(1)
    for height, width in ((16, 16), (17, 32), (32, 23), (200, 200), (5, 3)):
        x = torch.rand(2, 3, height, width)
        for padding in ("centre", "end"):
            y = diff_jpeg(x, 75, padding=padding)
            assert y.shape == x.shape and y.dtype == x.dtype
            assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0
    with pytest.raises(ValueError):
        diff_jpeg(torch.rand(1, 1, 16, 16), 75)


def test_transforms_invert():
    c = dct_matrix(torch.float64)
    assert torch.allclose(c @ c.T, torch.eye(8, dtype=torch.float64), atol=1e-12)
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64) * 255
    assert torch.allclose(ycbcr_to_rgb(rgb_to_ycbcr(x)), x, atol=1e-3)


def test_flat_image_is_reproduced():
    # an 8-bit grey level: DC coefficient quantised finely enough at q=90, AC all zero
    x = torch.full((1, 3, 32, 32), 100 / 255.0, dtype=torch.float64)
    assert torch.allclose(diff_jpeg(x, 90), x, atol=1.0 / 255)


def test_recompression_changes_little():
    torch.manual_seed(2)
    # smooth random image: low-pass noise
    x = torch.nn.functional.interpolate(torch.rand(2, 3, 8, 8), size=(64, 64), mode="bilinear", align_corners=False)
    once = diff_jpeg(x, 80, differentiable=False)
    twice = diff_jpeg(once, 80, differentiable=False)
    first_change = float((once - x).abs().mean())
    second_change = float((twice - once).abs().mean())
    assert second_change < 0.5 * first_change
    assert float((twice - once).abs().mean()) < 2.0 / 255


def test_ste_gradient_is_identity_through_rounding():
    # the whole chain before and after the rounding is linear (away from the clamp), so with the STE the
    # Jacobian of diff_jpeg is that of the same chain without quantisation: the identity map up to the
    # chroma 2x2 averaging and pixel repetition (the reference computed below).
    torch.manual_seed(3)
    x = (0.3 + 0.4 * torch.rand(1, 3, 16, 16, dtype=torch.float64)).requires_grad_(True)
    weights = torch.randn(1, 3, 16, 16, dtype=torch.float64)
    (diff_jpeg(x, 50, differentiable=True) * weights).sum().backward()
    ste_grad = x.grad.clone()
    # reference: the same chain with rounding replaced by the identity = subsample/upsample chroma only
    x2 = x.detach().clone().requires_grad_(True)
    ycc = rgb_to_ycbcr(x2 * 255)
    chroma = torch.nn.functional.avg_pool2d(ycc[:, 1:], 2).repeat_interleave(2, 2).repeat_interleave(2, 3)
    ref = ycbcr_to_rgb(torch.cat((ycc[:, :1], chroma), 1)) / 255
    (ref * weights).sum().backward()
    assert float(ste_grad.abs().sum()) > 0
    assert torch.allclose(ste_grad, x2.grad, atol=1e-9)


def test_ste_is_exactly_identity_on_quantised_coefficients():
    from reference_models.debiasfr.diffjpeg import ste_round

    v = torch.tensor([-1.6, -0.5, 0.2, 0.5, 2.49, 3.5], requires_grad=True)
    out = ste_round(v)
    assert torch.equal(out.detach(), torch.round(v.detach()))
    out.sum().backward()
    assert torch.equal(v.grad, torch.ones_like(v))


def test_no_gradient_through_torch_round_mode():
    x = (0.3 + 0.4 * torch.rand(1, 3, 16, 16)).requires_grad_(True)
    y = diff_jpeg(x, 75, differentiable=False)
    y.sum().backward()
    assert x.grad is not None and float(x.grad.abs().max()) == 0.0


def test_module_wrapper():
    module = DiffJPEG(differentiable=False)
    x = torch.rand(2, 3, 16, 16)
    assert torch.equal(module(x, 70), diff_jpeg(x, 70, differentiable=False))
    assert list(module.parameters()) == []
