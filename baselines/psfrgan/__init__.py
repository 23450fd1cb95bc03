"""PSFR-GAN baseline (Chen et al., CVPR 2021; chaofengc/PSFRGAN @ ab853cd; CC BY-NC-SA 4.0).

* :mod:`.arch`: the generator (:class:`PSFRGenerator`, "netG", SPADE + spectral norm), named so that the
  released ``psfrgan_epoch15_net_G.pth`` loads exactly, and its strict loader :func:`load_psfrgan_weights`.
* :mod:`.parsenet`: the face-parsing network (:class:`ParseNet`, "netP") that predicts the 19-class
  parsing map from the LQ, the official one-hot rule :func:`parse_onehot`, :func:`load_parsenet_weights`.
* :mod:`.method`: :class:`PSFRGANMethod`, registered as ``psfrgan`` (official aligned-face inference).
"""
from baselines.psfrgan.arch import RELEASED_CONFIG, PSFRGenerator, StateDictMismatchError, load_psfrgan_weights
from baselines.psfrgan.method import PSFRGANMethod, load_psfrgan, pil_bicubic_resize
from baselines.psfrgan.parsenet import RELEASED_PARSENET_CONFIG, ParseNet, load_parsenet_weights, parse_onehot

__all__ = ["RELEASED_CONFIG", "RELEASED_PARSENET_CONFIG", "PSFRGANMethod", "PSFRGenerator", "ParseNet",
           "StateDictMismatchError", "load_parsenet_weights", "load_psfrgan", "load_psfrgan_weights",
           "parse_onehot", "pil_bicubic_resize"]
