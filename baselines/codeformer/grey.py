"""CodeFormer's grey-input step: a grey input gets a grey restoration with the input's channel statistics.

Official code (sczhou/CodeFormer ``b33cc7d``): ``inference_codeformer.py`` (``--has_aligned``) resizes the
aligned face to 512 (``cv2.resize``, 8-bit BGR) and sets ``face_helper.is_gray = is_gray(img, threshold=10)``;
``FaceRestoreHelper.add_restored_face(restored_face, cropped_face)`` then, for a grey input, replaces the
8-bit restoration by ``adain_npy(bgr2gray(restored_face), cropped_face)`` (``facelib/utils/misc.py``,
``facelib/utils/face_restoration_helper.py``), which ``imwrite`` saves (OpenCV converts the float64 image to
``uint8`` with rounding and saturation).  In formulas, with ``x`` the 8-bit 512-px input and ``y`` the 8-bit
restoration, channels ``c`` in RGB order (the colour order does not change any of it):

* grey test: ``d = (var(x_R - x_G) + var(x_G - x_B) + var(x_B - x_R)) / 3 <= 10`` (population variances
  of the integer channel differences over all pixels);
* ``g = 0.2989 y_R + 0.5870 y_G + 0.1140 y_B`` (the same value in the three channels);
* per channel ``c``: ``out_c = (g - mean(g)) / sqrt(var(g) + 1e-5) * sqrt(var(x_c) + 1e-5) + mean(x_c)``,
  i.e. the grey restoration with the mean and standard deviation of each input channel (the output is
  grey up to the input's small channel differences).

Here the images are float in ``[0, 1]``; the maths runs on the ``0..255`` scale in float64 and the result is
returned in ``[0, 1]``, clamped (the harness rounds where it saves, as ``imwrite`` does).
"""
from __future__ import annotations

import torch

#: the official threshold on the mean variance of the channel differences (8-bit grey levels squared)
GREY_THRESHOLD = 10.0
#: ``bgr2gray`` weights of R, G, B
GREY_WEIGHTS = (0.2989, 0.5870, 0.1140)
#: ``calc_mean_std`` epsilon added to the variances
EPS = 1e-5


def channel_difference_variance(x255: torch.Tensor) -> torch.Tensor:
    """``[B, 3, H, W]`` on the 0..255 scale -> ``[B]`` mean variance of the three channel differences."""
    x = x255.to(torch.float64).flatten(2)
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    return ((r - g).var(1, unbiased=False) + (g - b).var(1, unbiased=False) + (b - r).var(1, unbiased=False)) / 3.0


def is_grey(x255: torch.Tensor, threshold: float = GREY_THRESHOLD) -> torch.Tensor:
    """``[B]`` bool: the official ``is_gray(img, threshold=10)`` of each 8-bit input image."""
    return channel_difference_variance(x255) <= threshold


def grey_with_input_statistics(restored255: torch.Tensor, input255: torch.Tensor) -> torch.Tensor:
    """``adain_npy(bgr2gray(restored), input)`` for ``[B, 3, H, W]`` images on the 0..255 scale (float64 out)."""
    y = restored255.to(torch.float64)
    w = torch.tensor(GREY_WEIGHTS, dtype=torch.float64, device=y.device).view(1, 3, 1, 1)
    grey = (y * w).sum(1, keepdim=True).expand(-1, 3, -1, -1)
    x = input255.to(torch.float64)

    def mean_std(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        flat = t.flatten(2)
        return flat.mean(2)[..., None, None], torch.sqrt(flat.var(2, unbiased=False) + EPS)[..., None, None]

    g_mean, g_std = mean_std(grey)
    x_mean, x_std = mean_std(x)
    return (grey - g_mean) / g_std * x_std + x_mean


def apply_grey_step(out01: torch.Tensor, input01: torch.Tensor, threshold: float = GREY_THRESHOLD
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(restored [0, 1] with grey inputs turned grey, [B] bool grey mask)``.

    ``out01``: the network output in ``[0, 1]``, rounded to 8 bits first as the official ``tensor2img``
    does; ``input01``: the 512-px network input in ``[0, 1]`` (8-bit values when rounded).
    """
    grey = is_grey(input01 * 255.0, threshold)
    if not bool(grey.any()):
        return out01, grey
    restored255 = torch.round(out01.clamp(0.0, 1.0) * 255.0)
    greyed = (grey_with_input_statistics(restored255[grey], input01[grey] * 255.0) / 255.0).clamp(0.0, 1.0)
    out = out01.clone()
    out[grey] = greyed.to(out.dtype)
    return out, grey
