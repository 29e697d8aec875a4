"""A whole run in this process: plan, lay out, and for each version apply and run its shards.

This is the embedded default's dispatcher. A distributed dispatcher (issue 4)
replaces only the loop over shards: planning, :func:`~service.runner.shard.run_shard`
and the result values stay the same, so both produce the same cells.
"""

from __future__ import annotations

from collections.abc import Sequence

from service.cluster.base import Cluster
from service.runner.convergence import ConvergenceOptions, await_convergence
from service.runner.results import CellResult, RunResult, VersionResult
from service.runner.shard import ProgressCallback, RunOptions, plan_shards, run_shard
from service.scenario.model import Scenario
from service.scenario.plan import Matrix, VersionPlan, plan_matrix, plan_version

__all__ = ["run_matrix", "run_scenario"]


def run_scenario(
    scenario: Scenario,
    *,
    cluster: Cluster,
    versions: Sequence[str] | None = None,
    options: RunOptions | None = None,
    progress: ProgressCallback | None = None,
    convergence: ConvergenceOptions | None = None,
) -> RunResult:
    """Plan ``scenario`` (the named versions, or all) and run it on ``cluster``."""
    matrix = plan_matrix(scenario, versions=versions)
    return run_matrix(
        matrix,
        cluster=cluster,
        scenario_hash=scenario.content_hash,
        options=options,
        progress=progress,
        convergence=convergence,
    )


def run_matrix(
    matrix: Matrix,
    *,
    cluster: Cluster,
    scenario_hash: str = "",
    options: RunOptions | None = None,
    progress: ProgressCallback | None = None,
    convergence: ConvergenceOptions | None = None,
) -> RunResult:
    """Run a planned matrix; the cluster is set up here and torn down on the way out.

    With ``convergence``, each version's canary cells are polled after its apply
    until they match the engine (see :mod:`service.runner.convergence`), and the
    time it took is kept in its :class:`VersionResult`.
    """
    opts = options if options is not None else RunOptions()
    clock = cluster.clock
    epoch = clock.now()
    info = cluster.describe()
    version_results = []
    with cluster:
        addresses = cluster.set_up(layout=matrix.layout)
        previous: VersionPlan | None = None
        for version in matrix.versions:
            cluster.apply_version(version=version)
            applied_at = clock.now()
            plan = plan_version(matrix, version.name, addresses=addresses)
            settled = None
            if convergence is not None:
                settled = await_convergence(
                    cluster=cluster,
                    plan=plan,
                    previous=previous,
                    options=convergence,
                    applied_at=applied_at,
                )
            previous = plan
            by_key: dict[str, CellResult] = {}
            for shard in plan_shards(plan, sources_per_shard=opts.sources_per_shard):
                for result in run_shard(
                    cluster=cluster,
                    plan=plan,
                    shard=shard,
                    options=opts,
                    epoch_s=epoch,
                    progress=progress,
                ):
                    by_key[result.cell.key] = result
            version_results.append(
                VersionResult(
                    version=version.name,
                    content_hash=version.content_hash,
                    description=version.description,
                    cells=tuple(by_key[c.key] for c in plan.cells),
                    convergence=settled,
                )
            )
    return RunResult(
        scenario=matrix.scenario,
        scenario_hash=scenario_hash,
        backend=info.backend,
        cluster=info.cluster,
        backend_versions=info.versions,
        versions=tuple(version_results),
        duration_s=clock.now() - epoch,
    )
