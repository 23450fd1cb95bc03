"""The official demos' output encodings (GPEN: cv2.imwrite .jpg; PSFRGAN: PIL save in the input's format).

Expectations come from the official calls themselves (``cv2.imencode('.jpg', ...)`` with OpenCV's defaults,
``Image.save`` with Pillow's defaults), applied to the method's output with the encoding off.
"""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from baselines.gpen import GPENMethod
from baselines.psfrgan import PSFRGANMethod
from tests.baselines.test_gpen import SMALL as GPEN_SMALL
from tests.baselines.test_psfrgan import SMALL_G, SMALL_P
from tests.conftest import require_module


def _lq(utkface_dir, size: int) -> torch.Tensor:
    path = sorted(utkface_dir.glob("*.jpg"))[40]
    u8 = np.asarray(Image.open(path).convert("RGB").resize((size, size), Image.BICUBIC))
    return torch.from_numpy(u8.copy()).permute(2, 0, 1)[None].float() / 255.0


def _u8(x: torch.Tensor) -> np.ndarray:
    return torch.round(x[0] * 255).to(torch.uint8).permute(1, 2, 0).numpy()


def test_gpen_jpeg95_is_the_demo_cv2_imwrite(utkface_dir):
    cv2 = require_module("cv2", reason="opencv-python-headless (test extra) is not installed")
    lq = _lq(utkface_dir, 32)
    plain = GPENMethod(weights="random", config=GPEN_SMALL, seed=2)
    demo = GPENMethod(weights="random", config=GPEN_SMALL, seed=2, official_encoding="jpeg95")
    bgr = _u8(plain.restore(lq))[:, :, ::-1]
    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(bgr))          # demo.py: cv2.imwrite(... .jpg)
    assert ok
    expected = cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1].astype(int)
    got = _u8(demo.restore(lq)).astype(int)
    diff = np.abs(got - expected)
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01, (diff.max(), (diff > 0).mean())
    assert np.abs(got - bgr[:, :, ::-1]).max() > 0                      # the JPEG round trip did something
    assert "official_encoding" not in plain.describe()
    assert demo.describe()["official_encoding"].startswith("jpeg95")
    with pytest.raises(ValueError, match="official_encoding must be one of jpeg95"):
        GPENMethod(weights="random", config=GPEN_SMALL, official_encoding="jpeg75")


def test_psfrgan_saves_in_the_input_format_with_pillow_defaults(utkface_dir):
    lq = _lq(utkface_dir, 32)
    kw = dict(weights="random", config=SMALL_G, parse_config=SMALL_P, seed=3)
    plain_out = PSFRGANMethod(**kw).restore(lq)
    buffer = io.BytesIO()
    Image.fromarray(_u8(plain_out)).save(buffer, "JPEG")                 # the official save of a .jpg input
    buffer.seek(0)
    expected = np.asarray(Image.open(buffer).convert("RGB"))
    jpeg = PSFRGANMethod(**kw, official_encoding="jpeg75")
    np.testing.assert_array_equal(_u8(jpeg.restore(lq)), expected)
    png = PSFRGANMethod(**kw, official_encoding="png")
    assert torch.equal(png.restore(lq), plain_out)                       # lossless; output already 8-bit
    assert jpeg.describe()["official_encoding"].startswith("jpeg75") and "official_encoding" not in \
        PSFRGANMethod(**kw, official_encoding="none").describe()


def test_encoding_enters_the_run_identity():
    from bench.harness.identity import run_id_for

    kw = dict(weights="random", config=SMALL_G, parse_config=SMALL_P, seed=3)
    ids = {run_id_for({"method": PSFRGANMethod(**kw, official_encoding=e).describe()}) for e in (None, "jpeg75", "png")}
    assert len(ids) == 3
