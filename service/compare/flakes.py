"""Flakes: cells that flip-flop while nothing that should matter changed.

Across runs
    Within the last ``window`` runs of a scenario, each cell's final observed
    verdicts are taken in run order (the final attempt of each run; earlier
    attempts are retries). A *switch* is two consecutive observations of the
    cell with different verdicts **and the same policy content hash**: a
    change across a policy edit is expected drift, never counted. A cell is a
    flake when, at one content hash, it switched at least ``min_switches``
    times (default 2: there and back, or back and forth).

    - Consecutive means consecutive among the runs that have the cell: a run
      that left the cell out of its matrix does not break the sequence.
    - Switches are counted per content hash and add up over the window, even
      when the policy went away and came back in between (h1: A B, h2: C,
      h1: B A is two switches at h1: each was seen with the same policy on
      both sides). The step h1 -> h2 and back is never a switch.
    - Only runs inside the window count: a switch between the run just before
      the window and its first run is outside it.
    - ``error`` is a verdict like any other: allowed, error, allowed is two
      switches. A probe that fails now and then is flaky evidence too.

Within a run
    A cell whose attempts disagree in one run (or that the run flagged flaky)
    is listed apart, with the runs of the window where that happened.

The window is laid out as matrices (:mod:`service.compare.history`) and the
switches found with numpy; Python only touches the flaky cells.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter

import numpy as np

from service.compare.columns import VERDICTS, RunColumns
from service.compare.history import HistoryMatrix, history_matrix
from service.compare.observations import CellObservation
from service.compare.runs import RunRecord, columns_of, ordered_history
from service.errors import FieldPath, InvalidInput, Problem
from service.scenario.model import Verdict

__all__ = [
    "DEFAULT_MIN_SWITCHES",
    "DEFAULT_WINDOW",
    "AttemptFlake",
    "Flake",
    "FlakePoint",
    "FlakeReport",
    "FlakyRevision",
    "flakes",
    "flaky_within_run",
]

DEFAULT_WINDOW = 10
DEFAULT_MIN_SWITCHES = 2


@dataclass(frozen=True, slots=True)
class FlakePoint:
    """One observation of a flaky cell: which run, what it saw, under which policy content."""

    run_id: int
    observed: Verdict
    version_hash: str


@dataclass(frozen=True, slots=True)
class FlakyRevision:
    """A policy content hash at which the cell switched ``switches`` times."""

    content_hash: str
    switches: int


@dataclass(frozen=True, slots=True)
class Flake:
    """A cell that flip-flopped across runs.

    ``revisions`` are the content hashes where it reached the threshold (most
    switches first); ``points`` its observations in the window, oldest first.
    """

    cell_key: str
    revisions: tuple[FlakyRevision, ...]
    points: tuple[FlakePoint, ...]

    @property
    def switches(self) -> int:
        return sum(r.switches for r in self.revisions)

    def __str__(self) -> str:
        seq = " ".join(str(p.observed) for p in self.points)
        return f"{self.cell_key}: {self.switches} switches: {seq}"


@dataclass(frozen=True, slots=True)
class AttemptFlake:
    """A cell whose attempts disagreed within a run, in each of ``run_ids`` (oldest first)."""

    cell_key: str
    run_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class FlakeReport:
    """Flakes over the runs ``run_ids`` (the window, oldest first).

    ``flip_flops`` and ``within_run`` are in the newest run's cell order, then
    cells only older runs have.
    """

    window: int
    min_switches: int
    run_ids: tuple[int, ...]
    flip_flops: tuple[Flake, ...]
    within_run: tuple[AttemptFlake, ...]

    @property
    def cell_keys(self) -> frozenset[str]:
        """Every cell flaky either way."""
        return frozenset(f.cell_key for f in self.flip_flops) | frozenset(
            f.cell_key for f in self.within_run
        )

    @property
    def count(self) -> int:
        return len(self.cell_keys)


def flaky_within_run(run: RunRecord) -> list[CellObservation]:
    """The cells of ``run`` whose attempts disagree or that the run flagged flaky."""
    return [run.cells[i] for i in np.flatnonzero(run.columns.flaky_mask)]


def _check(window: int, min_switches: int) -> None:
    problems = []
    if window < 1:
        problems.append(
            Problem(
                f"expected a window of at least 1 run, got {window}", path=FieldPath(("window",))
            )
        )
    if min_switches < 1:
        problems.append(
            Problem(
                f"expected at least 1 switch to call a cell flaky, got {min_switches}",
                path=FieldPath(("min_switches",)),
            )
        )
    InvalidInput.collect(problems)


def _switches(matrix: HistoryMatrix, min_switches: int) -> dict[int, list[tuple[int, int]]]:
    """Column -> [(hash code, switches)] for every (cell, hash) reaching ``min_switches``."""
    codes, hashes = matrix.codes, matrix.hashes
    runs, cells = codes.shape
    if runs < 2 or not cells:
        return {}
    present = matrix.present
    # For each (run, cell): the row of the cell's latest observation up to that run.
    latest = np.where(present, np.arange(runs)[:, None], -1)
    np.maximum.accumulate(latest, axis=0, out=latest)
    before = latest[:-1]
    seen_before = before >= 0
    rows = np.maximum(before, 0)
    switched = (
        present[1:]
        & seen_before
        & (np.take_along_axis(codes, rows, axis=0) != codes[1:])
        & (np.take_along_axis(hashes, rows, axis=0) == hashes[1:])
    )
    _, columns = np.nonzero(switched)
    width = max(len(matrix.hash_names), 1)
    pairs = columns.astype(np.int64) * width + hashes[1:][switched]
    found, counts = np.unique(pairs, return_counts=True)
    out: dict[int, list[tuple[int, int]]] = {}
    for pair, count in zip(found.tolist(), counts.tolist(), strict=True):
        if count >= min_switches:
            out.setdefault(pair // width, []).append((pair % width, count))
    return out


def _flake(matrix: HistoryMatrix, column: int, found: list[tuple[int, int]]) -> Flake:
    names = matrix.hash_names
    # tolist() once per column: indexing numpy scalars one by one costs more than the rest.
    present = matrix.present[:, column].tolist()
    codes = matrix.codes[:, column].tolist()
    hashes = matrix.hashes[:, column].tolist()
    points = tuple(
        FlakePoint(run_id, VERDICTS[code], names[content_hash])
        for run_id, seen, code, content_hash in zip(
            matrix.run_ids, present, codes, hashes, strict=True
        )
        if seen
    )
    revisions = sorted(
        (FlakyRevision(names[code], count) for code, count in found),
        key=lambda r: (-r.switches, r.content_hash),
    )
    return Flake(matrix.keys[column], tuple(revisions), points)


def _within_run(matrix: HistoryMatrix) -> list[AttemptFlake]:
    # nonzero of the transpose comes sorted by column, then by run.
    columns, rows = np.nonzero(matrix.flaky.T)
    run_ids = matrix.run_ids
    return [
        AttemptFlake(matrix.keys[column], tuple(run_ids[row] for _, row in group))
        for column, group in groupby(
            zip(columns.tolist(), rows.tolist(), strict=True), key=itemgetter(0)
        )
    ]


def flakes(
    history: Iterable[RunRecord | RunColumns],
    *,
    window: int = DEFAULT_WINDOW,
    min_switches: int = DEFAULT_MIN_SWITCHES,
) -> FlakeReport:
    """The flaky cells of the last ``window`` runs of ``history`` (any order; one scenario).

    Raises :class:`InvalidInput` for a window or threshold below 1, runs of
    different scenarios, or a run given twice.
    """
    _check(window, min_switches)
    runs = [columns_of(run) for run in ordered_history(history)][-window:]
    matrix = history_matrix(runs)
    switches = _switches(matrix, min_switches)
    return FlakeReport(
        window=window,
        min_switches=min_switches,
        run_ids=matrix.run_ids,
        flip_flops=tuple(_flake(matrix, c, switches[c]) for c in sorted(switches)),
        within_run=tuple(_within_run(matrix)),
    )
