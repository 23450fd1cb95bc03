"""Decoding and writing images, with errors that name the file and the cause.

Every image of a run is decoded exactly once, here, into a ``numpy.uint8`` array ``[H, W, 3]`` RGB.
Accepted inputs: 8-bit RGB, 8-bit greyscale (``L``; replicated to three channels, as every face
restoration code does for grey faces) and palette images (``P`` without transparency; expanded to RGB).
Refused, as a per-image error: empty files, files that are not images, truncated files, images with
an alpha channel (``RGBA``, ``LA``, ``P`` with transparency: what lies under the alpha is undefined),
images with more than 8 bits per sample (``I;16``, ``I``, ``F``: converting would silently rescale the
values), CMYK and other colour spaces.

Input policy (one place; the runner turns every refusal into a per-image error row naming the file):

* **Size limits, checked before decoding.**  The file size is read with ``stat`` before its bytes are
  read: more than ``max_bytes`` (default ``max(DEFAULTS["max_image_bytes"], 8 * max_pixels)``: 256 MiB, or
  the size of an uncompressed 16-bit RGBA image of the largest allowed size when ``--max-pixels`` is raised)
  is refused.  The pixel count ``W * H`` is read from the header (``Image.open`` parses the header only) and
  an image with more than ``max_pixels`` pixels (default ``DEFAULTS["max_pixels"]``, 40 megapixels, i.e.
  about 120 MB as ``uint8`` RGB and 1 GB as the float64 copies the degradations and metrics make) is refused
  before ``load()``: a 445 KB PNG of 12000x12000 pixels never reaches the 6 GB its decoding would take.  The
  message gives the size and the limit and names ``--max-pixels``.  Pillow's own decompression-bomb check
  (a warning above ``PIL.Image.MAX_IMAGE_PIXELS``, an error above twice that) is superseded: its warning
  is silenced inside ``Image.open`` (our limit decides), its error becomes the same per-image refusal.
  In-memory and rendered images are held to the same pixel limit.
* **EXIF orientation is applied and recorded.**  An EXIF ``Orientation`` (tag 274) of 2..8 is applied
  (``PIL.ImageOps.exif_transpose``) so that the array is the upright face, as ``cv2.imread`` does by
  default (``IMREAD_COLOR`` without ``IMREAD_IGNORE_ORIENTATION``), which is how the official GFPGAN,
  CodeFormer and VQFR inference scripts read their inputs.  The value applied is reported through the
  optional ``info`` dict (``{"exif_orientation": k}``, only when ``k != 1``); the runner stores it with the
  sample's row (``notes``).  Missing, invalid (not 1..8) or unreadable EXIF data means no rotation, as
  with OpenCV.
* **More than 8 bits per sample is refused even when Pillow would reduce it silently**: the bit depth
  byte of a PNG's ``IHDR`` chunk (16-bit RGB PNGs open as mode ``RGB``), a TIFF's ``BitsPerSample``, a
  PPM's ``maxval`` above 255, and, for any other format, a Pillow raw mode with 16- or 32-bit samples
  (``RGB;16B``...; packed 5-6-5 / 5-5-5 modes have fewer than 8 bits per sample and are accepted).
"""
from __future__ import annotations

import io
import os
import re
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from bench.core.defaults import DEFAULTS
from bench.core.types import ImageSource

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


class ImageReadError(Exception):
    """An image could not be used. ``path`` names the file, ``cause`` says why (one short sentence)."""

    def __init__(self, path: str | os.PathLike | None, cause: str) -> None:
        self.path = str(path) if path is not None else "<unknown>"
        self.cause = cause
        super().__init__(f"{self.path}: {cause}")


#: Pillow's ``Image.open`` warns (DecompressionBombWarning) above its own limit; the run's pixel limit decides
#: instead, so the warning is silenced there.  Warning filters are process-wide: the lock keeps the decoding
#: threads from interleaving their save/restore of the filters.
_OPEN_LOCK = threading.Lock()
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Pillow raw modes reading 16- or 32-bit samples (``RGB;16B``, ``L;16``, ``I;16N``, ``F;32BF``...); packed
#: ``RGB;16`` / ``BGR;15`` (5-6-5, 5-5-5) have fewer than 8 bits per sample and do not match.
_WIDE_RAWMODE = re.compile(r";(16|32)[BLN]|^(L|LA|I|F);(16|32)")
_WIDE_SAMPLES = "image has more than 8 bits per sample ({}); convert it to 8-bit RGB explicitly"
EXIF_ORIENTATION_TAG = 0x0112


def _limits(max_pixels: int | None, max_bytes: int | None) -> tuple[int, int]:
    """``(max_pixels, max_bytes)`` with their defaults (see the module documentation)."""
    pixels = int(DEFAULTS["max_pixels"] if max_pixels is None else max_pixels)
    return pixels, int(max(DEFAULTS["max_image_bytes"], 8 * pixels) if max_bytes is None else max_bytes)


def _check_pixels(height: int, width: int, max_pixels: int, path: str) -> None:
    if height * width > max_pixels:
        raise ImageReadError(path, f"image is {height}x{width} (HxW) = {height * width:,} pixels, above the limit of "
                                   f"{max_pixels:,} pixels (refused before decoding; raise it with --max-pixels N)")


def _wide_samples(image: Image.Image, data: bytes) -> str | None:
    """What shows more than 8 bits per sample in the header (PNG IHDR, TIFF, PPM, raw mode), else None."""
    if data[:8] == _PNG_SIGNATURE and data[12:16] == b"IHDR" and len(data) > 24 and data[24] > 8:
        return f"{data[24]}-bit PNG"
    if image.format == "TIFF":
        bits = getattr(image, "tag_v2", {}).get(258)
        bits = bits if isinstance(bits, tuple) else (bits,) if bits is not None else ()
        if bits and max(int(b) for b in bits) > 8:
            return f"TIFF BitsPerSample {'/'.join(str(int(b)) for b in bits)}"
    for tile in getattr(image, "tile", None) or ():
        args = tile[3] if len(tile) > 3 else None
        if tile[0] in ("ppm", "ppm_plain") and isinstance(args, tuple) and isinstance(args[-1], int) and args[-1] > 255:
            return f"PPM maxval {args[-1]}"
        rawmode = args if isinstance(args, str) else args[0] if isinstance(args, tuple) and args else None
        if isinstance(rawmode, str) and _WIDE_RAWMODE.search(rawmode):
            return f"raw mode {rawmode}"
    return None


def _exif_orientation(image: Image.Image) -> int:
    """The EXIF Orientation of a loaded image (1 when absent, invalid or unreadable, as OpenCV does)."""
    try:
        value = int(image.getexif().get(EXIF_ORIENTATION_TAG, 1))
    except Exception:  # malformed EXIF block: no rotation
        return 1
    return value if 1 <= value <= 8 else 1


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
        raise ImageReadError(path, _WIDE_SAMPLES.format(f"mode {mode}"))
    if mode == "1":
        raise ImageReadError(path, "1-bit bilevel image is not a face photograph")
    raise ImageReadError(path, f"unsupported colour mode {mode}; save it as 8-bit RGB")


def decode_bytes(data: bytes, name: str = "<bytes>", *, max_pixels: int | None = None,
                 info: dict[str, Any] | None = None) -> np.ndarray:
    """Decode an encoded image held in memory (PNG, JPEG, ...) to ``uint8 [H, W, 3]``, upright.

    The header is checked before any pixel is decoded (pixel limit ``max_pixels``, default
    ``DEFAULTS["max_pixels"]``; more than 8 bits per sample); the EXIF orientation is applied and, when
    ``info`` is given and the orientation is not 1, written to ``info["exif_orientation"]``.
    """
    max_pixels, _ = _limits(max_pixels, None)
    if len(data) == 0:
        raise ImageReadError(name, "file is empty (0 bytes)")
    try:
        with _OPEN_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data))
        with opened as image:
            width, height = image.size
            _check_pixels(height, width, max_pixels, name)
            wide = _wide_samples(image, data)
            if wide is not None:
                raise ImageReadError(name, _WIDE_SAMPLES.format(wide))
            image.load()
            orientation = _exif_orientation(image)
            if orientation != 1:
                with ImageOps.exif_transpose(image) as upright:
                    array = _convert_mode(upright, name)
                if info is not None:
                    info["exif_orientation"] = orientation
            else:
                array = _convert_mode(image, name)
    except ImageReadError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageReadError(name, f"image too large for Pillow ({exc}); refused before decoding") from None
    except UnidentifiedImageError:
        raise ImageReadError(name, "not a recognised image format") from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt data
        cause = str(exc) or exc.__class__.__name__
        if "truncated" in cause.lower():
            cause = f"file is truncated ({cause})"
        raise ImageReadError(name, f"cannot decode image: {cause}") from None
    if array.ndim != 3 or array.shape[2] != 3 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ImageReadError(name, f"unexpected decoded shape {array.shape}")
    return np.ascontiguousarray(array)


def read_image(source: ImageSource, name: str | None = None, *, max_pixels: int | None = None,
               max_bytes: int | None = None, info: dict[str, Any] | None = None) -> np.ndarray:
    """Decode ``source`` (a path, an in-memory ``uint8 [H, W, 3]`` array or a renderer) to RGB ``uint8``.

    ``max_pixels`` / ``max_bytes``: the limits of the module documentation (``None``: the defaults); a file
    is refused from its ``stat`` size and its header, before its pixels are decoded.  ``info``: filled with
    what the reader did (``{"exif_orientation": k}`` when an EXIF orientation ``k != 1`` was applied).
    Raises :class:`ImageReadError` naming the file and the cause for anything unusable.
    """
    max_pixels, max_bytes = _limits(max_pixels, max_bytes)
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
        _check_pixels(int(source.shape[0]), int(source.shape[1]), max_pixels, label)
        return source
    path = Path(source)
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise IsADirectoryError
        if size > max_bytes:
            raise ImageReadError(path, f"file is {size:,} bytes, above the limit of {max_bytes:,} bytes for an image "
                                       f"file (refused before reading; it grows with --max-pixels N)")
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageReadError(path, "file not found") from None
    except IsADirectoryError:
        raise ImageReadError(path, "is a directory, not an image file") from None
    except OSError as exc:
        raise ImageReadError(path, f"cannot read file: {exc.strerror or exc}") from None
    return decode_bytes(data, str(path), max_pixels=max_pixels, info=info)


def write_png(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write ``uint8 [H, W, 3]`` RGB to a PNG, atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    try:
        Image.fromarray(np.ascontiguousarray(image)).save(tmp, format="PNG")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # no partial file left behind (a full disk)
        raise


def list_images(folder: str | os.PathLike, recursive: bool = False, issues: list | None = None) -> list[Path]:
    """Regular files of ``folder`` whose extension is an image extension, sorted by path.

    Symbolic links to regular files are listed like the files. Policy for an entry WITH an image extension
    that is not listed: when ``issues`` is a list, a :class:`~bench.core.types.DatasetIssue` ``(path,
    reason)`` is appended for it: a directory (with ``recursive=False``), a broken symbolic link, a
    symbolic-link loop, not a regular file (FIFO, socket, device), permission denied (cannot be examined
    or read), a name that is not valid UTF-8 (it could not be recorded as a sample id). Entries without
    an image extension are ignored silently, and so are a folder's non-image problems. A folder that
    cannot be listed is itself an issue. ``recursive=True`` walks subfolders, following symbolic links to
    folders, but each real folder (device and inode) once: a link back to a folder already walked (a loop)
    is an issue and is not followed, so the walk always ends.
    """
    import errno
    import stat as stat_module

    from bench.core.types import DatasetIssue

    def report(path: str, reason: str) -> None:
        if issues is not None:
            issues.append(DatasetIssue(path.encode("utf-8", "backslashreplace").decode("utf-8"), reason))

    def is_text(name: str) -> bool:  # undecodable bytes arrive as lone surrogates (surrogateescape)
        return not any("\udc80" <= char <= "\udcff" for char in name)

    root = Path(folder)
    found: list[Path] = []
    walked: set[tuple[int, int]] = set()
    pending = [root]
    while pending:
        current = pending.pop()
        try:
            info = current.stat()
            if (info.st_dev, info.st_ino) in walked:
                report(str(current), "folder already walked (symbolic link loop or second link); not walked again")
                continue
            walked.add((info.st_dev, info.st_ino))
            with os.scandir(current) as scan:
                entries = sorted(scan, key=lambda e: e.name)
        except OSError as exc:
            report(str(current), f"cannot list folder: {exc.strerror or exc}")
            continue
        for entry in entries:
            path = Path(entry.path)
            is_image = path.suffix.lower() in IMAGE_EXTENSIONS
            try:
                info = os.stat(entry.path)  # follows symbolic links
            except OSError as exc:
                if is_image:
                    if exc.errno == errno.ELOOP:
                        reason = "symbolic link loop"
                    elif isinstance(exc, FileNotFoundError) and os.path.islink(entry.path):
                        reason = "broken symbolic link (its target is missing)"
                    elif isinstance(exc, PermissionError):
                        reason = "permission denied"
                    else:
                        reason = f"cannot examine: {exc.strerror or exc}"
                    report(entry.path, f"{reason}; skipped")
                continue
            if stat_module.S_ISDIR(info.st_mode):
                if recursive and not is_text(entry.name):
                    report(entry.path, "folder name is not valid UTF-8; not walked")
                elif recursive:
                    pending.append(path)
                elif is_image:
                    report(entry.path, "is a directory, not an image file; skipped")
            elif not is_image:
                continue
            elif not stat_module.S_ISREG(info.st_mode):
                report(entry.path, "not a regular file (FIFO, socket or device); skipped")
            elif not os.access(entry.path, os.R_OK):
                report(entry.path, "permission denied (not readable); skipped")
            elif not is_text(entry.name):
                report(entry.path, "file name is not valid UTF-8; skipped")
            else:
                found.append(path)
    return sorted(found)
