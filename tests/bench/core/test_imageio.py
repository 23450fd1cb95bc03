"""Input images (bench.core.imageio): pixel and file-size limits from the header, EXIF orientation applied
and reported, more than 8 bits per sample refused even where Pillow would reduce it silently."""
from __future__ import annotations

import io
import struct
import tracemalloc
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

from bench.core.defaults import DEFAULTS
from bench.core.imageio import ImageReadError, decode_bytes, read_image


def _png(width: int, height: int, bit_depth: int, color_type: int, row: bytes, rows: int | None = None) -> bytes:
    """A PNG written by hand (any bit depth): ``row`` (unfiltered samples) repeated ``height`` times, streamed."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    compressor = zlib.compressobj(6)
    line = b"\x00" + row
    parts = [compressor.compress(line) for _ in range(height)]
    idat = b"".join(parts) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def huge_png(tmp_path_factory):
    """A solid 12000x12000 RGB PNG: about 0.4 MB on disk, 432 MB of pixels (> 6 GB through a run)."""
    path = tmp_path_factory.mktemp("huge") / "huge.png"
    path.write_bytes(_png(12000, 12000, 8, 2, bytes([120, 80, 60]) * 12000))
    assert path.stat().st_size < 2_000_000
    return path


def test_pixel_limit_refuses_from_the_header_without_decoding(huge_png, monkeypatch):
    def no_decoding(self):
        raise AssertionError("the pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    tracemalloc.start()
    try:
        with pytest.raises(ImageReadError) as caught:
            read_image(huge_png)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 1024 * 1024
    assert caught.value.path == str(huge_png)
    cause = caught.value.cause
    assert "12000x12000" in cause and "144,000,000 pixels" in cause
    assert "limit of 40,000,000 pixels" in cause and "--max-pixels" in cause


def test_pixel_limit_is_configurable_and_applies_to_arrays():
    data = _png(64, 32, 8, 2, bytes(range(64)) * 3)
    assert decode_bytes(data).shape == (32, 64, 3)  # 2,048 pixels: far below the default
    with pytest.raises(ImageReadError, match="= 2,048 pixels, above the limit of 2,047 pixels"):
        decode_bytes(data, "x.png", max_pixels=2047)
    assert decode_bytes(data, max_pixels=2048).shape == (32, 64, 3)
    with pytest.raises(ImageReadError, match="above the limit of 100 pixels"):
        read_image(np.zeros((11, 10, 3), np.uint8), max_pixels=100)
    assert DEFAULTS["max_pixels"] == 40_000_000


def test_file_size_bound_refuses_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "face.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path)
    size = path.stat().st_size
    monkeypatch.setattr(type(path), "read_bytes", lambda self: pytest.fail("the bytes were read"))
    with pytest.raises(ImageReadError, match=f"file is {size:,} bytes, above the limit of 10 bytes"):
        read_image(path, max_bytes=10)


def test_pillow_decompression_bomb_check_is_superseded(monkeypatch):
    """Pillow's own check: its warning is silenced (the run's limit decides), its error is a clear refusal."""
    data = _png(40, 40, 8, 2, bytes(120))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 1,600 pixels: Pillow warns; above 2,000 it refuses
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert decode_bytes(data).shape == (40, 40, 3)
    with pytest.raises(ImageReadError, match="image too large for Pillow") as caught:
        decode_bytes(_png(50, 50, 8, 2, bytes(150)), "bomb.png")
    assert caught.value.path == "bomb.png"


def _exif_png(array: np.ndarray, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", exif=exif.tobytes())
    return buffer.getvalue()


def test_exif_orientation_is_applied_and_reported(tmp_path):
    stored = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    path = tmp_path / "rotated.png"
    path.write_bytes(_exif_png(stored, 6))
    info: dict = {}
    upright = read_image(path, info=info)
    # orientation 6: the stored image is shown rotated 90 degrees clockwise
    assert upright.shape == (30, 20, 3) and np.array_equal(upright, np.rot90(stored, k=-1))
    assert info == {"exif_orientation": 6}
    info = {}
    mirrored = decode_bytes(_exif_png(stored, 2), info=info)  # 2: mirrored left-right
    assert np.array_equal(mirrored, stored[:, ::-1]) and info == {"exif_orientation": 2}
    info = {}
    assert np.array_equal(decode_bytes(_exif_png(stored, 1), info=info), stored) and info == {}
    info = {}
    assert np.array_equal(decode_bytes(_exif_png(stored, 9), info=info), stored) and info == {}  # invalid: ignored


def test_sixteen_bit_rgb_png_is_refused():
    samples = np.arange(5 * 3, dtype=">u2") * 4000
    data = _png(5, 4, 16, 2, samples.tobytes())
    with Image.open(io.BytesIO(data)) as image:
        assert image.mode == "RGB"  # what Pillow would silently reduce to 8 bits
    with pytest.raises(ImageReadError, match=r"more than 8 bits per sample \(16-bit PNG\)"):
        decode_bytes(data, "deep.png")


def _tiff_rgb16(width: int, height: int) -> bytes:
    """A little-endian uncompressed RGB TIFF with 16 bits per sample, written by hand."""
    pixels = (np.arange(width * height * 3, dtype="<u2") * 1000).tobytes()
    entries = [(256, 3, 1, width), (257, 3, 1, height), (258, 3, 3, None), (259, 3, 1, 1), (262, 3, 1, 2),
               (273, 4, 1, None), (277, 3, 1, 3), (278, 3, 1, height), (279, 4, 1, len(pixels))]
    ifd_size = 2 + 12 * len(entries) + 4
    bits_offset = 8 + ifd_size
    data_offset = bits_offset + 6
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        value = bits_offset if tag == 258 else data_offset if tag == 273 else value
        ifd += struct.pack("<HHI", tag, kind, count) + (struct.pack("<HH", value, 0) if kind == 3 and tag != 258
                                                        else struct.pack("<I", value))
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00\x00\x00\x00" + struct.pack("<HHH", 16, 16, 16) + pixels


def test_sixteen_bit_tiff_and_ppm_are_refused():
    tiff = _tiff_rgb16(6, 5)
    with Image.open(io.BytesIO(tiff)) as image:
        assert image.mode == "RGB" and image.size == (6, 5)
    with pytest.raises(ImageReadError, match=r"more than 8 bits per sample \(TIFF BitsPerSample 16/16/16\)"):
        decode_bytes(tiff, "deep.tif")
    ppm = b"P6\n4 3\n65535\n" + (np.arange(36, dtype=">u2") * 1500).tobytes()
    with Image.open(io.BytesIO(ppm)) as image:
        assert image.mode == "RGB"
    with pytest.raises(ImageReadError, match=r"more than 8 bits per sample \(PPM maxval 65535\)"):
        decode_bytes(ppm, "deep.ppm")
    ppm8 = b"P6\n4 3\n255\n" + bytes(range(36))
    assert decode_bytes(ppm8).shape == (3, 4, 3)


def test_eight_bit_grey_and_palette_stay_accepted():
    grey = np.random.default_rng(1).integers(0, 256, (9, 7), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(grey).save(buffer, format="PNG")
    out = decode_bytes(buffer.getvalue())
    assert out.shape == (9, 7, 3) and all(np.array_equal(out[..., c], grey) for c in range(3))
    buffer = io.BytesIO()
    Image.fromarray(grey).convert("P").save(buffer, format="PNG")
    assert decode_bytes(buffer.getvalue()).shape == (9, 7, 3)
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(buffer, format="BMP")
    assert decode_bytes(buffer.getvalue()).shape == (4, 4, 3)
