"""NIQE and BRISQUE through the runner on a captured-LQ folder (no HQ), with bad images among good ones."""
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from bench.api import run
from bench.core.registry import METHODS
from bench.harness.store import ResultStore

from tests.metrics.conftest import UTKFACE, persistent_asset_cache


class Identity:
    """Returns the captured LQ unchanged (the no-reference metrics then score the LQ itself)."""

    name = "identity"
    uses_attributes = False

    def __init__(self, device="cpu"):
        pass

    def restore(self, lq, attributes=None, out_size=None):
        return lq

    def describe(self):
        return {"name": "identity"}


def test_niqe_and_brisque_on_a_captured_lq_folder(tmp_path, monkeypatch, live_manager, registered):
    files = sorted(UTKFACE.glob("*.jpg"))[:3] if UTKFACE.exists() else []
    if len(files) < 3:
        pytest.skip(f"needs 3 UTKFace images in {UTKFACE}")
    monkeypatch.setenv("FRBENCH_CACHE", str(persistent_asset_cache()))  # the provisioned, verified files
    registered(METHODS, "identity", Identity, "test")
    lq = tmp_path / "set" / "lq"
    lq.mkdir(parents=True)
    for f in files:
        shutil.copy(f, lq / (f.name.split(".")[0].replace("_", "-") + ".jpg"))
    Image.fromarray(np.full((200, 200, 3), 90, np.uint8)).save(lq / "constant.png")
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(lq / "small.png")
    summary = run(method="identity", dataset="folder", root=tmp_path / "set", metrics="niqe,brisque",
                  store=tmp_path / "r.sqlite", batch_size=8, progress=False)
    assert summary.protocol == "captured" and summary.n_ok == 5  # images are fine, metric errors are per row
    with ResultStore(tmp_path / "r.sqlite") as store:
        scores = {(sid, m): (v, e) for _, sid, m, v, e in store.scores(summary.run_id)}
    good = [f.name.split(".")[0].replace("_", "-") for f in files]
    for sid in good:
        for metric in ("niqe", "brisque"):
            value, err = scores[(sid, metric)]
            assert err is None and np.isfinite(value)
            assert scores[(sid, f"{metric}.flat_share")][0] is not None
            assert scores[(sid, f"{metric}.unstable")][0] in (0.0, 1.0)
    assert "constant" in scores[("constant", "niqe")][1] and scores[("constant", "niqe")][0] is None
    assert "constant" in scores[("constant", "brisque")][1]
    assert "image 64x64 (HxW) is smaller than niqe's minimum 96x96" in scores[("small", "niqe")][1]
    assert scores[("small", "brisque")][1] is None and np.isfinite(scores[("small", "brisque")][0])
    # the values stored by the run are those of the metric called directly on the decoded file
    from metrics.brisque import brisque

    image = torch.from_numpy(np.array(Image.open(lq / (good[0] + ".jpg")).convert("RGB"))).permute(2, 0, 1)[None]
    assert scores[(good[0], "brisque")][0] == pytest.approx(float(brisque(image)[0]), rel=1e-12)
