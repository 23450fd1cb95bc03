"""DebiasFR (Li et al., IJCAI 2023; ``github.com/Seeyn/DebiasFR``) networks ported to plain PyTorch.

* :mod:`.generator` — ``DBFR`` restoration generator (U-Net encoder, attribute-conditioned W+ latent,
  bilinear StyleGAN2 decoder with gated fusion);
* :mod:`.discriminator` — ``StyleGAN2DiscriminatorClean``.

The low-resolution attribute predictor lives in
:mod:`reference_models.attribute_classifiers.dbfr_attribute_predictor`.
"""
from .discriminator import (
           StyleGAN2DiscriminatorClean,
           load_dbfr_discriminator_state_dict,
)
from .generator import DBFR, RELEASED_CONFIG, load_dbfr_generator_state_dict

__all__ = [
           "DBFR",
           "RELEASED_CONFIG",
           "StyleGAN2DiscriminatorClean",
           "load_dbfr_discriminator_state_dict",
           "load_dbfr_generator_state_dict",
]
