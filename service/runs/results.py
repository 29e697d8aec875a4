"""A run's shard outcomes put together as one :class:`~service.runner.results.RunResult`.

The renderers of :mod:`service.report` take a RunResult; a run executed shard
by shard (in-process or on workers) has one outcome per shard. Putting them
together in plan order gives the same value the single-cluster runner gives,
so the CLI prints the same report whichever way the run went.
"""

from __future__ import annotations

from collections.abc import Sequence

from service.runner.results import CellResult, Convergence, RunResult, VersionResult
from service.runs.execute import ShardOutcome
from service.runs.planning import RunPlan

__all__ = ["assemble_result"]


def assemble_result(
    plan: RunPlan,
    outcomes: Sequence[ShardOutcome],
    *,
    backend: str,
    cluster: str,
    backend_versions: tuple[tuple[str, str], ...] = (),
) -> RunResult:
    """Every planned cell's result, versions in run order and cells in plan order.

    ``duration_s`` is the shards' time added up, on their clusters' clocks: what
    the run would have taken on one cluster, shard after shard. A version's
    convergence is the one its shards measured and stored, if any.

    Raises ValueError when an outcome is missing a planned cell (a skipped shard).
    """
    by_key: dict[str, CellResult] = {}
    convergence: dict[str, Convergence] = {}
    for outcome in outcomes:
        for result in outcome.results:
            by_key[result.cell.key] = result
        if outcome.convergence is not None:
            # A shard key is "<version>#<index>" (service.runner.shard.Shard.key).
            convergence.setdefault(outcome.shard_key.rsplit("#", 1)[0], outcome.convergence)
    missing = [c for c in plan.cells if c.key not in by_key]
    if missing:
        raise ValueError(f"{len(missing)} planned cells have no result, e.g. {missing[0]}")
    versions = []
    for version in plan.matrix.versions:
        cells = tuple(by_key[c.key] for c in plan.cells if c.version == version.name)
        if not cells:
            continue
        versions.append(
            VersionResult(
                version=version.name,
                content_hash=version.content_hash,
                description=version.description,
                cells=cells,
                convergence=convergence.get(version.name),
            )
        )
    return RunResult(
        scenario=plan.scenario.name,
        scenario_hash=plan.scenario.content_hash,
        backend=backend,
        cluster=cluster,
        versions=tuple(versions),
        backend_versions=backend_versions,
        duration_s=sum(o.duration_s for o in outcomes),
    )
