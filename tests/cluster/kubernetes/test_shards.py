"""Shards of a stored run on several workers: shared namespaces per version, one cleanup."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from service.cluster.kubernetes import KubernetesShards, shard_run_id
from service.cluster.kubernetes.config import ClusterTarget
from service.cluster.kubernetes.naming import RunNaming
from service.policy.model import IPAddress
from service.runner import RunOptions, plan_shards, run_shard
from service.runner.results import CellResult
from service.scenario.model import Verdict
from service.scenario.plan import Matrix, plan_matrix, plan_version
from tests.cluster.kubernetes.conftest import FAST
from tests.cluster.kubernetes.fakeapi import FakeApiServer
from tests.runner.builders import workshop


def _shard(
    workers: KubernetesShards, matrix: Matrix, version: str, index: int
) -> tuple[tuple[CellResult, ...], Mapping[str, IPAddress]]:
    policy_version = matrix.version(version)
    with workers.ready(run="42", layout=matrix.layout, version=policy_version) as (
        cluster,
        addresses,
    ):
        plan = plan_version(matrix, version, addresses=addresses)
        shard = plan_shards(plan, sources_per_shard=2)[index]
        results = run_shard(
            cluster=cluster, plan=plan, shard=shard, options=RunOptions(retry_interval_s=0.05)
        )
    return results, addresses


def test_shard_run_ids_are_the_same_everywhere_and_differ_per_version() -> None:
    assert shard_run_id("42", "deny-all") == shard_run_id("42", "deny-all")
    assert shard_run_id("42", "deny-all") != shard_run_id("42", "allow-pod")
    assert shard_run_id("42", "deny-all") != shard_run_id("43", "deny-all")
    RunNaming("npd", shard_run_id("42", "deny-all"))  # a valid run id


def test_workers_share_one_set_of_objects_per_version(
    fake: FakeApiServer, target: ClusterTarget
) -> None:
    matrix = plan_matrix(workshop(), versions=["deny-all"])
    # Two workers, each with its own connection, run the two shards of deny-all at once.
    workers = [KubernetesShards(target=target, options=FAST) for _ in range(2)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(lambda i: _shard(workers[i], matrix, "deny-all", i), range(2)))
    cells = [r for results, _ in outcomes for r in results]
    assert len(cells) == 4
    assert {r.observed for r in cells} == {Verdict.BLOCKED}
    assert not any(r.regression for r in cells)
    assert outcomes[0][1] == outcomes[1][1]  # the same pods, seen from both workers
    created = [c for c in fake.calls if c.verb == "create" and c.resource == "pods"]
    assert sum(1 for c in created if c.status == 201) == len(matrix.layout.pods)
    namespaces = {ns["metadata"]["name"] for ns in fake.objects("namespaces")}
    run = shard_run_id("42", "deny-all")
    assert {f"npd-{run}-development", f"npd-{run}-production"} <= namespaces
    # A shard's teardown deleted nothing: the other shard may still be probing.
    assert fake.count("delete", "namespaces") == 0


def test_versions_get_their_own_namespaces_and_finish_removes_them_all(
    fake: FakeApiServer, target: ClusterTarget
) -> None:
    matrix = plan_matrix(workshop(), versions=["deny-all", "allow-pod"])
    worker = KubernetesShards(target=target, options=replace(FAST))
    deny, _ = _shard(worker, matrix, "deny-all", 0)
    allow, _ = _shard(worker, matrix, "allow-pod", 1)
    assert not any(r.regression for r in (*deny, *allow))
    policies = {
        (p["metadata"]["namespace"], p["metadata"]["annotations"]["netpol-drift.io/policy-version"])
        for p in fake.objects("networkpolicies")
    }
    assert policies == {
        (f"npd-{shard_run_id('42', 'deny-all')}-development", "deny-all"),
        (f"npd-{shard_run_id('42', 'allow-pod')}-development", "allow-pod"),
    }
    report = worker.finish(run="42", versions=["deny-all", "allow-pod"])
    assert len(report.deleted) == 4
    assert fake.managed_objects() == []


def test_applying_a_version_already_in_place_changes_nothing(
    fake: FakeApiServer, target: ClusterTarget
) -> None:
    matrix = plan_matrix(workshop(), versions=["allow-pod"])
    worker = KubernetesShards(target=target, options=FAST)
    _shard(worker, matrix, "allow-pod", 0)
    _shard(worker, matrix, "allow-pod", 1)
    assert fake.count("create", "networkpolicies") == 1
    assert fake.count("update", "networkpolicies") == 0
