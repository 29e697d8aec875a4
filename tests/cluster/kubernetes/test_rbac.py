"""deploy/rbac.yaml grants what a run needs, and nothing a run does not use."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from service.cluster.kubernetes import ClusterTarget, KubernetesCluster, sweep_expired
from service.cluster.kubernetes.options import ProbeMode
from service.runner import ConvergenceOptions, RunOptions, run_scenario
from tests.cluster.kubernetes.conftest import FAST
from tests.cluster.kubernetes.fakeapi import Behaviour, FakeApiServer, Grant
from tests.runner.builders import netpol, version, workshop

REPO = Path(__file__).resolve().parents[3]
RBAC = REPO / "deploy" / "rbac.yaml"
# Granted for API servers before 1.30, which authorize the exec WebSocket as a get;
# the fake, like newer servers, asks for create.
LEGACY = {("get", "pods/exec")}


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
    scenario = workshop(versions=[deny_all, allow_pod, dropped], expectations=[])
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
    used: set[tuple[str, str]] = set()
    for calico_version in ("v3.29.1", None):
        behaviour = Behaviour(grants=_grants(), calico_version=calico_version)
        fake = _everything_a_service_does(tmp_path, behaviour)
        # The shipped role is enough: nothing was forbidden...
        assert [c for c in fake.calls if c.status == 403] == []
        used |= {(c.verb, c.resource) for c in fake.calls if c.status < 400}
    # ... and nothing granted goes unused.
    granted = {(g.verb, g.resource) for g in _grants()}
    assert granted - used == LEGACY
