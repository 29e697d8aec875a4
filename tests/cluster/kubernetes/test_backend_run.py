"""Whole runs of the Kubernetes backend against the fake API server, through the real client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.cluster.base import ProbeRequest
from service.cluster.kubernetes import ClusterTarget, KubernetesCluster
from service.cluster.kubernetes.naming import parse_expiry
from service.cluster.kubernetes.options import ProbeMode
from service.policy.model import Protocol
from service.runner import ConvergenceOptions, RunOptions, run_scenario
from service.scenario.cells import RawOutcome
from service.scenario.load import load_scenario
from service.scenario.model import Verdict
from service.scenario.plan import plan_matrix
from tests.cluster.kubernetes.conftest import FAST, ClusterFactory
from tests.cluster.kubernetes.fakeapi import Behaviour, FakeApiServer
from tests.runner.builders import netpol, twins, version, workshop

REPO = Path(__file__).resolve().parents[3]
QUICK = RunOptions(retry_interval_s=0.05)
DEV = "npd-t3st01-development"


def test_workshop_run_holds_every_workshop_check(make_cluster: ClusterFactory) -> None:
    result = run_scenario(workshop(), cluster=make_cluster(), options=QUICK)
    assert result.ok, [str(r.cell) for r in result.cells if r.regression]
    checks = [c for r in result.cells for c in r.checks]
    assert len(checks) == 7
    assert all(c.held for c in checks)
    assert result.counts.errors == result.counts.flaky == 0
    assert result.backend == "kubernetes"


def test_run_records_cluster_identity_and_calico_version(make_cluster: ClusterFactory) -> None:
    result = run_scenario(workshop(), cluster=make_cluster(), options=QUICK, versions=["none"])
    assert dict(result.backend_versions)["calico"] == "v3.29.1"
    assert dict(result.backend_versions)["kubernetes"] == "v1.31.2-fake"
    assert result.cluster.startswith("fake (http://127.0.0.1:")
    assert "cluster id 5f0c3c2e-0000-4000-8000-00000000c1d0" in result.cluster


def test_one_exec_per_source_pod_and_version(
    fake: FakeApiServer, make_cluster: ClusterFactory
) -> None:
    scenario = workshop()
    result = run_scenario(scenario, cluster=make_cluster(), options=QUICK)
    assert result.ok
    source_pods = len(plan_matrix(scenario).layout.probe_pods)
    assert source_pods == 4
    assert fake.exec_count() == source_pods * len(scenario.versions)
    for pod in ("probe-unlabelled", "probe-frontend"):
        # one per version in each of development and production
        assert fake.exec_count(pod) == 2 * len(scenario.versions)


def test_run_leaves_no_owned_object_behind(
    fake: FakeApiServer, make_cluster: ClusterFactory
) -> None:
    run_scenario(workshop(), cluster=make_cluster(), options=QUICK)
    assert fake.managed_objects() == []
    assert {ns["metadata"]["name"] for ns in fake.objects("namespaces")} == {
        "default",
        "kube-system",
        "kube-public",
        "calico-system",
    }


def test_namespaces_are_run_scoped_and_carry_labels_ownership_and_expiry(
    fake: FakeApiServer, make_cluster: ClusterFactory
) -> None:
    cluster = make_cluster()
    cluster.set_up(layout=plan_matrix(workshop()).layout)
    namespaces = {ns["metadata"]["name"]: ns["metadata"] for ns in fake.objects("namespaces")}
    meta = namespaces[DEV]
    assert meta["labels"] == {
        "purpose": "development",
        "netpol-drift.io/managed-by": "netpol-drift",
        "netpol-drift.io/run": "t3st01",
        "kubernetes.io/metadata.name": DEV,
    }
    expires = parse_expiry(meta["annotations"]["netpol-drift.io/expires-at"])
    assert expires is not None
    assert meta["annotations"]["netpol-drift.io/original-namespace"] == "development"
    assert "npd-t3st01-production" in namespaces
    pods = {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in fake.objects("pods")}
    assert {
        (DEV, "backend"),
        (DEV, "probe-frontend"),
        ("npd-t3st01-production", "probe-frontend"),
    } <= pods


def test_applied_policies_are_rewritten_for_the_run_namespaces(
    fake: FakeApiServer, make_cluster: ClusterFactory
) -> None:
    by_name = version(
        "by-name",
        netpol(
            "development",
            "from-production-only",
            {
                "podSelector": {"matchLabels": {"app": "webapp", "role": "backend"}},
                "ingress": [
                    {
                        "from": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": "production"}
                                }
                            }
                        ]
                    }
                ],
            },
        ),
    )
    scenario = workshop(versions=[by_name], expectations=[])
    cluster = make_cluster()
    matrix = plan_matrix(scenario)
    cluster.set_up(layout=matrix.layout)
    cluster.apply_version(version=scenario.versions[0])
    (stored,) = fake.objects("networkpolicies")
    assert stored["metadata"]["namespace"] == DEV
    peer = stored["spec"]["ingress"][0]["from"][0]
    assert peer["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "npd-t3st01-production"
    }
    cluster.tear_down()
    # The fake answers from the policy as stored: the run holding proves the rewrite right.
    result = run_scenario(scenario, cluster=make_cluster(), options=QUICK)
    assert result.ok
    observed = {(r.cell.source_namespace, r.observed) for r in result.cells}
    assert observed == {("production", Verdict.ALLOWED), ("development", Verdict.BLOCKED)}


def test_policy_kept_across_versions_is_replaced_in_place(
    fake: FakeApiServer, make_cluster: ClusterFactory
) -> None:
    run_scenario(workshop(), cluster=make_cluster(), options=QUICK)
    # none -> deny-all creates backend-policy; allow-pod and allow-pod-namespace replace it.
    assert fake.count("create", "networkpolicies") == 1
    assert fake.count("update", "networkpolicies") == 2
    assert fake.count("delete", "networkpolicies") == 0


def test_policy_dropped_by_the_next_version_is_deleted(
    fake: FakeApiServer, make_cluster: ClusterFactory
) -> None:
    deny = netpol("development", "deny", {"podSelector": {}})
    scenario = workshop(versions=[version("deny", deny), version("open")], expectations=[])
    result = run_scenario(scenario, cluster=make_cluster(), options=QUICK)
    assert result.ok
    assert fake.count("delete", "networkpolicies") == 1


def test_e2e_model_holds_on_every_port_and_protocol(
    fake: FakeApiServer, make_cluster: ClusterFactory
) -> None:
    scenario = load_scenario(REPO / "scenarios" / "e2e-model.yaml")
    result = run_scenario(scenario, cluster=make_cluster(), options=QUICK)
    assert result.ok, [f"{r.cell}: {r.observed} {r.detail}" for r in result.cells if r.regression]
    assert result.counts.probed == 9 * 9 * 4 * len(scenario.versions)
    assert fake.exec_count() == 9 * len(scenario.versions)
    assert result.counts.loopback_mismatches == 0


@pytest.mark.parametrize("mode", [ProbeMode.SERVICE_IP, ProbeMode.SERVICE_NAME])
def test_probing_through_the_service_gives_the_same_verdicts(
    fake: FakeApiServer, make_cluster: ClusterFactory, mode: ProbeMode
) -> None:
    result = run_scenario(workshop(), cluster=make_cluster(probe_mode=mode), options=QUICK)
    assert result.ok
    scripts = " ".join(e.command[-1] for e in fake.exec_calls)
    if mode is ProbeMode.SERVICE_NAME:
        assert f"backend.{DEV}.svc.cluster.local:80" in scripts
    else:
        assert "10.96." in scripts
        assert "10.244." not in scripts


def test_by_name_probes_under_default_deny_egress_are_dns_errors_not_blocks(
    make_cluster: ClusterFactory,
) -> None:
    deny_egress = netpol(
        "production", "deny-egress", {"podSelector": {}, "policyTypes": ["Egress"]}
    )
    scenario = workshop(versions=[version("deny-egress", deny_egress)], expectations=[])
    cluster = make_cluster(probe_mode=ProbeMode.SERVICE_NAME)
    result = run_scenario(scenario, cluster=cluster, options=RunOptions(attempts=1))
    from_production = [r for r in result.cells if r.cell.source_namespace == "production"]
    assert {r.observed for r in from_production} == {Verdict.ERROR}
    assert all("DNS" in r.detail for r in from_production)
    assert all(r.regression for r in from_production)  # the engine says blocked
    from_development = [r for r in result.cells if r.cell.source_namespace == "development"]
    assert {r.observed for r in from_development} == {Verdict.ALLOWED}


def test_dns_rule_naming_kube_system_keeps_by_name_probes_resolving(
    make_cluster: ClusterFactory,
) -> None:
    only_dns = netpol(
        "production",
        "only-dns",
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                            },
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        }
                    ],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                }
            ],
        },
    )
    scenario = workshop(versions=[version("only-dns", only_dns)], expectations=[])
    cluster = make_cluster(probe_mode=ProbeMode.SERVICE_NAME)
    result = run_scenario(scenario, cluster=cluster, options=RunOptions(attempts=1))
    # DNS resolves (the rule still names the cluster's kube-system); the backend does not.
    assert result.ok, [f"{r.cell}: {r.detail}" for r in result.cells if r.regression]
    from_production = [r for r in result.cells if r.cell.source_namespace == "production"]
    assert {r.raw for r in from_production} == {RawOutcome.TIMEOUT}


def test_convergence_time_follows_the_dataplane_delay(tmp_path: Path) -> None:
    with FakeApiServer(Behaviour(enforcement_delay_s=0.4)) as fake:
        target = ClusterTarget("fake", fake.write_kubeconfig(tmp_path / "kc"))
        with KubernetesCluster(target=target, options=FAST) as cluster:
            result = run_scenario(
                workshop(),
                cluster=cluster,
                options=RunOptions(attempts=1),
                convergence=ConvergenceOptions(settle_s=5.0, poll_interval_s=0.05),
            )
    assert result.ok  # cells were probed only after the canaries matched
    first, *changed = result.versions
    assert first.convergence is not None
    assert first.convergence.canaries == ()
    for version_result in changed:
        settled = version_result.convergence
        assert settled is not None
        assert settled.settled
        assert settled.seconds is not None
        assert 0.35 <= settled.seconds < 3.0
        assert settled.polls >= 2
    data = json.loads(json.dumps(result.to_dict()))
    assert data["versions"][1]["convergence"]["settled"] is True


def test_unconverged_version_is_reported_and_its_cells_still_probed(tmp_path: Path) -> None:
    with FakeApiServer(Behaviour(enforcement_delay_s=30.0)) as fake:
        target = ClusterTarget("fake", fake.write_kubeconfig(tmp_path / "kc"))
        with KubernetesCluster(target=target, options=FAST) as cluster:
            result = run_scenario(
                workshop(),
                cluster=cluster,
                versions=["none", "deny-all"],
                options=RunOptions(attempts=2, retry_interval_s=0.05),
                convergence=ConvergenceOptions(settle_s=0.3, poll_interval_s=0.05),
            )
    deny_all = result.version("deny-all")
    assert deny_all.convergence is not None
    assert not deny_all.convergence.settled
    assert deny_all.convergence.seconds is None
    assert "not settled after 0.3 s" in deny_all.convergence.note
    # The policy is not enforced yet: every cell connects, each attempt kept.
    assert all(r.regression and len(r.attempts) == 2 for r in deny_all.cells)


def test_source_pods_are_probed_concurrently(tmp_path: Path) -> None:
    with FakeApiServer(Behaviour(exec_latency_s=0.5)) as fake:
        target = ClusterTarget("fake", fake.write_kubeconfig(tmp_path / "kc"))
        with KubernetesCluster(target=target, options=FAST) as cluster:
            result = run_scenario(twins(), cluster=cluster, options=QUICK)
    assert result.ok
    assert fake.exec_count() == 4
    # One round: the four source pods' execs were all in flight together.
    assert fake.most_execs_at_once() == 4


def test_batch_too_big_for_one_shell_argument_is_split_across_execs(
    fake: FakeApiServer, make_cluster: ClusterFactory
) -> None:
    cluster = make_cluster()
    cluster.set_up(layout=plan_matrix(workshop()).layout)
    requests = [
        ProbeRequest(f"cell-{i}", "development/backend", 80, Protocol.TCP) for i in range(1200)
    ]
    results = cluster.probe(source="production/probe-frontend", requests=requests)
    assert [r.key for r in results] == [r.key for r in requests]
    assert {r.outcome for r in results} == {RawOutcome.CONNECTED}
    assert fake.exec_count() == 3
    # Linux refuses a single argument over 128 KiB (MAX_ARG_STRLEN).
    assert max(len(e.command[-1].encode()) for e in fake.exec_calls) < 128 * 1024


def test_target_without_a_service_is_probed_by_pod_ip_and_says_so(
    fake: FakeApiServer, make_cluster: ClusterFactory
) -> None:
    cluster = make_cluster(probe_mode=ProbeMode.SERVICE_IP)
    result = run_scenario(twins(), cluster=cluster, options=QUICK)
    assert result.ok
    assert all("probed by pod IP: no Service fronts" in r.detail for r in result.cells)
    assert "10.96." not in " ".join(e.command[-1] for e in fake.exec_calls)
