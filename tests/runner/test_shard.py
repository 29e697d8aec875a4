"""Shards: one version x a group of source pods, executable alone, adding up to the run."""

from __future__ import annotations

import pytest

from service.cluster.faults import FaultConfig
from service.cluster.simulated import SimulatedCluster
from service.runner import RunOptions, plan_shards, run_scenario, run_shard
from service.runner.results import CellResult
from service.scenario.cells import RawOutcome
from service.scenario.model import Scenario, Verdict
from service.scenario.plan import plan_matrix, plan_version
from tests.runner.builders import twins, workshop

LOSSY = FaultConfig(seed=9, probe_loss_rate=0.4)


def _summary(results: list[CellResult] | tuple[CellResult, ...]) -> dict[tuple[str, str], object]:
    """What must not depend on sharding: per (version, key) the verdicts and raw outcomes."""
    return {
        (r.cell.version, r.cell.key): (
            r.expected,
            r.observed,
            tuple(a.raw for a in r.attempts),
            tuple(a.latency_ms for a in r.attempts),
            r.regression,
            r.flaky,
        )
        for r in results
    }


def _shards_one_by_one(scenario: Scenario, *, sources_per_shard: int) -> list[CellResult]:
    """Every shard on its own fresh cluster, in reverse order, as separate workers would."""
    matrix = plan_matrix(scenario)
    out: list[CellResult] = []
    for policy_version in reversed(matrix.versions):
        probe_plan = plan_version(matrix, policy_version.name)
        for shard in reversed(plan_shards(probe_plan, sources_per_shard=sources_per_shard)):
            cluster = SimulatedCluster(faults=LOSSY)
            addresses = cluster.set_up(layout=matrix.layout)
            cluster.apply_version(version=policy_version)
            shard_plan = plan_version(matrix, policy_version.name, addresses=addresses)
            out.extend(run_shard(cluster=cluster, plan=shard_plan, shard=shard))
    return out


@pytest.mark.parametrize("scenario", [workshop(), twins()], ids=["workshop", "twins"])
@pytest.mark.parametrize("sources_per_shard", [1, 3])
def test_shards_run_apart_equal_the_in_process_run(
    scenario: Scenario, sources_per_shard: int
) -> None:
    whole = run_scenario(scenario, cluster=SimulatedCluster(faults=LOSSY))
    apart = _shards_one_by_one(scenario, sources_per_shard=sources_per_shard)
    assert _summary(apart) == _summary(tuple(whole.cells))
    assert len(apart) == len(plan_matrix(scenario).cells)


def test_shards_cover_every_source_pod_once_in_plan_order() -> None:
    matrix = plan_matrix(twins())
    plan = plan_version(matrix, "open")
    shards = plan_shards(plan, sources_per_shard=3)
    sources = [s for shard in shards for s in shard.sources]
    assert sources == list(dict.fromkeys(c.source_pod for c in plan.cells))
    assert [len(s.sources) for s in shards] == [3, 1]
    assert [s.key for s in shards] == ["open#0", "open#1"]
    assert plan_shards(plan, sources_per_shard=3) == shards


def test_a_shard_probes_only_from_its_own_sources() -> None:
    matrix = plan_matrix(workshop(), versions=["deny-all"])
    cluster = SimulatedCluster()
    addresses = cluster.set_up(layout=matrix.layout)
    cluster.apply_version(version=matrix.versions[0])
    plan = plan_version(matrix, "deny-all", addresses=addresses)
    shard = plan_shards(plan, sources_per_shard=1)[2]
    results = run_shard(cluster=cluster, plan=plan, shard=shard)
    assert {r.cell.source_pod for r in results} == set(shard.sources)
    assert {source for source, _ in cluster.probe_log} == set(shard.sources)
    assert cluster.batches == 1


def test_a_shard_of_another_version_is_refused() -> None:
    matrix = plan_matrix(workshop())
    plan = plan_version(matrix, "none")
    other = plan_shards(plan_version(matrix, "deny-all"), sources_per_shard=2)[0]
    with pytest.raises(ValueError, match="another version"):
        run_shard(cluster=SimulatedCluster(), plan=plan, shard=other)


def test_a_batch_the_cluster_cannot_run_becomes_exec_errors() -> None:
    # The cluster was laid out for another scenario: its probe pods do not exist there.
    elsewhere = plan_matrix(twins())
    cluster = SimulatedCluster()
    cluster.set_up(layout=elsewhere.layout)
    matrix = plan_matrix(workshop(), versions=["none"])
    cluster.apply_version(version=matrix.versions[0])
    plan = plan_version(matrix, "none")
    (shard,) = plan_shards(plan, sources_per_shard=10)
    results = run_shard(cluster=cluster, plan=plan, shard=shard, options=RunOptions(attempts=2))
    for r in results:
        assert r.observed is Verdict.ERROR
        assert [a.raw for a in r.attempts] == [RawOutcome.EXEC_ERROR] * 2
        assert "no probe pod" in r.detail
