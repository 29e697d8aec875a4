"""What a run found: frozen values, one per cell, per version and per run.

This module imports nothing of ``service.cluster`` so that renderers
(``service.report``) and the store can use results without depending on any
backend. ``to_dict`` gives plain JSON-ready data (the JSON report, and the
shape a store row is filled from).

Rules (decided here, once):

- regression: the final observed verdict differs from the engine's expected
  verdict on an ordinary cell (an ``error`` counts: the expectation did not
  hold), or an explicit expectation of the scenario failed;
- flaky: the attempts of a cell disagree; the final verdict and every attempt
  are kept, so a retry never hides what was seen;
- loopback: a mismatch is kept and listed apart but is not a regression (CNIs
  differ on hairpin traffic); an explicit expectation on it still counts;
- invalid: never probed; expected and observed are both ``invalid``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from service.policy.verdict import Explanation
from service.scenario.cells import Cell, CellKind, RawOutcome
from service.scenario.model import Expectation, Verdict

__all__ = [
    "Attempt",
    "CellResult",
    "Convergence",
    "Counts",
    "ExpectationCheck",
    "RunResult",
    "VersionResult",
]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One probe of a cell. ``at_s``: seconds since the run started, on the cluster clock."""

    number: int
    observed: Verdict
    raw: RawOutcome
    latency_ms: float
    detail: str = ""
    at_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "observed": str(self.observed),
            "raw": str(self.raw),
            "latency_ms": self.latency_ms,
            "detail": self.detail,
            "at_s": round(self.at_s, 6),
        }


@dataclass(frozen=True, slots=True)
class ExpectationCheck:
    expectation: Expectation
    held: bool

    @property
    def label(self) -> str:
        text = self.expectation.description or "expectation"
        return f"{text} (line {self.expectation.line})" if self.expectation.line else text

    def to_dict(self) -> dict[str, Any]:
        return {
            "description": self.expectation.description,
            "line": self.expectation.line,
            "verdict": str(self.expectation.verdict),
            "held": self.held,
        }


@dataclass(frozen=True, slots=True)
class CellResult:
    cell: Cell
    expected: Verdict
    observed: Verdict
    raw: RawOutcome | None
    latency_ms: float | None
    attempts: tuple[Attempt, ...]
    explanation: Explanation | None
    regression: bool
    flaky: bool
    checks: tuple[ExpectationCheck, ...] = ()
    detail: str = ""

    @classmethod
    def judge(
        cls,
        *,
        cell: Cell,
        expected: Verdict,
        explanation: Explanation | None,
        attempts: tuple[Attempt, ...],
        expectations: tuple[Expectation, ...] = (),
    ) -> CellResult:
        """Apply the rules of this module to a cell's attempts (none for an invalid cell)."""
        final = attempts[-1] if attempts else None
        observed = final.observed if final is not None else Verdict.INVALID
        checks = tuple(ExpectationCheck(e, e.verdict == observed) for e in expectations)
        mismatch = observed != expected and cell.kind is CellKind.PROBE
        return cls(
            cell=cell,
            expected=expected,
            observed=observed,
            raw=final.raw if final is not None else None,
            latency_ms=final.latency_ms if final is not None else None,
            attempts=attempts,
            explanation=explanation,
            regression=mismatch or not all(c.held for c in checks),
            flaky=len({a.observed for a in attempts}) > 1,
            checks=checks,
            detail=final.detail if final is not None else cell.invalid_reason,
        )

    @property
    def error(self) -> bool:
        return self.observed is Verdict.ERROR

    @property
    def loopback_mismatch(self) -> bool:
        return self.cell.kind is CellKind.LOOPBACK and self.observed != self.expected

    @property
    def failed_checks(self) -> tuple[ExpectationCheck, ...]:
        return tuple(c for c in self.checks if not c.held)

    def to_dict(self) -> dict[str, Any]:
        cell = self.cell
        return {
            "key": cell.key,
            "version": cell.version,
            "kind": str(cell.kind),
            "source_namespace": cell.source_namespace,
            "source": cell.source,
            "source_labels": dict(cell.source_labels),
            "source_pod": cell.source_pod,
            "target_namespace": cell.target_namespace,
            "target": cell.target,
            "target_pod": cell.target_pod,
            "port": cell.port,
            "port_number": cell.port_number,
            "protocol": str(cell.protocol),
            "expected": str(self.expected),
            "observed": str(self.observed),
            "raw": str(self.raw) if self.raw is not None else None,
            "latency_ms": self.latency_ms,
            "regression": self.regression,
            "flaky": self.flaky,
            "detail": self.detail,
            "attempts": [a.to_dict() for a in self.attempts],
            "expectations": [c.to_dict() for c in self.checks],
            "explanation": self.explanation.render() if self.explanation else None,
        }


@dataclass(frozen=True, slots=True)
class Counts:
    """How many cells of each kind a version or run had."""

    cells: int
    probed: int
    invalid: int
    regressions: int
    flaky: int
    errors: int
    loopback_mismatches: int
    failed_expectations: int

    @classmethod
    def of(cls, results: tuple[CellResult, ...]) -> Counts:
        return cls(
            cells=len(results),
            probed=sum(1 for r in results if r.cell.probed),
            invalid=sum(1 for r in results if not r.cell.probed),
            regressions=sum(1 for r in results if r.regression),
            flaky=sum(1 for r in results if r.flaky),
            errors=sum(1 for r in results if r.error),
            loopback_mismatches=sum(1 for r in results if r.loopback_mismatch),
            failed_expectations=sum(len(r.failed_checks) for r in results),
        )

    def to_dict(self) -> dict[str, int]:
        return {
            "cells": self.cells,
            "probed": self.probed,
            "invalid": self.invalid,
            "regressions": self.regressions,
            "flaky": self.flaky,
            "errors": self.errors,
            "loopback_mismatches": self.loopback_mismatches,
            "failed_expectations": self.failed_expectations,
        }


@dataclass(frozen=True, slots=True)
class Convergence:
    """How long the dataplane took to show a version (see :mod:`service.runner.convergence`).

    ``seconds``: from the version's apply to the first poll in which every canary
    cell matched the engine; None when the settle deadline passed first
    (``settled`` False) or nothing could be measured. ``waited_s``: how long
    polling went on; ``polls``: poll rounds; ``canaries``: the polled cell keys.
    """

    settled: bool
    seconds: float | None
    waited_s: float
    polls: int
    canaries: tuple[str, ...] = ()
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "settled": self.settled,
            "seconds": round(self.seconds, 6) if self.seconds is not None else None,
            "waited_s": round(self.waited_s, 6),
            "polls": self.polls,
            "canaries": list(self.canaries),
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class VersionResult:
    """The cells of one policy version, in plan order; ``convergence`` when it was measured."""

    version: str
    content_hash: str
    cells: tuple[CellResult, ...]
    description: str = ""
    convergence: Convergence | None = None

    @property
    def counts(self) -> Counts:
        return Counts.of(self.cells)

    @property
    def regressions(self) -> tuple[CellResult, ...]:
        return tuple(r for r in self.cells if r.regression)

    @property
    def flaky(self) -> tuple[CellResult, ...]:
        return tuple(r for r in self.cells if r.flaky)

    @property
    def loopback_mismatches(self) -> tuple[CellResult, ...]:
        return tuple(r for r in self.cells if r.loopback_mismatch)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "content_hash": self.content_hash,
            "description": self.description,
            "summary": self.counts.to_dict(),
            "convergence": self.convergence.to_dict() if self.convergence else None,
            "cells": [r.to_dict() for r in self.cells],
        }


@dataclass(frozen=True, slots=True)
class RunResult:
    """A whole run. ``backend``/``cluster``/``backend_versions`` copy the cluster's
    description; ``duration_s`` is measured on the cluster's clock."""

    scenario: str
    scenario_hash: str
    backend: str
    cluster: str
    versions: tuple[VersionResult, ...]
    backend_versions: tuple[tuple[str, str], ...] = ()
    duration_s: float = 0.0

    @property
    def cells(self) -> tuple[CellResult, ...]:
        """Every cell of every version, versions in run order."""
        return tuple(r for version in self.versions for r in version.cells)

    @property
    def counts(self) -> Counts:
        return Counts.of(self.cells)

    @property
    def ok(self) -> bool:
        """True when every expected verdict and every explicit expectation held."""
        return not any(r.regression for r in self.cells)

    def version(self, name: str) -> VersionResult:
        for v in self.versions:
            if v.version == name:
                return v
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "scenario_hash": self.scenario_hash,
            "backend": self.backend,
            "cluster": self.cluster,
            "backend_versions": dict(self.backend_versions),
            "duration_s": round(self.duration_s, 6),
            "ok": self.ok,
            "summary": self.counts.to_dict(),
            "versions": [v.to_dict() for v in self.versions],
        }
