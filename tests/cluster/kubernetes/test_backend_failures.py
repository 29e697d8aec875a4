"""Every error path of the Kubernetes backend: reported with its reason, never read as blocked."""

from __future__ import annotations

from dataclasses import replace

import pytest

from service.cluster.kubernetes.api import NAMESPACES, NETWORK_POLICIES, ForbiddenError
from service.errors import ClusterError, InvalidInput
from service.policy.model import Labels
from service.runner import RunOptions, RunResult, run_scenario
from service.scenario.cells import RawOutcome
from service.scenario.model import SourceSpec, Verdict
from service.scenario.plan import plan_matrix
from tests.cluster.kubernetes.conftest import ClusterFactory
from tests.cluster.kubernetes.fakeapi import (
    Behaviour,
    ExecFault,
    ExecFaultMode,
    FakeApiServer,
    Forbid,
)
from tests.runner.builders import netpol, twins, version, workshop

QUICK = RunOptions(retry_interval_s=0.05)
ONCE = RunOptions(attempts=1)
DEV = "npd-t3st01-development"


def _by_source(result: RunResult, pod: str) -> list[Verdict]:
    return [r.observed for r in result.cells if r.cell.source_pod == pod]


def test_target_that_never_pulls_its_image_makes_its_cells_errors_with_the_reason(
    behaviour: Behaviour, make_cluster: ClusterFactory
) -> None:
    behaviour.image_pull_failures.add("b-x")
    result = run_scenario(twins(), cluster=make_cluster(ready_timeout_s=0.5), options=ONCE)
    to_b = [r for r in result.cells if r.cell.target_pod == "x/b-x"]
    assert to_b
    assert {r.observed for r in to_b} == {Verdict.ERROR}
    assert {r.raw for r in to_b} == {RawOutcome.EXEC_ERROR}
    detail = to_b[0].detail
    assert "not Ready after 0.5 s" in detail
    assert "ImagePullBackOff" in detail
    assert 'Failed to pull image "registry.k8s.io/e2e-test-images/agnhost:2.53"' in detail
    # The rest of the run goes on.
    others = [
        r for r in result.cells if r.cell.target_pod != "x/b-x" and r.cell.source_pod != "x/b-x"
    ]
    assert others
    assert {r.observed for r in others} == {Verdict.ALLOWED}


def test_unschedulable_probe_pod_makes_its_cells_errors_and_the_rest_goes_on(
    behaviour: Behaviour, make_cluster: ClusterFactory
) -> None:
    behaviour.unschedulable.add("probe-frontend")
    cluster = make_cluster(ready_timeout_s=0.5)
    result = run_scenario(workshop(), cluster=cluster, options=ONCE, versions=["none"])
    stuck = [r for r in result.cells if r.cell.source == "frontend"]
    assert {r.observed for r in stuck} == {Verdict.ERROR}
    assert all("Unschedulable: 0/3 nodes are available" in r.detail for r in stuck)
    assert all("FailedScheduling" in r.detail for r in stuck)
    assert set(_by_source(result, "development/probe-unlabelled")) == {Verdict.ALLOWED}


def test_pod_refused_by_quota_makes_its_cells_errors_with_the_api_message(
    behaviour: Behaviour, make_cluster: ClusterFactory
) -> None:
    behaviour.quota_refusals.add("backend")
    cluster = make_cluster()
    result = run_scenario(workshop(), cluster=cluster, options=ONCE, versions=["none"])
    assert {r.observed for r in result.cells} == {Verdict.ERROR}
    assert all("exceeded quota" in r.detail for r in result.cells)
    assert "development/backend" in cluster.failures


def test_missing_permission_names_verb_resource_and_namespace(
    fake: FakeApiServer, behaviour: Behaviour, make_cluster: ClusterFactory
) -> None:
    behaviour.forbidden.append(Forbid("create", "pods", "npd-t3st01-*"))
    with pytest.raises(ForbiddenError) as caught:
        run_scenario(workshop(), cluster=make_cluster(), options=ONCE)
    message = str(caught.value)
    assert message.startswith(
        'forbidden: netpol-drift needs permission to create pods in the core API group ("") '
        "in namespace npd-t3st01-"
    )
    assert "deploy/rbac.yaml" in message
    assert 'User "system:serviceaccount:netpol-drift:runner" cannot create' in message
    # Teardown ran on the way out.
    assert fake.managed_objects() == []


def test_missing_cluster_scoped_permission_says_cluster_scope(
    behaviour: Behaviour, make_cluster: ClusterFactory
) -> None:
    behaviour.forbidden.append(Forbid("create", "namespaces"))
    with pytest.raises(ForbiddenError) as caught:
        run_scenario(workshop(), cluster=make_cluster(), options=ONCE)
    assert 'to create namespaces in the core API group ("") at cluster scope' in str(caught.value)


def test_forbidden_exec_is_an_error_naming_pods_exec_never_blocked(
    behaviour: Behaviour, make_cluster: ClusterFactory
) -> None:
    behaviour.forbidden.append(Forbid("create", "pods/exec"))
    result = run_scenario(workshop(), cluster=make_cluster(), options=ONCE, versions=["deny-all"])
    assert {r.observed for r in result.cells} == {Verdict.ERROR}
    for r in result.cells:
        namespace = f"npd-t3st01-{r.cell.source_namespace}"
        assert (
            f'needs permission to create pods/exec in the core API group ("") in namespace '
            f"{namespace}" in r.detail
        )


@pytest.mark.parametrize(
    ("mode", "said"),
    [
        (ExecFaultMode.HANDSHAKE, "error dialing backend"),
        (ExecFaultMode.STATUS, "container is not running"),
        (ExecFaultMode.DROP, "broke: Connection to remote host was lost"),
        (ExecFaultMode.HANG, "gave no answer within"),
    ],
)
def test_failed_exec_makes_its_batch_errors_never_blocked(
    behaviour: Behaviour, make_cluster: ClusterFactory, mode: ExecFaultMode, said: str
) -> None:
    behaviour.exec_faults["probe-unlabelled"] = ExecFault(mode)
    behaviour.hang_s = 3.0
    cluster = make_cluster(exec_grace_s=0.3)
    result = run_scenario(workshop(), cluster=cluster, options=ONCE, versions=["deny-all"])
    failed = [r for r in result.cells if r.cell.source == "unlabelled"]
    assert {r.observed for r in failed} == {Verdict.ERROR}
    assert {r.raw for r in failed} == {RawOutcome.EXEC_ERROR}
    assert all(said in r.detail for r in failed), [r.detail for r in failed]
    # The frontend pods' execs were fine; deny-all blocks them as the engine says.
    fine = [r for r in result.cells if r.cell.source == "frontend"]
    assert {r.observed for r in fine} == {Verdict.BLOCKED}


def test_exec_that_fails_once_is_retried_and_kept_as_flaky(
    behaviour: Behaviour, make_cluster: ClusterFactory
) -> None:
    behaviour.exec_faults["probe-frontend"] = ExecFault(ExecFaultMode.STATUS, times=2)
    result = run_scenario(workshop(), cluster=make_cluster(), options=QUICK, versions=["none"])
    retried = [r for r in result.cells if r.cell.source == "frontend"]
    assert retried
    assert all(r.flaky and not r.regression for r in retried)
    assert all(
        [a.observed for a in r.attempts] == [Verdict.ERROR, Verdict.ALLOWED] for r in retried
    )


def test_missing_agnhost_in_the_image_is_an_error(make_cluster: ClusterFactory) -> None:
    cluster = make_cluster(agnhost_path="/usr/local/bin/agnhost")
    result = run_scenario(workshop(), cluster=cluster, options=ONCE, versions=["none"])
    assert {r.observed for r in result.cells} == {Verdict.ERROR}
    assert all("agnhost is missing from the probe image" in r.detail for r in result.cells)


def test_existing_namespace_without_our_labels_is_refused_and_left_alone(
    fake: FakeApiServer, make_cluster: ClusterFactory
) -> None:
    cluster = make_cluster()
    user_namespace = {"metadata": {"name": DEV, "labels": {"team": "payments"}}}
    before = cluster.api.create(NAMESPACES, user_namespace)
    with pytest.raises(ClusterError, match=f"refusing to use namespace {DEV}"):
        run_scenario(workshop(), cluster=cluster, options=ONCE)
    after = cluster.api.read(NAMESPACES, DEV)
    assert after is not None
    assert after["metadata"] == before["metadata"]
    assert not [c for c in fake.calls if c.verb in ("update", "delete") and c.name == DEV]


def test_unowned_policy_in_the_way_is_refused_and_left_alone(
    fake: FakeApiServer, make_cluster: ClusterFactory
) -> None:
    scenario = workshop()
    cluster = make_cluster()
    cluster.set_up(layout=plan_matrix(scenario).layout)
    intruder = {
        "metadata": {"name": "backend-policy", "namespace": DEV},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }
    cluster.api.create(NETWORK_POLICIES, intruder)
    with pytest.raises(ClusterError, match="refusing to touch NetworkPolicy"):
        cluster.apply_version(version=scenario.version("deny-all"))
    (stored,) = fake.objects("networkpolicies")
    assert stored["spec"]["podSelector"] == {}
    assert fake.count("update", "networkpolicies") == fake.count("delete", "networkpolicies") == 0


def test_teardown_leaves_a_relabelled_namespace_and_reports_it(
    fake: FakeApiServer, make_cluster: ClusterFactory
) -> None:
    cluster = make_cluster()
    cluster.set_up(layout=plan_matrix(workshop()).layout)
    namespace = cluster.api.read(NAMESPACES, DEV)
    assert namespace is not None
    namespace["metadata"]["labels"] = {"adopted-by": "someone"}
    cluster.api.replace(NAMESPACES, namespace)
    cluster.tear_down()
    assert cluster.api.read(NAMESPACES, DEV) is not None
    assert any(DEV in leftover for leftover in cluster.leftovers)
    assert cluster.api.read(NAMESPACES, "npd-t3st01-production") is None


def test_policy_selecting_ownership_labels_is_refused_before_it_is_applied(
    fake: FakeApiServer, make_cluster: ClusterFactory
) -> None:
    sneaky = netpol(
        "development",
        "sneaky",
        {"podSelector": {"matchLabels": {"netpol-drift.io/role": "probe"}}},
    )
    with pytest.raises(InvalidInput, match=r"netpol-drift\.io/role"):
        run_scenario(
            workshop(versions=[version("v", sneaky)], expectations=[]),
            cluster=make_cluster(),
            options=ONCE,
        )
    assert fake.count("create", "networkpolicies") == 0
    assert fake.managed_objects() == []


def test_scenario_labels_in_the_reserved_prefix_are_refused_before_anything_is_created(
    fake: FakeApiServer, make_cluster: ClusterFactory
) -> None:
    scenario = workshop()
    sneaky = replace(
        scenario,
        matrix=replace(
            scenario.matrix,
            sources=(SourceSpec("fake-probe", Labels({"netpol-drift.io/role": "probe"})),),
        ),
        expectations=(),
    )
    with pytest.raises(InvalidInput) as caught:
        run_scenario(sneaky, cluster=make_cluster(), options=ONCE)
    assert {str(p.path) for p in caught.value.problems} == {
        "pods.development/probe-fake-probe.labels.netpol-drift.io/role",
        "pods.production/probe-fake-probe.labels.netpol-drift.io/role",
    }
    assert fake.count("create", "namespaces") == 0
