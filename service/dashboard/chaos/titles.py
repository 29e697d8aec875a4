"""What is written over the phases lane: each step's name over a bracket spanning its
phases (the experiment), or each phase's outcome (a step's close-up)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from service.chaos.results import ExperimentResult, Phase, StepResult, StepStatus
from service.dashboard.chaos.axis import LEFT, WIDTH, Frame, Span
from service.dashboard.chaos.figures import status_word
from service.dashboard.chaos.palette import HELD, MUTED, NOT_HELD, NOT_RUN
from service.dashboard.chaos.svg import BOLD, Shape, fits, num, seconds, text

__all__ = ["phase_titles", "step_titles", "tone"]


@dataclass(frozen=True, slots=True)
class _Title:
    x0: float
    x1: float
    text: str
    colour: str
    href: str
    tip: str

    @property
    def centre(self) -> float:
        return (self.x0 + self.x1) / 2


def _titles(result: ExperimentResult, spans: Sequence[Span], frame: Frame) -> list[_Title]:
    by_step: dict[int, list[Span]] = {}
    for span in spans:
        by_step.setdefault(span.number, []).append(span)
    steps = {s.index + 1: s for s in result.steps}
    out = []
    for number, its in sorted(by_step.items()):
        x0, x1 = frame.x(its[0].start_s), frame.x(its[-1].end_s)
        step = steps.get(number)
        if step is None:
            out.append(_Title(x0, x1, "baseline", MUTED, "", "the baseline's first apply"))
            continue
        colour, glyph = tone(step)
        name = f"{number} {step.name}"
        out.append(
            _Title(
                x0, x1, f"{glyph} {name}", colour, f"#step-{number}", f"{name}: {status_word(step)}"
            )
        )
    return out


def step_titles(
    result: ExperimentResult, spans: Sequence[Span], frame: Frame
) -> tuple[list[Shape], float]:
    """Each step's name over a bracket spanning its phases, and where the phases lane
    starts. When a name does not fit its bracket, names alternate between two rows so
    each may use the room over its neighbours."""
    titles = _titles(result, spans, frame)
    rows = 1 if all(fits(t.text, t.x1 - t.x0 - 4, 12, bold=True) == t.text for t in titles) else 2
    bracket = 8 + rows * 14
    shapes: list[Shape] = []
    # Per row, where the last name placed on it ends: names never overlap.
    ends = [LEFT - 40.0] * rows
    for i, t in enumerate(titles):
        shapes.append(
            Shape(
                "path",
                (
                    (
                        "d",
                        f"M{num(t.x0 + 1)} {bracket + 6}V{bracket}H{num(t.x1 - 1)}V{bracket + 6}",
                    ),
                    ("fill", "none"),
                    ("stroke", t.colour),
                    ("stroke-width", "1.5"),
                ),
            )
        )
        row = i % rows
        if rows == 1:
            left, right = t.x0 + 2, t.x1 - 2
        else:
            left = max(ends[row] + 10, titles[i - 1].x0 if i > 0 else LEFT - 40)
            right = titles[i + 1].x1 if i + 1 < len(titles) else WIDTH - 2
        label = fits(t.text, right - left, 12, bold=True)
        if not label:
            continue
        width = min(len(label) * 12 * BOLD, right - left)
        centre = min(max(t.centre, left + width / 2), right - width / 2)
        ends[row] = centre + width / 2
        shapes.append(
            text(
                centre,
                bracket - 6 - (rows - 1 - row) * 14,
                label,
                size=12,
                fill=t.colour,
                href=t.href,
                tip=t.tip,
                **{"text-anchor": "middle", "font-weight": "600"},
            )
        )
    return shapes, bracket + 10


def phase_titles(spans: Sequence[Span], frame: Frame) -> tuple[list[Shape], float]:
    """Over each phase of a step: whether it held or converged, and in how long; said
    shorter when the phase is narrow, each title using the room up to the next phase."""
    shapes = []
    for i, span in enumerate(spans):
        x0 = frame.x(span.start_s)
        room = (frame.x(spans[i + 1].start_s) if i + 1 < len(spans) else WIDTH) - x0 - 6
        if span.phase is Phase.BEFORE:
            words = ["steady" if span.converged else "not steady"]
        elif span.converged and span.convergence_s is not None:
            words = [f"converged in {seconds(span.convergence_s)}", seconds(span.convergence_s)]
        else:
            words = ["did not converge", "no"]
        texts = [f"{span.phase}: {w}" for w in words]
        label = next((t for t in texts if fits(t, room, 11.5, bold=True) == t), "")
        label = label or fits(texts[-1], room, 11.5, bold=True)
        colour = HELD if span.converged else NOT_HELD
        if label:
            shapes.append(text(x0 + 2, 16, label, size=11.5, fill=colour, **{"font-weight": "600"}))
    return shapes, 24


def tone(step: StepResult) -> tuple[str, str]:
    """Colour and glyph: held; not held (it failed, or the steady state did not hold);
    skipped, which says nothing of the step itself."""
    if step.status is StepStatus.SKIPPED:
        return NOT_RUN, "–"
    return (HELD, "✓") if step.ok else (NOT_HELD, "✗")
