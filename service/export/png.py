"""A PNG encoder in pure Python (zlib and struct): 8-bit RGB, no interlace.

Enough for the images we make (heatmaps drawn as rectangles and bitmap text),
with no imaging library to install. Each scanline is stored with filter type
0 ("none"): the images are large areas of flat colour, which zlib compresses
well without a predictor.
"""

from __future__ import annotations

import struct
import zlib
from typing import Final

__all__ = ["PNG_SIGNATURE", "encode_png", "read_png_rgb"]

PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_RGB: Final = 2
_MAX_SIDE: Final = 32_000


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def encode_png(width: int, height: int, rgb: bytes | bytearray, *, level: int = 6) -> bytes:
    """The PNG of a ``width`` x ``height`` image whose pixels are ``rgb`` (3 bytes each, rows
    top to bottom)."""
    if not (0 < width <= _MAX_SIDE and 0 < height <= _MAX_SIDE):
        raise ValueError(f"image size {width}x{height} out of range 1..{_MAX_SIDE}")
    stride = width * 3
    if len(rgb) != stride * height:
        raise ValueError(f"expected {stride * height} bytes of RGB, got {len(rgb)}")
    raw = bytearray()
    view = memoryview(rgb)
    for y in range(height):
        raw.append(0)
        raw += view[y * stride : (y + 1) * stride]
    header = struct.pack(">IIBBBBB", width, height, 8, _RGB, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(raw), level))
        + _chunk(b"IEND", b"")
    )


def read_png_rgb(data: bytes) -> tuple[int, int, bytes]:
    """(width, height, rgb) of a PNG this module wrote (8-bit RGB, filter 0); for tests and
    checks. Raises ValueError for anything else or a bad checksum."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG")
    at = len(PNG_SIGNATURE)
    width = height = 0
    idat = bytearray()
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind = data[at + 4 : at + 8]
        body = data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            raise ValueError(f"bad CRC in {kind!r} chunk")
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if (depth, colour, interlace) != (8, _RGB, 0):
                raise ValueError("only 8-bit RGB without interlace is read here")
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        at += 12 + length
    raw = zlib.decompress(bytes(idat))
    stride = width * 3
    out = bytearray()
    for y in range(height):
        row = raw[y * (stride + 1) : (y + 1) * (stride + 1)]
        if row[0] != 0:
            raise ValueError(f"row {y} uses filter {row[0]}; only 0 is read here")
        out += row[1:]
    return width, height, bytes(out)
