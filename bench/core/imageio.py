"""Decoding and writing images, with errors that name the file and the cause.

Every image of a run is decoded exactly once, here, into a ``numpy.uint8`` array ``[H, W, 3]`` RGB.
Accepted inputs: 8-bit RGB, 8-bit greyscale (``L``; replicated to three channels, as every face
restoration code does for grey faces) and palette images (``P`` without transparency; expanded to RGB).
Refused, as a per-image error: empty files, files that are not images, truncated files, images with
an alpha channel (``RGBA``, ``LA``, ``P`` with transparency: what lies under the alpha is undefined),
images with more than 8 bits per sample (``I;16``, ``I``, ``F``: converting would silently rescale the
values), CMYK and other colour spaces.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from bench.core.types import ImageSource

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


class ImageReadError(Exception):
    """An image could not be used. ``path`` names the file, ``cause`` says why (one short sentence)."""

    def __init__(self, path: str | os.PathLike | None, cause: str) -> None:
        self.path = str(path) if path is not None else "<unknown>"
        self.cause = cause
        super().__init__(f"{self.path}: {cause}")


def _convert_mode(image: Image.Image, path: str) -> np.ndarray:
    mode = image.mode
    if mode == "RGB":
        return np.asarray(image, dtype=np.uint8)
    if mode == "L":
        gray = np.asarray(image, dtype=np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode == "P":
        if "transparency" in image.info:
            raise ImageReadError(path, "palette image with transparency (alpha channel) is not supported")
        return np.asarray(image.convert("RGB"), dtype=np.uint8)
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        raise ImageReadError(path, f"image has an alpha channel (mode {mode}); save it as 8-bit RGB")
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        raise ImageReadError(path, f"image has more than 8 bits per sample (mode {mode}); "
                                   "convert it to 8-bit RGB explicitly")
    if mode == "1":
        raise ImageReadError(path, "1-bit bilevel image is not a face photograph")
    raise ImageReadError(path, f"unsupported colour mode {mode}; save it as 8-bit RGB")


def decode_bytes(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode an encoded image held in memory (PNG, JPEG, ...) to ``uint8 [H, W, 3]``."""
    if len(data) == 0:
        raise ImageReadError(name, "file is empty (0 bytes)")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            array = _convert_mode(image, name)
    except ImageReadError:
        raise
    except UnidentifiedImageError:
        raise ImageReadError(name, "not a recognised image format") from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt data
        cause = str(exc) or exc.__class__.__name__
        if "truncated" in cause.lower():
            cause = f"file is truncated ({cause})"
        raise ImageReadError(name, f"cannot decode image: {cause}") from None
    except Image.DecompressionBombError as exc:  # pragma: no cover - depends on PIL limits
        raise ImageReadError(name, f"image too large: {exc}") from None
    if array.ndim != 3 or array.shape[2] != 3 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ImageReadError(name, f"unexpected decoded shape {array.shape}")
    return np.ascontiguousarray(array)


def read_image(source: ImageSource, name: str | None = None) -> np.ndarray:
    """Decode ``source`` (a path, an in-memory ``uint8 [H, W, 3]`` array or a renderer) to RGB ``uint8``.

    Raises :class:`ImageReadError` naming the file and the cause for anything unusable.
    """
    if callable(source) and not isinstance(source, (str, os.PathLike)):
        label = name or "<rendered image>"
        try:
            source = source()
        except ImageReadError:
            raise
        except Exception as exc:  # a renderer failure is a per-image error, not a crash
            raise ImageReadError(label, f"cannot render image: {exc}") from None
    if isinstance(source, np.ndarray):
        label = name or "<array>"
        if source.dtype != np.uint8 or source.ndim != 3 or source.shape[2] != 3:
            raise ImageReadError(label, f"in-memory image must be uint8 [H, W, 3], got {source.dtype} {source.shape}")
        return source
    path = Path(source)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageReadError(path, "file not found") from None
    except IsADirectoryError:
        raise ImageReadError(path, "is a directory, not an image file") from None
    except OSError as exc:
        raise ImageReadError(path, f"cannot read file: {exc.strerror or exc}") from None
    return decode_bytes(data, str(path))


def write_png(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write ``uint8 [H, W, 3]`` RGB to a PNG, atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    Image.fromarray(np.ascontiguousarray(image)).save(tmp, format="PNG")
    os.replace(tmp, path)


def list_images(folder: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """Files of ``folder`` whose extension is an image extension, sorted by relative path."""
    folder = Path(folder)
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in folder.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
