"""A small RGB canvas: filled and outlined rectangles and bitmap text, encoded as PNG.

Drawing is clipped to the canvas. Rectangles are filled a scanline at a time
with slice assignment (C speed), so a 10,000-cell heatmap draws in a few
tens of milliseconds; text is drawn pixel by pixel from the 5x7 font
(:mod:`service.export.font`), horizontally or turned a quarter to read
upwards (column labels).
"""

from __future__ import annotations

from typing import Final

from service.export.font import ADVANCE, GLYPH_HEIGHT, GLYPH_WIDTH, glyph
from service.export.png import encode_png

__all__ = ["Canvas", "Colour", "hex_colour"]

Colour = tuple[int, int, int]
_WHITE: Final[Colour] = (255, 255, 255)


def hex_colour(text: str) -> Colour:
    """``#rrggbb`` as an (r, g, b) triple."""
    value = text.removeprefix("#")
    if len(value) != 6:
        raise ValueError(f"expected #rrggbb, got {text!r}")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


class Canvas:
    def __init__(self, width: int, height: int, background: Colour = _WHITE) -> None:
        if width < 1 or height < 1:
            raise ValueError(f"a canvas needs a positive size, got {width}x{height}")
        self.width = width
        self.height = height
        self.pixels = bytearray(bytes(background) * (width * height))

    def fill(self, x: int, y: int, w: int, h: int, colour: Colour) -> None:
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(self.width, x + w), min(self.height, y + h)
        if x0 >= x1 or y0 >= y1:
            return
        span = bytes(colour) * (x1 - x0)
        stride = self.width * 3
        for row in range(y0, y1):
            start = row * stride + x0 * 3
            self.pixels[start : start + len(span)] = span

    def outline(self, x: int, y: int, w: int, h: int, colour: Colour, thickness: int = 1) -> None:
        t = max(1, min(thickness, w // 2 or 1, h // 2 or 1))
        self.fill(x, y, w, t, colour)
        self.fill(x, y + h - t, w, t, colour)
        self.fill(x, y, t, h, colour)
        self.fill(x + w - t, y, t, h, colour)

    def text(self, x: int, y: int, text: str, colour: Colour, *, scale: int = 1) -> None:
        """``text`` with its top-left corner at (x, y)."""
        for i, ch in enumerate(text):
            left = x + i * ADVANCE * scale
            if left >= self.width:
                break
            for row, bits in enumerate(glyph(ch)):
                for col in range(GLYPH_WIDTH):
                    if bits & (1 << (GLYPH_WIDTH - 1 - col)):
                        self.fill(left + col * scale, y + row * scale, scale, scale, colour)

    def text_up(self, x: int, y: int, text: str, colour: Colour) -> None:
        """``text`` turned to read upwards, its first character's bottom-left at (x, y)."""
        for i, ch in enumerate(text):
            base = y - i * ADVANCE
            if base < 0:
                break
            for row, bits in enumerate(glyph(ch)):
                for col in range(GLYPH_WIDTH):
                    if bits & (1 << (GLYPH_WIDTH - 1 - col)):
                        # Turned a quarter anticlockwise: glyph column -> up, row -> right.
                        self.fill(x + row, base - col, 1, 1, colour)

    def png(self) -> bytes:
        return encode_png(self.width, self.height, self.pixels)


# The height of one line of text at scale 1, with a pixel above and below.
LINE: Final = GLYPH_HEIGHT + 2
