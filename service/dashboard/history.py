"""A scenario's recent history as its page shows it: drift events, cell strips, flakes.

Built from the runs' columns (:class:`~service.compare.RunColumns`) with
:mod:`service.compare`: :func:`~service.compare.drift_counts` gives each run's
drift (alarm and expected) since the run before it **on the same cluster**
(the rule of :mod:`service.runs.history`: drift between a production run and
the staging run just before it would mostly be the difference between the
clusters), the history matrix
(:func:`~service.compare.history_matrix`) the groups of the changes
(:func:`~service.compare.drift_group`) and every cell's verdicts run by run,
and :func:`~service.compare.flakes` the flaky cells, counted over the runs on the
cluster of the newest run only: across clusters, every cell that differs between
them would flip-flop as the runs alternate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import numpy as np

from service.compare import (
    DriftGroup,
    FlakeReport,
    RunColumns,
    drift_counts,
    drift_group,
    flakes,
    history_matrix,
)
from service.compare.columns import ABSENT, VERDICTS
from service.store.enums import RunStatus, Trigger

__all__ = ["CellStrip", "HistoryRun", "ScenarioHistory", "TimelineEntry", "scenario_history"]

# Cells with strips on the page; the CSV has them all.
STRIPS_SHOWN: Final = 40


@dataclass(frozen=True, slots=True)
class HistoryRun:
    """A finished run of the history, with its columns."""

    id: int
    status: RunStatus
    trigger: Trigger
    created_at: datetime
    regressions: int
    flaky: int
    errors: int
    columns: RunColumns
    # The cluster it ran on (service.runs.history.cluster_identity); drift is measured
    # against the run before it with the same value.
    cluster: str = ""


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    run: HistoryRun
    previous_id: int | None
    alarm: int
    expected: int
    added: int
    removed: int
    groups: tuple[tuple[DriftGroup, int], ...]

    @property
    def drifted(self) -> bool:
        return bool(self.alarm or self.expected or self.added or self.removed)


@dataclass(frozen=True, slots=True)
class CellStrip:
    """One cell's final verdict in each run of the history (None: not in that run)."""

    key: str
    verdicts: tuple[str | None, ...]
    changes: int


@dataclass(frozen=True, slots=True)
class ScenarioHistory:
    runs: tuple[HistoryRun, ...]
    timeline: tuple[TimelineEntry, ...]
    strips: tuple[CellStrip, ...]
    changing_cells: int
    flakes: FlakeReport | None
    # The cluster whose runs the flakes were counted over: the newest run's.
    flakes_cluster: str | None = None

    @property
    def events(self) -> tuple[TimelineEntry, ...]:
        """Entries with drift, newest first."""
        return tuple(e for e in reversed(self.timeline) if e.drifted)


def _groups(before: np.ndarray, after: np.ndarray) -> tuple[tuple[DriftGroup, int], ...]:
    changed = (before != ABSENT) & (after != ABSENT) & (before != after)
    counts: Counter[DriftGroup] = Counter()
    pairs = Counter(zip(before[changed].tolist(), after[changed].tolist(), strict=True))
    for (old, new), n in pairs.items():
        counts[drift_group(VERDICTS[old], VERDICTS[new])] += n
    return tuple((g, counts[g]) for g in DriftGroup if counts[g])


def scenario_history(
    runs: Sequence[HistoryRun], *, flake_window: int, strips: int | None = STRIPS_SHOWN
) -> ScenarioHistory:
    """The history of ``runs`` (finished runs of one scenario, oldest first)."""
    if not runs:
        return ScenarioHistory((), (), (), 0, None)
    columns = [r.columns for r in runs]
    matrix = history_matrix(columns)
    codes = matrix.codes
    timeline = []
    last_on: dict[str, int] = {}
    for i, run in enumerate(runs):
        before = last_on.get(run.cluster)
        last_on[run.cluster] = i
        drift = drift_counts(columns[i], columns[before]) if before is not None else None
        timeline.append(
            TimelineEntry(
                run=run,
                previous_id=runs[before].id if before is not None else None,
                alarm=drift.alarm if drift is not None else 0,
                expected=drift.expected if drift is not None else 0,
                added=drift.added if drift is not None else 0,
                removed=drift.removed if drift is not None else 0,
                groups=_groups(codes[before], codes[i]) if before is not None else (),
            )
        )
    # Changes per cell: consecutive observations (skipping runs without it) that differ.
    changes = np.zeros(len(matrix.keys), dtype=np.int64)
    last = np.full(len(matrix.keys), ABSENT, dtype=np.uint8)
    for row in codes:
        present = row != ABSENT
        changes += present & (last != ABSENT) & (row != last)
        last = np.where(present, row, last)
    changing = np.flatnonzero(changes)
    # Most changes first; ties in the newest run's cell order.
    order = changing[np.argsort(-changes[changing], kind="stable")]
    shown = order if strips is None else order[:strips]
    cell_strips = tuple(
        CellStrip(
            key=matrix.keys[c],
            verdicts=tuple(
                None if code == ABSENT else VERDICTS[code].value for code in codes[:, c].tolist()
            ),
            changes=int(changes[c]),
        )
        for c in shown.tolist()
    )
    return ScenarioHistory(
        runs=tuple(runs),
        timeline=tuple(timeline),
        strips=cell_strips,
        changing_cells=len(changing),
        flakes=flakes(
            [r.columns for r in runs if r.cluster == runs[-1].cluster], window=flake_window
        ),
        flakes_cluster=runs[-1].cluster,
    )
