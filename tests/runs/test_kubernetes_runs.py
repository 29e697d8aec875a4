"""Stored runs on a Kubernetes cluster: the fake API server, the real client, PostgreSQL.

A stored Kubernetes run goes where every stored run goes (a queued run, shards,
cells stored once, finished by counting), through the in-process dispatcher and
through real Celery worker processes; it must store the same cells as the
simulator, its versions' convergence times, where it ran (and no credentials),
and leave nothing behind on the cluster.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service.cluster.kubernetes import ClusterTarget, KubernetesOptions
from service.cluster.kubernetes.api import NAMESPACES, KubeApi
from service.cluster.kubernetes.config import connect
from service.errors import ClusterError, InvalidInput
from service.policy.calico.parse import parse_calico_entry
from service.runs.backends import Backends, default_backends
from service.runs.create import CreatedRun, RunRequest, create_run
from service.runs.dispatch import InProcessDispatcher
from service.runs.execute import execute_shard
from service.runs.history import previous_run_id
from service.runs.kubernetes import (
    KubernetesBackend,
    cleanup_on_close,
    sweep_clusters,
    targets_from_environment,
)
from service.runs.kubernetes_settings import KubernetesSettings
from service.runs.lifecycle import reap_runs
from service.runs.planning import PlanCache
from service.runs.settings import RunSettings
from service.scenario.load import load_scenario
from service.scenario.model import PolicyVersion, Scenario
from service.store import Backend, CellResult, Run, RunStatus, RunVersion, Trigger, utc_now
from tests.cluster.kubernetes.fake_cluster import behaviour, fake, kubeconfig, kubeconfig_context
from tests.cluster.kubernetes.fakeapi import Behaviour, FakeApiServer
from tests.cluster.kubernetes.fakeapi.store import KUBE_SYSTEM_UID
from tests.runs.conftest import cell_values
from tests.workers.conftest import Processes, broker_url, processes, wait_until
from workers.app import celery_init_app
from workers.config import WorkerSettings, beat_schedule, celery_config
from workers.dispatch import CeleryDispatcher

__all__ = ["behaviour", "broker_url", "fake", "kubeconfig", "kubeconfig_context", "processes"]

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
WORKSHOPS = ["calico-workshop.yaml", "calico-workshop-v3.yaml"]
# Fast on the fake: blocked probes cost the probe timeout.
ON_THE_FAKE = KubernetesSettings(
    cluster="lab",
    probe_timeout_s=0.2,
    ready_timeout_s=5.0,
    poll_interval_s=0.02,
    settle_s=5.0,
)


def scenario(name: str = "calico-workshop-v3.yaml") -> Scenario:
    return load_scenario(SCENARIOS / name)


def settings(**kubernetes: Any) -> RunSettings:
    return RunSettings(
        retry_interval_s=0.05,
        sources_per_shard=1,
        kubernetes=KubernetesSettings(**{**ON_THE_FAKE.to_json(), **kubernetes}),
    )


@pytest.fixture
def backend(kubeconfig: Path) -> Iterator[KubernetesBackend]:
    """The Kubernetes backend of this process, cleaning runs up when they close."""
    found = KubernetesBackend(targets={"lab": ClusterTarget("lab", kubeconfig)})
    remove = cleanup_on_close(found)
    try:
        yield found
    finally:
        remove()


def run_in_process(
    sessions: sessionmaker[Session],
    request: RunRequest,
    backends: Backends,
) -> CreatedRun:
    plans = PlanCache()
    created = create_run(sessions, request, plans=plans)
    with InProcessDispatcher(sessions, backends=backends, plans=plans, workers=2) as dispatcher:
        dispatcher.run(created.run_id, created.shard_keys)
    return created


def kubernetes_run(
    sessions: sessionmaker[Session], backend: KubernetesBackend, run_settings: RunSettings
) -> CreatedRun:
    request = RunRequest(
        scenario=scenario(), trigger=Trigger.API, backend=Backend.KUBERNETES, settings=run_settings
    )
    return run_in_process(sessions, request, default_backends(kubernetes=backend))


def simulated_run(sessions: sessionmaker[Session], name: str) -> CreatedRun:
    request = RunRequest(
        scenario=scenario(name), trigger=Trigger.API, settings=RunSettings(retry_interval_s=0.05)
    )
    return run_in_process(sessions, request, default_backends())


def cells(sessions: sessionmaker[Session], run_id: int) -> dict[str, tuple[object, ...]]:
    """What a run saw of each cell, latency aside (the clusters' clocks differ)."""
    return cell_values(
        sessions,
        run_id,
        CellResult.observed,
        CellResult.raw_outcome,
        CellResult.attempts,
        CellResult.regression,
        CellResult.flaky,
        CellResult.expected_override,
    )


def run_row(sessions: sessionmaker[Session], run_id: int) -> Run:
    with sessions() as session:
        return session.get_one(Run, run_id)


def run_versions(sessions: sessionmaker[Session], run_id: int) -> dict[str, RunVersion]:
    with sessions() as session:
        rows = session.scalars(select(RunVersion).where(RunVersion.run_id == run_id))
        return {v.version: v for v in rows}


# --- the in-process dispatcher ------------------------------------------------------------------


@pytest.mark.parametrize("name", WORKSHOPS)
def test_kubernetes_run_in_process_equals_the_simulator_cell_for_cell(
    pg: sessionmaker[Session], fake: FakeApiServer, backend: KubernetesBackend, name: str
) -> None:
    request = RunRequest(
        scenario=scenario(name),
        trigger=Trigger.API,
        backend=Backend.KUBERNETES,
        settings=settings(),
    )
    real = run_in_process(pg, request, default_backends(kubernetes=backend))
    simulated = simulated_run(pg, name)
    assert run_row(pg, real.run_id).status is RunStatus.SUCCEEDED
    stored = cells(pg, real.run_id)
    assert len(stored) == real.planned_cells
    assert stored == cells(pg, simulated.run_id)


def test_convergence_is_measured_once_per_version_from_its_apply(
    pg: sessionmaker[Session],
    fake: FakeApiServer,
    behaviour: Behaviour,
    backend: KubernetesBackend,
) -> None:
    behaviour.enforcement_delay_s = 0.3  # Calico programs each change this much later
    created = kubernetes_run(pg, backend, settings())
    versions = run_versions(pg, created.run_id)
    assert set(versions) == {v.name for v in scenario().versions}
    for name, stored in versions.items():
        assert stored.applied_at is not None, name
        assert stored.convergence_ms is not None, name
    # "none" changes nothing: nothing to wait for. Every other version blocks something,
    # which the dataplane shows no sooner than its enforcement delay.
    assert versions["none"].convergence_ms == 0
    for name in ("deny-all", "allow-pod", "security-tier", "security-tier-trap"):
        assert versions[name].convergence_ms >= 300, name  # type: ignore[operator]
    # Probing waited for it: not a single retry, let alone a regression or a flake.
    assert {row[2] for row in cells(pg, created.run_id).values()} <= {0, 1}
    assert run_row(pg, created.run_id).status is RunStatus.SUCCEEDED


def test_namespaces_and_calico_objects_are_deleted_when_the_run_finishes(
    pg: sessionmaker[Session], fake: FakeApiServer, backend: KubernetesBackend
) -> None:
    created = kubernetes_run(pg, backend, settings())
    assert run_row(pg, created.run_id).status is RunStatus.SUCCEEDED
    assert fake.managed_objects() == []
    assert fake.count("delete", "namespaces") == 2 * len(scenario().versions)


def test_run_records_cluster_identity_and_calico_version_and_no_secret(
    pg: sessionmaker[Session], fake: FakeApiServer, kubeconfig: Path, backend: KubernetesBackend
) -> None:
    created = kubernetes_run(pg, backend, settings())
    run = run_row(pg, created.run_id)
    record = run.cluster
    assert record is not None
    assert record["backend"] == "kubernetes"
    assert record["target"] == "lab"
    assert record["server"] == fake.url
    assert record["id"] == KUBE_SYSTEM_UID
    assert record["key"] == f"kubernetes:{KUBE_SYSTEM_UID}"
    assert record["versions"]["calico"] == "v3.29.1"
    assert record["versions"]["kubernetes"] == "v1.31.2-fake"
    # The options name the cluster; neither they nor the record hold a credential or a path.
    assert run.options["kubernetes"]["cluster"] == "lab"
    stored = json.dumps([run.options, record])
    for secret in (fake.behaviour.token, str(kubeconfig), "kubeconfig"):
        assert secret not in stored


def test_a_reaped_run_is_cleaned_up_from_its_cluster(
    pg: sessionmaker[Session], fake: FakeApiServer, backend: KubernetesBackend
) -> None:
    plans = PlanCache()
    request = RunRequest(
        scenario=scenario(), trigger=Trigger.API, backend=Backend.KUBERNETES, settings=settings()
    )
    created = create_run(pg, request, plans=plans)
    # One shard ran, then its worker died: the rest never came.
    execute_shard(
        pg,
        created.run_id,
        created.shard_keys[0],
        backends={Backend.KUBERNETES: backend},
        plans=plans,
    )
    assert fake.managed_objects() != []
    reaped = reap_runs(pg, now=utc_now() + timedelta(days=1))
    assert reaped == [created.run_id]
    assert fake.managed_objects() == []


def test_a_run_for_a_cluster_this_process_does_not_know_is_retried_elsewhere(
    pg: sessionmaker[Session], fake: FakeApiServer
) -> None:
    plans = PlanCache()
    request = RunRequest(
        scenario=scenario(),
        trigger=Trigger.API,
        backend=Backend.KUBERNETES,
        settings=settings(cluster="production"),
    )
    created = create_run(pg, request, plans=plans)
    stranger = KubernetesBackend(targets={})
    with pytest.raises(ClusterError, match="cluster 'production'"):
        execute_shard(
            pg,
            created.run_id,
            created.shard_keys[0],
            backends={Backend.KUBERNETES: stranger},
            plans=plans,
        )
    assert run_row(pg, created.run_id).status is RunStatus.RUNNING  # retryable, not failed
    assert fake.managed_objects() == []


@pytest.mark.parametrize(
    ("run_settings", "policies", "where"),
    [
        (RunSettings(), (), "options.kubernetes"),
        (
            settings(),
            (
                parse_calico_entry(
                    {
                        "apiVersion": "projectcalico.org/v3",
                        "kind": "GlobalNetworkPolicy",
                        "metadata": {"name": "edge"},
                        "spec": {"preDNAT": True, "applyOnForward": True},
                    }
                ),
            ),
            "versions.edge.policies.GlobalNetworkPolicy edge.spec.preDNAT",
        ),
    ],
    ids=["no-cluster", "unsafe-calico"],
)
def test_kubernetes_runs_that_cannot_run_safely_are_refused_when_created(
    pg: sessionmaker[Session], run_settings: RunSettings, policies: tuple[Any, ...], where: str
) -> None:
    base = scenario("calico-workshop.yaml")
    extra = PolicyVersion(name="edge", policies=policies, content_hash="edge")
    wanted = replace(base, versions=(*base.versions, extra), content_hash="with-edge")
    request = RunRequest(
        scenario=wanted, trigger=Trigger.API, backend=Backend.KUBERNETES, settings=run_settings
    )
    with pytest.raises(InvalidInput) as caught:
        create_run(pg, request)
    assert where in [str(p.path) for p in caught.value.problems]
    with pg() as session:
        assert session.scalars(select(Run)).all() == []


# --- two clusters -------------------------------------------------------------------------------


def test_previous_run_is_the_one_on_the_same_cluster(
    pg: sessionmaker[Session], tmp_path: Path
) -> None:
    narrow = {"versions": ("deny-all",), "sources": ("frontend",)}
    with (
        FakeApiServer(Behaviour(cluster_uid="staging-uid")) as staging,
        FakeApiServer(Behaviour(cluster_uid="production-uid")) as production,
    ):
        targets = {
            "staging": ClusterTarget("staging", staging.write_kubeconfig(tmp_path / "s")),
            "production": ClusterTarget("production", production.write_kubeconfig(tmp_path / "p")),
        }
        backend = KubernetesBackend(targets=targets)

        def run_on(cluster: str) -> int:
            base = settings(cluster=cluster)
            request = RunRequest(
                scenario=scenario(),
                trigger=Trigger.API,
                backend=Backend.KUBERNETES,
                settings=RunSettings(
                    versions=narrow["versions"],
                    sources=narrow["sources"],
                    retry_interval_s=0.05,
                    kubernetes=base.kubernetes,
                ),
            )
            return run_in_process(pg, request, default_backends(kubernetes=backend)).run_id

        first_staging = run_on("staging")
        first_production = run_on("production")
        second_staging = run_on("staging")
    simulated = simulated_run(pg, "calico-workshop-v3.yaml").run_id
    with pg() as session:
        assert previous_run_id(session, second_staging) == first_staging
        assert previous_run_id(session, second_staging, same_cluster=False) == first_production
        assert previous_run_id(session, first_production) is None
        assert previous_run_id(session, simulated) is None  # the simulator is its own cluster
    keys = {run_row(pg, r).cluster["key"] for r in (first_staging, first_production)}  # type: ignore[index]
    assert keys == {"kubernetes:staging-uid", "kubernetes:production-uid"}


# --- the janitor and the worker's configuration -----------------------------------------------


def test_sweeping_the_workers_clusters_deletes_expired_runs(
    fake: FakeApiServer, kubeconfig: Path, tmp_path: Path
) -> None:
    api = KubeApi(connect(ClusterTarget("lab", kubeconfig)))
    api.create(
        NAMESPACES,
        {
            "metadata": {
                "name": "npd-dead01-a",
                "labels": {"netpol-drift.io/managed-by": "netpol-drift"},
                "annotations": {"netpol-drift.io/expires-at": "2020-01-01T00:00:00Z"},
            }
        },
    )
    api.close()
    clusters = tmp_path / "clusters.yaml"
    clusters.write_text(
        f"clusters:\n  lab: {{kubeconfig: {kubeconfig}}}\n"
        f"  gone: {{kubeconfig: {tmp_path / 'missing'}}}\n"
    )
    targets = targets_from_environment({"NETPOL_DRIFT_CLUSTERS_FILE": str(clusters)})
    reports = sweep_clusters(targets)
    assert reports["lab"].deleted == ("npd-dead01-a",)
    ((_, why),) = reports["gone"].skipped
    assert "no kubeconfig file" in why


def test_beat_sweeps_only_where_a_kubernetes_target_is_configured(tmp_path: Path) -> None:
    base = {"NETPOL_DRIFT_BROKER_URL": "redis://127.0.0.1:1/0"}
    plain = WorkerSettings.from_env(base)
    assert "sweep-expired" not in beat_schedule(plain)
    configured = WorkerSettings.from_env(
        {
            **base,
            "NETPOL_DRIFT_KUBECONFIG": str(tmp_path / "kc"),
            "NETPOL_DRIFT_SWEEP_INTERVAL_S": "30",
        }
    )
    entry = beat_schedule(configured)["sweep-expired"]
    assert (entry["task"], entry["schedule"]) == ("netpol_drift.sweep_expired", 30.0)


def test_worker_targets_come_from_the_clusters_file_and_the_kubeconfig(tmp_path: Path) -> None:
    clusters = tmp_path / "clusters.yaml"
    clusters.write_text("clusters:\n  staging: {kubeconfig: staging.kc, context: stg}\n")
    targets = targets_from_environment(
        {
            "NETPOL_DRIFT_CLUSTERS_FILE": str(clusters),
            "NETPOL_DRIFT_KUBECONFIG": str(tmp_path / "kc"),
            "NETPOL_DRIFT_CONTEXT": "prod",
        }
    )
    assert set(targets) == {"staging", "prod"}
    assert targets["staging"].kubeconfig == tmp_path / "staging.kc"
    assert targets["prod"].kubeconfig == tmp_path / "kc"


# --- real Celery workers --------------------------------------------------------------------------


def test_kubernetes_run_on_a_celery_worker_equals_the_simulator_cell_for_cell(
    pg: sessionmaker[Session],
    pg_url: str,
    broker_url: str,
    processes: Processes,
    fake: FakeApiServer,
    kubeconfig: Path,
    tmp_path: Path,
) -> None:
    clusters = tmp_path / "clusters.yaml"
    clusters.write_text(f"clusters:\n  lab: {{kubeconfig: {kubeconfig}}}\n")
    worker = processes.worker("k8s", NETPOL_DRIFT_CLUSTERS_FILE=str(clusters))
    worker.wait_ready()
    app = celery_init_app(celery_config(WorkerSettings(broker_url=broker_url, database_url=pg_url)))
    request = RunRequest(
        scenario=scenario(), trigger=Trigger.API, backend=Backend.KUBERNETES, settings=settings()
    )
    created = create_run(pg, request)
    CeleryDispatcher(app).dispatch(created.run_id, created.shard_keys)
    wait_until(
        lambda: run_row(pg, created.run_id).status.finished,
        timeout_s=120.0,
        what="the Kubernetes run to finish on the worker",
        logs=processes.logs,
    )
    assert run_row(pg, created.run_id).status is RunStatus.SUCCEEDED, processes.logs()
    simulated = simulated_run(pg, "calico-workshop-v3.yaml")
    assert cells(pg, created.run_id) == cells(pg, simulated.run_id)
    versions = run_versions(pg, created.run_id)
    assert all(v.convergence_ms is not None for v in versions.values())
    # The worker that closed the run cleaned the cluster up.
    wait_until(
        lambda: fake.managed_objects() == [],
        timeout_s=10.0,
        what="the run's namespaces to be deleted",
        logs=processes.logs,
    )
    assert fake.behaviour.token not in worker.text()


def test_kubernetes_options_reach_the_backend(kubeconfig: Path) -> None:
    found = KubernetesBackend(
        targets={"lab": ClusterTarget("lab", kubeconfig)},
        base=KubernetesOptions(exec_grace_s=1.0),
    ).shards(settings(probe_mode="service-ip", exec_concurrency=3).kubernetes)  # type: ignore[arg-type]
    options = found.options
    assert (options.probe_mode.value, options.exec_concurrency) == ("service-ip", 3)
    assert (options.probe_timeout_s, options.exec_grace_s) == (0.2, 1.0)


def test_the_in_process_dispatcher_runs_on_the_cluster_the_environment_names(
    pg: sessionmaker[Session], fake: FakeApiServer, kubeconfig: Path
) -> None:
    from workers.dispatch import dispatcher_from_env

    environ = {"NETPOL_DRIFT_KUBECONFIG": str(kubeconfig), "NETPOL_DRIFT_CONTEXT": "lab"}
    dispatcher = dispatcher_from_env(pg, environ=environ)
    assert isinstance(dispatcher, InProcessDispatcher)
    with dispatcher:
        request = RunRequest(
            scenario=scenario(),
            trigger=Trigger.API,
            backend=Backend.KUBERNETES,
            settings=RunSettings(
                versions=("deny-all",), retry_interval_s=0.05, kubernetes=ON_THE_FAKE
            ),
        )
        created = create_run(pg, request)
        dispatcher.run(created.run_id, created.shard_keys)
    assert run_row(pg, created.run_id).status is RunStatus.SUCCEEDED
    assert fake.managed_objects() == []  # cleaned up by the process that closed it
