"""A run with its cells, and the checks that a history is one scenario's runs.

A :class:`RunRecord` keeps the full observations (for reports that show a
cell: drift, regressions, diffs) and derives the run's
:class:`~service.compare.columns.RunColumns` (for comparisons over many
cells) when it is made. Derivation uses ``map`` over attribute getters and
``compress``, which run in C: at 10,000 cells a Python-level loop per record
would be the largest cost of a dashboard page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import compress
from operator import attrgetter, is_not
from typing import Protocol, TypeVar

from service.compare.columns import RunColumns
from service.compare.observations import CellObservation, RunSummary
from service.compare.regressions import RegressionKind, classify
from service.errors import FieldPath, InvalidInput, Problem

__all__ = ["RunRecord", "columns_of", "ordered_history"]

_KEY = attrgetter("cell_key")
_OBSERVED = attrgetter("observed")
_EXPECTED = attrgetter("expected")
_HASH = attrgetter("version_hash")
_RUN_ID = attrgetter("run_id")
_FLAKY = attrgetter("flaky")
_REGRESSION = attrgetter("regression")
_ATTEMPTS = attrgetter("attempts")


# eq=False: a record holds an index (a dict); two records are the same run by id.
@dataclass(frozen=True, slots=True, eq=False)
class RunRecord:
    """A run's summary and every cell it stored, with the run's columns.

    Raises :class:`InvalidInput` when a cell belongs to another run, two cells
    share a key, or a cell carries a content hash none of the summary's
    versions has (the check is by set, so it does not catch two versions'
    hashes swapped between their cells).
    """

    summary: RunSummary
    cells: tuple[CellObservation, ...]
    columns: RunColumns = field(init=False, repr=False)
    _by_key: dict[str, CellObservation] | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        cells = tuple(self.cells)
        problems = _foreign_cells(self.summary, cells)
        hashes = tuple(map(_HASH, cells))
        problems.extend(_unknown_hashes(self.summary, hashes))
        regressions, loopback = _regression_counts(cells)
        try:
            columns = RunColumns(
                self.summary,
                keys=tuple(map(_KEY, cells)),
                observed=tuple(map(_OBSERVED, cells)),
                hashes=hashes,
                flaky=_flaky_within_run(cells),
                regressions=regressions,
                loopback_mismatches=loopback,
            )
        except InvalidInput as err:
            # Report the columns' problems (repeated keys) with ours, all at once.
            raise InvalidInput([*problems, *err.problems]) from err
        InvalidInput.collect(problems)
        # Frozen dataclass: filling derived fields is the one sanctioned write.
        object.__setattr__(self, "cells", cells)
        object.__setattr__(self, "columns", columns)

    @property
    def id(self) -> int:
        return self.summary.id

    def __len__(self) -> int:
        return len(self.cells)

    @property
    def by_key(self) -> dict[str, CellObservation]:
        """Cell key -> observation; built on first use."""
        found = self._by_key
        if found is None:
            found = dict(zip(self.columns.keys, self.cells, strict=True))
            object.__setattr__(self, "_by_key", found)
        return found


def _foreign_cells(summary: RunSummary, cells: Sequence[CellObservation]) -> list[Problem]:
    # The common case costs one set build in C; only a failure walks the cells in Python.
    if not set(map(_RUN_ID, cells)) - {summary.id}:
        return []
    return [
        Problem(
            f"expected a cell of run {summary.id}, got one of run {cell.run_id}",
            path=FieldPath(("cells", i, "run_id")),
        )
        for i, cell in enumerate(cells)
        if cell.run_id != summary.id
    ]


def _unknown_hashes(summary: RunSummary, hashes: Sequence[str]) -> list[Problem]:
    declared = {v.content_hash for v in summary.versions}
    if not declared or not set(hashes) - declared:
        return []
    return [
        Problem(
            f"expected the content hash of one of the run's versions "
            f"({', '.join(sorted(h[:12] for h in declared))}), got {content_hash[:12]}",
            path=FieldPath(("cells", i, "version_hash")),
        )
        for i, content_hash in enumerate(hashes)
        if content_hash not in declared
    ]


def _regression_counts(cells: Sequence[CellObservation]) -> tuple[int, int]:
    """(regressions, loopback mismatches) of ``cells``; only candidates reach Python."""
    mismatched = compress(cells, map(is_not, map(_OBSERVED, cells), map(_EXPECTED, cells)))
    flagged = compress(cells, map(_REGRESSION, cells))
    kinds = [classify(c) for c in {id(c): c for c in (*mismatched, *flagged)}.values()]
    loopback = kinds.count(RegressionKind.LOOPBACK)
    return len(kinds) - kinds.count(None) - loopback, loopback


def _flaky_within_run(cells: Sequence[CellObservation]) -> tuple[bool, ...]:
    """Per cell: its attempts disagree or the run flagged it flaky."""
    flaky = list(map(_FLAKY, cells))
    retried = compress(range(len(cells)), map((1).__lt__, map(len, map(_ATTEMPTS, cells))))
    for i in retried:
        if not flaky[i] and cells[i].attempts_disagree:
            flaky[i] = True
    return tuple(flaky)


def columns_of(run: RunRecord | RunColumns) -> RunColumns:
    """The columns of ``run``: functions over many cells accept either form."""
    return run.columns if isinstance(run, RunRecord) else run


class _Ordered(Protocol):
    @property
    def summary(self) -> RunSummary: ...

    @property
    def id(self) -> int: ...


R = TypeVar("R", bound=_Ordered)


def ordered_history(runs: Iterable[R]) -> list[R]:
    """``runs`` oldest first, checked to be distinct runs of one scenario.

    The scenario is the newest run's. Raises :class:`InvalidInput` naming (by
    position in ``runs``) every run of another scenario and every run given twice.
    """
    given = list(runs)
    problems: list[Problem] = []
    if given:
        scenario = max(given, key=lambda r: r.summary.order_key).summary.scenario
        seen: set[int] = set()
        for i, run in enumerate(given):
            if run.summary.scenario != scenario:
                problems.append(
                    Problem(
                        f"expected runs of scenario {scenario!r}, got run {run.id} of "
                        f"{run.summary.scenario!r}",
                        path=FieldPath(("runs", i, "scenario")),
                    )
                )
            if run.id in seen:
                problems.append(
                    Problem(
                        f"expected each run once, got run {run.id} again",
                        path=FieldPath(("runs", i, "id")),
                    )
                )
            seen.add(run.id)
    InvalidInput.collect(problems)
    return sorted(given, key=lambda r: r.summary.order_key)
