"""A heatmap as a standalone SVG document, written by hand, for reports.

Every label is escaped as XML text (names come from users). A row's cells of
one colour that touch are drawn as one rectangle, so a 10,000-cell matrix of
mostly uniform rows stays a small file; regressions are outlined on top.
Labels are left out when the cells are too small to carry them legibly.
"""

from __future__ import annotations

from typing import Final
from xml.sax.saxutils import escape, quoteattr

from service.export.heatmap import NONE, VERDICT_OF, Heatmap
from service.export.palette import INK, MISSING, MUTED, REGRESSION, VERDICT_COLOURS, VERDICT_LABELS

__all__ = ["cell_size", "heatmap_svg"]

_FONT: Final = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
_MARGIN: Final = 16
# Cells smaller than this carry no labels.
_LABELLED: Final = 8
# Roughly the advance of a character in the label font, per pixel of font size.
_CHAR: Final = 0.6


def cell_size(rows: int, columns: int, *, budget: int = 960) -> int:
    """Pixels per cell: a matrix fits about ``budget`` pixels, cells between 4 and 18."""
    return max(4, min(18, budget // max(1, rows, columns)))


def _runs(line: str) -> list[tuple[int, int, str]]:
    """(start, length, code lower-cased) of each stretch of one verdict in a row."""
    out: list[tuple[int, int, str]] = []
    start = 0
    for i in range(1, len(line) + 1):
        if i == len(line) or line[i].lower() != line[start].lower():
            out.append((start, i - start, line[start].lower()))
            start = i
    return out


def heatmap_svg(heatmap: Heatmap) -> str:
    cell = cell_size(len(heatmap.rows), len(heatmap.columns))
    labelled = cell >= _LABELLED
    font = max(7, min(12, int(cell * 0.75)))
    row_width = int(max((len(r) for r in heatmap.rows), default=0) * font * _CHAR) + 8
    column_height = int(max((len(c) for c in heatmap.columns), default=0) * font * _CHAR) + 8
    if not labelled:
        row_width = column_height = 0
    left = _MARGIN + row_width
    top = _MARGIN + 44 + column_height
    grid_w = cell * len(heatmap.columns)
    grid_h = cell * len(heatmap.rows)
    legend_y = top + grid_h + 24
    width = max(left + grid_w + _MARGIN, 760)
    height = legend_y + 24 + _MARGIN
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family={quoteattr(_FONT)} role="img">',
        f"<title>{escape(heatmap.title)}</title>",
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{_MARGIN}" y="{_MARGIN + 16}" font-size="16" font-weight="600" '
        f'fill="{INK}">{escape(heatmap.title)}</text>',
    ]
    if heatmap.subtitle:
        out.append(
            f'<text x="{_MARGIN}" y="{_MARGIN + 34}" font-size="12" fill="{MUTED}">'
            f"{escape(heatmap.subtitle)}</text>"
        )
    if labelled:
        for r, label in enumerate(heatmap.rows):
            y = top + r * cell + cell / 2 + font * 0.35
            out.append(
                f'<text x="{left - 6}" y="{y:.1f}" font-size="{font}" text-anchor="end" '
                f'fill="{INK}">{escape(label)}</text>'
            )
        for c, label in enumerate(heatmap.columns):
            x = left + c * cell + cell / 2 + font * 0.35
            out.append(
                f'<text transform="translate({x:.1f},{top - 6}) rotate(-90)" '
                f'font-size="{font}" fill="{INK}">{escape(label)}</text>'
            )
    out.append(f'<g shape-rendering="crispEdges" transform="translate({left},{top})">')
    outlines: list[str] = []
    for r, line in enumerate(heatmap.codes):
        y = r * cell
        for start, length, code in _runs(line):
            colour = MISSING if code == NONE else VERDICT_COLOURS[VERDICT_OF[code]]
            out.append(
                f'<rect x="{start * cell}" y="{y}" width="{length * cell}" height="{cell}" '
                f'fill="{colour}"/>'
            )
        for c, code in enumerate(line):
            if code.isupper():
                outlines.append(
                    f'<rect x="{c * cell + 1}" y="{y + 1}" width="{cell - 2}" height="{cell - 2}" '
                    f'fill="none" stroke="{REGRESSION}" stroke-width="2"/>'
                )
    out.extend(outlines)
    out.append("</g>")
    out.extend(_legend(_MARGIN, legend_y, heatmap))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _legend(x: int, y: int, heatmap: Heatmap) -> list[str]:
    out = []
    at = x
    for verdict, colour in VERDICT_COLOURS.items():
        label = f"{VERDICT_LABELS[verdict]} {heatmap.verdict_count(verdict)}"
        out.append(f'<rect x="{at}" y="{y}" width="12" height="12" fill="{colour}"/>')
        out.append(
            f'<text x="{at + 16}" y="{y + 10}" font-size="11" fill="{INK}">{escape(label)}</text>'
        )
        at += 16 + int(len(label) * 11 * _CHAR) + 16
    out.append(
        f'<rect x="{at + 1}" y="{y + 1}" width="10" height="10" fill="none" '
        f'stroke="{REGRESSION}" stroke-width="2"/>'
    )
    out.append(
        f'<text x="{at + 16}" y="{y + 10}" font-size="11" fill="{INK}">'
        f"regression {heatmap.regressions}</text>"
    )
    return out
