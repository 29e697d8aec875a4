"""A heatmap as a PNG, drawn on :class:`~service.export.raster.Canvas` (no imaging library).

The same layout as the SVG (:mod:`service.export.svg`): title, row labels on
the left, column labels reading upwards above the grid, regressions
outlined, a legend below. Labels are drawn with the 5x7 bitmap font, and
left out when the cells are smaller than a line of it.
"""

from __future__ import annotations

from typing import Final

from service.export.font import GLYPH_HEIGHT, text_width
from service.export.heatmap import NONE, VERDICT_OF, Heatmap
from service.export.palette import INK, MISSING, MUTED, REGRESSION, VERDICT_COLOURS, VERDICT_LABELS
from service.export.raster import Canvas, hex_colour
from service.export.svg import cell_size

__all__ = ["heatmap_png"]

_MARGIN: Final = 16
# Longest label drawn, in characters; longer ones are cut with an ellipsis.
_LABEL_MAX: Final = 48


def _clip(text: str) -> str:
    return text if len(text) <= _LABEL_MAX else text[: _LABEL_MAX - 1] + "…"


def heatmap_png(heatmap: Heatmap) -> bytes:
    cell = cell_size(len(heatmap.rows), len(heatmap.columns))
    labelled = cell >= GLYPH_HEIGHT + 1
    rows = [_clip(r) for r in heatmap.rows]
    columns = [_clip(c) for c in heatmap.columns]
    row_width = max((text_width(r) for r in rows), default=0) + 8 if labelled else 0
    column_height = max((text_width(c) for c in columns), default=0) + 8 if labelled else 0
    title_height = 2 * GLYPH_HEIGHT + 8 + (GLYPH_HEIGHT + 6 if heatmap.subtitle else 0)
    left = _MARGIN + row_width
    top = _MARGIN + title_height + column_height
    grid_w = cell * len(heatmap.columns)
    grid_h = cell * len(heatmap.rows)
    legend = _legend_items(heatmap)
    legend_w = sum(14 + text_width(text) + 14 for text, _ in legend)
    width = max(left + grid_w + _MARGIN, _MARGIN * 2 + legend_w, 320)
    legend_y = top + grid_h + 16
    height = legend_y + 12 + _MARGIN
    canvas = Canvas(width, height)
    ink, muted = hex_colour(INK), hex_colour(MUTED)
    canvas.text(_MARGIN, _MARGIN, _clip(heatmap.title), ink, scale=2)
    if heatmap.subtitle:
        canvas.text(_MARGIN, _MARGIN + 2 * GLYPH_HEIGHT + 6, _clip(heatmap.subtitle), muted)
    if labelled:
        offset = (cell - GLYPH_HEIGHT) // 2
        for r, label in enumerate(rows):
            canvas.text(left - 6 - text_width(label), top + r * cell + offset, label, ink)
        for c, label in enumerate(columns):
            canvas.text_up(left + c * cell + offset, top - 6, label, ink)
    colours = {code: hex_colour(VERDICT_COLOURS[verdict]) for code, verdict in VERDICT_OF.items()}
    colours[NONE] = hex_colour(MISSING)
    outline = hex_colour(REGRESSION)
    for r, line in enumerate(heatmap.codes):
        y = top + r * cell
        start = 0
        for i in range(1, len(line) + 1):
            if i == len(line) or line[i].lower() != line[start].lower():
                colour = colours[line[start].lower()]
                canvas.fill(left + start * cell, y, (i - start) * cell, cell, colour)
                start = i
        for c, code in enumerate(line):
            if code.isupper():
                canvas.outline(left + c * cell, y, cell, cell, outline, 2 if cell >= 8 else 1)
    at = _MARGIN
    for text, swatch in legend:
        if swatch is None:
            canvas.outline(at, legend_y, 10, 10, outline, 2)
        else:
            canvas.fill(at, legend_y, 10, 10, swatch)
        canvas.text(at + 14, legend_y + 2, text, ink)
        at += 14 + text_width(text) + 14
    return canvas.png()


def _legend_items(heatmap: Heatmap) -> list[tuple[str, tuple[int, int, int] | None]]:
    items: list[tuple[str, tuple[int, int, int] | None]] = [
        (f"{VERDICT_LABELS[v]} {heatmap.verdict_count(v)}", hex_colour(colour))
        for v, colour in VERDICT_COLOURS.items()
    ]
    items.append((f"regression {heatmap.regressions}", None))
    return items
