"""IFQA (Jo et al., WACV 2023): the per-pixel face-quality discriminator, its IFQA++ ViT variant,
the official test-time preprocessing and the face-region masks used to aggregate the per-pixel map.

* :mod:`.discriminator` - ``IFQADiscriminator`` (U-Net, the released ``IFQA_Metric.pth``) and its strict loader;
* :mod:`.vit` - ``IFQAViT`` (IFQA++, MAE ViT-Huge/14 encoder-decoder head) and its strict loader;
* :mod:`.preprocess` - image -> network input exactly as the official ``test.py``;
* :mod:`.regions` - eyes / nose / mouth / rest masks from 68-point landmarks or a fixed FFHQ template.
"""
from reference_models.ifqa.discriminator import IFQADiscriminator, load_ifqa_state_dict

__all__ = ["IFQADiscriminator", "load_ifqa_state_dict"]
