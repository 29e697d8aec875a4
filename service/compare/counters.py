"""The numbers a dashboard shows per run and per scenario history.

Per run: regressions (and loopback mismatches apart), cells flaky within the
run, and drift since the run before it (alarm and expected, cells added and
removed). Per history: how many cells are flaky over the window ending at the
newest run (flip-flops across runs or disagreeing attempts within one).

Everything here reads runs' columns (:class:`RunColumns`), so a history can
be counted without building an observation per cell; a :class:`RunRecord`
is accepted too and gives its columns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from service.compare.columns import RunColumns
from service.compare.drift import DriftCounts, drift_counts
from service.compare.flakes import DEFAULT_MIN_SWITCHES, DEFAULT_WINDOW, flakes
from service.compare.runs import RunRecord, columns_of, ordered_history

__all__ = ["HistoryCounters", "RunCounters", "history_counters", "run_counters"]


@dataclass(frozen=True, slots=True)
class RunCounters:
    """One run's numbers; ``drift`` is None when there is no earlier run to compare with."""

    run_id: int
    cells: int
    regressions: int
    loopback_mismatches: int
    flaky: int
    drift: DriftCounts | None = None


@dataclass(frozen=True, slots=True)
class HistoryCounters:
    """Every run's numbers, oldest first, and the cells flaky over the last ``window`` runs."""

    runs: tuple[RunCounters, ...]
    flaky: int
    window: int


def run_counters(
    run: RunRecord | RunColumns, previous: RunRecord | RunColumns | None = None
) -> RunCounters:
    """The numbers of ``run``, with drift since ``previous`` when given."""
    columns = columns_of(run)
    return RunCounters(
        run_id=columns.id,
        cells=len(columns),
        regressions=columns.regressions,
        loopback_mismatches=columns.loopback_mismatches,
        flaky=int(columns.flaky_mask.sum()),
        drift=drift_counts(columns, previous) if previous is not None else None,
    )


def history_counters(
    history: Iterable[RunRecord | RunColumns],
    *,
    window: int = DEFAULT_WINDOW,
    min_switches: int = DEFAULT_MIN_SWITCHES,
) -> HistoryCounters:
    """The numbers of every run of ``history`` (one scenario, any order), oldest first.

    The first run's drift is None: the run before it is not in the history.
    """
    runs = [columns_of(run) for run in ordered_history(history)]
    counters = tuple(run_counters(run, runs[i - 1] if i else None) for i, run in enumerate(runs))
    report = flakes(runs, window=window, min_switches=min_switches)
    return HistoryCounters(runs=counters, flaky=report.count, window=window)
