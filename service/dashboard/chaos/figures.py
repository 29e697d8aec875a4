"""What a chaos experiment's page says in words and numbers: per step its convergence, its
windows with the cells in them, whether it held; the experiment's worst; the downloads.

Everything is read off the :class:`~service.chaos.results.ExperimentResult` (the
same value the run produced), so the page, the CLI's table and the REST API
agree. The worst fail-open and fail-closed windows of a step are over its
action and rollback, as in ``netpol-drift chaos``'s table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from service.chaos.results import (
    ExperimentResult,
    Observation,
    Phase,
    PhaseResult,
    StepResult,
    StepStatus,
    WatchedCell,
)
from service.dashboard.chaos.palette import DEVIATIONS
from service.export.tables import Cell, Table

__all__ = [
    "CellTime",
    "ExperimentFigures",
    "PhaseFigures",
    "StepFigures",
    "WindowRow",
    "experiment_figures",
    "status_word",
    "steps_table",
    "windows_table",
]

_MOVING: Final = (Phase.ACTION, Phase.ROLLBACK)


def status_word(step: StepResult) -> str:
    """``held``, ``not held``, or why it did not run (``unsteady``, ``skipped``, ``failed``)."""
    if step.status is not StepStatus.COMPLETED:
        return str(step.status)
    return "held" if step.ok else "not held"


@dataclass(frozen=True, slots=True)
class CellTime:
    cell: WatchedCell
    seconds: float


@dataclass(frozen=True, slots=True)
class WindowRow:
    """A phase's window of one kind: how long at least one cell was in it, from when to
    when (seconds since the phase's action began), and every cell with its own time."""

    phase: Phase
    state: Observation
    seconds: float
    start_s: float
    end_s: float
    resolution_s: float
    cells: tuple[CellTime, ...]

    @property
    def violation(self) -> bool:
        return self.state.violation


@dataclass(frozen=True, slots=True)
class PhaseFigures:
    phase: Phase
    converged: bool
    convergence_s: float | None
    resolution_s: float
    action_s: float
    observed_s: float
    rounds: int
    note: str

    @classmethod
    def of(cls, phase: PhaseResult) -> PhaseFigures:
        return cls(
            phase=phase.phase,
            converged=phase.converged,
            convergence_s=phase.convergence_s if phase.converged else None,
            resolution_s=phase.resolution_s,
            action_s=phase.action_s,
            observed_s=phase.observed_s,
            rounds=phase.rounds,
            note=phase.note,
        )


def _windows(phase: PhaseResult) -> list[WindowRow]:
    out = []
    for state in DEVIATIONS:
        window = phase.window(state)
        if not window or window.start_s is None or window.end_s is None:
            continue
        out.append(
            WindowRow(
                phase=phase.phase,
                state=state,
                seconds=window.seconds,
                start_s=window.start_s,
                end_s=window.end_s,
                resolution_s=phase.resolution_s,
                cells=tuple(
                    CellTime(cell, s) for cell, s in sorted(window.cells, key=lambda c: -c[1])
                ),
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class StepFigures:
    step: StepResult
    before: PhaseFigures | None
    change: PhaseFigures | None
    rollback: PhaseFigures | None
    windows: tuple[WindowRow, ...]

    @property
    def number(self) -> int:
        return self.step.index + 1

    @property
    def status(self) -> str:
        return status_word(self.step)

    @property
    def tone(self) -> str:
        """For styling: ``held``; ``not-held`` (also when it failed or the steady state did
        not hold before it); ``not-run`` when skipped."""
        if self.step.status is StepStatus.SKIPPED:
            return "not-run"
        return "held" if self.step.ok else "not-held"

    @property
    def ran(self) -> bool:
        return self.change is not None

    def worst(self, state: Observation) -> WindowRow | None:
        """The longest window of ``state`` in the action or the rollback."""
        found = [w for w in self.windows if w.state is state and w.phase in _MOVING]
        return max(found, key=lambda w: w.seconds, default=None)

    @property
    def fail_open(self) -> WindowRow | None:
        return self.worst(Observation.FAIL_OPEN)

    @property
    def fail_closed(self) -> WindowRow | None:
        return self.worst(Observation.FAIL_CLOSED)

    @property
    def stale_open(self) -> WindowRow | None:
        return self.worst(Observation.STALE_OPEN)

    @property
    def stale_closed(self) -> WindowRow | None:
        return self.worst(Observation.STALE_CLOSED)

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why a step that ran did not hold, in words (empty when it held)."""
        if self.step.ok or self.step.status is not StepStatus.COMPLETED:
            return ()
        out = []
        if self.before is not None and not self.before.converged:
            out.append("the steady state did not hold before it")
        for figures, name in ((self.change, "the action"), (self.rollback, "the rollback")):
            if figures is not None and not figures.converged:
                out.append(f"{name} did not converge")
        for window in self.windows:
            if window.violation and window.phase in _MOVING:
                count = len(window.cells)
                out.append(
                    f"{window.state} during the {window.phase}"
                    f" ({count} cell{'' if count == 1 else 's'})"
                )
        if self.step.rollback_error:
            out.append("the rollback failed")
        return tuple(out)


@dataclass(frozen=True, slots=True)
class ExperimentFigures:
    steps: tuple[StepFigures, ...]
    baseline: PhaseFigures | None

    @property
    def held(self) -> int:
        return sum(1 for s in self.steps if s.step.ok)

    @property
    def ran(self) -> int:
        return sum(1 for s in self.steps if s.ran)

    def worst(self, state: Observation) -> tuple[StepFigures, WindowRow] | None:
        found = [(s, w) for s in self.steps if (w := s.worst(state)) is not None]
        return max(found, key=lambda pair: pair[1].seconds, default=None)

    @property
    def slowest(self) -> tuple[StepFigures, PhaseFigures] | None:
        """The phase (action or rollback) that took longest to converge; an unconverged one
        counts as slowest of all."""
        found = [
            (s, p)
            for s in self.steps
            for p in (s.change, s.rollback)
            if p is not None and p.phase in _MOVING
        ]
        return max(
            found,
            key=lambda pair: (
                float("inf") if pair[1].convergence_s is None else pair[1].convergence_s
            ),
            default=None,
        )


def experiment_figures(result: ExperimentResult) -> ExperimentFigures:
    steps = []
    for step in result.steps:
        steps.append(
            StepFigures(
                step=step,
                before=PhaseFigures.of(step.before) if step.before is not None else None,
                change=PhaseFigures.of(step.change) if step.change is not None else None,
                rollback=PhaseFigures.of(step.rollback) if step.rollback is not None else None,
                windows=tuple(w for p in step.phases for w in _windows(p)),
            )
        )
    baseline = result.baseline_phase
    return ExperimentFigures(
        steps=tuple(steps),
        baseline=PhaseFigures.of(baseline) if baseline is not None else None,
    )


# --- downloads -----------------------------------------------------------------------------


def _round(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


def steps_table(result: ExperimentResult) -> Table:
    """One row per step: status, convergence of the action and rollback, and the longest
    window of each kind with its cell count."""
    figures = experiment_figures(result)
    kinds = list(DEVIATIONS)
    columns = (
        "step",
        "name",
        "kind",
        "action",
        "status",
        "held",
        "converged_s",
        "resolution_s",
        "action_took_s",
        "rolled_back_s",
        *(f"{str(k).replace('-', '_')}_{unit}" for k in kinds for unit in ("s", "cells")),
    )
    rows: list[tuple[Cell, ...]] = []
    for s in figures.steps:
        windows: list[Cell] = []
        for kind in kinds:
            worst = s.worst(kind)
            windows += [_round(worst.seconds) if worst else 0.0, len(worst.cells) if worst else 0]
        rows.append(
            (
                s.number,
                s.step.name,
                str(s.step.kind),
                s.step.action,
                s.status,
                s.step.ok,
                _round(s.change.convergence_s) if s.change else None,
                _round(s.change.resolution_s) if s.change else None,
                _round(s.change.action_s) if s.change else None,
                _round(s.rollback.convergence_s) if s.rollback else None,
                *windows,
            )
        )
    return Table(columns, rows)


def windows_table(result: ExperimentResult) -> Table:
    """One row per cell of every window: which step and phase, which kind, the window's
    span (seconds since the phase's action began) and the cell's own time in it."""
    rows: list[tuple[Cell, ...]] = []
    for s in experiment_figures(result).steps:
        for w in s.windows:
            for c in w.cells:
                rows.append(
                    (
                        s.number,
                        s.step.name,
                        str(w.phase),
                        str(w.state),
                        c.cell.source,
                        c.cell.target,
                        c.cell.probe,
                        c.cell.key,
                        _round(c.seconds),
                        _round(w.seconds),
                        _round(w.start_s),
                        _round(w.end_s),
                        _round(w.resolution_s),
                    )
                )
    return Table(
        (
            "step",
            "name",
            "phase",
            "state",
            "source",
            "target",
            "probe",
            "cell_key",
            "cell_s",
            "window_s",
            "window_start_s",
            "window_end_s",
            "resolution_s",
        ),
        rows,
    )
