"""Per-image and set-level quality metrics of frbench.

Full-reference pixel metrics live in :mod:`metrics.psnr` and :mod:`metrics.ssim` (torchmetrics-style
class + functional pairs, batched, float64 on the 0..255 scale); the colour conversions they share
(BT.601 Y as BasicSR, MATLAB ``rgb2gray``) in :mod:`metrics.color`.  Modules are imported lazily by
the registry (``"metrics.psnr:PSNR"``), so this package imports nothing heavy itself.
"""
