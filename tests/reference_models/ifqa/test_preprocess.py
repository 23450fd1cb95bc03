"""test.py pre-processing of IFQA against ../shared/golden/ifqa/golden_preprocess.safetensors."""
import numpy as np
import pytest
import torch

from reference_models.ifqa import preprocess as pp
from tests.conftest import shared_path


@pytest.fixture(scope="module")
def golden_preprocess():
    from safetensors.torch import load_file

    g = load_file(str(shared_path("golden", "ifqa", "golden_preprocess.safetensors")))
    # the 300x260 image shrinks to 256 (out.resized_u8b_256), the 90x70 one is enlarged (out.resized_u8_256)
    return {"shrink": (g["in.rgb_u8_300x260"].numpy(), g["out.resized_u8b_256"].numpy()),
            "enlarge": (g["in.rgb_u8_90x70"].numpy(), g["out.resized_u8_256"].numpy())}


def test_resize_is_opencv_bilinear_bit_for_bit(golden_preprocess):
    pytest.importorskip("cv2", reason="OpenCV absent: the numpy fallback is checked by the next test")
    for src, ref in golden_preprocess.values():
        assert np.array_equal(pp.resize_bilinear_u8(src, 256, 256), ref)


def test_numpy_fallback_exact_when_shrinking_and_within_one_level_when_enlarging(golden_preprocess):
    src, ref = golden_preprocess["shrink"]
    assert np.array_equal(pp.resize_bilinear_u8_numpy(src, 256, 256), ref)
    src, ref = golden_preprocess["enlarge"]
    diff = np.abs(pp.resize_bilinear_u8_numpy(src, 256, 256).astype(int) - ref.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01


def test_cnn_input_is_normalised_resized_image(golden_preprocess):
    src, ref = golden_preprocess["shrink"]
    x = pp.preprocess_cnn(src)
    assert x.shape == (1, 3, 256, 256) and x.dtype == torch.float32
    want = (ref.astype(np.float32) - 127.5) / 127.5
    assert torch.equal(x[0], torch.from_numpy(want.transpose(2, 0, 1)))
    assert float(x.min()) >= -1 and float(x.max()) <= 1


def test_vit_input_normalises_first_then_bicubic_224():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    x = pp.preprocess_vit(img)
    assert x.shape == (1, 3, 224, 224)
    ref = torch.nn.functional.interpolate(torch.from_numpy(pp.normalize_u8(img).transpose(2, 0, 1))[None],
                                          size=(224, 224), mode="bicubic", align_corners=False)
    assert float((x - ref).abs().max()) < 1e-4           # OpenCV and torch bicubic: same a=-0.75 kernel
    assert float(x.max()) > 1 or float(x.min()) < -1     # float bicubic may overshoot [-1, 1]; not clipped


def test_runner_batches_become_hwc_uint8():
    t = torch.randint(0, 256, (2, 3, 8, 6), dtype=torch.uint8)
    a = pp.as_hwc_uint8_batch(t)
    assert a.shape == (2, 8, 6, 3) and a.dtype == np.uint8 and np.array_equal(a[1, :, :, 2], t[1, 2].numpy())
    assert np.array_equal(pp.as_hwc_uint8_batch(t.float() / 255), a)
