"""IFQA and IFQA++: interpretable no-reference face quality (Jo et al., WACV 2023), with per-region scores.

``ifqa`` (the paper's CNN, released ``IFQA_Metric.pth``, asset ``ifqa_cnn``)
    Each restored image is resized to 256x256 with OpenCV's bilinear filter on the 8-bit image, scaled to
    [-1, 1], and the U-Net discriminator gives a per-pixel map in (0, 1); the **score is the mean of the map**
    (official ``test.py``).  Higher = more realistic.  Range (0, 1).
    **Old published scores are a third of these**: the public repository's ``test.py`` divided the sum of the
    one-channel 256x256 map by ``3*256*256`` from its first upload (AIM-SKKU/IFQA ``53ddf87``, 2022-10-30)
    until commit ``3ba6e21`` (2023-01-22, "Update test.py") changed it to ``256*256`` (verified in the
    repository history; which published tables used the old script is not recorded there).
``ifqa_vit`` (IFQA++, MAE ViT-H/14, released ``IFQA++_Metric.pth``, asset ``ifqa_vit``)
    Normalised to [-1, 1], then bicubic to 224x224; score = ``sum(max(map, 0)) / 224**2``.

Weights
    * the official release (``weights=None``: asset ``ifqa_cnn`` / ``ifqa_vit``, Google Drive only: a clear
      error with download instructions when absent; or ``weights=PATH`` to ``IFQA_Metric.pth`` /
      ``IFQA++_Metric.pth``, ``{'D': ...}`` or flat): the released network (width 64, 256 px for ``ifqa``);
    * **trained here** (``ifqa`` only): an ``ifqa_discriminator.safetensors`` written by ``bench train ifqa``
      (:mod:`reference_models.ifqa.training`).  Its metadata gives the network, ``config`` =
      ``IFQADiscriminator(**config)`` arguments (e.g. ``{"base_channels": 8, "num_bottleneck": 4}``), and the
      scoring resolution ``input_size`` (e.g. 64); images are resized to it as in that model's training and
      held-out check (Pillow bilinear, antialiased; the official model keeps test.py's OpenCV bilinear), and
      the score is still the mean of the map.  ``describe()`` labels it "trained here: small CPU model, few
      images -- not the official IFQA" and carries its training record and sha256.  Both kinds of file go
      through the strict loader (a missing, unexpected or mis-shaped key is refused, keys named);
    * ``"random"``: seeded random weights of the released network for tests and smoke runs, **not a quality
      measure** (recorded in ``describe()``).

Interpretable outputs
    * per-region means of the map, stored as extra score rows ``<metric>.eyes``, ``.nose``, ``.mouth``,
      ``.rest`` (the four regions partition the map, so their area-weighted mean is the score).  Regions come
      from :mod:`reference_models.ifqa.regions`: a fixed landmark template for aligned faces (``ffhq``,
      default, or ``utkface``: no download, nothing can fail), or ``dlib68`` (HOG detection + 68 landmarks
      on each image; where no face is found the template is used and ``<metric>.face_found`` is 0);
      ``regions="none"`` stores no region rows;
    * heat-map overlays of the map on the face (PNG: face | overlay with the region outlines), written to the
      folder ``maps=DIR`` as ``<metric>-<sha1 of the restored 8-bit image, 16 hex>.png`` plus one line per
      image in ``DIR/index.csv`` (hash, score, region means), because a metric does not see sample ids: the
      hash of the restored PNG a run saves (``--save-images``) finds the sample.

Options: constructor keywords, i.e. ``bench run ... -X ifqa.weights=PATH -X ifqa.regions=utkface
-X ifqa.maps=DIR`` (``--metric-option METRIC.KEY=VALUE``; ``-X ifqa_vit.KEY=VALUE`` for IFQA++) or
``bench.api.run(..., metric_options={"ifqa": {"weights": PATH, "regions": "utkface", "maps": DIR}})``.
``weights`` and ``regions`` (and the sha256 of the weights file) are recorded with the run's metric
configuration: asking a run for IFQA with other weights or regions is refused, naming the change (use
another store or ``bench runs remove RUN --metric ifqa``).  ``maps`` only writes pictures and is not part of it.
    ``weights``: checkpoint path, ``None`` (the asset) or ``"random"`` (see above).
    ``regions``: ``ffhq`` (default) | ``utkface`` | ``dlib68`` | ``none``.
    ``maps``: folder for the overlays (none by default; ``save_maps`` is the old name, still accepted).
    ``device``: torch device (``cpu``).  ``batch_size``: images per forward pass.
Fallback, for an option not given as a keyword: the environment variables ``FRBENCH_IFQA_WEIGHTS``
(``FRBENCH_IFQA_VIT_WEIGHTS``), ``FRBENCH_IFQA_REGIONS``, ``FRBENCH_IFQA_MAPS``, ``FRBENCH_IFQA_DEVICE``.  The
values they give are recorded like ``-X`` options (the configuration stores the resolved values); ``-X`` is
clearer on the command line.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
from pathlib import Path
from typing import Any, ClassVar, Mapping

import numpy as np
import torch

from bench.core.provenance import file_sha256
from bench.core.types import PerImageMetric
from reference_models.ifqa import preprocess as pp
from reference_models.ifqa.regions import PRIMARY_REGIONS, REGIONS, region_masks, region_means

__all__ = ["IFQA", "IFQAViT", "RANDOM", "REGION_MODES", "TRAINED_HERE_LABEL", "trained_here_metadata"]

RANDOM = "random"
REGION_MODES = ("ffhq", "utkface", "dlib68", "none")


#: how a discriminator trained by ``bench train ifqa`` is labelled (also the label in its metadata)
TRAINED_HERE_LABEL = "trained here: small CPU model, few images -- not the official IFQA"


def trained_here_metadata(path: str | os.PathLike) -> dict[str, Any] | None:
    """``{"config", "input_size", "label", "record"}`` of a ``.safetensors`` written by ``bench train ifqa``
    (its metadata has ``config``), or ``None`` for any other file (an official checkpoint, a missing path).

    Raises :class:`ValueError` when the metadata is there but unusable (not JSON, unknown size)."""
    path = Path(path).expanduser()
    if path.suffix.lower() != ".safetensors" or not path.is_file():
        return None
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        meta = dict(fh.metadata() or {})
    if "config" not in meta:
        return None
    try:
        config = json.loads(meta["config"])
        record = json.loads(meta.get("frbench_record") or "{}")
        size = meta.get("input_size") or (record.get("discriminator") or {}).get("input_size") \
            or (record.get("config") or {}).get("size")
        size = int(size)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: unreadable `bench train ifqa` metadata (config / input_size): {exc}") from exc
    if not isinstance(config, dict):
        raise ValueError(f"{path}: metadata 'config' must be a JSON object of IFQADiscriminator arguments, "
                         f"got {meta['config']!r}")
    import inspect

    from reference_models.ifqa.discriminator import IFQADiscriminator

    unknown = sorted(set(config) - set(inspect.signature(IFQADiscriminator).parameters))
    if unknown:
        raise ValueError(f"{path}: metadata 'config' has arguments IFQADiscriminator does not take: {unknown}")
    if size < 32 or size % 32:
        raise ValueError(f"{path}: metadata input_size must be a positive multiple of 32, got {size}")
    return {"config": config, "input_size": size, "label": meta.get("label") or TRAINED_HERE_LABEL,
            "record": record}


def _resize_pil_bilinear(image: np.ndarray, size: int) -> np.ndarray:
    """Pillow bilinear (antialiased when shrinking) to ``size x size``: the resize of ``bench train ifqa``'s
    held-out scoring (:func:`reference_models.ifqa.heldout.score_faces`)."""
    if image.shape[:2] == (size, size):
        return image
    from PIL import Image

    return np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize((size, size), Image.BILINEAR))


def _option(value, env: str, default=None):
    if value is not None:
        return value
    got = os.environ.get(env)
    return got if got not in (None, "") else default


class IFQA(PerImageMetric):
    """IFQA score of each restored face (mean of the per-pixel realism map; higher is better)."""
    description = (
        "IFQA (WACV'23) CNN: mean of the per-pixel realism map at 256 (no reference), higher is better; "
        "adds ifqa.eyes/nose/mouth/rest region means. Weights: asset ifqa_cnn or -X ifqa.weights=PATH."
    )
    citation = "Jo, Kim, Park, Yun, IFQA: Interpretable Face Quality Assessment, WACV 2023; AIM-SKKU/IFQA test.py"
    licence = "MIT (frbench port); official weights: unspecified (no LICENSE file; research use)"
    value_range = (0.0, 1.0)

    name: ClassVar[str] = "ifqa"
    higher_is_better: ClassVar[bool] = True
    needs_reference: ClassVar[bool] = False
    uses_reference: ClassVar[bool] = False
    unit: ClassVar[str] = ""
    asset: ClassVar[str] = "ifqa_cnn"
    env_prefix: ClassVar[str] = "FRBENCH_IFQA"
    input_size: ClassVar[int] = pp.CNN_SIZE     # the released network's; an instance may override it
    accepts_trained_here: ClassVar[bool] = True  # `bench train ifqa` trains this network
    #: region means are realism scores like the value; ``face_found`` (dlib68 regions) is an audit flag
    outputs: ClassVar[Mapping[str, str]] = {"value": "higher", "eyes": "higher", "nose": "higher",
                                            "mouth": "higher", "rest": "higher", "face_found": "info"}

    def __init__(self, weights: str | os.PathLike | None = None, regions: str | None = None,
                 maps: str | os.PathLike | None = None, device: str | None = None,
                 batch_size: int = 8, save_maps: str | os.PathLike | None = None) -> None:
        weights = _option(weights, f"{self.env_prefix}_WEIGHTS")
        self.weights = None if weights is None else str(weights)
        self.regions = str(_option(regions, "FRBENCH_IFQA_REGIONS", "ffhq")).lower()
        if self.regions not in REGION_MODES:
            raise ValueError(f"IFQA regions must be one of {', '.join(REGION_MODES)}, got {self.regions!r}")
        if maps is not None and save_maps is not None and str(maps) != str(save_maps):
            raise ValueError(f"give the overlay folder once: maps={maps!r} and save_maps={save_maps!r}")
        folder = _option(maps if maps is not None else save_maps, "FRBENCH_IFQA_MAPS")
        self.maps_dir = None if folder is None else str(folder)
        self.trained_here: dict[str, Any] | None = None
        if self.weights is not None and self.weights.lower() != RANDOM:
            self.trained_here = trained_here_metadata(self.weights)
        if self.trained_here is not None:
            if not self.accepts_trained_here:
                raise ValueError(f"{self.weights} is an IFQA CNN discriminator trained by `bench train ifqa`; "
                                 f"score with it through metric 'ifqa' (-X ifqa.weights=...), not {self.name!r}")
            self.input_size = int(self.trained_here["input_size"])
        self.device = str(_option(device, "FRBENCH_IFQA_DEVICE", "cpu"))
        self.batch_size = max(1, int(batch_size))
        extras: tuple[str, ...] = () if self.regions == "none" else REGIONS
        self.extra_outputs = extras + (("face_found",) if self.regions == "dlib68" else ())
        self._net: torch.nn.Module | None = None
        self._provenance: dict[str, Any] = {}
        self._landmarker = None

    # ------------------------------------------------------------------ network
    @property
    def save_maps(self) -> str | None:
        """The overlay folder (old name of :attr:`maps_dir`)."""
        return self.maps_dir

    def _build(self) -> torch.nn.Module:
        from reference_models.ifqa.discriminator import RELEASED_CONFIG, IFQADiscriminator, load_ifqa_state_dict

        if self.trained_here is not None:
            config = dict(self.trained_here["config"])
            net = self._load(lambda: IFQADiscriminator(**config), load_ifqa_state_dict)
            self._provenance.update({"model": self.trained_here["label"], "trained_here": True,
                                     "config": config, "input_size": self.input_size,
                                     "sha256": file_sha256(Path(self.weights).expanduser())})
            return net
        return self._load(lambda: IFQADiscriminator(**RELEASED_CONFIG), load_ifqa_state_dict)

    def _load(self, factory, loader) -> torch.nn.Module:
        if self.weights is not None and self.weights.lower() == RANDOM:
            torch.manual_seed(0)
            net = factory()
            self._provenance = {"weights": "random (torch.manual_seed(0), default init) - NOT the official model, "
                                           "scores are meaningless"}
        else:
            from bench.core.checkpoints import build_with_state, read_official_state

            state, self._provenance = read_official_state(self.weights, self.asset, ("D",))
            net = build_with_state(factory, state, loader)
        return net.eval().to(self.device)

    @property
    def net(self) -> torch.nn.Module:
        if self._net is None:
            self._net = self._build()
        return self._net

    def prepare(self) -> None:
        self.net  # noqa: B018 - loads the network (and notes its weights file)

    def _inputs(self, images_hwc: np.ndarray) -> torch.Tensor:
        if self.trained_here is not None:      # as its training / held-out check resized faces
            return torch.cat([torch.from_numpy(np.ascontiguousarray(
                pp.normalize_u8(_resize_pil_bilinear(im, self.input_size)).transpose(2, 0, 1)))[None]
                for im in images_hwc])
        return torch.cat([pp.preprocess_cnn(im, self.input_size) for im in images_hwc])

    @torch.no_grad()
    def maps(self, restored) -> torch.Tensor:
        """Per-pixel maps ``[B, H, W]`` float32 at the network's resolution (:attr:`input_size`: 256 for the
        released IFQA, the metadata's ``input_size`` for a model trained here)."""
        images = pp.as_hwc_uint8_batch(restored)
        out = []
        for start in range(0, len(images), self.batch_size):
            x = self._inputs(images[start:start + self.batch_size]).to(self.device)
            out.append(self.net(x)[:, 0].float().cpu())
        return torch.cat(out) if out else torch.zeros(0, self.input_size, self.input_size)

    def _score_from_map(self, m: torch.Tensor) -> torch.Tensor:
        return m.double().mean(dim=(-2, -1))

    # ------------------------------------------------------------------ regions
    def _masks(self, image_hwc: np.ndarray) -> tuple[dict[str, np.ndarray], float]:
        size = self.input_size
        if self.regions != "dlib68":
            return region_masks(None, size, template=self.regions), float("nan")
        if self._landmarker is None:
            from reference_models.ifqa.regions import Dlib68Landmarker

            self._landmarker = Dlib68Landmarker()
        pts = self._landmarker(image_hwc)
        if pts is None:
            return region_masks(None, size, template="ffhq"), 0.0
        h, w = image_hwc.shape[:2]
        return region_masks(pts * np.array([size / w, size / h]), size), 1.0

    # ------------------------------------------------------------------ metric interface
    def details(self, restored, reference=None) -> dict[str, torch.Tensor]:
        images = pp.as_hwc_uint8_batch(restored)
        maps = self.maps(images)
        out: dict[str, list[float]] = {"value": [float(v) for v in self._score_from_map(maps)]}
        for k in self.extra_outputs:
            out[k] = []
        for i, image in enumerate(images):
            masks = None
            if self.regions != "none":
                masks, found = self._masks(image)
                means = region_means(maps[i].numpy(), masks)
                for k in REGIONS:
                    out[k].append(means[k])
                if self.regions == "dlib68":
                    out["face_found"].append(found)
            if self.maps_dir is not None:
                self._write_map(image, maps[i].numpy(), masks, out, i)
        return {k: torch.tensor(v, dtype=torch.float64) for k, v in out.items()}

    def __call__(self, restored, reference=None) -> torch.Tensor:
        return self._score_from_map(self.maps(restored))

    # ------------------------------------------------------------------ overlays
    def _write_map(self, image: np.ndarray, p_map: np.ndarray, masks, out: dict, i: int) -> Path:
        folder = Path(self.maps_dir).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        key = hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest()[:16]
        path = folder / f"{self.name}-{key}.png"
        save_overlay(path, image, p_map, masks)
        index = folder / "index.csv"
        new = not index.exists()
        with index.open("a", newline="") as f:
            writer = csv.writer(f)
            cols = [k for k in REGIONS if k in out]
            if new:
                writer.writerow(["metric", "image_sha1_16", "file", "score", *cols])
            writer.writerow([self.name, key, path.name, f"{out['value'][i]:.6f}",
                             *(f"{out[k][i]:.6f}" for k in cols)])
        return path

    def _model_label(self) -> str:
        if self.trained_here is not None:
            return self.trained_here["label"]
        if self.weights is not None and self.weights.lower() == RANDOM:
            return "random weights (tests only) - not a quality measure"
        return "official release (" + ("asset " + self.asset if self.weights is None else "file") + ")"

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["options"] = {"weights": self.weights, "regions": self.regions}  # maps: pictures only, not a value setting
        d["model"] = self._model_label()
        d["input_size"] = self.input_size
        d["provenance"] = dict(self._provenance) or {"weights": self.weights or f"asset:{self.asset}"}
        if self.trained_here is not None:
            d["trained_here"] = {"label": self.trained_here["label"], "config": self.trained_here["config"],
                                 "input_size": self.input_size, "training_record": self.trained_here["record"]}
            d["definition"] = (f"IFQA discriminator trained here (bench train ifqa), "
                               f"IFQADiscriminator(**{json.dumps(self.trained_here['config'])}): Pillow bilinear "
                               f"{self.input_size}x{self.input_size} on uint8 (as its training), (u8-127.5)/127.5, "
                               f"per-pixel sigmoid map, score = mean of the map; regions {self.regions}")
        else:
            d["definition"] = ("IFQA (WACV'23) test.py: cv2 bilinear 256x256 on uint8, (u8-127.5)/127.5, U-Net "
                               "per-pixel sigmoid map, score = mean of the map; regions " + self.regions)
        return d

    def __repr__(self) -> str:
        return f"{type(self).__name__}(weights={self.weights!r}, regions={self.regions!r}, maps={self.maps_dir!r})"


class IFQAViT(IFQA):
    """IFQA++ (MAE ViT-H/14) score of each restored face (``sum(max(map, 0)) / 224**2``; higher is better)."""
    description = (
        "IFQA++ (MAE ViT-H/14) per-pixel realism map at 224, sum/224^2 (no reference), higher is better; "
        "adds region means. Weights: asset ifqa_vit or -X ifqa_vit.weights=PATH."
    )
    citation = (
        "Jo, Kim, Park, Yun, IFQA: Interpretable Face Quality Assessment, WACV 2023 (IFQA++ ViT variant);"
        " AIM-SKKU/IFQA"
    )
    licence = "MIT (frbench port); official weights: unspecified (no LICENSE file; research use)"
    value_range = (0.0, 1.0)

    name: ClassVar[str] = "ifqa_vit"
    asset: ClassVar[str] = "ifqa_vit"
    env_prefix: ClassVar[str] = "FRBENCH_IFQA_VIT"
    input_size: ClassVar[int] = pp.VIT_SIZE
    accepts_trained_here: ClassVar[bool] = False

    def __init__(self, *args, batch_size: int = 2, **kwargs) -> None:
        super().__init__(*args, batch_size=batch_size, **kwargs)

    def _build(self) -> torch.nn.Module:
        from reference_models.ifqa.vit import RELEASED_CONFIG, IFQAViT as Net, load_ifqa_vit_state_dict

        return self._load(lambda: Net(**RELEASED_CONFIG), load_ifqa_vit_state_dict)

    def _inputs(self, images_hwc: np.ndarray) -> torch.Tensor:
        return torch.cat([pp.preprocess_vit(im, self.input_size) for im in images_hwc])

    def _score_from_map(self, m: torch.Tensor) -> torch.Tensor:
        return m.double().clamp_min(0).sum(dim=(-2, -1)) / float(self.input_size ** 2)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["definition"] = ("IFQA++ test.py VIT path: (u8-127.5)/127.5 then cv2 bicubic 224x224, MAE ViT-H/14 "
                           "map (sigmoid), score = sum(max(map,0))/224^2; regions " + self.regions)
        return d


def save_overlay(path, image: np.ndarray, p_map: np.ndarray, masks=None, alpha: float = 0.55,
                 cmap: str = "viridis") -> Path:
    """Write ``[face | heat-map overlay]`` as PNG: the map (fixed scale 0..1, matplotlib ``cmap``; viridis is
    the colour map the official test.py uses, OpenCV map 16) blended over the face resized to the map size,
    with the region outlines (eyes / nose / mouth) in white."""
    from matplotlib import colormaps
    from PIL import Image

    h, w = p_map.shape
    face = pp.resize_bilinear_u8(np.ascontiguousarray(image, dtype=np.uint8), w, h).astype(np.float32)
    heat = colormaps[cmap](np.clip(p_map, 0, 1))[..., :3].astype(np.float32) * 255
    blend = (1 - alpha) * face + alpha * heat
    if masks is not None:
        for name in PRIMARY_REGIONS:
            m = masks[name]
            edge = m & ~(np.roll(m, 1, 0) & np.roll(m, -1, 0) & np.roll(m, 1, 1) & np.roll(m, -1, 1))
            blend[edge] = 255
    panel = np.concatenate([face, blend], axis=1).round().clip(0, 255).astype(np.uint8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(panel).save(path)
    return path
