"""Chaos results as text: a table per experiment, each step's phases, every window.

Times are seconds from the start of the phase's action, with the phase's
resolution (the largest gap between two probes of a cell) after ``±``. Only
deviations are listed per cell: a cell that matched throughout is not shown.
"""

from __future__ import annotations

import json

from service.chaos.results import (
    ExperimentResult,
    Observation,
    PhaseResult,
    StepResult,
    StepStatus,
)

__all__ = ["render_json", "render_table"]

_DEVIATIONS = tuple(o for o in Observation if o is not Observation.MATCH)


def render_json(result: ExperimentResult) -> str:
    return json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n"


def render_table(result: ExperimentResult) -> str:
    out = [
        f"chaos experiment {result.scenario} on {result.backend} ({result.cluster})",
        f"baseline {result.baseline}; {len(result.watched)} cells watched, probed every"
        f" {result.interval_s:g} s; converged = observed == expected for {result.hold_s:g} s",
    ]
    if result.note:
        out.append(result.note)
    if result.baseline_phase is not None:
        out.append(f"baseline applied: {_settled(result.baseline_phase)}")
    out.append("")
    out.extend(_summary_table(result))
    for step in result.steps:
        out.append("")
        out.extend(_step(step))
    out.append("")
    ok = sum(1 for s in result.steps if s.ok)
    out.append(
        f"{len(result.steps)} steps: {ok} held, {len(result.steps) - ok} did not; "
        f"{'OK' if result.ok else 'FAILED'} in {result.duration_s:.1f} s"
    )
    return "\n".join(out) + "\n"


def _summary_table(result: ExperimentResult) -> list[str]:
    head = ("step", "status", "converged", "rolled back", "fail-open", "fail-closed")
    rows = [head]
    for step in result.steps:
        rows.append(
            (
                step.name,
                _status(step),
                _seconds(step.change),
                _seconds(step.rollback),
                _window_cell(step, Observation.FAIL_OPEN),
                _window_cell(step, Observation.FAIL_CLOSED),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    return [
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def _status(step: StepResult) -> str:
    if step.status is not StepStatus.COMPLETED:
        return str(step.status)
    return "held" if step.ok else "NOT HELD"


def _seconds(phase: PhaseResult | None) -> str:
    if phase is None:
        return "-"
    if not phase.converged or phase.convergence_s is None:
        return "no"
    return f"{phase.convergence_s:.2f} s"


def _window_cell(step: StepResult, state: Observation) -> str:
    seen = [p.window(state) for p in (step.change, step.rollback) if p is not None]
    seen = [w for w in seen if w]
    if not seen:
        return "-"
    seconds = max(w.seconds for w in seen)
    cells = max(len(w.cells) for w in seen)
    return f"{seconds:.2f} s ({cells} cell{'s' if cells != 1 else ''})"


def _step(step: StepResult) -> list[str]:
    out = [f"== step {step.index + 1} {step.name}: {step.action}: {_status(step)} =="]
    if step.description:
        out.append(f"   {step.description.strip()}")
    if step.note:
        out.append(f"   {step.note}")
    if step.error:
        out.append(f"   error: {step.error}")
    if step.rollback_error:
        out.append(f"   rollback failed: {step.rollback_error}")
    for phase in step.phases:
        out.extend(_phase(phase))
    return out


def _settled(phase: PhaseResult) -> str:
    if phase.converged and phase.convergence_s is not None:
        text = f"converged in {phase.convergence_s:.2f} s (±{phase.resolution_s:.2f} s"
        if phase.action_s >= 0.01:
            text += f"; the action took {phase.action_s:.2f} s"
        return text + f", {phase.rounds} rounds)"
    return f"did not converge: {phase.note}"


def _phase(phase: PhaseResult) -> list[str]:
    line = f"   {str(phase.phase).ljust(8)}  {_settled(phase)}"
    windows = [phase.window(state) for state in _DEVIATIONS]
    shown = [
        f"{w.state} {w.seconds:.2f} s on {len(w.cells)} cell{'s' if len(w.cells) != 1 else ''}"
        for w in windows
        if w
    ]
    if shown:
        line += "; " + ", ".join(shown)
    out = [line]
    for trace in phase.cells:
        deviations = [s for s in trace.segments if s.state is not Observation.MATCH]
        if not deviations:
            continue
        spans = ", ".join(f"{s.state} {s.start_s:.2f}-{s.end_s:.2f} s" for s in deviations)
        expected = (
            f"expected {trace.new}"
            if trace.old == trace.new
            else f"expected {trace.old} -> {trace.new}"
        )
        out.append(f"      {trace.cell} ({expected}): {spans}")
        if trace.detail and any(s.state is Observation.UNAVAILABLE for s in deviations):
            out.append(f"        {trace.detail}")
    return out
