"""Degradation protocols: determinism from (seed, id), complete params (replay), ranges, sizes, kernels."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.data import degradation as D
from bench.core.registry import DEGRADATIONS

REPO_ROOT = Path(__file__).resolve().parents[3]
UTKFACE = REPO_ROOT.parent / "shared" / "data" / "utkface" / "images"
FACTORIES = [D.bicubic_x4, D.bicubic_x8, D.bicubic_x16, D.bicubic_x32, D.debiasfr_random, D.debiasfr_x16,
             D.debiasfr_x32, D.identity]


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    """A real 200x200 face when ../shared is present, else a smooth synthetic image (same shape)."""
    files = sorted(UTKFACE.glob("*.jpg"))[:1] if UTKFACE.exists() else []
    if files:
        with Image.open(files[0]) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
    yy, xx = np.mgrid[0:200, 0:200]
    return np.stack([(xx + yy) % 256, (2 * xx) % 256, (128 + 60 * np.sin(yy / 9.0))], axis=2).astype(np.uint8)


def _roundtrip(params):
    return json.loads(json.dumps(params))


# -- determinism ---------------------------------------------------------------------------------
@pytest.mark.parametrize("factory", [D.debiasfr_random, D.debiasfr_x16])
def test_same_seed_and_id_same_bytes_and_otherwise_different(face, factory):
    lq1, p1 = factory().apply(face, 7, "img-001")
    lq2, p2 = factory().apply(face, 7, "img-001")
    assert lq1.tobytes() == lq2.tobytes() and p1 == p2
    other_id, _ = factory().apply(face, 7, "img-002")
    other_seed, _ = factory().apply(face, 8, "img-001")
    assert other_id.tobytes() != lq1.tobytes() and other_seed.tobytes() != lq1.tobytes()


def test_independent_of_call_order(face):
    ids = [f"s{i:03d}" for i in range(6)]
    degradation = D.debiasfr_random()
    forward = {i: degradation.apply(face, 3, i)[0].tobytes() for i in ids}
    backward = {i: D.debiasfr_random().apply(face, 3, i)[0].tobytes() for i in reversed(ids)}
    assert forward == backward and len(set(forward.values())) == len(ids)


def test_seeding_uses_sha256_not_python_hash():
    """The draws are the same in processes with different hash salts (PYTHONHASHSEED)."""
    code = ("import json; from bench.data.degradation import debiasfr_random; "
            "print(json.dumps([debiasfr_random().draw(5, i, (512, 512)) for i in ('a', 'b', 'é')]))")
    outputs = []
    for salt in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=salt, PYTHONPATH=str(REPO_ROOT))
        result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        outputs.append(json.loads(result.stdout))
    here = _roundtrip([D.debiasfr_random().draw(5, i, (512, 512)) for i in ("a", "b", "é")])
    assert outputs[0] == outputs[1] == here
    entropy = D.sample_seed_sequence(5, "a").entropy
    import hashlib
    digest = hashlib.sha256(b"a").digest()
    assert list(entropy) == [5, 0] + [int.from_bytes(digest[i:i + 4], "big") for i in range(0, 32, 4)]


def test_bad_seed_and_id():
    with pytest.raises(ValueError, match="seed"):
        D.sample_seed_sequence(-1, "a")
    with pytest.raises(TypeError, match="sample_id"):
        D.sample_seed_sequence(0, 12)


# -- replay ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("factory", FACTORIES + [lambda: D.DebiasFRDegradation(None, gray_prob=1.0)])
def test_replay_from_params_gives_identical_bytes(face, factory):
    degradation = factory()
    for sample_id in ("a", "b", "c"):
        lq, params = degradation.apply(face, 11, sample_id)
        assert lq.dtype == np.uint8 and lq.ndim == 3 and lq.shape[2] == 3
        assert params["lq_size"] == list(lq.shape[:2]) and params["pipeline"] and params["version"] == 1
        replayed = D.degradation_from_params(face, _roundtrip(params))
        assert replayed.tobytes() == lq.tobytes() and replayed.shape == lq.shape


def test_params_record_everything_named_in_the_protocol(face):
    _, params = D.debiasfr_x16().apply(face, 0, "x")
    for key in ("kernel_type", "kernel_size", "sigma_x", "sigma_y", "theta", "scale", "lq_size", "noise_sigma",
                "noise_seed", "jpeg_quality", "jpeg_codec", "resample", "pipeline", "version", "degradation",
                "gray"):
        assert key in params, key
    assert params["degradation"] == "debiasfr-x16" and params["scale_mode"] == "fixed"
    assert "libjpeg" in params["jpeg_codec"]


def test_replay_refuses_wrong_size_unknown_pipeline_and_version(face):
    _, native = D.DebiasFRDegradation(None, reference_size=None).apply(face, 0, "x")
    with pytest.raises(ValueError, match="200x200"):
        D.degradation_from_params(face[:100], native)
    _, params = D.debiasfr_random().apply(face, 0, "x")
    with pytest.raises(ValueError, match="512x512"):     # the 512 reference is checked: a 512x300 HQ is not it
        D.degradation_from_params(np.zeros((512, 300, 3), np.uint8), dict(params, reference_size=None))
    with pytest.raises(ValueError, match="unknown degradation pipeline"):
        D.degradation_from_params(face, dict(params, pipeline="realesrgan"))
    with pytest.raises(ValueError, match="version"):
        D.degradation_from_params(face, dict(params, version=0))
    with pytest.warns(RuntimeWarning, match="codec"):
        D.degradation_from_params(face, dict(params, jpeg_codec="some other libjpeg"))


def test_replaying_a_changed_value_changes_the_image(face):
    """The recorded values are the ones used: editing one changes the output."""
    lq, params = D.debiasfr_x16().apply(face, 0, "x")
    edited = dict(params, jpeg_quality=60 if params["jpeg_quality"] != 60 else 99, noise_sigma=25.0)
    assert D.degradation_from_params(face, edited).tobytes() != lq.tobytes()


# -- parameter distributions -------------------------------------------------------------------------
def test_parameter_ranges_over_many_draws():
    degradation = D.debiasfr_random()
    draws = [degradation.draw(0, f"id{i}", (512, 512)) for i in range(2000)]
    types = [p["kernel_type"] for p in draws]
    assert set(types) == {"iso", "aniso"} and 0.45 < types.count("iso") / len(types) < 0.55
    for p in draws:
        assert 0.1 <= p["sigma_x"] <= 10 and 0.1 <= p["sigma_y"] <= 10 and -math.pi <= p["theta"] <= math.pi
        if p["kernel_type"] == "iso":
            assert p["sigma_y"] == p["sigma_x"] and p["theta"] == 0.0
        assert 1 <= p["scale"] <= 20 and p["lq_size"] == [int(512 // p["scale"])] * 2
        assert 0 <= p["noise_sigma"] <= 20 and 0 <= p["noise_seed"] < 2 ** 63
        assert isinstance(p["jpeg_quality"], int) and 60 <= p["jpeg_quality"] <= 99
        assert p["gray"] is False and p["kernel_size"] == 41
    qualities = {p["jpeg_quality"] for p in draws}
    assert qualities == set(range(60, 100))  # every quality 60..99 occurs, 100 never
    scales = np.array([p["scale"] for p in draws])
    assert scales.min() < 1.2 and scales.max() > 19.8 and abs(scales.mean() - 10.5) < 0.4  # uniform on [1, 20]
    sigmas = np.array([p["noise_sigma"] for p in draws])
    assert abs(sigmas.mean() - 10) < 0.4
    thetas = np.array([p["theta"] for p in draws if p["kernel_type"] == "aniso"])
    assert thetas.min() < -3.0 and thetas.max() > 3.0


def test_fixed_scale_tracks_share_the_other_draws():
    p16 = D.debiasfr_x16().draw(4, "face-9", (512, 512))
    p32 = D.debiasfr_x32().draw(4, "face-9", (512, 512))
    prand = D.debiasfr_random().draw(4, "face-9", (512, 512))
    shared = ("kernel_type", "sigma_x", "sigma_y", "theta", "noise_sigma", "noise_seed", "jpeg_quality")
    assert all(p16[k] == p32[k] == prand[k] for k in shared)
    assert (p16["lq_size"], p32["lq_size"]) == ([32, 32], [16, 16])


def test_gray_option():
    draws = [D.DebiasFRDegradation(None, gray_prob=0.3).draw(0, f"g{i}", (64, 64))["gray"] for i in range(1000)]
    assert 0.25 < np.mean(draws) < 0.35
    lq, params = D.DebiasFRDegradation(16, gray_prob=1.0).apply(np.full((64, 64, 3), [200, 40, 90], np.uint8), 0, "g")
    assert params["gray"] is True and (lq[..., 0] == lq[..., 1]).all() and (lq[..., 1] == lq[..., 2]).all()


# -- sizes and resampling -----------------------------------------------------------------------------
@pytest.mark.parametrize("size, expected", [(200, {4: 50, 8: 25, 16: 13, 32: 6}),
                                            (512, {4: 128, 8: 64, 16: 32, 32: 16})])
def test_fixed_scale_sizes(size, expected):
    hq = np.zeros((size, size, 3), np.uint8)
    for scale, side in expected.items():
        lq, params = getattr(D, f"bicubic_x{scale}")().apply(hq, 0, "s")
        assert lq.shape == (side, side, 3) and params["lq_size"] == [side, side] and params["scale"] == scale
    with pytest.raises(ValueError, match=r"HQ image 16x40 \(HxW\) is smaller than the minimum 112x112 of "
                                         r"degradation 'x32'"):
        D.bicubic_x32().apply(np.zeros((16, 40, 3), np.uint8), 0, "s")  # would be a 1x1 LQ
    assert D.bicubic_x8().apply(np.zeros((100, 60, 3), np.uint8), 0, "s")[0].shape == (13, 8, 3)  # 12.5, 7.5 up


def _native(scale):
    """A DebiasFR protocol at the native HQ size (``reference_size=None``: the behaviour before the 512 reference)."""
    return lambda: D.DebiasFRDegradation(scale, reference_size=None)


@pytest.mark.parametrize("factory, expected", [(D.bicubic_x4, 14), (D.bicubic_x8, 28), (D.bicubic_x16, 56),
                                               (D.bicubic_x32, 112), (_native(None), 80), (_native(16), 64),
                                               (_native(32), 128), (D.identity, 1)])
def test_minimum_hq_side_is_declared_and_enforced(factory, expected):
    """The smallest HQ side keeps the LQ at >= MIN_LQ_SIDE pixels at the largest scale; one pixel less is refused."""
    degradation = factory()
    side = degradation.min_hq_side()
    assert side == expected
    if side > 1:
        for shape in ((side - 1, 500, 3), (500, side - 1, 3)):
            with pytest.raises(ValueError, match=f"smaller than the minimum {side}x{side} of degradation"):
                degradation.apply(np.zeros(shape, np.uint8), 0, "s")
    if isinstance(degradation, D.BicubicDownsample):
        assert D.bicubic_lq_size(side, degradation.scale) == D.MIN_LQ_SIDE
        assert D.bicubic_lq_size(side - 1, degradation.scale) < D.MIN_LQ_SIDE
    if isinstance(degradation, D.DebiasFRDegradation):
        largest = degradation.scale or degradation.scale_range[1]
        assert D.debiasfr_lq_size(side, largest) >= D.MIN_LQ_SIDE > D.debiasfr_lq_size(side - 1, largest)
        assert side > degradation.kernel_size // 2  # torch's reflect padding needs a side above the padding
    lq, _ = degradation.apply(np.zeros((side, side, 3), np.uint8), 0, "s")
    assert min(lq.shape[:2]) >= min(side, D.MIN_LQ_SIDE)


def test_debiasfr_minimum_holds_for_every_drawn_scale():
    """With a random scale the minimum is taken at the largest scale: no accepted image gets a tiny LQ."""
    degradation = D.debiasfr_random()
    side = degradation.min_hq_side()
    sizes = [degradation.draw(0, f"id{i}", (side, side))["lq_size"] for i in range(500)]
    assert min(min(s) for s in sizes) >= D.MIN_LQ_SIDE
    with pytest.raises(ValueError, match="3x5000"):
        degradation.apply(np.zeros((3, 5000, 3), np.uint8), 0, "thin")


def test_debiasfr_sizes():
    hq = np.zeros((512, 512, 3), np.uint8)
    assert D.debiasfr_x16().apply(hq, 0, "a")[0].shape == (32, 32, 3)
    assert D.debiasfr_x32().apply(hq, 0, "a")[0].shape == (16, 16, 3)
    assert D.debiasfr_x32().apply(np.zeros((200, 200, 3), np.uint8), 0, "a")[0].shape == (16, 16, 3)  # 512 // 32
    assert _native(32)().apply(np.zeros((200, 200, 3), np.uint8), 0, "a")[0].shape == (6, 6, 3)  # 200 // 32


def test_bicubic_x8_equals_pil(face):
    lq, _ = D.bicubic_x8().apply(face, 0, "pil")
    direct = np.asarray(Image.fromarray(face).resize((25, 25), Image.BICUBIC))
    assert lq.tobytes() == direct.tobytes()


def test_identity_is_a_copy(face):
    lq, params = D.identity().apply(face, 0, "i")
    assert np.array_equal(lq, face) and lq is not face and params["lq_size"] == [200, 200]


def test_rejects_non_uint8_hq():
    with pytest.raises(ValueError, match="uint8"):
        D.bicubic_x8().apply(np.zeros((32, 32, 3), np.float32), 0, "a")
    with pytest.raises(ValueError, match="uint8"):
        D.debiasfr_random().apply(np.zeros((32, 32), np.uint8), 0, "a")


# -- kernel and blur --------------------------------------------------------------------------------
def test_kernel_normalised_and_symmetric():
    iso = D.gaussian_kernel(41, 3.7, 3.7, 0.0)
    assert iso.shape == (41, 41) and iso.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(iso, iso.T, atol=1e-17)
    np.testing.assert_allclose(iso, iso[::-1], atol=1e-17)
    np.testing.assert_allclose(iso, iso[:, ::-1], atol=1e-17)
    aniso = D.gaussian_kernel(41, 4.0, 1.0, 0.7)
    assert aniso.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(aniso, aniso[::-1, ::-1], atol=1e-17)  # point symmetry: conv == correlation
    assert not np.allclose(aniso, aniso.T)


def test_kernel_covariance_matches_sigmas_and_rotation():
    """Second moments of an untruncated kernel equal R diag(sx^2, sy^2) R^T (x = column, y = row)."""
    sx, sy, theta = 2.0, 1.0, math.pi / 6
    k = D.gaussian_kernel(41, sx, sy, theta)
    ax = np.arange(41) - 20.0
    xx, yy = np.meshgrid(ax, ax)
    cov = np.array([[(k * xx * xx).sum(), (k * xx * yy).sum()], [(k * xx * yy).sum(), (k * yy * yy).sum()]])
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    np.testing.assert_allclose(cov, rot @ np.diag([sx ** 2, sy ** 2]) @ rot.T, atol=1e-6)


def test_blur_equals_torch_reflect_conv():
    """The FFT blur equals DebiasFR's GaussianBlurConv (reflect pad 20, depthwise conv2d) to float64 rounding."""
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(0)
    image = rng.random((48, 37, 3))
    kernel = D.gaussian_kernel(41, 6.0, 2.0, -1.1)
    ours = D.blur_reflect(image, kernel)
    x = torch.from_numpy(image).permute(2, 0, 1)[None]
    w = torch.from_numpy(kernel)[None, None].repeat(3, 1, 1, 1)
    ref = F.conv2d(F.pad(x, (20, 20, 20, 20), mode="reflect"), w, groups=3)[0].permute(1, 2, 0).numpy()
    assert ours.shape == image.shape
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)


# -- registry -----------------------------------------------------------------------------------------
def test_registry_names_resolve():
    for name, cls in [("x4", D.BicubicDownsample), ("x8", D.BicubicDownsample), ("x16", D.BicubicDownsample),
                      ("x32", D.BicubicDownsample), ("debiasfr", D.DebiasFRDegradation),
                      ("debiasfr-x16", D.DebiasFRDegradation), ("debiasfr-x32", D.DebiasFRDegradation),
                      ("none", D.Identity)]:
        degradation = DEGRADATIONS.create(name)
        assert isinstance(degradation, cls) and degradation.name == name
        record = degradation.describe()
        assert record["name"] == name and json.loads(json.dumps(record)) == record


# -- DebiasFR protocols at the official 512 px ----------------------------------------------------------
def _smooth_face(size: int) -> np.ndarray:
    """A smooth, non-constant stand-in face of any size (the same picture sampled at ``size``)."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    return np.stack([128 + 100 * np.sin(6 * xx + 2 * yy), 128 + 90 * np.cos(5 * yy), 255 * xx * yy],
                    axis=2).round().clip(0, 255).astype(np.uint8)


@pytest.mark.parametrize("native", [200, 1024])
def test_debiasfr_x16_gives_a_512_reference_and_a_32_px_lq_for_any_native_size(face, native):
    """Official pipeline: HQ to 512 first (cv2.resize INTER_LINEAR of the float image), then degrade;
    so a 200-px UTKFace face and a 1024-px CelebA-HQ face both give a 512 reference and a 32x32 LQ."""
    cv2 = pytest.importorskip("cv2")
    hq = face if native == 200 else _smooth_face(native)
    degradation = D.debiasfr_x16()
    reference = degradation.reference(hq)
    assert reference.shape == (512, 512, 3) and reference.dtype == np.uint8
    official = cv2.resize(hq.astype(np.float32) / 255, (512, 512), interpolation=cv2.INTER_LINEAR)
    expected = np.rint(np.clip(official, 0, 1) * 255).astype(int)
    assert np.abs(reference.astype(int) - expected).max() <= 1   # float32 vs float64 rounding ties only
    if native == 1024:  # an exact halving with half-pixel bilinear is the 2x2 mean
        block = hq.astype(np.float64).reshape(512, 2, 512, 2, 3).mean(axis=(1, 3))
        assert np.abs(reference - block).max() <= 0.5 + 1e-9
    lq, params = degradation.apply(hq, 0, "face")
    assert lq.shape == (32, 32, 3) and params["hq_size"] == [512, 512] and params["lq_size"] == [32, 32]
    assert params["reference_size"] == 512 and "INTER_LINEAR" in params["reference_resize"]
    # the runner's path (reference first, then apply) gives the same bytes; replay works from either HQ
    again, _ = degradation.apply(reference, 0, "face")
    assert again.tobytes() == lq.tobytes()
    assert degradation.reference(reference) is reference
    for source in (hq, reference):
        assert D.degradation_from_params(source, _roundtrip(params)).tobytes() == lq.tobytes()


def test_debiasfr_reference_changes_the_protocol_identity_and_caption():
    from bench.core.registry import DEGRADATIONS

    at512, native = D.debiasfr_x16().describe(), D.DebiasFRDegradation(16, reference_size=None).describe()
    assert at512["options"]["reference_size"] == 512 and native["options"]["reference_size"] is None
    assert at512 != native               # runs at the native size and at 512 never share a run id
    for name in ("debiasfr", "debiasfr-x16", "debiasfr-x32"):
        caption = DEGRADATIONS.describe(name)
        assert "512" in caption and "metrics at 512" in caption, caption
    assert D.DebiasFRDegradation(16).min_hq_side() == 32 and D.debiasfr_random().min_hq_side() == 25
    with pytest.raises(ValueError, match=r"HQ image 31x200 \(HxW\) is smaller than the minimum 32x32"):
        D.debiasfr_x16().apply(np.zeros((31, 200, 3), np.uint8), 0, "thin")


def test_runner_scores_debiasfr_protocols_against_the_512_reference(tmp_path):
    """Through the runner: the stored HQ size is 512 (the metrics' reference), the native size is noted,
    the LQ is 32 px, and PSNR is computed against the 512-px reference."""
    from bench.api import run
    from bench.harness.store import ResultStore

    summary = run(method="bicubic", dataset="synthetic", dataset_options={"n": 2, "size": 64},
                  degradation="debiasfr-x16", metrics="psnr", store=tmp_path / "r.sqlite", progress=False)
    assert summary.n_ok == 2, summary.errors
    with ResultStore(tmp_path / "r.sqlite") as store:
        rows = store.sample_rows(summary.run_id)
    for row in rows:
        assert row["hq_size"] == [512, 512] and row["lq_size"] == [32, 32]
        assert row["notes"]["hq_native_size"] == [64, 64] and row["degradation"]["reference_size"] == 512
