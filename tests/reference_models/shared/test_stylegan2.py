"""StyleGAN2 building blocks (reference_models/shared/stylegan2.py): numerics that do not need golden files."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reference_models.shared.stylegan2 import (
    Blur,
    ConvLayer,
    EqualConv2d,
    EqualLinear,
    FusedLeakyReLU,
    ModulatedConv2d,
    NoiseBuffers,
    ResBlock,
    ResUpBlock,
    StyleConv,
    ToRGB,
    channel_table,
    make_resample_kernel,
    make_style_mlp,
    minibatch_stddev,
    resize_bilinear,
    upfirdn2d,
)


def test_channel_table():
    assert channel_table(2, 1) == {4: 512, 8: 512, 16: 512, 32: 512, 64: 512, 128: 256, 256: 128, 512: 64, 1024: 32}
    assert channel_table(1, 0.5)[512] == 16 and channel_table(2, 0.0625)[64] == 32


def test_equalised_layers_scale_weights_at_run_time():
    torch.manual_seed(0)
    lin = EqualLinear(8, 4, bias_init=0.5, lr_mul=0.1)
    x = torch.randn(3, 8)
    ref = x @ (lin.weight * 0.1 / math.sqrt(8)).T + lin.bias * 0.1
    torch.testing.assert_close(lin(x), ref)
    act = EqualLinear(8, 4, activation="fused_lrelu")
    torch.testing.assert_close(act(x), math.sqrt(2) * F.leaky_relu(x @ (act.weight / math.sqrt(8)).T, 0.2))
    conv = EqualConv2d(3, 5, 3, padding=1)
    img = torch.randn(2, 3, 6, 6)
    torch.testing.assert_close(conv(img), F.conv2d(img, conv.weight / math.sqrt(27), conv.bias, padding=1))
    with pytest.raises(ValueError):
        EqualLinear(2, 2, activation="relu")


def test_fused_leaky_relu_and_style_mlp_keys():
    act = FusedLeakyReLU(2)
    act.bias.data = torch.tensor([1.0, -3.0])
    out = act(torch.zeros(1, 2, 1, 1)).flatten()
    torch.testing.assert_close(out, torch.tensor([math.sqrt(2), -0.6 * math.sqrt(2)]))
    keys = list(make_style_mlp(16, 3).state_dict())
    assert keys == [f"{i}.{p}" for i in (1, 2, 3) for p in ("weight", "bias")]


def test_modulated_conv_equals_per_sample_conv_and_demodulates():
    torch.manual_seed(1)
    mc = ModulatedConv2d(4, 6, 3, num_style_feat=8, demodulate=True, sample_mode="upsample")
    x, w = torch.randn(2, 4, 5, 5), torch.randn(2, 8)
    out = mc(x, w)
    assert out.shape == (2, 6, 10, 10)
    s = mc.modulation(w)
    for b in range(2):
        wt = mc.weight[0] / math.sqrt(36) * s[b].view(1, 4, 1, 1)
        wt = wt / torch.sqrt(wt.pow(2).sum([1, 2, 3], keepdim=True) + 1e-8)
        ref = F.conv2d(resize_bilinear(x[b:b + 1], 2.0), wt, padding=1)
        torch.testing.assert_close(out[b:b + 1], ref, rtol=1e-5, atol=1e-5)
    # demodulated weights have unit norm per output channel -> scaling the style changes nothing
    mc2 = ModulatedConv2d(4, 6, 3, 8, demodulate=True)
    torch.testing.assert_close(mc2.modulated(x, 3.0 * s), mc2.modulated(x, s), rtol=1e-5, atol=1e-5)


def test_style_conv_noise_and_to_rgb_skip():
    torch.manual_seed(2)
    conv = StyleConv(4, 4, 3, 8)
    x, w = torch.randn(1, 4, 4, 4), torch.randn(1, 8)
    noise = torch.randn(1, 1, 4, 4)
    base = conv(x, w, noise=noise)
    conv.weight.data.fill_(0.5)
    assert not torch.allclose(conv(x, w, noise=noise), base)
    assert conv.last_style.shape == (1, 4)
    rgb = ToRGB(4, 8, upsample=True)
    skip = torch.randn(1, 3, 2, 2)
    torch.testing.assert_close(rgb(x, w, skip) - rgb(x, w), resize_bilinear(skip, 2.0))
    assert [tuple(b.shape) for b in NoiseBuffers(5).as_list()] == [(1, 1, r, r) for r in (4, 8, 8, 16, 16)]


def test_conv_layer_keys_and_resblocks_shapes():
    assert list(ConvLayer(3, 4, 3, downsample=True).state_dict()) == ["1.weight", "2.bias"]
    assert list(ConvLayer(3, 4, 1, bias=False, activate=False).state_dict()) == ["0.weight"]
    x = torch.randn(2, 4, 8, 8)
    assert ResBlock(4, 6)(x).shape == (2, 6, 4, 4)
    assert ResUpBlock(4, 6)(x).shape == (2, 6, 16, 16)
    # bilinear x0.5 is an exact 2x2 average
    torch.testing.assert_close(resize_bilinear(x, 0.5), F.avg_pool2d(x, 2))


def _upfirdn_naive(x, k, up, down, p0, p1):
    h, w = x.shape
    u = np.zeros((h * up, w * up))
    u[::up, ::up] = x
    u = np.pad(u, ((p0, p1), (p0, p1)))
    kf = k[::-1, ::-1]
    kh = k.shape[0]
    out = np.array([[np.sum(u[i:i + kh, j:j + kh] * kf) for j in range(u.shape[1] - kh + 1)]
                    for i in range(u.shape[0] - kh + 1)])
    return out[::down, ::down]


@pytest.mark.parametrize("up,down,pad", [(1, 1, (1, 2)), (2, 1, (2, 1)), (1, 2, (1, 1))])
def test_upfirdn2d_matches_definition(up, down, pad):
    torch.manual_seed(3)
    x = torch.randn(1, 2, 5, 5, dtype=torch.float64)
    k = torch.arange(1.0, 17.0, dtype=torch.float64).view(4, 4)   # asymmetric: checks the flip
    out = upfirdn2d(x, k, up, down, pad)
    for c in range(2):
        np.testing.assert_allclose(out[0, c].numpy(), _upfirdn_naive(x[0, c].numpy(), k.numpy(), up, down, *pad),
                                   rtol=1e-12)


def test_blur_keeps_constants_and_crop_pads():
    k = make_resample_kernel([1, 3, 3, 1])
    assert float(k.sum()) == pytest.approx(1.0)
    out = Blur([1, 3, 3, 1], pad=(2, 1))(torch.ones(1, 1, 8, 8))
    assert out.shape == (1, 1, 8, 8)
    torch.testing.assert_close(out[..., 2:-2, 2:-2], torch.ones(1, 1, 4, 4))
    assert upfirdn2d(torch.ones(1, 1, 6, 6), k, pad=(-1, -1)).shape == (1, 1, 1, 1)


def test_minibatch_stddev_groups():
    torch.manual_seed(4)
    x = torch.randn(4, 3, 2, 2)
    out = minibatch_stddev(x, 4)
    assert out.shape == (4, 4, 2, 2)
    ref = torch.sqrt(x.var(0, unbiased=False) + 1e-8).mean()
    torch.testing.assert_close(out[:, 3], ref.expand(4, 2, 2))
    two = minibatch_stddev(x, 2)[:, 3, 0, 0]     # groups {0, 2} and {1, 3}
    assert two[0] == two[2] and two[1] == two[3]
    torch.testing.assert_close(minibatch_stddev(x[:1], 4)[:, 3], torch.full((1, 2, 2), 1e-4))
    with pytest.raises(ValueError, match="divisible"):
        minibatch_stddev(torch.randn(6, 3, 2, 2), 4)
