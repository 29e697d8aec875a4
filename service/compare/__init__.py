"""What changed: regressions, drift, flakes and version diffs, over stored results.

Pure functions over frozen values (no database, no framework): the store maps
its rows to :class:`CellObservation` and :class:`RunSummary`, wraps a run's
cells in a :class:`RunRecord` (which derives the run's :class:`RunColumns`), and
calls:

- :func:`regressions` - one run's cells whose observed verdict is not the
  expected one, with the engine's explanation; loopback mismatches apart;
- :func:`drift` - a run against the previous run of its scenario: changed
  cells grouped (newly allowed, newly blocked, became error, recovered, and
  validity changes), each an ``alarm`` (same policy content) or ``expected``;
- :func:`flakes` - cells that switched at least twice at one policy content
  hash within the last N runs, and cells whose attempts disagreed in a run;
- :func:`matrix_diff` / :func:`run_version_diff` / :func:`scenario_matrix_diff` -
  connections added and removed between two versions' cells (of a stored run,
  or as the engine plans them); :func:`engine_diff` / :func:`scenario_version_diff` -
  the same from the engine over two cluster states, every port, like
  netpol-analyzer's diff;
- :func:`run_counters` / :func:`history_counters` - the dashboard's numbers.

History-scale functions (drift counts, flakes, counters) read only columns:
the store may build :class:`RunColumns` straight from a column query instead
of making an observation per cell.
"""

from service.compare.columns import RunColumns, align
from service.compare.counters import (
    HistoryCounters,
    RunCounters,
    history_counters,
    run_counters,
)
from service.compare.drift import (
    DriftChange,
    DriftCounts,
    DriftGroup,
    DriftMark,
    DriftReport,
    DriftRow,
    VersionChange,
    drift,
    drift_counts,
    drift_group,
    drift_rows,
    only_in_counts,
    version_changes,
)
from service.compare.enginediff import common_ranges, engine_diff
from service.compare.flakes import (
    DEFAULT_MIN_SWITCHES,
    DEFAULT_WINDOW,
    AttemptFlake,
    Flake,
    FlakePoint,
    FlakeReport,
    FlakyRevision,
    flakes,
    flaky_within_run,
)
from service.compare.history import HistoryMatrix, history_matrix
from service.compare.matrixdiff import (
    MatrixEndpoint,
    MatrixSource,
    MatrixTarget,
    PlacedVerdict,
    VerdictSide,
    matrix_diff,
    planned_verdicts,
    run_verdicts,
    run_version_diff,
)
from service.compare.observations import (
    CellObservation,
    CellPlace,
    RunSummary,
    VersionHash,
    place_of,
)
from service.compare.pairdiff import DiffType, PairDiff, VersionDiff
from service.compare.regressions import (
    Regression,
    RegressionKind,
    RegressionReport,
    classify,
    regressions,
)
from service.compare.runs import RunRecord, columns_of, ordered_history
from service.compare.scenariodiff import scenario_matrix_diff, scenario_version_diff

__all__ = [
    "DEFAULT_MIN_SWITCHES",
    "DEFAULT_WINDOW",
    "AttemptFlake",
    "CellObservation",
    "CellPlace",
    "DiffType",
    "DriftChange",
    "DriftCounts",
    "DriftGroup",
    "DriftMark",
    "DriftReport",
    "DriftRow",
    "Flake",
    "FlakePoint",
    "FlakeReport",
    "FlakyRevision",
    "HistoryCounters",
    "HistoryMatrix",
    "MatrixEndpoint",
    "MatrixSource",
    "MatrixTarget",
    "PairDiff",
    "PlacedVerdict",
    "Regression",
    "RegressionKind",
    "RegressionReport",
    "RunColumns",
    "RunCounters",
    "RunRecord",
    "RunSummary",
    "VerdictSide",
    "VersionChange",
    "VersionDiff",
    "VersionHash",
    "align",
    "classify",
    "columns_of",
    "common_ranges",
    "drift",
    "drift_counts",
    "drift_group",
    "drift_rows",
    "engine_diff",
    "flakes",
    "flaky_within_run",
    "history_counters",
    "history_matrix",
    "matrix_diff",
    "only_in_counts",
    "ordered_history",
    "place_of",
    "planned_verdicts",
    "regressions",
    "run_counters",
    "run_verdicts",
    "run_version_diff",
    "scenario_matrix_diff",
    "scenario_version_diff",
    "version_changes",
]
