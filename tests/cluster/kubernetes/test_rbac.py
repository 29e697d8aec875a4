"""deploy/rbac.yaml grants what a run needs, and nothing a run does not use."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from service.cluster.kubernetes import ClusterTarget, KubernetesCluster, sweep_expired
from service.cluster.kubernetes.options import ProbeMode
from service.policy.calico.parse import parse_calico_entry
from service.runner import ConvergenceOptions, RunOptions, run_scenario
from tests.cluster.kubernetes.conftest import FAST
from tests.cluster.kubernetes.fakeapi import Behaviour, FakeApiServer, Grant
from tests.cluster.kubernetes.fakeapi.calico import split
from tests.cluster.kubernetes.fakeapi.server import GROUPS
from tests.runner.builders import netpol, version, workshop

REPO = Path(__file__).resolve().parents[3]
RBAC = REPO / "deploy" / "rbac.yaml"
# Granted for API servers before 1.30, which authorize the exec WebSocket as a get;
# the fake, like newer servers, asks for create.
LEGACY = {("get", "pods/exec", "")}


def _calico_version(name: str, order: int) -> Any:
    """Every kind of Calico object a run applies; ``order`` changes each of them."""
    api, admin = "projectcalico.org/v3", "policy.networking.k8s.io"
    allow = [{"action": "Allow"}]
    manifests = [
        ("Tier", "ops", None, {"order": order}),
        (
            "NetworkPolicy",
            "ops.np",
            "development",
            {"tier": "ops", "order": order, "ingress": allow},
        ),
        ("StagedNetworkPolicy", "snp", "development", {"order": order, "ingress": allow}),
        (
            "StagedKubernetesNetworkPolicy",
            "sknp",
            "development",
            {"podSelector": {"matchLabels": {"v": str(order)}}, "ingress": [{}]},
        ),
        ("NetworkSet", "ns", "development", {"nets": [f"10.{order}.0.0/16"]}),
        ("GlobalNetworkPolicy", "ops.gnp", None, {"tier": "ops", "order": order, "ingress": allow}),
        ("StagedGlobalNetworkPolicy", "sgnp", None, {"order": order, "ingress": allow}),
        ("GlobalNetworkSet", "gns", None, {"nets": [f"192.{order}.2.0/24"]}),
    ]
    entries = []
    for kind, object_name, namespace, spec in manifests:
        meta = {"name": object_name, **({"namespace": namespace} if namespace else {})}
        entries.append(
            parse_calico_entry({"apiVersion": api, "kind": kind, "metadata": meta, "spec": spec})
        )
    for kind, group_version, priority_key, action in (
        ("AdminNetworkPolicy", "v1alpha1", {}, "Allow"),
        ("ClusterNetworkPolicy", "v1alpha2", {"tier": "Admin"}, "Accept"),
    ):
        spec = {
            **priority_key,
            "priority": order,
            "subject": {"namespaces": {}},
            "ingress": [{"action": action, "from": [{"namespaces": {}}]}],
        }
        entries.append(
            parse_calico_entry(
                {
                    "apiVersion": f"{admin}/{group_version}",
                    "kind": kind,
                    "metadata": {"name": kind.lower()},
                    "spec": spec,
                }
            )
        )
    return version(name, *entries)


def _documents() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(RBAC.read_text()) if d]


def _grants() -> list[Grant]:
    (role,) = [d for d in _documents() if d["kind"] == "ClusterRole"]
    grants = []
    for rule in role["rules"]:
        names = frozenset(rule["resourceNames"]) if "resourceNames" in rule else None
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    grants.append(Grant(verb, resource, group, names))
    return grants


def test_binding_gives_the_role_to_the_service_account() -> None:
    docs = {d["kind"]: d for d in _documents()}
    binding, account = docs["ClusterRoleBinding"], docs["ServiceAccount"]
    assert binding["roleRef"]["name"] == docs["ClusterRole"]["metadata"]["name"]
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": account["metadata"]["name"],
            "namespace": account["metadata"]["namespace"],
        }
    ]


def test_no_wildcards_and_no_secrets() -> None:
    for grant in _grants():
        assert "*" not in (grant.verb, grant.resource, grant.group)
        assert grant.resource not in ("secrets", "configmaps", "nodes")


def _everything_a_service_does(tmp_path: Path, behaviour: Behaviour) -> FakeApiServer:
    """A run (a dropped policy, convergence, probes by Service, a pod that never pulls its
    image), then the janitor; the run must hold wherever the broken pod is not involved."""
    # create backend-policy, replace it, then delete it for another policy
    dropped = version("dropped", netpol("development", "other", {"podSelector": {}}))
    deny_all, allow_pod = workshop().versions[1:3]
    # Calico objects of every kind, changed in place by the next version, then dropped.
    calico = [_calico_version("calico-a", 10), _calico_version("calico-b", 20)]
    scenario = workshop(versions=[deny_all, allow_pod, *calico, dropped], expectations=[])
    behaviour.image_pull_failures.add("probe-frontend")
    with FakeApiServer(behaviour) as fake:
        target = ClusterTarget("fake", fake.write_kubeconfig(tmp_path / "kc"))
        options = replace(FAST, probe_mode=ProbeMode.SERVICE_IP, ready_timeout_s=0.5)
        with KubernetesCluster(target=target, options=options) as cluster:
            result = run_scenario(
                scenario,
                cluster=cluster,
                options=RunOptions(retry_interval_s=0.05),
                convergence=ConvergenceOptions(settle_s=2.0, poll_interval_s=0.05),
            )
            report = sweep_expired(cluster.api)
    broken = [r for r in result.cells if r.cell.source == "frontend"]
    assert all("ImagePullBackOff" in r.detail for r in broken)
    assert not [r for r in result.cells if r.regression and r not in broken]
    assert report.skipped == ()
    return fake


def test_the_shipped_rbac_is_exactly_what_a_service_uses(tmp_path: Path) -> None:
    used: set[tuple[str, str, str]] = set()
    for calico_version in ("v3.29.1", None):
        behaviour = Behaviour(grants=_grants(), calico_version=calico_version)
        fake = _everything_a_service_does(tmp_path, behaviour)
        # The shipped role is enough: nothing was forbidden...
        assert [c for c in fake.calls if c.status == 403] == []
        for call in fake.calls:
            if call.status < 400 or (call.verb == "get" and call.status == 404):
                resource, group = split(call.resource)
                used.add((call.verb, resource, group or GROUPS.get(resource, "")))
        used |= set(fake.authorizations)  # Calico's tiered RBAC
    # ... and nothing granted goes unused.
    granted = {(g.verb, g.resource, g.group) for g in _grants()}
    assert granted - used == LEGACY
