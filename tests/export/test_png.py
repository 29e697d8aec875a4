"""The pure-Python PNG encoder and the raster canvas."""

from __future__ import annotations

import struct
import zlib

import pytest

from service.export.font import GLYPH_HEIGHT, GLYPH_WIDTH, glyph, text_width
from service.export.png import PNG_SIGNATURE, encode_png, read_png_rgb
from service.export.raster import Canvas, hex_colour


def test_an_encoded_image_decodes_to_the_same_pixels() -> None:
    width, height = 7, 3
    # One RGB triple per pixel, built from its coordinates.
    rgb = b"".join(
        bytes((x * 30 + y, y * 80, 255 - x)) for y in range(height) for x in range(width)
    )
    data = encode_png(width, height, rgb)
    assert data.startswith(PNG_SIGNATURE)
    assert read_png_rgb(data) == (width, height, rgb)


def test_chunks_carry_valid_checksums_and_the_ihdr_says_8_bit_rgb() -> None:
    data = encode_png(2, 2, bytes(12))
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR"
    header = data[16 : 16 + length]
    crc = struct.unpack(">I", data[16 + length : 20 + length])[0]
    assert zlib.crc32(b"IHDR" + header) & 0xFFFFFFFF == crc
    assert struct.unpack(">IIBBBBB", header) == (2, 2, 8, 2, 0, 0, 0)


@pytest.mark.parametrize(("width", "height", "size"), [(0, 1, 0), (2, 2, 11), (40_000, 1, 120_000)])
def test_a_wrong_size_or_pixel_count_is_refused(width: int, height: int, size: int) -> None:
    with pytest.raises(ValueError, match=r"out of range|bytes of RGB"):
        encode_png(width, height, bytes(size))


def test_a_corrupted_png_is_detected() -> None:
    data = bytearray(encode_png(3, 3, bytes(27)))
    data[20] ^= 0xFF
    with pytest.raises(ValueError, match="CRC"):
        read_png_rgb(bytes(data))


def _pixel(canvas: Canvas, x: int, y: int) -> tuple[int, int, int]:
    at = (y * canvas.width + x) * 3
    r, g, b = canvas.pixels[at : at + 3]
    return (r, g, b)


def test_filled_and_outlined_rectangles_land_where_asked_and_are_clipped() -> None:
    canvas = Canvas(10, 10)
    red, blue = hex_colour("#ff0000"), hex_colour("#0000ff")
    canvas.fill(2, 2, 3, 3, red)
    canvas.outline(5, 5, 5, 5, blue, 1)
    canvas.fill(8, 8, 100, 100, red)
    assert _pixel(canvas, 2, 2) == red
    assert _pixel(canvas, 4, 4) == red
    assert _pixel(canvas, 5, 5) == blue
    assert _pixel(canvas, 7, 7) == (255, 255, 255)
    assert _pixel(canvas, 9, 9) == red
    assert _pixel(canvas, 1, 1) == (255, 255, 255)


def test_text_draws_the_glyph_bits_of_each_character() -> None:
    canvas = Canvas(20, 10)
    ink = (0, 0, 0)
    canvas.text(0, 0, "T", ink)
    bits = glyph("T")
    for row in range(GLYPH_HEIGHT):
        for col in range(GLYPH_WIDTH):
            on = bool(bits[row] & (1 << (GLYPH_WIDTH - 1 - col)))
            assert (_pixel(canvas, col, row) == ink) == on


def test_printable_ascii_has_glyphs_and_the_rest_is_a_box() -> None:
    box = glyph("\u2603")
    for code in range(32, 127):
        assert glyph(chr(code)) != box or chr(code) == " "
    assert glyph("é") == box
    assert text_width("abc") == 17


def test_upward_text_is_the_horizontal_text_turned_a_quarter() -> None:
    flat, turned = Canvas(12, 12), Canvas(12, 12)
    ink = (0, 0, 0)
    flat.text(0, 0, "F", ink)
    turned.text_up(0, 11, "F", ink)
    for y in range(GLYPH_HEIGHT):
        for x in range(GLYPH_WIDTH):
            assert _pixel(flat, x, y) == _pixel(turned, y, 11 - x)
