"""Regressions: cells of one run whose observed verdict is not what the engine expected.

The rules (the same as :mod:`service.runner.results`, read back from stored cells):

- a cell that was not probed (``invalid`` expected or observed) is never a
  regression: there was nothing to compare;
- an ordinary cell whose final observed verdict differs from the expected one
  is a regression; an ``error`` counts (the expectation did not hold);
- a loopback cell that differs is listed apart, not as a regression: CNIs
  differ on hairpin traffic (Calico blocks a pod reaching itself through its
  Service, Cilium does not);
- a cell the run flagged although observed equals expected failed an explicit
  expectation of the scenario (the user and the engine disagree): it is a
  regression of its own kind, loopback or not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from service.compare.observations import CellObservation

__all__ = ["Regression", "RegressionKind", "RegressionReport", "classify", "regressions"]


class RegressionKind(StrEnum):
    """Why a cell is listed: ``verdict`` observed != expected; ``expectation`` an explicit
    expectation of the scenario failed while the engine's verdict held; ``loopback`` a
    loopback cell differs (listed apart, not a regression)."""

    VERDICT = "verdict"
    EXPECTATION = "expectation"
    LOOPBACK = "loopback"


@dataclass(frozen=True, slots=True)
class Regression:
    """One listed cell, with the engine's explanation of what it expected."""

    kind: RegressionKind
    cell: CellObservation

    @property
    def explanation(self) -> str:
        return self.cell.explanation or ""

    def __str__(self) -> str:
        c = self.cell
        head = f"{c.version}: {c.place}: expected {c.expected}, observed {c.observed}"
        if self.kind is RegressionKind.EXPECTATION:
            head += " (an explicit expectation failed)"
        return head


@dataclass(frozen=True, slots=True)
class RegressionReport:
    """The regressions of one run and, apart, its loopback mismatches; in input order."""

    regressions: tuple[Regression, ...]
    loopback: tuple[Regression, ...]

    def __len__(self) -> int:
        return len(self.regressions)


def classify(cell: CellObservation) -> RegressionKind | None:
    """The kind under which ``cell`` is listed, or None when it is not listed."""
    if cell.invalid:
        return None
    mismatch = cell.observed is not cell.expected
    if cell.loopback:
        # On loopback the run's flag can only come from a failed explicit expectation.
        if cell.regression:
            return RegressionKind.EXPECTATION
        return RegressionKind.LOOPBACK if mismatch else None
    if mismatch:
        return RegressionKind.VERDICT
    return RegressionKind.EXPECTATION if cell.regression else None


def regressions(cells: Iterable[CellObservation]) -> RegressionReport:
    """The regressions among ``cells`` (one run's), with loopback mismatches listed apart."""
    found: list[Regression] = []
    loopback: list[Regression] = []
    for cell in cells:
        # Most cells are fine: skip them before any call.
        if cell.observed is cell.expected and not cell.regression:
            continue
        kind = classify(cell)
        if kind is RegressionKind.LOOPBACK:
            loopback.append(Regression(kind, cell))
        elif kind is not None:
            found.append(Regression(kind, cell))
    return RegressionReport(regressions=tuple(found), loopback=tuple(loopback))
