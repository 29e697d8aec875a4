"""SVG shapes as plain values, and the helpers that make them; a template writes them out.

Text is never pre-escaped here: the template's autoescaping writes every name as
text. Colours are presentation attributes, so a page under a Content-Security-
Policy without inline styles draws them, and so does a downloaded file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from service.dashboard.chaos.palette import INK, Paint

__all__ = [
    "BOLD",
    "CHAR",
    "Drawing",
    "Pattern",
    "Shape",
    "diamond",
    "fill",
    "fits",
    "line",
    "num",
    "rect",
    "seconds",
    "text",
    "tick_label",
]

# Roughly the advance of a character per pixel of font size (system sans-serif).
CHAR: Final = 0.58
BOLD: Final = 0.66

Tag = Literal["rect", "line", "path", "text"]


@dataclass(frozen=True, slots=True)
class Shape:
    """One SVG element: ``attributes`` as written (the template escapes them), ``text``
    its content (for ``text``), ``tip`` its ``<title>``, ``href`` a link around it."""

    tag: Tag
    attributes: tuple[tuple[str, str], ...]
    text: str = ""
    tip: str = ""
    href: str = ""
    role: str = ""

    @property
    def attrs(self) -> dict[str, str]:
        return dict(self.attributes)


@dataclass(frozen=True, slots=True)
class Pattern:
    """Stripes of ``colour`` over ``ground``, referenced as ``url(#id)``."""

    id: str
    colour: str
    ground: str


@dataclass(frozen=True, slots=True)
class Drawing:
    id: str
    width: int
    height: int
    label: str
    shapes: tuple[Shape, ...]
    patterns: tuple[Pattern, ...]
    lanes: int


def seconds(value: float | None) -> str:
    """A measured time as the CLI shows it: ``1.72 s`` (``—`` for none)."""
    if value is None:
        return "—"
    return f"{value:.2f} s"


def tick_label(value: float, *, signed: bool) -> str:
    """An axis label: ``10 s``, ``0.5 s``; ``−2 s`` and ``+4 s`` when ``signed``."""
    rounded = round(value, 3)
    text = f"{abs(rounded):g}"
    sign = "−" if rounded < 0 else ("+" if signed and rounded > 0 else "")
    return f"{sign}{text} s"


def num(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def rect(x0: float, x1: float, y: float, h: float, fill: str, **extra: str) -> Shape:
    attributes = {"x": num(x0), "y": num(y), "width": num(max(x1 - x0, 0)), "height": num(h)}
    attributes["fill"] = fill
    tip = extra.pop("tip", "")
    href = extra.pop("href", "")
    attributes.update(extra)
    return Shape("rect", tuple(attributes.items()), tip=tip, href=href)


def text(x: float, y: float, text: str, *, size: float = 12, **extra: str) -> Shape:
    tip = extra.pop("tip", "")
    href = extra.pop("href", "")
    attributes = {"x": num(x), "y": num(y), "font-size": num(size), "fill": extra.pop("fill", INK)}
    attributes.update(extra)
    return Shape("text", tuple(attributes.items()), text=text, tip=tip, href=href)


def line(x0: float, y0: float, x1: float, y1: float, stroke: str, **extra: str) -> Shape:
    attributes = {"x1": num(x0), "y1": num(y0), "x2": num(x1), "y2": num(y1), "stroke": stroke}
    tip = extra.pop("tip", "")
    attributes.update(extra)
    return Shape("line", tuple(attributes.items()), tip=tip)


def fits(text: str, width: float, size: float, *, bold: bool = False) -> str:
    """``text`` cut (with an ellipsis) to about ``width`` pixels at ``size``."""
    most = int(width / (size * (BOLD if bold else CHAR)))
    if len(text) <= most:
        return text
    return text[: max(most - 1, 0)] + "…" if most >= 2 else ""


def fill(paint: Paint, patterns: dict[str, Pattern], prefix: str, name: str) -> str:
    if not paint.striped:
        return paint.colour
    pattern = Pattern(f"{prefix}-{name}", paint.colour, paint.ground)
    patterns[pattern.id] = pattern
    return f"url(#{pattern.id})"


def diamond(x: float, y: float, colour: str, tip: str, kind: str) -> Shape:
    r = 6
    top, right, low, left = num(y - r), num(x + r), num(y + r), num(x - r)
    return Shape(
        "path",
        (
            ("d", f"M{num(x)} {top}L{right} {num(y)}L{num(x)} {low}L{left} {num(y)}Z"),
            ("fill", colour),
            ("stroke", "#ffffff"),
            ("stroke-width", "1.5"),
            ("data-marker", kind),
        ),
        tip=tip,
    )
