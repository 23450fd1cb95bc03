"""DebiasFR as an frbench method (``debiasfr``): attribute-controlled restoration of aligned faces.

Pipeline (``Seeyn/DebiasFR inference.py`` + ``dbfr/utils.py`` with ``has_aligned=True``; spec §7):

1. the LQ face (``[B, 3, h, w]`` RGB in [0, 1]) is resized to the network size with bilinear interpolation
   (``align_corners=False``, no antialias: cv2 ``INTER_LINEAR``), rounded to 8 bits, mapped to [-1, 1];
2. attribute weight vectors ``a ∈ R^10`` (FFHQ-Aging age bins) and ``g ∈ R^2`` (female, male) from
   ``attributes=``:

   * ``predicted`` (default, blind; official ``-p LRlabel``): one-hot argmax of the low-resolution
     attribute predictor on the LQ.  The official ResNet-34 predictor gets the **native LQ** (its own size,
     not rounded through the 512-px network input) resized straight to 256 with ``F.interpolate(bilinear,
     align_corners=False)``, no antialias, as ``inference.py`` does; the suite-trained small predictor gets
     the network input it was trained on;
   * ``top2`` (official ``-p Top2``): softmax over the predictor's two largest logits, 0 elsewhere;
   * ``labels`` (oracle; official ``-p GTlabel``): one-hot of the dataset's age bin and gender (an image
     without labels falls back to ``predicted`` for the missing attribute, and this is counted);
   * ``none``: zero vectors (no attribute offset; what a network trained without attribute input sees);
   * ``label_fraction=q`` (an analysis instrument of this suite, not an official mode): with ``predicted``
     or ``top2``, a seeded fraction ``q`` of the images (drawn per image from ``(seed, sha256 of its 8-bit
     network input)``, :func:`label_draw`) gets the one-hot labels instead, as if the predictor were right
     on them: the fed attributes are right on ``q + (1 − q)·acc`` of the images, which measures how the
     restoration depends on the predictor's accuracy (``benchmarks/debiasfr_predictor_study.py``);
   * user weights (DebiasFR's "human interaction"), e.g. ``"age=30-39:0.7,40-49:0.3;gender=female"``:
     ``age=`` bins by label (``30-39``), index (``bin6``) or an age in years (``35`` or ``35y``), each with an optional
     ``:weight``; ``gender=female|male|f|m|0|1`` likewise (``gender=female:0.8,male:0.2``).  An attribute
     left out is predicted.  Weights are used as given (not renormalised): the offsets are linear in them.

3. ``ŷ = G(x, a, g)`` with the EMA generator; StyleGAN2 noise is drawn **per image** from a generator
   seeded by ``(seed, sha256 of the 8-bit network input)`` (``noise=seeded``, default; results reproduce
   and do not depend on batching) or set to zero (``noise=zero``); ``noise=random`` is the official
   unseeded behaviour;
4. ``clamp(ŷ, -1, 1)`` -> [0, 1], resized to the HQ size (antialiased bilinear) when it differs.

Weights (``preset=`` / ``weights=``):

* ``preset="small"`` (default) -- **the suite's own tiny DebiasFR, trained here on the SYNTHETIC faces**
  (``bench train debiasfr --dataset synthetic --split all -D seed=1 -D n=2048 -D size=32 --config tiny``,
  2,600 iterations; its own critic and predictor, never the demo faces (seed 0) nor the ``attr_synthetic``
  evaluator; the command and record are in the file's metadata; shipped in the package, a few MB).  A
  demonstration model, not the released one: it lets ``bench run --method debiasfr`` work on a fresh machine
  and ``make demo`` show attribute control on 32-px synthetic faces.
* ``preset="official"`` -- ``DebiasFR_v1.pth`` (asset ``debiasfr_v1``, 512 px, :data:`RELEASED_CONFIG`, strict
  load of ``params_ema``) with the official ResNet-34 predictor (asset ``debiasfr_attribute_predictor``,
  256 px bilinear input).  Not downloadable here: the asset manager explains how to stage the files.
* ``weights=PATH`` -- a ``bench train debiasfr`` result (``debiasfr.safetensors``: generator, predictor,
  configuration and training record in the metadata; ``predictor_weights=PATH`` swaps in another LR
  predictor, e.g. a longer-trained ``lr_predictor.safetensors``; the predictor is the small CNN, or, when the file's
  configuration says ``lr_predictor.kind: dbfr``, the official ResNet-34 exported as
  ``lr_predictor.<official key>``, fed the native LQ bilinearly resized to 256 as above) or an official-layout
  checkpoint (``.pth`` with ``params_ema``; then ``predictor_weights=`` or the official predictor asset).
* ``weights="random"`` -- seeded random network of ``config`` (tests only).

Paper: Li, Zeng, Yan, Shen, Tang, *Analyzing and Combating Attribute Bias for Face Restoration*, IJCAI 2023.
Licence of the official code and weights: unspecified (research use).
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.core.types import AGE_BIN_LABELS, GENDER_LABELS, Attributes, age_to_bin

from reference_models.debiasfr.config import generator_kwargs
from reference_models.debiasfr.generator import DBFR, RELEASED_CONFIG, load_dbfr_generator_state_dict

N_AGE, N_GENDER = len(AGE_BIN_LABELS), len(GENDER_LABELS)
PRESET_DIR = Path(__file__).with_name("presets")
PRESETS = {"small": PRESET_DIR / "debiasfr_tiny_synthetic.safetensors"}
ATTRIBUTE_MODES = ("predicted", "top2", "labels", "none")
NOISE_MODES = ("seeded", "zero", "random")
_GENDER_NAMES = {"female": 0, "f": 0, "woman": 0, "0": 0, "male": 1, "m": 1, "man": 1, "1": 1}


# ------------------------------------------------------------------------------ user attribute weights


def _age_index(token: str) -> int:
    token = token.strip()
    if token in AGE_BIN_LABELS:
        return AGE_BIN_LABELS.index(token)
    m = re.fullmatch(r"(\d+(?:\.\d+)?)y?", token)
    if m:
        return age_to_bin(float(m.group(1)))
    m = re.fullmatch(r"bin(\d+)", token)
    if m and int(m.group(1)) < N_AGE:
        return int(m.group(1))
    raise ValueError(f"unknown age {token!r}: use a bin label ({', '.join(AGE_BIN_LABELS)}), binN or an age like 35y")


def parse_attribute_weights(text: str) -> dict[str, np.ndarray]:
    """``"age=30-39:0.7,40-49:0.3;gender=female"`` -> ``{"age": [10], "gender": [2]}`` (float64 weights).

    Grammar: ``ATTR=ITEM[:WEIGHT][,ITEM[:WEIGHT]...]`` separated by ``;``.  Age items: a bin label
    (``30-39``), ``binN`` (index 0..9) or years (``35``, ``35y``); gender items: ``female``/``male`` (``f``, ``m``,
    ``0``, ``1``).  Weight defaults to 1; a class named twice adds up.
    """
    out: dict[str, np.ndarray] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        if "=" not in part:
            raise ValueError(f"attribute weights {text!r}: expected ATTR=..., got {part!r}")
        name, _, items = part.partition("=")
        name = name.strip().lower()
        if name not in ("age", "gender"):
            raise ValueError(f"attribute weights {text!r}: unknown attribute {name!r} (age, gender)")
        if name in out:
            raise ValueError(f"attribute weights {text!r}: {name} given twice")
        vec = np.zeros(N_AGE if name == "age" else N_GENDER)
        for item in filter(None, (i.strip() for i in items.split(","))):
            label, _, weight = item.partition(":")
            try:
                w = float(weight) if weight else 1.0
            except ValueError:
                raise ValueError(f"attribute weights {text!r}: weight {weight!r} is not a number") from None
            if name == "age":
                idx = _age_index(label)
            else:
                key = label.strip().lower()
                if key not in _GENDER_NAMES:
                    raise ValueError(f"attribute weights {text!r}: unknown gender {label!r} (female, male)")
                idx = _GENDER_NAMES[key]
            vec[idx] += w
        out[name] = vec
    if not out:
        raise ValueError(f"attribute weights {text!r}: nothing given")
    return out


def top2_soft_np(logits: torch.Tensor) -> torch.Tensor:
    from reference_models.debiasfr.losses import top2_soft

    return top2_soft(logits)


# --------------------------------------------------------------------------------------------- loading


def _read_frbench_file(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
    from safetensors import safe_open
    from safetensors.torch import load_file

    from bench.core.provenance import note_file

    if path.suffix.lower() != ".safetensors":
        return None
    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata() or {}
    if "frbench_debiasfr" not in meta:
        return None
    tensors = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(path)).items()}
    note_file(path, "debiasfr weights")
    return tensors, json.loads(meta["frbench_debiasfr"])     # float16 copies (the shipped preset) -> float32


def _split(prefix: str, tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    p = prefix + "."
    return {k[len(p):]: v for k, v in tensors.items() if k.startswith(p)}


class _SmallPredictor:
    """The low-resolution predictor of a ``bench train debiasfr`` file: logits of a small CNN on [-1, 1]."""

    def __init__(self, state: Mapping[str, torch.Tensor], size: int) -> None:
        from reference_models.shared.attribute_classifiers.trained import SmallAttributeNet

        self.net = SmallAttributeNet()
        self.net.load_state_dict(dict(state), strict=True)
        self.net.eval().requires_grad_(False)
        self.size = size

    def to(self, device):
        self.net.to(device)
        return self

    def __call__(self, x_pm1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lb, lg, _ = self.net(x_pm1)
        return lb, lg


class _OfficialPredictor:
    """The official ResNet-34 predictor: LQ resized bilinearly to 256 px, [-1, 1] (``inference.py:L79-82``).

    Its weights come from ``Attribute_predictor.pth`` (``weights``, or the asset), or, for a model trained with
    ``lr_predictor.kind: dbfr``, from the ``lr_predictor.*`` tensors of its ``debiasfr.safetensors``
    (``state``, official key names; ``source`` names the file)."""

    def __init__(self, weights: str | Path | None, state: Mapping[str, torch.Tensor] | None = None,
                 source: str | None = None) -> None:
        from bench.core.assets import AssetManager
        from bench.core.checkpoints import load_state_dict
        from reference_models.shared.attribute_classifiers.dbfr_attribute_predictor import (
            ImageClassifier,
            load_dbfr_state_dict,
        )

        if state is None:
            path = weights or AssetManager().path("debiasfr_attribute_predictor")
            state, source = load_state_dict(path, key="model_state_dict"), str(path)
        self.net = ImageClassifier().eval()
        load_dbfr_state_dict(self.net, dict(state))
        self.net.requires_grad_(False)
        self.path = str(source)

    def to(self, device):
        self.net.to(device)
        return self

    def __call__(self, lq01: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``lq01``: the native LQ in [0, 1] (``inference.py``: ``cv2.imread / 255``, bilinear to 256, ``2 * (x - 0.5)``)."""
        x = torch.nn.functional.interpolate(lq01, size=(256, 256), mode="bilinear", align_corners=False)
        return self.net(2 * (x - 0.5))


def load_debiasfr(preset: str | None = "small", weights: str | Path | None = None,
                  predictor_weights: str | Path | None = None, config: Mapping[str, Any] | None = None,
                  device: str | torch.device = "cpu", seed: int = 0):
    """``(generator, predictor or None, info)`` for the options of :class:`DebiasFRMethod`."""
    if weights == "random":
        cfg = {**RELEASED_CONFIG, **dict(config or {})}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            net = DBFR(**{**cfg, "fix_decoder": False})
            from reference_models.shared.attribute_classifiers.trained import SmallAttributeNet
            predictor = _SmallPredictor(SmallAttributeNet().state_dict(), net.out_size)
        info = {"weights": "random", "seed": int(seed), "warning": "random weights: not a trained model"}
        return net.to(device).eval(), predictor.to(device), info
    if weights is None:
        if preset == "official":
            from bench.core.checkpoints import read_official_state

            state, info = read_official_state(None, "debiasfr_v1", ("params_ema", "params"))
            net = _build(RELEASED_CONFIG, state)
            predictor = _OfficialPredictor(predictor_weights)
            info.update(label="official DebiasFR_v1.pth (params_ema)", predictor=predictor.path)
            return net.to(device).eval(), predictor.to(device), info
        if preset not in PRESETS:
            raise ValueError(f"unknown DebiasFR preset {preset!r}; known: official, {', '.join(PRESETS)}")
        weights = PRESETS[preset]
        if not Path(weights).is_file():
            raise FileNotFoundError(f"the shipped DebiasFR preset {preset!r} is missing from the installation: "
                                    f"{weights} (reinstall frbench)")
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"DebiasFR weights {path} do not exist")
    own = _read_frbench_file(path)
    if own is not None:
        tensors, meta = own
        cfg = meta["config"]
        net = _build(generator_kwargs(cfg), _split("generator", tensors))
        if (cfg.get("lr_predictor") or {}).get("kind") == "dbfr":   # the official ResNet-34, exported with the model
            predictor = _OfficialPredictor(predictor_weights, None if predictor_weights else _split("lr_predictor", tensors),
                                           None if predictor_weights else f"{path} (lr_predictor.*)")
        elif predictor_weights:   # another small LR predictor (a lr_predictor.safetensors of bench train)
            predictor = _SmallPredictor(_read_small_predictor(Path(predictor_weights)), net.out_size)
        else:
            predictor = _SmallPredictor(_split("lr_predictor", tensors), net.out_size)
        record = meta.get("record", {})
        info = {"weights": str(path), "label": record.get("label", cfg.get("label")),
                "training": {k: record.get(k) for k in ("preset", "iteration", "dataset", "n_train_faces",
                                                          "attribute_input", "perceptual", "decoder",
                                                          "pseudo_range_mismatch")},
                "attribute_input": bool(cfg.get("attribute_input", True))}
        if isinstance(predictor, _OfficialPredictor) or predictor_weights:
            info["predictor"] = str(predictor_weights) if predictor_weights else predictor.path
        return net.to(device).eval(), predictor.to(device), info
    from bench.core.checkpoints import read_official_state

    state, info = read_official_state(path, "debiasfr_v1", ("params_ema", "params"))
    net = _build({**RELEASED_CONFIG, **dict(config or {})}, state)
    predictor = _OfficialPredictor(predictor_weights)
    info["predictor"] = predictor.path
    return net.to(device).eval(), predictor.to(device), info


def _read_small_predictor(path: Path) -> dict[str, torch.Tensor]:
    """The small LR predictor of a ``predictor_weights=`` file (safetensors; noted in the run identity)."""
    from safetensors.torch import load_file

    from bench.core.provenance import note_file

    if not path.is_file():
        raise FileNotFoundError(f"LR predictor weights {path} do not exist")
    if path.suffix != ".safetensors":
        raise ValueError(f"{path}: a small LR predictor is a .safetensors file (lr_predictor.safetensors of a "
                         "bench train debiasfr run)")
    state = load_file(str(path))
    note_file(path, "lr_predictor")
    return state


def _build(cfg: Mapping[str, Any], state: Mapping[str, torch.Tensor]) -> DBFR:
    """A DBFR of ``cfg`` filled strictly with ``state`` (built on the meta device: no random init)."""
    from bench.core.checkpoints import build_with_state

    return build_with_state(lambda: DBFR(**{**cfg, "fix_decoder": False}), dict(state),
                            load_dbfr_generator_state_dict)


# ---------------------------------------------------------------------------------------------- method


def image_seed(x_u8: torch.Tensor, seed: int) -> int:
    """63-bit seed from the run seed and the sha256 of one 8-bit network input ``[3, H, W]``."""
    digest = hashlib.sha256(np.ascontiguousarray(x_u8.cpu().numpy()).tobytes()).digest()
    return (int.from_bytes(digest[:8], "little") ^ (int(seed) * 0x9E3779B97F4A7C15)) & (2 ** 63 - 1)


def label_draw(x_u8: torch.Tensor, seed: int) -> float:
    """Uniform [0, 1) draw of one image for ``label_fraction`` (independent of the noise seed's use)."""
    return (image_seed(x_u8, int(seed) + 0x5EED) >> 11) / float(2 ** 52)


def expected_framing(info: Mapping[str, Any]) -> str | None:
    """The framing a loaded model expects (``--align auto``, :mod:`bench.data.framing`): ``"ffhq"`` for the
    official weights (and random ones, the official architecture) and for frbench-trained models whose
    training faces were FFHQ-aligned (``ffhq``, ``celebahq``); ``None`` for models trained here on faces framed
    otherwise (UTKFace, synthetic faces): they are scored in the framing they were trained on."""
    training = info.get("training")
    if training is None:
        return "ffhq"
    dataset = training.get("dataset")
    name = dataset.get("name") if isinstance(dataset, Mapping) else dataset
    return "ffhq" if str(name or "").lower() in ("ffhq", "celebahq") else None


class DebiasFRMethod:
    """DebiasFR restoration with attribute control; see the module docstring.

    ``expects_alignment`` (per loaded model, :func:`expected_framing`): the official weights expect
    FFHQ-aligned 512 faces; a model trained here expects the framing of its training faces."""
    expects_alignment: str | None = "ffhq"
    description = (
        "DebiasFR (IJCAI 2023): attribute-conditioned restoration; -M "
        "attributes=predicted|top2|labels|none|'age=30-39:0.7,40-49:0.3;gender=female'; preset small "
        "(shipped, trained here) or official."
    )
    citation = (
        "Li, Zeng, Yan, Shen, Tang, Analyzing and Combating Attribute Bias for Face Restoration, IJCAI "
        "2023; Seeyn/DebiasFR@7016255 inference.py"
    )
    licence = (
        "official code and weights: unspecified (no LICENSE file; research use); the shipped preset: "
        "trained by frbench (MIT)"
    )

    uses_attributes = True

    def __init__(self, attributes: str | None = None, preset: str = "small", weights: str | Path | None = None,
                 predictor_weights: str | Path | None = None, noise: str = "seeded", seed: int = 0,
                 device: str = "cpu", config: Mapping[str, Any] | None = None, label_fraction: float = 0.0) -> None:
        if attributes is not None and str(attributes) not in ATTRIBUTE_MODES:
            self.user_weights = parse_attribute_weights(str(attributes))     # raises a clear error
        else:
            self.user_weights = None
        if noise not in NOISE_MODES:
            raise ValueError(f"noise must be one of {', '.join(NOISE_MODES)}, got {noise!r}")
        self.noise, self.seed = noise, int(seed)
        self.device = torch.device(device)
        self.net, self.predictor, self._info = load_debiasfr(preset, weights, predictor_weights, config,
                                                            self.device, seed)
        trained_with_attributes = self._info.get("attribute_input", True)
        if attributes is None:          # a network trained without attribute input gets zero vectors
            attributes = "predicted" if trained_with_attributes else "none"
        elif not trained_with_attributes and attributes != "none":
            raise ValueError(f"{self._info.get('weights')} was trained without attribute input "
                             f"(ablation); attributes={attributes!r} would feed untrained embeddings: use 'none'")
        self.attributes = str(attributes)
        self._predictor_label = (Path(predictor_weights).parent.name or Path(predictor_weights).stem
                                 if predictor_weights and weights not in (None, "random") else "")
        self.label_fraction = float(label_fraction)
        if not 0.0 <= self.label_fraction <= 1.0:
            raise ValueError(f"label_fraction must be in [0, 1], got {label_fraction!r}")
        if self.label_fraction and (self.attributes not in ("predicted", "top2") or self.user_weights is not None):
            raise ValueError("label_fraction mixes labels into predicted attributes: it needs attributes=predicted "
                             f"or top2, got {self.attributes!r}")
        if weights is None:
            self._weights_label = "" if preset == "small" else str(preset)
        elif weights == "random":
            self._weights_label = "random"
        else:
            p = Path(weights)
            self._weights_label = p.parent.name if p.stem == "debiasfr" and p.parent.name else p.stem
        self.net.requires_grad_(False)
        self.size = self.net.out_size
        self.label_fallbacks = 0
        self.expects_alignment = expected_framing(self._info)

    # -- what the model was trained on ----------------------------------------------------------------

    @property
    def name(self) -> str:
        """``debiasfr`` (+ ``@weights`` when not a preset, + ``[attributes]`` unless the default): table rows."""
        base = "debiasfr"
        if self._weights_label:
            base += f"@{self._weights_label}"
        if self._info.get("predictor") and self._predictor_label:   # a swapped LR predictor is named too
            base += f"+predictor@{self._predictor_label}"
        default = "predicted" if self._info.get("attribute_input", True) else "none"
        mode = self.attributes + (f",labels={self.label_fraction:g}" if self.label_fraction else "")
        return base if mode == default else f"{base}[{mode}]"

    # -- attribute vectors ---------------------------------------------------------------------------
    def _predicted(self, x01: torch.Tensor, soft: bool, lq: torch.Tensor | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(self.predictor, _OfficialPredictor):   # official: the native LQ, not the network input
            inp = (x01 if lq is None else lq).to(x01.device, torch.float32)
        else:
            inp = x01 * 2 - 1
        lb, lg = self.predictor(inp)
        if soft:
            return top2_soft_np(lb), top2_soft_np(lg)
        return (torch.nn.functional.one_hot(lb.argmax(1), N_AGE).float(),
                torch.nn.functional.one_hot(lg.argmax(1), N_GENDER).float())

    def attribute_vectors(self, x01: torch.Tensor, attributes: Sequence[Attributes] | None,
                          lq: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(age [B, 10], gender [B, 2])`` for the network input ``x01`` in [0, 1] (see module docstring);
        ``lq``: the native LQ, which the official predictor gets (``x01`` when not given)."""
        b = x01.shape[0]
        if self.attributes == "none":
            return torch.zeros(b, N_AGE, device=x01.device), torch.zeros(b, N_GENDER, device=x01.device)
        age, gender = self._predicted(x01, soft=self.attributes == "top2", lq=lq)
        if self.user_weights is not None:
            if "age" in self.user_weights:
                age = torch.as_tensor(self.user_weights["age"], dtype=torch.float32, device=x01.device).expand(b, -1)
            if "gender" in self.user_weights:
                gender = torch.as_tensor(self.user_weights["gender"], dtype=torch.float32,
                                         device=x01.device).expand(b, -1)
        elif self.attributes == "labels" or self.label_fraction:
            age, gender = age.clone(), gender.clone()
            draws = ([label_draw(torch.round(x01[i] * 255).to(torch.uint8), self.seed) for i in range(b)]
                     if self.attributes != "labels" else [0.0] * b)
            for i, attr in enumerate(attributes or [None] * b):
                if draws[i] >= self.label_fraction and self.attributes != "labels":
                    continue
                if attr is not None and attr.age_bin is not None:
                    age[i] = 0; age[i, int(attr.age_bin)] = 1
                else:
                    self.label_fallbacks += 1
                if attr is not None and attr.gender is not None:
                    gender[i] = 0; gender[i, int(attr.gender)] = 1
                else:
                    self.label_fallbacks += 1
        return age.contiguous(), gender.contiguous()

    # -- noise -----------------------------------------------------------------------------------------
    def _noise(self, x_u8: torch.Tensor) -> list[torch.Tensor] | None:
        if self.noise == "random":
            return None
        sizes = [4] + [2 ** (j + 3) for j in range(self.net.stylegan_decoder.log_size - 2) for _ in range(2)]
        b = x_u8.shape[0]
        if self.noise == "zero":
            return [torch.zeros(b, 1, s, s, device=self.device) for s in sizes]
        maps = [torch.empty(b, 1, s, s) for s in sizes]
        for i in range(b):
            gen = torch.Generator().manual_seed(image_seed(x_u8[i], self.seed))
            for m in maps:
                m[i] = torch.randn(m.shape[1:], generator=gen)
        return [m.to(self.device) for m in maps]

    @torch.no_grad()
    def restore(self, lq: torch.Tensor, attributes: Sequence[Attributes] | None = None,
                out_size: tuple[int, int] | None = None, age: torch.Tensor | None = None,
                gender: torch.Tensor | None = None) -> torch.Tensor:
        """Restore ``lq [B, 3, h, w]`` in [0, 1]; explicit ``age``/``gender`` weight tensors override ``attributes=``."""
        from reference_models.shared.aligned_io import to_network_input, to_output_size

        x01 = to_network_input(lq, self.size, self.device, round_input=True)
        a, g = self.attribute_vectors(x01, attributes, lq=lq)
        if age is not None:
            a = torch.as_tensor(age, dtype=torch.float32, device=self.device).reshape(-1, N_AGE).expand(len(x01), -1)
        if gender is not None:
            g = torch.as_tensor(gender, dtype=torch.float32, device=self.device).reshape(-1, N_GENDER).expand(len(x01), -1)
        x_u8 = torch.round(x01 * 255).to(torch.uint8)
        out = self.net(x01 * 2 - 1, a, g, return_rgb=False, noise=self._noise(x_u8),
                       randomize_noise=self.noise == "random")[0]
        return to_output_size((out.clamp(-1, 1) + 1) / 2, out_size)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "attributes": self.attributes, "noise": self.noise, "seed": self.seed,
                **({"label_fraction": self.label_fraction} if self.label_fraction else {}),
                "out_size": self.size, **self._info,
                "preprocess": f"bilinear (align_corners=False, no antialias) to {self.size}, 8-bit, [-1, 1]",
                "predictor_input": ("native LQ, bilinear (align_corners=False, no antialias) to 256, [-1, 1]"
                                    if isinstance(self.predictor, _OfficialPredictor)
                                    else f"the {self.size}-px network input, [-1, 1]"),
                "postprocess": "clamp [-1,1] -> [0,1]; to out_size by antialiased bilinear",
                "reference": "Seeyn/DebiasFR@7016255 inference.py (has_aligned)",
                "licence": "unspecified (official code and weights); suite-trained weights: see 'label'",
                "library": f"torch {torch.__version__}"}
