"""The colours and words of a chaos timeline, shared by the page, its legend and the SVG download.

Deviations that let traffic through are warm (red, orange), those that cut it
are cool (violet); a *violation* (seen in neither the old nor the new state)
is solid, a *stale* state (the old state outliving the change) is striped, so
the kinds differ in shape as well as in hue. Colours are written into the SVG
as presentation attributes rather than CSS classes, so a downloaded timeline
looks the same as the page's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from service.chaos.results import Observation, Phase

__all__ = [
    "DEVIATIONS",
    "HELD",
    "INK",
    "MATCH",
    "MUTED",
    "NOT_HELD",
    "NOT_PROBED",
    "NOT_RUN",
    "OBSERVATION_PAINT",
    "PHASE_PAINT",
    "Paint",
]


@dataclass(frozen=True, slots=True)
class Paint:
    """How one kind of span is drawn: a solid ``colour``, or stripes of ``colour`` over
    ``ground`` when ``striped``; the legend says ``word`` and what it ``means``."""

    colour: str
    word: str
    means: str
    ground: str = ""
    striped: bool = False

    @property
    def label(self) -> str:
        return f"{self.word}: {self.means}"


INK: Final = "#1f2937"
MUTED: Final = "#6b7280"
# Every cell lane is painted as "matched" where it was probed; deviations go on top.
MATCH: Final = Paint("#d5efe0", "matched", "observed = the engine's expected verdict")
NOT_PROBED: Final = Paint(
    "#cbd5e1", "not probed", "the action was in progress", ground="#f1f5f9", striped=True
)
HELD: Final = "#15803d"
NOT_HELD: Final = "#be123c"
NOT_RUN: Final = "#6b7280"

OBSERVATION_PAINT: Final[dict[Observation, Paint]] = {
    Observation.FAIL_OPEN: Paint("#e11d48", "fail-open", "allowed, though no state allows it"),
    Observation.STALE_OPEN: Paint(
        "#ea580c",
        "stale-open",
        "the old permission still let it in",
        ground="#fed7aa",
        striped=True,
    ),
    Observation.FAIL_CLOSED: Paint(
        "#6d28d9", "fail-closed", "blocked, though every state allows it"
    ),
    Observation.STALE_CLOSED: Paint(
        "#7c3aed",
        "stale-closed",
        "the new permission not in force yet",
        ground="#ddd6fe",
        striped=True,
    ),
    Observation.UNAVAILABLE: Paint("#64748b", "unavailable", "the probe could not run"),
}
DEVIATIONS: Final = tuple(OBSERVATION_PAINT)

PHASE_PAINT: Final[dict[Phase, Paint]] = {
    Phase.BASELINE: Paint("#cbd5e1", "baseline", "the first apply"),
    Phase.BEFORE: Paint("#e2e8f0", "before", "the steady state is checked"),
    Phase.ACTION: Paint("#bfdbfe", "action", "the change, until the cells settle"),
    Phase.ROLLBACK: Paint("#a7f3d0", "rollback", "undone, until the cells settle back"),
}
