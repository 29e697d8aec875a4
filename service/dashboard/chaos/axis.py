"""Where things go: the drawing's geometry, the phases on the experiment's axis, and the
frame (the part of the axis drawn, and its ticks)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from service.chaos.results import ExperimentResult, Phase

__all__ = ["GUTTER", "LEFT", "RIGHT", "STEPS_H", "WIDTH", "Frame", "Span", "spans", "ticks"]

WIDTH: Final = 1180
GUTTER: Final = 262
LEFT: Final = 276
RIGHT: Final = WIDTH - 18
STEPS_H: Final = 24
_NICE: Final = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


@dataclass(frozen=True, slots=True)
class Span:
    """A phase on the experiment's axis, with the step it belongs to (number 0: baseline)."""

    number: int
    step: str
    phase: Phase
    start_s: float
    end_s: float
    action_s: float
    converged: bool
    convergence_s: float | None
    resolution_s: float

    @property
    def who(self) -> str:
        return f"step {self.number} {self.step}" if self.number else "the baseline"


def spans(result: ExperimentResult) -> list[Span]:
    out = []
    phases = [(0, "", result.baseline_phase)] if result.baseline_phase is not None else []
    phases += [(s.index + 1, s.name, p) for s in result.steps for p in s.phases]
    for number, step, p in phases:
        out.append(
            Span(
                number=number,
                step=step,
                phase=p.phase,
                start_s=p.started_s,
                end_s=p.started_s + p.observed_s,
                action_s=min(p.action_s, p.observed_s),
                converged=p.converged,
                convergence_s=p.convergence_s,
                resolution_s=p.resolution_s,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class Frame:
    """The part of the axis drawn: ``start_s`` to ``end_s``; ticks are labelled in seconds
    since ``origin_s``."""

    start_s: float
    end_s: float
    origin_s: float
    caption: str

    def x(self, at_s: float) -> float:
        span = max(self.end_s - self.start_s, 1e-9)
        clipped = min(max(at_s, self.start_s), self.end_s)
        return LEFT + (clipped - self.start_s) / span * (RIGHT - LEFT)

    def covers(self, start_s: float, end_s: float) -> bool:
        return end_s > self.start_s and start_s < self.end_s


def ticks(frame: Frame) -> list[float]:
    """Round times since the origin, about one per 80 pixels."""
    span = frame.end_s - frame.start_s
    wanted = max(span / ((RIGHT - LEFT) / 80), 1e-9)
    step = next((n for n in _NICE if n >= wanted), _NICE[-1] * math.ceil(wanted / _NICE[-1]))
    first = math.ceil((frame.start_s - frame.origin_s) / step - 1e-9)
    out = []
    k = first
    while frame.origin_s + k * step <= frame.end_s + 1e-9:
        out.append(frame.origin_s + k * step)
        k += 1
    return out
