"""Configuration of ``bench train ifqa``: :class:`IFQATrainConfig`, its presets :data:`CONFIGS` and the label.

**Label: what this trains is "trained here: small CPU model, few images" -- not the official IFQA**
(:data:`LABEL`, written into every file; see :mod:`reference_models.ifqa.training`).  A configuration fixes
everything that is trained: resolution, widths of the discriminator and generator, batch, optimiser, loss
weights, perceptual network, training images, seed.  :func:`discriminator_config` gives the constructor
arguments of the trained :class:`~reference_models.ifqa.discriminator.IFQADiscriminator`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

LABEL = "trained here: small CPU model, few images -- not the official IFQA"
RECORD_VERSION = 1


@dataclass(frozen=True)
class IFQATrainConfig:
    size: int = 64                       # training resolution (multiple of 32)
    d_width: int = 8                     # IFQADiscriminator base_channels (64 in the release)
    d_bottleneck: int = 4
    g_channels: int = 32
    g_blocks: int = 4
    batch_size: int = 8
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    w_adv: float = 1.0
    w_pix: float = 50.0                  # spec λ1
    w_percep: float = 5.0                # spec λ2
    perceptual: str = "fid-inception"
    p_lq_in_swap: float = 0.5            # FPRS swaps with the LQ instead of RF with this probability
    n_images: int | None = 2000          # at most this many training faces (seeded choice)
    layout: str | None = None            # face layout of the images (None: from the dataset name)
    seed: int = 0
    save_every: int = 100
    log_every: int = 10

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["betas"] = list(self.betas)
        return d


#: presets of ``bench train ifqa --config``
CONFIGS: dict[str, IFQATrainConfig] = {
    # CPU, a few hundred iterations, 64 px, narrow discriminator (width 8 = 1/8 of the release)
    "small": IFQATrainConfig(),
    # smoke tests: one or two iterations in seconds
    "tiny": IFQATrainConfig(size=64, d_width=2, d_bottleneck=1, g_channels=8, g_blocks=1, batch_size=2,
                            n_images=8, save_every=1, log_every=1),
    # the paper's scale where known (256 px, release width); batch, learning rates, generator: unverified
    "paper": IFQATrainConfig(size=256, d_width=64, d_bottleneck=4, g_channels=64, g_blocks=16, batch_size=16,
                             lr_g=1e-4, lr_d=1e-4, n_images=None, save_every=1000, log_every=50),
}


def layout_for(dataset_name: str) -> str:
    return "utkface" if dataset_name == "utkface" else "ffhq"


def discriminator_config(cfg: IFQATrainConfig) -> dict[str, Any]:
    """The :class:`IFQADiscriminator` constructor arguments (``IFQADiscriminator(**config)``)."""
    return {"base_channels": cfg.d_width, "num_bottleneck": cfg.d_bottleneck}
