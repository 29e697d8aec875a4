"""Calico's own policies on a real cluster: applied through their API, narrowed to the run.

Against the fake API server (which validates Calico objects as Calico's API
server does and answers probes from the engine evaluated on the Calico objects
it stores), through the real kubernetes client.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from service.cluster.kubernetes import KubernetesShards, sweep_expired
from service.cluster.kubernetes.api import NAMESPACES, PODS
from service.cluster.kubernetes.config import ClusterTarget
from service.cluster.simulated import SimulatedCluster
from service.errors import InvalidInput
from service.policy.calico.model import CalicoPolicy
from service.policy.calico.parse import parse_calico
from service.policy.calico.scope import endpoint_view, policy_selector
from service.policy.model import Labels, Pod, Protocol
from service.runner import ConvergenceOptions, RunOptions, run_scenario
from service.scenario.load import load_scenario
from service.scenario.plan import plan_matrix
from tests.cluster.kubernetes.calico_builders import (
    BUILTIN,
    GNPS,
    NO_PRODUCTION,
    RUN,
    SECURITY_TIER,
    TIERS,
    calico,
    version,
)
from tests.cluster.kubernetes.conftest import FAST, ClusterFactory
from tests.cluster.kubernetes.fakeapi import FakeApiServer
from tests.runner.builders import netpol, workshop

REPO = Path(__file__).resolve().parents[3]
WORKSHOP_V3 = REPO / "scenarios" / "calico-workshop-v3.yaml"
QUICK = RunOptions(retry_interval_s=0.05)
SETTLE = ConvergenceOptions(settle_s=2.0, poll_interval_s=0.05)


def _cells(result: Any) -> dict[str, tuple[object, ...]]:
    return {r.cell.key: (r.observed, r.raw, r.regression) for r in result.cells}


# --- the workshop, end to end ---------------------------------------------------------------


def test_workshop_v3_on_the_cluster_gives_the_simulators_verdicts(
    fake: FakeApiServer, make_cluster: ClusterFactory
) -> None:
    scenario = load_scenario(WORKSHOP_V3)
    real = run_scenario(scenario, cluster=make_cluster(), options=QUICK, convergence=SETTLE)
    simulated = run_scenario(scenario, cluster=SimulatedCluster(), options=QUICK)
    assert real.ok, [str(r.cell) for r in real.cells if r.regression]
    assert _cells(real) == _cells(simulated)
    assert all(c.held for r in real.cells for c in r.checks)
    # Calico objects went to Calico's API...
    assert fake.count("create", TIERS) >= 1
    assert fake.count("create", GNPS) >= 1
    assert fake.count("create", "networkpolicies.projectcalico.org") >= 1


def test_no_empty_network_policy_is_ever_created_for_a_calico_object(
    fake: FakeApiServer, make_cluster: ClusterFactory
) -> None:
    scenario = load_scenario(WORKSHOP_V3)
    created: list[dict[str, Any]] = []
    cluster = make_cluster()
    cluster.set_up(layout=plan_matrix(scenario).layout)
    for v in scenario.versions:
        cluster.apply_version(version=v)
        created += list(fake.objects("networkpolicies"))
    # Only the workshop's own Kubernetes policy (in the security-tier versions), as written.
    assert {p["metadata"]["name"] for p in created} == {"backend-policy"}
    for policy in created:
        assert policy["spec"]["ingress"], "a Kubernetes policy with rules, never an empty one"
        assert policy["metadata"]["annotations"]["netpol-drift.io/policy-version"] in (
            "security-tier",
            "security-tier-trap",
        )


def test_teardown_leaves_no_calico_object(
    fake: FakeApiServer, make_cluster: ClusterFactory
) -> None:
    run_scenario(load_scenario(WORKSHOP_V3), cluster=make_cluster(), options=QUICK)
    assert fake.managed_objects() == []
    assert {t["metadata"]["name"] for t in fake.objects(TIERS)} == BUILTIN
    assert list(fake.objects(GNPS)) == []


# --- what the rewriting does ------------------------------------------------------------------


def test_global_objects_get_run_names_ownership_and_expiry(
    fake: FakeApiServer, make_cluster: ClusterFactory
) -> None:
    cluster = make_cluster()
    cluster.set_up(layout=plan_matrix(workshop()).layout)
    cluster.apply_version(version=version("tiered", SECURITY_TIER, NO_PRODUCTION))
    tiers = {t["metadata"]["name"]: t for t in fake.objects(TIERS)}
    assert set(tiers) == BUILTIN | {f"{RUN}security"}
    (policy,) = fake.objects(GNPS)
    meta = policy["metadata"]
    # Calico before v3.30 wants <tier>.<name>: the run's tier, the policy's own name.
    assert meta["name"] == f"{RUN}security.no-production-to-dev-backend"
    assert policy["spec"]["tier"] == f"{RUN}security"
    for obj in (policy, tiers[f"{RUN}security"]):
        labels, notes = obj["metadata"]["labels"], obj["metadata"]["annotations"]
        assert labels["netpol-drift.io/managed-by"] == "netpol-drift"
        assert labels["netpol-drift.io/run"] == "t3st01"
        assert "netpol-drift.io/expires-at" in notes
        assert notes["netpol-drift.io/policy-version"] == "tiered"
    assert meta["annotations"]["netpol-drift.io/original-name"] == (
        "security.no-production-to-dev-backend"
    )
    assert meta["labels"]["projectcalico.org/tier"] == f"{RUN}security"  # Calico's own


def _outsiders(fake: FakeApiServer, cluster: Any) -> None:
    """Workloads of the cluster's own: namespaces labelled like the scenario's, pods like
    its backend and frontend."""
    for namespace, purpose in (("shop-dev", "development"), ("shop-prod", "production")):
        cluster.api.create(
            NAMESPACES, {"metadata": {"name": namespace, "labels": {"purpose": purpose}}}
        )
    for namespace, name, role in (("shop-dev", "api", "backend"), ("shop-prod", "web", "frontend")):
        cluster.api.create(
            PODS,
            {
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "labels": {"app": "webapp", "role": role},
                },
                "spec": {
                    "containers": [
                        {"name": "serve", "image": "agnhost", "ports": [{"containerPort": 80}]}
                    ]
                },
            },
        )


def _endpoints(fake: FakeApiServer) -> dict[str, Labels]:
    namespaces = {
        n["metadata"]["name"]: n["metadata"]["labels"] for n in fake.objects("namespaces")
    }
    views = {}
    for pod in fake.objects("pods"):
        meta = pod["metadata"]
        value = Pod(meta["namespace"], meta["name"], Labels(meta.get("labels") or {}))
        views[value.ref] = endpoint_view(value, namespaces[meta["namespace"]])
    return views


def test_rewritten_global_policy_selects_only_run_pods(
    fake: FakeApiServer, make_cluster: ClusterFactory
) -> None:
    cluster = make_cluster()
    cluster.set_up(layout=plan_matrix(workshop()).layout)
    _outsiders(fake, cluster)
    cluster.apply_version(version=version("tiered", SECURITY_TIER, NO_PRODUCTION))
    (stored,) = fake.objects(GNPS)
    policy = parse_calico(stored)
    assert isinstance(policy, CalicoPolicy)
    selected = {
        ref for ref, view in _endpoints(fake).items() if policy_selector(policy).matches(view)
    }
    # In the scenario, the policy selects the development backend; here exactly its run copy,
    # not the cluster's own backend in a namespace labelled purpose=development.
    assert selected == {f"{RUN}development/backend"}


def test_the_clusters_own_workloads_are_not_affected(
    fake: FakeApiServer, make_cluster: ClusterFactory
) -> None:
    cluster = make_cluster()
    cluster.set_up(layout=plan_matrix(workshop()).layout)
    _outsiders(fake, cluster)
    cluster.apply_version(version=version("tiered", SECURITY_TIER, NO_PRODUCTION))
    ip = {p["metadata"]["name"]: p["status"]["podIP"] for p in fake.objects("pods")}

    def connect(source: str, dest: str) -> int:
        answer = fake.dataplane.connect(
            source=source,
            dest=f"{ip[dest]}:80",
            protocol=Protocol.TCP,
            timeout_s=0.01,
            at=fake.store.clock(),
        )
        return answer.exit_code

    # production -> development backend: denied in the run, untouched outside it.
    assert connect(f"{RUN}production/probe-frontend", "backend") == 1
    assert connect("shop-prod/web", "api") == 0


def test_a_global_policy_naming_a_namespace_is_renamed_and_still_narrowed(
    fake: FakeApiServer, make_cluster: ClusterFactory
) -> None:
    by_name = calico(
        "GlobalNetworkPolicy",
        "dev-only",
        {
            "namespaceSelector": "projectcalico.org/name == 'development'",
            "selector": "role == 'backend'",
            "ingress": [
                {"action": "Deny", "source": {"namespaceSelector": "purpose == 'production'"}}
            ],
        },
    )
    scenario = workshop(versions=[version("by-name", by_name)], expectations=[])
    real = run_scenario(scenario, cluster=make_cluster(), options=QUICK, convergence=SETTLE)
    simulated = run_scenario(scenario, cluster=SimulatedCluster(), options=QUICK)
    assert real.ok
    assert _cells(real) == _cells(simulated)


def test_network_set_labels_move_where_only_the_runs_selectors_read_them(
    fake: FakeApiServer, make_cluster: ClusterFactory
) -> None:
    pods_net = calico(
        "GlobalNetworkSet",
        "pod-network",
        {"nets": ["10.244.0.0/16"]},
        labels={"role": "trusted-net"},
    )
    only_trusted = calico(
        "NetworkPolicy",
        "trusted-only",
        {
            "selector": "role == 'backend'",
            "ingress": [
                {
                    "action": "Allow",
                    "source": {
                        "namespaceSelector": "global()",
                        "selector": "role == 'trusted-net'",
                    },
                }
            ],
        },
        namespace="development",
    )
    scenario = workshop(versions=[version("trusted", pods_net, only_trusted)], expectations=[])
    result = run_scenario(scenario, cluster=make_cluster(), options=QUICK, convergence=SETTLE)
    simulated = run_scenario(scenario, cluster=SimulatedCluster(), options=QUICK)
    assert result.ok
    assert _cells(result) == _cells(simulated)
    # Every pod IP is in the set: the run's policy matched the moved label.
    assert {r.observed.value for r in result.cells if r.cell.probed} == {"allowed"}


def test_a_network_set_on_the_cluster_carries_no_label_other_policies_could_select(
    fake: FakeApiServer, make_cluster: ClusterFactory
) -> None:
    cluster = make_cluster()
    cluster.set_up(layout=plan_matrix(workshop()).layout)
    pods_net = calico("GlobalNetworkSet", "net", {"nets": ["10.0.0.0/8"]}, labels={"role": "db"})
    cluster.apply_version(version=version("sets", pods_net))
    (stored,) = fake.objects("globalnetworksets.projectcalico.org")
    labels = stored["metadata"]["labels"]
    assert stored["metadata"]["name"] == f"{RUN}net"
    assert "role" not in labels
    assert [v for k, v in labels.items() if k.endswith("/role")] == ["db"]


# --- refusals ---------------------------------------------------------------------------------

REFUSED = [
    (
        calico(
            "GlobalNetworkPolicy",
            "edge",
            {"preDNAT": True, "applyOnForward": True, "ingress": [{"action": "Deny"}]},
        ),
        "preDNAT: true applies to host endpoints",
    ),
    (
        calico(
            "GlobalNetworkPolicy",
            "notrack",
            {"doNotTrack": True, "applyOnForward": True, "ingress": [{"action": "Allow"}]},
        ),
        "doNotTrack: true",
    ),
    (
        calico("GlobalNetworkPolicy", "forward", {"applyOnForward": True}),
        "applyOnForward: true",
    ),
    (
        calico(
            "BaselineAdminNetworkPolicy",
            "default",
            {
                "subject": {"namespaces": {}},
                "ingress": [{"action": "Deny", "from": [{"namespaces": {}}]}],
            },
        ),
        "cluster singleton",
    ),
    (
        calico("GlobalNetworkPolicy", "sneaky", {"selector": "has(netpol-drift.io/run)"}),
        "netpol-drift's ownership labels",
    ),
    (
        calico(
            "GlobalNetworkPolicy",
            "by-name",
            {"selector": "projectcalico.org/namespace contains 'npd'"},
        ),
        "names namespaces in a way the run cannot keep",
    ),
    (calico("Tier", "default", {"order": 1000000, "defaultAction": "Pass"}), "tier 'default'"),
]


@pytest.mark.parametrize(("entry", "reason"), REFUSED, ids=[e.ref for e, _ in REFUSED])
def test_unsafe_objects_refuse_the_version_before_anything_is_created(
    fake: FakeApiServer, make_cluster: ClusterFactory, entry: Any, reason: str
) -> None:
    cluster = make_cluster()
    cluster.set_up(layout=plan_matrix(workshop()).layout)
    before = len(fake.calls)
    wanted = version("unsafe", SECURITY_TIER, entry)
    with pytest.raises(InvalidInput) as caught:
        cluster.apply_version(version=wanted)
    text = str(caught.value)
    assert entry.ref in text
    assert reason in text
    assert [c for c in fake.calls[before:] if c.verb in ("create", "update", "delete")] == []


# --- cleanup by the janitor and at the end of stored runs -----------------------------------------


def test_finish_deletes_the_calico_objects_of_every_version(
    fake: FakeApiServer, target: ClusterTarget
) -> None:
    scenario = workshop(versions=[version("tiered", SECURITY_TIER, NO_PRODUCTION)], expectations=[])
    matrix = plan_matrix(scenario)
    shards = KubernetesShards(target=target, options=FAST)
    with shards.ready(run="7", layout=matrix.layout, version=matrix.versions[0]):
        pass
    assert len(list(fake.objects(GNPS))) == 1  # a shard's teardown keeps them for the others
    report = shards.finish(run="7", versions=["tiered"])
    assert any(name.startswith(f"{TIERS}/") for name in report.deleted)
    assert fake.managed_objects() == []
    assert {t["metadata"]["name"] for t in fake.objects(TIERS)} == BUILTIN


def test_janitor_deletes_expired_calico_objects_policies_before_tiers(
    fake: FakeApiServer, make_cluster: ClusterFactory
) -> None:
    from datetime import UTC, datetime, timedelta

    cluster = make_cluster(keep_objects=True, ttl_s=60.0)
    cluster.set_up(layout=plan_matrix(workshop()).layout)
    cluster.apply_version(version=version("tiered", SECURITY_TIER, NO_PRODUCTION))
    cluster.tear_down()  # a run that died: everything stays
    early = sweep_expired(cluster.api)
    assert early.deleted == ()
    later = sweep_expired(cluster.api, now=datetime.now(UTC) + timedelta(minutes=5))
    order = [name.split("/")[0] for name in later.deleted]
    assert order.index(GNPS) < order.index(TIERS)
    assert later.skipped == ()
    assert fake.managed_objects() == []


def test_kubernetes_and_calico_policies_share_a_version(
    fake: FakeApiServer, make_cluster: ClusterFactory
) -> None:
    allow = netpol(
        "development",
        "backend-policy",
        {
            "podSelector": {"matchLabels": {"role": "backend"}},
            "ingress": [{"from": [{"namespaceSelector": {}}]}],
        },
    )
    scenario = workshop(
        versions=[version("mixed", allow, SECURITY_TIER, NO_PRODUCTION)], expectations=[]
    )
    real = run_scenario(scenario, cluster=make_cluster(), options=QUICK, convergence=SETTLE)
    simulated = run_scenario(scenario, cluster=SimulatedCluster(), options=QUICK)
    assert real.ok
    assert _cells(real) == _cells(simulated)


def test_a_calico_object_never_becomes_a_kubernetes_policy_manifest() -> None:
    from service.cluster.kubernetes.naming import RunNaming
    from service.cluster.kubernetes.policies import policy_manifest

    deny_all = calico(
        "NetworkPolicy", "backend-policy", {"selector": "all()"}, namespace="development"
    )
    with pytest.raises(ValueError, match="Calico object"):
        policy_manifest(deny_all, naming=RunNaming("npd", "t3st01"), namespaces={"development"})
