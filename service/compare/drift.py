"""Drift: what changed in a run since the previous run of the same scenario.

A cell *drifted* when its final observed verdict differs between the two runs.
Each change is put in one group, by its verdicts before and after:

    before \\ after  allowed         blocked         error          invalid
    allowed         -               newly-blocked   became-error   became-invalid
    blocked         newly-allowed   -               became-error   became-invalid
    error           recovered       recovered       -              became-invalid
    invalid         became-probed   became-probed   became-error   -

and marked by what explains it:

- ``alarm``: the version's policy content hash is the same in both runs, so
  the policies enforced were the same and connectivity changed anyway (the
  CNI, the cluster or the probes changed under us): what a user must look at;
- ``expected``: the policy content of the version changed between the runs,
  so a change of connectivity is what editing the policy was for.

Whether a cell is probed at all (``invalid``) is decided by the scenario's
targets and ports, never by the cluster, so the two validity groups are
always ``expected``: they follow an edit of the scenario.

Cells found in one run only (the matrix itself changed: a target, source,
port or version added or removed) are not drift; they are listed apart as
added and removed cells.

Cost: the runs' verdicts are compared as numpy arrays of codes, row against
the same cell's row (:func:`~service.compare.columns.align`: free when both
runs list the same cells in the same order), and only the changed cells are
then looked at in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from service.compare.columns import RunColumns, align
from service.compare.observations import CellObservation, RunSummary
from service.compare.runs import RunRecord, columns_of
from service.errors import FieldPath, InvalidInput, Problem
from service.scenario.model import Verdict

__all__ = [
    "DriftChange",
    "DriftCounts",
    "DriftGroup",
    "DriftMark",
    "DriftReport",
    "DriftRow",
    "VersionChange",
    "drift",
    "drift_counts",
    "drift_group",
    "drift_rows",
    "only_in_counts",
    "version_changes",
]


class DriftGroup(StrEnum):
    """How a cell's observed verdict moved (see the table in the module docstring).

    Members are declared in the order reports list them.
    """

    NEWLY_ALLOWED = "newly-allowed"
    NEWLY_BLOCKED = "newly-blocked"
    BECAME_ERROR = "became-error"
    RECOVERED = "recovered"
    BECAME_INVALID = "became-invalid"
    BECAME_PROBED = "became-probed"


class DriftMark(StrEnum):
    """``alarm``: connectivity changed with unchanged policy content; ``expected``:
    the change follows an edit of the policy (or, for validity, of the scenario)."""

    ALARM = "alarm"
    EXPECTED = "expected"


IntArray = npt.NDArray[np.intp]
_GROUP_ORDER = {group: i for i, group in enumerate(DriftGroup)}
_VALIDITY = frozenset({DriftGroup.BECAME_INVALID, DriftGroup.BECAME_PROBED})


def drift_group(before: Verdict, after: Verdict) -> DriftGroup:
    """The group of a change from ``before`` to ``after``; they must differ."""
    if before is after:
        raise ValueError(f"no drift: the verdict stayed {before}")
    if after is Verdict.INVALID:
        return DriftGroup.BECAME_INVALID
    if after is Verdict.ERROR:
        return DriftGroup.BECAME_ERROR
    if before is Verdict.INVALID:
        return DriftGroup.BECAME_PROBED
    if before is Verdict.ERROR:
        return DriftGroup.RECOVERED
    return DriftGroup.NEWLY_ALLOWED if after is Verdict.ALLOWED else DriftGroup.NEWLY_BLOCKED


def _mark(group: DriftGroup, before_hash: str, after_hash: str) -> DriftMark:
    if group in _VALIDITY or before_hash != after_hash:
        return DriftMark.EXPECTED
    return DriftMark.ALARM


@dataclass(frozen=True, slots=True)
class DriftChange:
    """One cell whose observed verdict changed: the cell as each run saw it."""

    group: DriftGroup
    mark: DriftMark
    before: CellObservation
    after: CellObservation

    @property
    def cell_key(self) -> str:
        return self.after.cell_key

    @property
    def version(self) -> str:
        return self.after.version

    @property
    def policy_changed(self) -> bool:
        return self.before.version_hash != self.after.version_hash

    def __str__(self) -> str:
        return (
            f"{self.mark}: {self.version}: {self.after.place}: "
            f"{self.before.observed} -> {self.after.observed} ({self.group})"
        )


@dataclass(frozen=True, slots=True)
class VersionChange:
    """A policy version whose content differs between the runs (None: not in that run)."""

    name: str
    before: str | None
    after: str | None


@dataclass(frozen=True, slots=True)
class DriftCounts:
    """How much drifted: changes by mark, and cells that entered or left the matrix."""

    alarm: int = 0
    expected: int = 0
    added: int = 0
    removed: int = 0

    @property
    def changed(self) -> int:
        return self.alarm + self.expected


@dataclass(frozen=True, slots=True)
class DriftReport:
    """The drift of ``current`` since ``previous``.

    ``changes`` are grouped in :class:`DriftGroup` order and, within a group, in
    the current run's cell order (the plan's order). ``added`` cells are in the
    current run only (current order), ``removed`` in the previous run only
    (previous order). ``scenario_changed`` says the scenario revision differs:
    the matrix or the workloads may have been edited too.
    """

    current: RunSummary
    previous: RunSummary
    changes: tuple[DriftChange, ...]
    added: tuple[CellObservation, ...]
    removed: tuple[CellObservation, ...]
    versions: tuple[VersionChange, ...]
    scenario_changed: bool

    def group(self, group: DriftGroup) -> tuple[DriftChange, ...]:
        return tuple(c for c in self.changes if c.group is group)

    @property
    def alarms(self) -> tuple[DriftChange, ...]:
        return tuple(c for c in self.changes if c.mark is DriftMark.ALARM)

    @property
    def expected(self) -> tuple[DriftChange, ...]:
        return tuple(c for c in self.changes if c.mark is DriftMark.EXPECTED)

    @property
    def counts(self) -> DriftCounts:
        alarm = sum(1 for c in self.changes if c.mark is DriftMark.ALARM)
        return DriftCounts(
            alarm=alarm,
            expected=len(self.changes) - alarm,
            added=len(self.added),
            removed=len(self.removed),
        )


def _check_pair(current: RunSummary, previous: RunSummary) -> None:
    problems: list[Problem] = []
    if previous.scenario != current.scenario:
        problems.append(
            Problem(
                f"expected a run of scenario {current.scenario!r}, got {previous.scenario!r}",
                path=FieldPath(("previous", "scenario")),
            )
        )
    if previous.id == current.id:
        problems.append(
            Problem(
                f"expected another run than {current.id} to compare with",
                path=FieldPath(("previous", "id")),
            )
        )
    elif previous.order_key > current.order_key:
        problems.append(
            Problem(
                f"expected a run created before run {current.id} "
                f"({current.created_at.isoformat()}), got run {previous.id} created "
                f"{previous.created_at.isoformat()}",
                path=FieldPath(("previous", "created_at")),
            )
        )
    InvalidInput.collect(problems)


def _rows(current: RunColumns, previous: RunColumns) -> tuple[IntArray, IntArray]:
    """(rows of ``current`` whose verdict changed, the same cells' rows in ``previous``)."""
    rows = align(current, previous)
    if not len(previous):
        return rows[:0], rows[:0]
    present = rows >= 0
    before = previous.codes[np.where(present, rows, 0)]
    changed = np.flatnonzero(present & (before != current.codes))
    return changed, rows[changed]


def _only_in(one: RunColumns, other: RunColumns) -> IntArray:
    """Rows of ``one`` whose cell ``other`` lacks."""
    return np.flatnonzero(align(one, other) < 0)


def version_changes(current: RunSummary, previous: RunSummary) -> tuple[VersionChange, ...]:
    """The versions whose policy content differs between the runs (current's order first)."""
    before = {v.name: v.content_hash for v in previous.versions}
    after = {v.name: v.content_hash for v in current.versions}
    names = [v.name for v in current.versions]
    names += [v.name for v in previous.versions if v.name not in after]
    return tuple(
        VersionChange(name, before.get(name), after.get(name))
        for name in names
        if before.get(name) != after.get(name)
    )


@dataclass(frozen=True, slots=True)
class DriftRow:
    """A drifted cell by position: its row in the current run's columns and in the previous'."""

    row: int
    previous_row: int
    group: DriftGroup
    mark: DriftMark


def drift_rows(current: RunColumns, previous: RunColumns) -> tuple[DriftRow, ...]:
    """The changes of :func:`drift` from the runs' columns alone, in the same order.

    For a page of changes: what changed is found from the verdict codes, and only
    the cells of the page need reading in full.
    Raises as :func:`drift` does.
    """
    _check_pair(current.summary, previous.summary)
    out = []
    for row, old_row in zip(*_rows(current, previous), strict=True):
        group = drift_group(previous.verdict(old_row), current.verdict(row))
        mark = _mark(group, previous.hashes[old_row], current.hashes[row])
        out.append(DriftRow(int(row), int(old_row), group, mark))
    # sort() is stable: plan order survives within each group.
    out.sort(key=lambda r: _GROUP_ORDER[r.group])
    return tuple(out)


def drift(current: RunRecord, previous: RunRecord) -> DriftReport:
    """What changed in ``current`` since ``previous``, an earlier run of the same scenario.

    Raises :class:`InvalidInput` when ``previous`` is of another scenario, is the
    same run, or was created after ``current``.
    """
    now, then = current.columns, previous.columns
    changes = tuple(
        DriftChange(r.group, r.mark, previous.cells[r.previous_row], current.cells[r.row])
        for r in drift_rows(now, then)
    )
    return DriftReport(
        current=current.summary,
        previous=previous.summary,
        changes=changes,
        added=tuple(current.cells[i] for i in _only_in(now, then)),
        removed=tuple(previous.cells[i] for i in _only_in(then, now)),
        versions=version_changes(current.summary, previous.summary),
        scenario_changed=current.summary.revision_hash != previous.summary.revision_hash,
    )


def only_in_counts(current: RunColumns, previous: RunColumns) -> tuple[int, int]:
    """(cells in ``current`` only, cells in ``previous`` only): the added and removed counts."""
    return len(_only_in(current, previous)), len(_only_in(previous, current))


def drift_counts(current: RunRecord | RunColumns, previous: RunRecord | RunColumns) -> DriftCounts:
    """The counts of :func:`drift`, from the runs' columns alone (for dashboards)."""
    now, then = columns_of(current), columns_of(previous)
    rows = drift_rows(now, then)
    alarm = sum(1 for r in rows if r.mark is DriftMark.ALARM)
    added, removed = only_in_counts(now, then)
    return DriftCounts(alarm=alarm, expected=len(rows) - alarm, added=added, removed=removed)
