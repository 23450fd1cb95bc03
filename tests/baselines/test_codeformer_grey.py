"""CodeFormer's official grey-input step on the real grey faces of ../shared/data/real-lq.

Expectations are a numpy transcription of the official code (sczhou/CodeFormer ``b33cc7d``,
``facelib/utils/misc.py``: ``is_gray``, ``bgr2gray``, ``calc_mean_std``, ``adain_npy``), not the suite's code.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from baselines.codeformer import CodeFormerMethod
from tests.baselines.test_codeformer import SMALL
from tests.conftest import shared_path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def official_is_gray(img: np.ndarray, threshold: float = 10) -> bool:
    """``facelib.utils.misc.is_gray`` (channels read with PIL ``getchannel``, int16 differences)."""
    pil = Image.fromarray(img)
    c = [np.asarray(pil.getchannel(i), dtype=np.int16) for i in range(3)]
    return ((c[0] - c[1]).var() + (c[1] - c[2]).var() + (c[2] - c[0]).var()) / 3.0 <= threshold


def official_add_restored_face(restored_bgr: np.ndarray, input_bgr: np.ndarray) -> np.ndarray:
    """``adain_npy(bgr2gray(restored_face), cropped_face)`` on BGR ``uint8`` arrays, float64 result."""
    b, g, r = (restored_bgr[:, :, i].astype(np.float64) for i in range(3))
    gray = (0.2989 * r + 0.5870 * g + 0.1140 * b)[:, :, None].repeat(3, axis=2)

    def calc_mean_std(feat, eps=1e-5):
        c = feat.shape[2]
        return feat.reshape(-1, c).mean(axis=0).reshape(1, 1, c), np.sqrt(feat.reshape(-1, c).var(axis=0) + eps)

    s_mean, s_std = calc_mean_std(input_bgr.astype(np.float64))
    c_mean, c_std = calc_mean_std(gray)
    return (gray - c_mean) / c_std * s_std + s_mean


def _real_lq_faces() -> list:
    root = shared_path("data", "real-lq")
    return sorted(p for p in root.glob("*/*/*") if p.suffix.lower() in IMAGE_SUFFIXES)


def test_grey_detection_counts_the_real_lq_faces():
    """8 of the 48 real-LQ faces are grey by the official rule; the method's detection agrees on all 48."""
    from baselines.codeformer.grey import is_grey

    files = _real_lq_faces()
    images = [np.asarray(Image.open(p).convert("RGB")) for p in files]
    official = [official_is_gray(img) for img in images]
    ours = [bool(is_grey(torch.from_numpy(img.copy()).permute(2, 0, 1)[None].double())[0]) for img in images]
    assert ours == official
    assert (len(files), sum(official)) == (48, 8)


@pytest.fixture(scope="module")
def methods():
    on = CodeFormerMethod(weights="random", config=SMALL, seed=5)
    off = CodeFormerMethod(weights="random", config=SMALL, seed=5, grey_input=False)
    return on, off


def _face(name: str, size: int) -> np.ndarray:
    path = shared_path("data", "real-lq", "codeformer", "gray_faces", name)
    return np.array(Image.open(path).convert("RGB").resize((size, size), Image.BICUBIC))


def test_grey_face_gets_a_grey_restoration_with_the_input_statistics(methods):
    """Einstein02 (channel-difference variance 0.02: nearly, not exactly, grey) at the network size."""
    on, off = methods
    rgb = _face("Einstein02.png", SMALL["img_size"])
    assert official_is_gray(rgb[:, :, ::-1].copy())                 # the official script reads BGR
    lq = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255.0
    plain = off.restore(lq)[0].permute(1, 2, 0).numpy().astype(np.float64)
    assert np.abs(plain[:, :, 0] - plain[:, :, 1]).max() > 0.01   # the random network's output has colour
    restored_bgr = np.round(plain * 255.0)[:, :, ::-1].astype(np.uint8)      # tensor2img(rgb2bgr=True)
    expected = official_add_restored_face(restored_bgr, rgb[:, :, ::-1])[:, :, ::-1]   # back to RGB
    got = on.restore(lq)[0].permute(1, 2, 0).numpy().astype(np.float64) * 255.0
    assert on.grey_inputs == 1 and off.grey_inputs == 0
    np.testing.assert_allclose(got, np.clip(expected, 0, 255), atol=2e-3)
    # what it means: before the 8-bit saturation (imwrite; here the harness) each channel has the input
    # channel's mean and std, and the channels are (nearly) equal
    inp, out = rgb.reshape(-1, 3).astype(np.float64), expected.reshape(-1, 3)
    np.testing.assert_allclose(out.mean(0), inp.mean(0), atol=1e-6)
    np.testing.assert_allclose(out.std(0), inp.std(0), rtol=1e-6)
    assert not np.allclose(inp.mean(0)[0], inp.mean(0)[1])        # the input's channels differ a little
    assert np.abs(got[:, :, 0] - got[:, :, 1]).max() < 1.0
    assert on.describe()["grey_input"] is True and off.describe()["grey_input"] is False


def test_colour_face_is_left_alone(methods):
    on, off = methods
    path = _real_lq_faces()[0]
    rgb = np.array(Image.open(path).convert("RGB").resize((SMALL["img_size"],) * 2, Image.BICUBIC))
    assert not official_is_gray(rgb)
    lq = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255.0
    assert torch.equal(on.restore(lq), off.restore(lq))


def test_pure_grey_face_in_a_batch_with_a_colour_face(methods):
    """Per image: a pure grey face (variance 0) is turned grey, the colour face beside it is not."""
    on, off = methods
    grey = _face("Hepburn01.png", SMALL["img_size"])
    colour = np.asarray(Image.open(_real_lq_faces()[0]).convert("RGB").resize((SMALL["img_size"],) * 2,
                                                                                Image.BICUBIC))
    lq = torch.from_numpy(np.stack([colour, grey])).permute(0, 3, 1, 2).float() / 255.0
    got, plain = on.restore(lq), off.restore(lq)
    assert torch.equal(got[0], plain[0])
    g = got[1] * 255.0
    assert float((g[0] - g[1]).abs().max()) < 1e-3 and float((g[1] - g[2]).abs().max()) < 1e-3
