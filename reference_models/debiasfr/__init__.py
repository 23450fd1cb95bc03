"""DebiasFR (Li et al., IJCAI 2023; ``github.com/Seeyn/DebiasFR``) networks ported to plain PyTorch.

* :mod:`.generator` — ``DBFR`` restoration generator (U-Net encoder, attribute-conditioned W+ latent,
  bilinear StyleGAN2 decoder with gated fusion);
* :mod:`.discriminator` — ``StyleGAN2DiscriminatorClean``.
* :mod:`.clip_classifier` — the HQ attribute classifier ``Clip_classifier.pth`` (CLIP ViT-B/32 + MLP heads),
  the frozen training critic (``critic.kind: clip``).

The low-resolution attribute predictor lives in
:mod:`reference_models.shared.attribute_classifiers.dbfr_attribute_predictor`.
"""
from reference_models.debiasfr.discriminator import StyleGAN2DiscriminatorClean, load_dbfr_discriminator_state_dict
from reference_models.debiasfr.generator import DBFR, RELEASED_CONFIG, load_dbfr_generator_state_dict

__all__ = [
           "DBFR",
           "RELEASED_CONFIG",
           "StyleGAN2DiscriminatorClean",
           "load_dbfr_discriminator_state_dict",
           "load_dbfr_generator_state_dict",
]
