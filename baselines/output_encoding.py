"""The official demos' output file encodings, reproduced in memory (for matching published numbers).

Published numbers of some methods were computed on the files their demo script wrote, not on the network
output: GPEN's ``demo.py`` writes ``cv2.imwrite(f'..._GPEN{args.ext}', img_out)`` with ``--ext .jpg`` by
default (OpenCV's JPEG defaults: quality 95, 4:2:0 chroma subsampling, baseline); PSFRGAN's
``test_enhance_dir_align.py`` writes ``Image.fromarray(..).save(<input file name>)``, i.e. in the input's
format with Pillow's defaults (JPEG: quality 75, 4:2:0; PNG: lossless).  :func:`encode_decode` quantises
the ``[0, 1]`` restoration to 8 bits (round), encodes it with Pillow and decodes it again, so the suite
scores what the official file would hold.  Off by default in every method: it is a lossy step of the demo,
not of the method.
"""
from __future__ import annotations

import io

import numpy as np
import torch

#: name -> (Pillow format, save options); "png" is lossless (a no-op beyond 8-bit rounding)
ENCODINGS = {
    "jpeg95": ("JPEG", {"quality": 95, "subsampling": "4:2:0"}),       # cv2.imwrite(.jpg) defaults
    "jpeg75": ("JPEG", {"quality": 75, "subsampling": "4:2:0"}),       # PIL Image.save(.jpg) defaults
    "png": ("PNG", {}),
}


def check_encoding(name: str | None, allowed: tuple[str, ...]) -> str | None:
    """``name`` if it is one of ``allowed`` (``None``/``"none"``/``False`` -> ``None``), else a one-line error."""
    if name in (None, False, "none", ""):
        return None
    if name not in allowed:
        raise ValueError(f"official_encoding must be one of {', '.join(allowed)} or none, got {name!r}")
    return str(name)


def encode_decode(x01: torch.Tensor, name: str) -> torch.Tensor:
    """``[B, 3, H, W]`` in ``[0, 1]`` -> the same images after an 8-bit ``name`` file round trip (in memory)."""
    fmt, options = ENCODINGS[name]
    from PIL import Image

    u8 = torch.round(x01.detach().clamp(0.0, 1.0) * 255.0).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    out = []
    for image in u8:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, fmt, **options)
        buffer.seek(0)
        out.append(np.asarray(Image.open(buffer).convert("RGB")))
    back = torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2)
    return back.to(x01.device, x01.dtype) / 255.0
