"""The restoration generator G of IFQA training: a small plain face-image-restoration (FIR) network.

IFQA trains its per-pixel discriminator against a *learnable* restoration network that maps the
synthetic LQ face to a restored face "RF" (``docs/protocols/ifqa.md`` §1; the slides' ablation picks a
"plain model, FIR, learnable" over pre-trained GPEN/DFDNet/DBPN/RCAN).  Its architecture is not published
(spec §8), so this is the suite's own plain design, deliberately small enough to train on a CPU:

    x (LQ, [-1, 1], already at the output size)
      -> conv3x3(3 -> C) -> LeakyReLU(0.2)                            (head)
      -> n_blocks x [conv3x3(C -> C) -> LeakyReLU(0.2) -> conv3x3(C -> C)] + identity   (residual body)
      -> conv3x3(C -> C) + head features                               (long skip)
      -> LeakyReLU(0.2) -> conv3x3(C -> 3)                             (tail)
      -> x + tail                                                      (global residual: G predicts a correction)

No normalisation, no up/down-sampling (the LQ is resized back to the HQ size by the LQ synthesis), so it
works at any size.  ``channels=32, n_blocks=4`` (the small CPU preset) has about 85 k parameters.
The output is not clamped (the losses see the raw values; images are clamped when saved).
"""
from __future__ import annotations

from torch import nn


class _ResBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, 1, 1)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1)
        self.act = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x):
        return x + self.conv2(self.act(self.conv1(x)))


class PlainFIRGenerator(nn.Module):
    """Plain residual restoration network ``[B, 3, H, W] -> [B, 3, H, W]`` (values in about [-1, 1])."""

    def __init__(self, channels: int = 32, n_blocks: int = 4) -> None:
        super().__init__()
        self.channels, self.n_blocks = int(channels), int(n_blocks)
        self.head = nn.Conv2d(3, channels, 3, 1, 1)
        self.body = nn.Sequential(*[_ResBlock(channels) for _ in range(n_blocks)])
        self.body_out = nn.Conv2d(channels, channels, 3, 1, 1)
        self.tail = nn.Conv2d(channels, 3, 3, 1, 1)
        self.act = nn.LeakyReLU(0.2)
        nn.init.zeros_(self.tail.weight)  # starts as the identity: RF = LQ
        nn.init.zeros_(self.tail.bias)

    def forward(self, x):
        f = self.act(self.head(x))
        f = f + self.body_out(self.body(f))
        return x + self.tail(self.act(f))

    def config(self) -> dict:
        return {"arch": "frbench-plain-fir-v1", "channels": self.channels, "n_blocks": self.n_blocks}
