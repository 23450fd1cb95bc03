"""A small attribute classifier trained by this suite (``bench train attribute-classifier``).

**Label: trained here -- a small CPU model trained on few images; not a reference evaluator.**  It exists
so that any labelled dataset (UTKFace, FFHQ-Aging, a folder with an attributes CSV) can get an evaluator
whose training data is known, and every number it produces is labelled with its training record.

Model (``frbench-small-cnn-v1``): 64x64 RGB chip (known-alignment template, as the default classifier)
-> 4 conv stages (32, 64, 128, 192 channels; conv3x3 + BN + ReLU, stride-2 downsampling) -> global
average -> heads for the 10 FFHQ-Aging age bins, 2 genders and the age in years (regression / 100).
Loss: cross-entropy (bin) + cross-entropy (gender) + L1 (age / 100).  Adam, horizontal flips.
Saved as ``.safetensors`` with the training record (dataset, split, number of images, epochs, seed,
validation accuracy) in the file's metadata; loaded without executing code.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench.core.checkpoints import save_safetensors_atomic
from reference_models.shared.face_alignment import TemplateAligner

from reference_models.shared.attribute_classifiers.base import AttributeClassifier, AttributePrediction

ARCH = "frbench-small-cnn-v1"
CHIP = 64
LABEL = "trained by frbench: small CPU model, few images -- not a reference evaluator"


class SmallAttributeNet(nn.Module):
    def __init__(self, widths: Sequence[int] = (32, 64, 128, 192)) -> None:
        super().__init__()
        layers, cin = [], 3
        for w in widths:
            layers += [nn.Conv2d(cin, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
                       nn.Conv2d(w, w, 3, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
            cin = w
        self.features = nn.Sequential(*layers)
        self.age_bin = nn.Linear(cin, 10)
        self.gender = nn.Linear(cin, 2)
        self.age = nn.Linear(cin, 1)

    def forward(self, x: torch.Tensor):
        f = self.features(x).mean(dim=(2, 3))
        return self.age_bin(f), self.gender(f), self.age(f).squeeze(1)


def to_input(chips: np.ndarray) -> torch.Tensor:
    """``uint8 [B, 64, 64, 3]`` -> float ``[B, 3, 64, 64]`` in [-1, 1]."""
    return torch.from_numpy(chips).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def train_attribute_classifier(dataset, out: str | Path, *, epochs: int = 3, limit: int | None = 2000,
                               batch_size: int = 64, lr: float = 2e-3, seed: int = 0, template: str = "utkface",
                               val_fraction: float = 0.1, threads: int | None = None,
                               log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train on the labelled HQ images of ``dataset`` (a :class:`bench.core.types.Dataset`); write ``out``.

    Images without age or gender labels are skipped (counted).  Returns the training record.
    """
    from bench.data.training_faces import seeded_hq_faces

    if threads:
        torch.set_num_threads(int(threads))
    torch.manual_seed(seed)
    aligner = TemplateAligner(template)
    faces = seeded_hq_faces(dataset, seed=seed, limit=limit,
                            keep=lambda s: s.attributes.gender is not None and s.attributes.age is not None,
                            prepare=lambda image: aligner.chips(image, (CHIP,)).chips[CHIP])
    chips, skipped, unreadable = faces.images, faces.skipped, len(faces.unreadable)
    bins = [s.attributes.age_bin for s in faces.samples]
    genders = [s.attributes.gender for s in faces.samples]
    ages = [float(s.attributes.age) for s in faces.samples]
    rng = np.random.default_rng(seed)
    if len(chips) < 10:
        raise ValueError(f"only {len(chips)} labelled images in dataset {dataset.name!r}: cannot train")
    x = np.stack(chips)
    yb, yg, ya = (torch.tensor(bins), torch.tensor(genders), torch.tensor(ages, dtype=torch.float32))
    n_val = max(1, int(round(len(x) * val_fraction)))
    tr, va = np.arange(n_val, len(x)), np.arange(n_val)
    model = SmallAttributeNet()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    started = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        perm = rng.permutation(tr)
        total = 0.0
        for start in range(0, len(perm), batch_size):
            idx = perm[start:start + batch_size]
            batch = x[idx]
            flip = rng.random(len(idx)) < 0.5
            batch = np.where(flip[:, None, None, None], batch[:, :, ::-1], batch)
            lb, lgd, la = model(to_input(np.ascontiguousarray(batch)))
            loss = (F.cross_entropy(lb, yb[idx]) + F.cross_entropy(lgd, yg[idx])
                    + F.l1_loss(la, ya[idx] / 100.0))
            opt.zero_grad(); loss.backward(); opt.step()
            total += float(loss.detach()) * len(idx)
        log(f"epoch {epoch + 1}/{epochs}: train loss {total / max(1, len(tr)):.4f}")
    model.eval()
    with torch.no_grad():
        lb, lgd, la = model(to_input(x[va]))
    val = {"n": int(len(va)), "gender_acc": float((lgd.argmax(1) == yg[va]).float().mean()),
           "age_bin_acc": float((lb.argmax(1) == yb[va]).float().mean()),
           "age_mae": float((la * 100 - ya[va]).abs().mean())}
    record = {"arch": ARCH, "label": LABEL, "dataset": dataset.describe(), "template": template,
              "n_train": int(len(tr)), "n_val": int(len(va)), "skipped_unlabelled": int(skipped),
              "unreadable": int(unreadable), "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed,
              "seconds": round(time.perf_counter() - started, 1), "validation": val}
    out = Path(out)
    save_safetensors_atomic(model.state_dict(), out, {"frbench_record": json.dumps(record, default=str)})
    log(f"validation ({len(va)} held-out images): gender acc {val['gender_acc']:.3f}, "
        f"age-bin acc {val['age_bin_acc']:.3f}, age MAE {val['age_mae']:.2f} y; wrote {out}")
    return record


class TrainedAttributeClassifier(AttributeClassifier):
    """Backend ``trained``: a ``bench train attribute-classifier`` checkpoint (``weights=PATH``)."""

    name = "trained"
    predicts_age_years = True
    evaluator = LABEL

    def __init__(self, weights: str | Path | None = None, template: str | None = None, batch: int = 128) -> None:
        from safetensors import safe_open
        from safetensors.torch import load_file

        from bench.core.provenance import note_file

        if weights is None:
            raise ValueError("the 'trained' attribute classifier needs weights=PATH "
                             "(a file written by `bench train attribute-classifier`)")
        with safe_open(str(weights), framework="pt") as fh:
            meta = fh.metadata() or {}
        if "frbench_record" not in meta:
            raise ValueError(f"{weights} is not a `bench train attribute-classifier` checkpoint (no frbench_record)")
        self.record = json.loads(meta["frbench_record"])
        if self.record.get("arch") != ARCH:
            raise ValueError(f"{weights}: unknown architecture {self.record.get('arch')!r}")
        self.model = SmallAttributeNet()
        self.model.load_state_dict(load_file(str(weights)), strict=True)
        note_file(weights, "attribute classifier")
        self.model.eval()
        self.aligner = TemplateAligner(template or self.record["template"])
        self.weights, self.batch = str(weights), int(batch)

    def identity(self) -> dict[str, Any]:
        from bench.core.provenance import file_sha256

        return {"name": self.name, "weights_sha256": file_sha256(self.weights),
                "alignment": self.aligner.describe(), "version": 1}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "training": self.record}

    @torch.no_grad()
    def _predict_list(self, images):
        out = AttributePrediction.empty(len(images), status=0)
        chips = np.stack([self.aligner.chips(im, (CHIP,)).chips[CHIP] for im in images])
        for start in range(0, len(chips), self.batch):
            lb, lg, la = self.model(to_input(chips[start:start + self.batch]))
            sl = slice(start, start + len(lb))
            pb, pg = lb.softmax(1).double().numpy(), lg.softmax(1).double().numpy()
            ages = np.clip(la.double().numpy() * 100.0, 0, None)
            out.age_years[sl] = ages
            out.age_bin_probs[sl] = pb
            out.age_bin[sl] = pb.argmax(1)
            out.gender[sl], out.p_male[sl] = pg.argmax(1), pg[:, 1]
            out.n_faces[sl] = 1
        return out
