"""Perturbations on the Kubernetes backend, through the real client, against the fake API
server: relabels, pods created again with new IPs, calico-node restarts, ownership, opt-in,
RBAC, and a whole experiment."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from service.chaos import ChaosOptions, Observation, StepStatus, run_experiment
from service.cluster.kubernetes import ClusterTarget
from service.cluster.kubernetes.naming import MANAGED_BY_LABEL, ROLE_LABEL, RUN_LABEL
from service.cluster.kubernetes.perturb import KubernetesChaosCluster
from service.errors import ClusterError, InvalidInput
from service.policy.model import NAMESPACE_NAME_LABEL, Direction, Labels
from service.scenario.chaos import (
    ChaosStep,
    DefaultDeny,
    LabelEdit,
    LabelNamespace,
    LabelPod,
    RecreatePods,
    RestartCalico,
    SwitchVersion,
)
from service.scenario.model import Verdict
from service.scenario.plan import plan_matrix
from tests.chaos.builders import chaos_workshop
from tests.cluster.kubernetes.conftest import FAST, fake, kubeconfig, kubeconfig_context, target
from tests.cluster.kubernetes.fakeapi import Behaviour, FakeApiServer, Grant
from tests.runner.builders import workshop

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DEV, PROD = "npd-t3st01-development", "npd-t3st01-production"
CALICO = "calico-system"

__all__ = ["fake", "kubeconfig", "kubeconfig_context", "target"]


@pytest.fixture
def behaviour() -> Behaviour:
    """The cluster tests' fake, with two calico-node pods to restart, and quick restarts."""
    return Behaviour(calico_nodes=2, calico_restart_s=0.3)


def _cluster(target: ClusterTarget, *, allow: bool = False) -> KubernetesChaosCluster:
    return KubernetesChaosCluster(target=target, options=FAST, allow_calico_restart=allow)


@pytest.fixture
def laid_out(target: ClusterTarget) -> Iterator[KubernetesChaosCluster]:
    cluster = _cluster(target, allow=True)
    cluster.set_up(layout=plan_matrix(workshop(), versions=["none"]).layout)
    yield cluster
    cluster.tear_down()
    cluster.close()


def _object(fake: FakeApiServer, resource: str, namespace: str, name: str) -> dict[str, Any]:
    return next(
        o
        for o in fake.objects(resource)
        if o["metadata"]["name"] == name and o["metadata"].get("namespace", "") == namespace
    )


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return dict(obj["metadata"].get("labels") or {})


def test_a_namespace_gets_its_new_labels_and_keeps_its_ownership(
    fake: FakeApiServer, laid_out: KubernetesChaosCluster
) -> None:
    laid_out.set_namespace_labels(namespace="production", labels=Labels({"purpose": "dev"}))
    labels = _labels(_object(fake, "namespaces", "", PROD))
    assert labels == {
        "purpose": "dev",
        NAMESPACE_NAME_LABEL: PROD,
        MANAGED_BY_LABEL: "netpol-drift",
        RUN_LABEL: "t3st01",
    }


def test_a_pod_gets_its_new_labels_and_keeps_its_ownership_and_role(
    fake: FakeApiServer, laid_out: KubernetesChaosCluster
) -> None:
    before = _object(fake, "pods", DEV, "probe-frontend")
    laid_out.set_pod_labels(
        pod="development/probe-frontend", labels=Labels({"app": "webapp", "tier": "x"})
    )
    after = _object(fake, "pods", DEV, "probe-frontend")
    assert _labels(after) == {
        "app": "webapp",
        "tier": "x",
        ROLE_LABEL: "probe",
        MANAGED_BY_LABEL: "netpol-drift",
        RUN_LABEL: "t3st01",
    }
    # the same pod, relabelled in place
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["status"]["podIP"] == before["status"]["podIP"]


def test_reserved_labels_are_refused_before_anything_is_sent(
    fake: FakeApiServer, laid_out: KubernetesChaosCluster
) -> None:
    updates = fake.count("update", "namespaces")
    with pytest.raises(InvalidInput, match="reserved"):
        laid_out.set_namespace_labels(
            namespace="production", labels=Labels({MANAGED_BY_LABEL: "me"})
        )
    assert fake.count("update", "namespaces") == updates


def test_what_lost_its_ownership_labels_is_not_touched(
    fake: FakeApiServer, laid_out: KubernetesChaosCluster
) -> None:
    stored = fake.store._objects["pods"][(DEV, "backend")]
    del stored["metadata"]["labels"][RUN_LABEL]
    with pytest.raises(ClusterError, match="refusing to touch pod"):
        laid_out.set_pod_labels(pod="development/backend", labels=Labels({"app": "x"}))
    with pytest.raises(ClusterError, match="refusing to touch pod"):
        laid_out.recreate_pods(pods=["development/backend"])
    assert fake.count("delete", "pods") == 0


def test_a_pod_created_again_has_a_new_uid_and_ip_and_is_probed_from_ready(
    fake: FakeApiServer, laid_out: KubernetesChaosCluster
) -> None:
    before = _object(fake, "pods", DEV, "backend")
    new = laid_out.recreate_pods(pods=["development/backend"])
    after = _object(fake, "pods", DEV, "backend")
    assert after["metadata"]["uid"] != before["metadata"]["uid"]
    assert str(new["development/backend"]) == after["status"]["podIP"]
    assert after["status"]["podIP"] != before["status"]["podIP"]
    assert _labels(after) == _labels(before)


def test_a_calico_restart_is_refused_without_the_operators_opt_in(target: ClusterTarget) -> None:
    cluster = _cluster(target, allow=False)
    try:
        with pytest.raises(ClusterError, match="opt-in"):
            cluster.restart_calico()
    finally:
        cluster.close()


def test_a_calico_restart_replaces_every_calico_node_pod(
    fake: FakeApiServer, laid_out: KubernetesChaosCluster
) -> None:
    before = {
        o["metadata"]["name"] for o in fake.objects("pods") if o["metadata"]["namespace"] == CALICO
    }
    restarted = laid_out.restart_calico()
    assert sorted(restarted) == sorted(f"{CALICO}/{name}" for name in before)
    after = {
        o["metadata"]["name"] for o in fake.objects("pods") if o["metadata"]["namespace"] == CALICO
    }
    assert len(after) == 2
    assert not after & before
    assert not laid_out.calico_ready()
    deadline = time.monotonic() + 5
    while not laid_out.calico_ready():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_pod_no_daemon_set_owns_is_not_restarted(
    fake: FakeApiServer, laid_out: KubernetesChaosCluster
) -> None:
    fake.store._objects["pods"][(CALICO, "calico-node-00001")]["metadata"]["ownerReferences"] = []
    with pytest.raises(ClusterError, match="not a pod of the calico-node DaemonSet"):
        laid_out.restart_calico()
    assert fake.count("delete", "pods") == 0


def _rules(file: str, kind: str) -> list[dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all((DEPLOY / file).read_text()) if d]
    return [rule for d in docs if d["kind"] == kind for rule in d["rules"]]


def _grants(rules: list[dict[str, Any]]) -> list[Grant]:
    return [
        Grant(
            verb,
            resource,
            group,
            frozenset(rule["resourceNames"]) if "resourceNames" in rule else None,
        )
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    ]


def test_the_calico_restart_role_is_namespaced_to_calico() -> None:
    docs = [d for d in yaml.safe_load_all((DEPLOY / "rbac-calico-restart.yaml").read_text()) if d]
    assert {d["kind"] for d in docs} == {"Role", "RoleBinding"}
    assert {d["metadata"]["namespace"] for d in docs} == {CALICO}


ALL_KINDS = (
    ChaosStep("churn", SwitchVersion("allow-pod")),
    ChaosStep(
        "relabel-ns", LabelNamespace("production", LabelEdit(Labels({"purpose": "development"})))
    ),
    ChaosStep(
        "relabel-pod",
        LabelPod(LabelEdit(remove=frozenset({"role"})), source="frontend", namespace="development"),
    ),
    ChaosStep("reschedule", RecreatePods(("backend",))),
    ChaosStep("lockdown", DefaultDeny(("development",), frozenset({Direction.EGRESS}))),
    ChaosStep("restart", RestartCalico()),
)


def _experiment(target: ClusterTarget, *steps: ChaosStep) -> Any:
    scenario = chaos_workshop(
        *steps, interval=0.1, hold=0.3, timeout=5.0, allow_calico_restart=True
    )
    return run_experiment(
        scenario,
        cluster=_cluster(target, allow=True),
        options=ChaosOptions(allow_calico_restart=True),
    )


@pytest.mark.parametrize(
    "behaviour", [Behaviour(calico_nodes=2, calico_restart_s=0.3, isolation_delay_s=0.6)]
)
def test_a_whole_experiment_runs_every_kind_of_step_on_the_cluster(
    fake: FakeApiServer, target: ClusterTarget
) -> None:
    result = _experiment(target, *ALL_KINDS)
    steps = {s.name: s for s in result.steps}
    assert all(s.status is StepStatus.COMPLETED for s in result.steps), [
        s.error for s in result.steps
    ]
    for name in ("churn", "relabel-ns", "relabel-pod", "lockdown", "restart"):
        assert steps[name].ok, (name, steps[name].change)
    relabelled = steps["relabel-ns"].change
    assert relabelled is not None
    assert {t.cell.source: (t.old, t.new) for t in relabelled.cells if t.old != t.new} == {
        "production/frontend": (Verdict.BLOCKED, Verdict.ALLOWED)
    }
    # the backend comes back un-isolated for 0.6 s: blocked sources get in meanwhile
    rescheduled = steps["reschedule"].change
    assert rescheduled is not None
    window = rescheduled.window(Observation.FAIL_OPEN)
    assert {c.source for c, _ in window.cells} == {
        "development/unlabelled",
        "production/unlabelled",
        "production/frontend",
    }
    assert 0.0 < window.seconds < 0.6 + rescheduled.resolution_s + 0.5
    assert not steps["reschedule"].ok
    # everything was rolled back and torn down
    assert fake.managed_objects() == []


def test_the_shipped_chaos_roles_are_exactly_what_an_experiment_uses(tmp_path: Path) -> None:
    granted = (
        _grants(_rules("rbac.yaml", "ClusterRole"))
        + _grants(_rules("rbac-chaos.yaml", "ClusterRole"))
        + _grants(_rules("rbac-calico-restart.yaml", "Role"))
    )
    behaviour = Behaviour(grants=granted, calico_nodes=1, calico_restart_s=0.1)
    with FakeApiServer(behaviour) as fake:
        target = ClusterTarget("fake", fake.write_kubeconfig(tmp_path / "kc"))
        result = _experiment(target, *ALL_KINDS)
    assert [c for c in fake.calls if c.status == 403] == []
    assert all(s.status is StepStatus.COMPLETED for s in result.steps)
    used = {(c.verb, c.resource) for c in fake.calls if c.status < 400}
    chaos = _grants(_rules("rbac-chaos.yaml", "ClusterRole")) + _grants(
        _rules("rbac-calico-restart.yaml", "Role")
    )
    assert {(g.verb, g.resource) for g in chaos} <= used


def test_without_the_chaos_role_a_relabel_fails_and_names_the_permission(tmp_path: Path) -> None:
    behaviour = Behaviour(grants=_grants(_rules("rbac.yaml", "ClusterRole")))
    with FakeApiServer(behaviour) as fake:
        target = ClusterTarget("fake", fake.write_kubeconfig(tmp_path / "kc"))
        result = _experiment(target, ALL_KINDS[1], ALL_KINDS[0])
    relabel, churn = result.steps
    assert relabel.status is StepStatus.FAILED
    assert "permission to update namespaces" in relabel.error
    assert "deploy/rbac-chaos.yaml grants it" in relabel.error
    # its rollback could not relabel either: the cluster is in doubt, the rest is skipped
    assert relabel.rollback_error
    assert churn.status is StepStatus.SKIPPED


def test_an_experiment_that_fails_still_tears_down(tmp_path: Path) -> None:
    behaviour = Behaviour(grants=_grants(_rules("rbac.yaml", "ClusterRole")))
    with FakeApiServer(behaviour) as fake:
        target = ClusterTarget("fake", fake.write_kubeconfig(tmp_path / "kc"))
        _experiment(target, ALL_KINDS[3])
        assert fake.managed_objects() == []
