"""The colours of verdicts and marks, the same in the dashboard's CSS and in every export.

Chosen to be told apart by people with the common colour-vision deficiencies
(allowed and blocked differ in lightness, not only in hue) and to stand out
against white at the 3:1 contrast WCAG asks of graphics. A regression is
never shown by colour alone: it is an outline, a shape.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ALARM",
    "EXPECTED_DRIFT",
    "INK",
    "MISSING",
    "MUTED",
    "REGRESSION",
    "VERDICT_COLOURS",
    "VERDICT_LABELS",
]

VERDICT_COLOURS: Final[dict[str, str]] = {
    "allowed": "#2e8b57",
    "blocked": "#34406b",
    "error": "#c2410c",
    "invalid": "#c9ced6",
}
VERDICT_LABELS: Final[dict[str, str]] = {
    "allowed": "allowed",
    "blocked": "blocked",
    "error": "error (probe could not run)",
    "invalid": "invalid (not probed)",
}
# No cell at this position (a narrowed run).
MISSING: Final = "#f3f4f6"
REGRESSION: Final = "#e11d48"
ALARM: Final = "#e11d48"
EXPECTED_DRIFT: Final = "#2563eb"
INK: Final = "#1f2937"
MUTED: Final = "#6b7280"
