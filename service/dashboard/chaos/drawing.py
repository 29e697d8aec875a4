"""A chaos experiment's timeline laid out as SVG shapes; a template writes them out.

Everything is placed here, in plain numbers, so the page needs no script to
draw and the same :class:`Drawing` serves the page (inline SVG, under a CSP
without inline styles: colours are presentation attributes) and the download
(a standalone file). Text is never pre-escaped: the template's autoescaping
writes every name as text.

Two views share one layout:

- :func:`experiment_drawing`, the whole experiment on one axis (seconds since
  it started): step titles over a lane of phases, then a lane per watched cell;
- :func:`step_drawing`, one step close up, its axis in seconds since its action
  began, with the cells' convergence lines.

A cell lane is painted "matched" wherever the cell was probed, striped where the
action was still in progress (nothing probed), and each deviation of
:func:`service.chaos.timeline` drawn over it. Spans are at least
:data:`MIN_BAND` pixels wide so a short window stays visible on a long axis.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from service.chaos.results import ExperimentResult, Observation, Phase, StepResult, WatchedCell
from service.chaos.timeline import STEPS_LANE, Band, Timeline
from service.dashboard.chaos.axis import (
    GUTTER,
    LEFT,
    RIGHT,
    STEPS_H,
    WIDTH,
    Frame,
    Span,
    spans,
    ticks,
)
from service.dashboard.chaos.figures import status_word
from service.dashboard.chaos.palette import (
    HELD,
    INK,
    MATCH,
    MUTED,
    NOT_HELD,
    NOT_PROBED,
    OBSERVATION_PAINT,
    PHASE_PAINT,
)
from service.dashboard.chaos.svg import (
    Drawing,
    Pattern,
    Shape,
    diamond,
    fill,
    fits,
    line,
    num,
    rect,
    seconds,
    text,
    tick_label,
)
from service.dashboard.chaos.titles import phase_titles, step_titles

__all__ = ["MIN_BAND", "WIDTH", "Drawing", "experiment_drawing", "seconds", "step_drawing"]

MIN_BAND: Final = 2.0
_LANE_H: Final = 30
_LANE_GAP: Final = 5
# A step's close-up lists every watched cell up to this many, else only those that deviated.
_ALL_CELLS_UP_TO: Final = 12


@dataclass
class _Layers:
    """Shapes in drawing order: what is underneath first."""

    ground: list[Shape]
    grid: list[Shape]
    bands: list[Shape]
    marks: list[Shape]
    labels: list[Shape]

    def all(self) -> tuple[Shape, ...]:
        return (*self.ground, *self.grid, *self.bands, *self.marks, *self.labels)


def _band_tip(band: Band, cell: WatchedCell, span: Span | None) -> str:
    origin = span.start_s if span is not None else 0.0
    where = f"{span.phase} of {span.who}" if span is not None else "the experiment"
    return (
        f"{cell.source} → {cell.target} {cell.probe}\n{band.state} for "
        f"{seconds(band.end_s - band.start_s)}: {seconds(band.start_s - origin)} to "
        f"{seconds(band.end_s - origin)} after the {where} began"
    )


def _span_of(spans: Sequence[Span], step: str, at_s: float) -> Span | None:
    found = None
    for span in spans:
        if span.step == step and span.start_s <= at_s + 1e-9:
            found = span
    return found


def _phase_tip(span: Span) -> str:
    head = f"{span.who}: {span.phase}, {seconds(span.end_s - span.start_s)}"
    if span.phase is Phase.BEFORE:
        state = "the steady state held" if span.converged else "the steady state did not hold"
        return f"{head}\n{state}"
    if span.converged and span.convergence_s is not None:
        settled = f"converged {seconds(span.convergence_s)} after it began"
        return f"{head}\n{settled} (± {seconds(span.resolution_s)})"
    return f"{head}\ndid not converge"


def _draw(
    result: ExperimentResult,
    timeline: Timeline,
    frame: Frame,
    *,
    prefix: str,
    lanes: Sequence[WatchedCell],
    named_steps: bool,
    settle_lines: bool,
    label: str,
) -> Drawing:
    shown = [s for s in spans(result) if frame.covers(s.start_s, s.end_s)]
    patterns: dict[str, Pattern] = {}
    layers = _Layers([], [], [], [], [])
    if named_steps:
        titles, top = step_titles(result, shown, frame)
    else:
        titles, top = phase_titles(shown, frame)
    layers.labels.extend(titles)
    lanes_top = top + STEPS_H + 12
    bottom = lanes_top + len(lanes) * (_LANE_H + _LANE_GAP) - _LANE_GAP
    axis_y = max(bottom, top + STEPS_H) + 10
    height = axis_y + 30
    layers.labels.append(
        text(GUTTER, top + 16, "phases", size=11, fill=MUTED, **{"text-anchor": "end"})
    )
    # The phases lane.
    not_probed = fill(NOT_PROBED, patterns, prefix, "not-probed")
    for span in shown:
        x0, x1 = frame.x(span.start_s), frame.x(span.end_s)
        paint = PHASE_PAINT[span.phase]
        layers.ground.append(rect(x0, x1, top, STEPS_H, paint.colour, tip=_phase_tip(span), rx="3"))
        if span.action_s > 0:
            layers.ground.append(
                rect(
                    x0,
                    frame.x(span.start_s + span.action_s),
                    top,
                    STEPS_H,
                    not_probed,
                    tip=f"the action took {seconds(span.action_s)}; nothing was probed meanwhile",
                )
            )
        word = "" if named_steps else fits(str(span.phase), x1 - x0 - 8, 10.5)
        if word:
            layers.labels.append(text(x0 + 5, top + 16, word, size=10.5, fill="#334155"))
    # The cells' lanes.
    bands: dict[str, list[Band]] = {}
    for band in timeline.bands:
        if band.lane != STEPS_LANE and frame.covers(band.start_s, band.end_s):
            bands.setdefault(band.lane, []).append(band)
    probed = _probed(shown)
    for i, cell in enumerate(lanes):
        y = lanes_top + i * (_LANE_H + _LANE_GAP)
        layers.labels.extend(_lane_label(cell, y))
        layers.ground.append(rect(LEFT, RIGHT, y, _LANE_H, "#f8fafc", rx="3"))
        for start, end in probed:
            layers.ground.append(rect(frame.x(start), frame.x(end), y, _LANE_H, MATCH.colour))
        for span in shown:
            if span.action_s > 0:
                x0, x1 = frame.x(span.start_s), frame.x(span.start_s + span.action_s)
                layers.ground.append(rect(x0, x1, y, _LANE_H, not_probed))
        for band in bands.get(cell.key, []):
            state = Observation(band.state)
            x0, x1 = frame.x(band.start_s), frame.x(band.end_s)
            if x1 - x0 < MIN_BAND:
                x1 = x0 + MIN_BAND
            band_fill = fill(OBSERVATION_PAINT[state], patterns, prefix, str(state))
            tip = _band_tip(band, cell, _span_of(shown, band.step, band.start_s))
            layers.bands.append(
                rect(
                    x0, x1, y + 3, _LANE_H - 6, band_fill, tip=tip, rx="2", **{"data-state": state}
                )
            )
    # Grid and axis.
    for at in ticks(frame):
        x = frame.x(at)
        if bottom > lanes_top:
            layers.grid.append(line(x, lanes_top, x, bottom, "#ffffff", **{"stroke-width": "1.5"}))
        layers.labels.append(line(x, axis_y, x, axis_y + 5, MUTED))
        layers.labels.append(
            text(
                x,
                axis_y + 18,
                tick_label(at - frame.origin_s, signed=frame.origin_s > 0),
                size=11,
                fill=MUTED,
                **{"text-anchor": "middle"},
            )
        )
    layers.labels.append(line(LEFT, axis_y, RIGHT, axis_y, "#cbd5e1"))
    layers.labels.append(
        text(GUTTER, axis_y + 18, frame.caption, size=11, fill=MUTED, **{"text-anchor": "end"})
    )
    layers.marks.extend(
        _markers(timeline, shown, frame, top=top, bottom=bottom, settle_lines=settle_lines)
    )
    return Drawing(
        id=prefix,
        width=WIDTH,
        height=math.ceil(height),
        label=label,
        shapes=layers.all(),
        patterns=tuple(patterns.values()),
        lanes=len(lanes),
    )


def _probed(spans: Sequence[Span]) -> list[tuple[float, float]]:
    """The stretches of time the phases cover, back to back phases merged: a cell lane is
    painted "matched" over them in one piece each (its deviations go on top)."""
    out: list[tuple[float, float]] = []
    for span in sorted(spans, key=lambda s: s.start_s):
        if out and span.start_s <= out[-1][1] + 1e-6:
            out[-1] = (out[-1][0], max(out[-1][1], span.end_s))
        else:
            out.append((span.start_s, span.end_s))
    return out


def _lane_label(cell: WatchedCell, y: float) -> list[Shape]:
    tip = f"{cell.source} → {cell.target} {cell.probe}"
    return [
        text(
            0,
            y + 13,
            fits(cell.source, GUTTER, 12, bold=True),
            size=12,
            tip=tip,
            **{"font-weight": "600", "data-cell": cell.key},
        ),
        text(0, y + 26, fits(f"→ {cell.target} {cell.probe}", GUTTER, 11), size=11, fill=MUTED),
    ]


def _markers(
    timeline: Timeline,
    spans: Sequence[Span],
    frame: Frame,
    *,
    top: float,
    bottom: float,
    settle_lines: bool,
) -> Iterable[Shape]:
    by_phase = {(s.step, str(s.phase)): s for s in spans}
    lanes_top = top + STEPS_H + 12
    for marker in timeline.markers:
        span = by_phase.get((marker.step, marker.phase))
        if span is None or not frame.start_s - 1e-9 <= marker.at_s <= frame.end_s + 1e-9:
            continue
        x = frame.x(marker.at_s)
        if marker.kind == "action":
            if bottom > lanes_top:
                yield line(
                    x, top, x, bottom, INK, **{"stroke-opacity": "0.3", "data-marker": "action"}
                )
            yield Shape(
                "path",
                (
                    ("d", f"M{num(x - 5)} {top - 1}H{num(x + 5)}L{num(x)} {top + 6}Z"),
                    ("fill", INK),
                    ("data-marker", "action"),
                ),
                tip=f"{span.who}: the {span.phase} began",
            )
        elif marker.kind == "converged":
            if settle_lines and bottom > lanes_top:
                yield line(
                    x,
                    lanes_top,
                    x,
                    bottom,
                    HELD,
                    **{"stroke-dasharray": "3 3", "stroke-width": "1.5"},
                )
            yield diamond(x, top + STEPS_H / 2, HELD, _phase_tip(span), "converged")
    for span in spans:
        if span.phase is not Phase.BEFORE and not span.converged:
            x = frame.x(span.end_s)
            yield diamond(x - 6, top + STEPS_H / 2, NOT_HELD, _phase_tip(span), "unsettled")


# --- the two views -------------------------------------------------------------------------


def experiment_drawing(result: ExperimentResult, timeline: Timeline) -> Drawing:
    """The whole experiment: every phase and every watched cell on one axis."""
    frame = Frame(0.0, max(timeline.duration_s, 1e-6), 0.0, "s since the start")
    held = sum(1 for s in result.steps if s.ok)
    return _draw(
        result,
        timeline,
        frame,
        prefix="tl",
        lanes=result.watched,
        named_steps=True,
        settle_lines=False,
        label=(
            f"Timeline of the chaos experiment on {result.scenario}: {len(result.steps)} steps,"
            f" {held} held; {len(result.watched)} watched cells"
        ),
    )


def step_drawing(
    result: ExperimentResult,
    timeline: Timeline,
    step: StepResult,
) -> Drawing | None:
    """One step close up (None when none of its phases ran), its axis in seconds since its
    action began. Up to a dozen cells all are drawn, else only those that deviated."""
    phases = step.phases
    if not phases:
        return None
    start = phases[0].started_s
    end = phases[-1].started_s + phases[-1].observed_s
    origin = step.change.started_s if step.change is not None else start
    frame = Frame(start, max(end, start + 1e-6), origin, "s since the action")
    lanes: Sequence[WatchedCell] = result.watched
    if len(lanes) > _ALL_CELLS_UP_TO:
        shown = _deviating(timeline, frame)
        lanes = [c for c in lanes if c.key in shown]
    return _draw(
        result,
        timeline,
        frame,
        prefix=f"s{step.index + 1}",
        lanes=lanes,
        named_steps=False,
        settle_lines=True,
        label=f"Step {step.index + 1} {step.name}: {status_word(step)}",
    )


def _deviating(timeline: Timeline, frame: Frame) -> set[str]:
    return {
        b.lane for b in timeline.bands if b.lane != STEPS_LANE and frame.covers(b.start_s, b.end_s)
    }
