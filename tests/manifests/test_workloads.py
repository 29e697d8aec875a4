"""Workloads become one representative pod each; pods belong to their top-level owner."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from service.manifests import load_manifests
from service.policy.model import ContainerPort, Labels, Pod, Protocol, WorkloadRef
from tests.manifests.samples import pod_yaml, problems_loading, workload_yaml, write


@pytest.mark.parametrize(
    ("kind", "api_version"),
    [
        ("Deployment", "apps/v1"),
        ("ReplicaSet", "apps/v1"),
        ("StatefulSet", "apps/v1"),
        ("DaemonSet", "apps/v1"),
        ("ReplicationController", "v1"),
        ("Job", "batch/v1"),
        ("CronJob", "batch/v1"),
    ],
)
def test_every_workload_kind_yields_one_pod_named_after_it(
    tmp_path: Path, kind: str, api_version: str
) -> None:
    path = write(tmp_path, "w.yaml", workload_yaml(kind, api_version, "api"))
    result = load_manifests([path])
    owner = WorkloadRef("prod", "api", kind)
    assert result.state.pods == (
        Pod(
            "prod",
            "api",
            Labels({"app": "api"}),
            ports=(ContainerPort(8080, Protocol.TCP, "http"),),
            workload=owner,
        ),
    )
    assert result.workloads == (owner,)


def test_a_deployment_selector_must_match_its_template(tmp_path: Path) -> None:
    text = workload_yaml("Deployment", "apps/v1", "api").replace(
        "      app: api\n", "      app: apx\n", 1
    )
    path = write(tmp_path, "d.yaml", text)
    assert problems_loading(path) == [
        f"{path}:12: spec.template.metadata.labels: the template's labels (app=api) do not"
        " match spec.selector (app=apx)"
    ]


def test_a_deployment_without_selector_is_refused(tmp_path: Path) -> None:
    text = workload_yaml("Deployment", "apps/v1", "api").replace(
        "  selector:\n    matchLabels:\n      app: api\n", ""
    )
    path = write(tmp_path, "d.yaml", text)
    assert problems_loading(path) == [
        f"{path}:6: spec.selector: required: a label selector matching the template's labels"
    ]


@pytest.mark.parametrize(
    ("kind", "api_version", "old", "new", "expected"),
    [
        (
            "Deployment",
            "apps/v1",
            "    matchLabels:\n      app: api\n",
            "    matchLabels: {}\n",
            "7: spec.selector: must not be empty: it would select every pod of the namespace",
        ),
        (
            "StatefulSet",
            "apps/v1",
            "      app: api\n",
            "      app: -api\n",
            "9: spec.selector.matchLabels.app: '-api' is not a valid label value: it must be"
            " empty or alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric",
        ),
        (
            "ReplicationController",
            "v1",
            "spec:\n",
            "spec:\n  selector:\n    app: other\n",
            "11: spec.template.metadata.labels: the template's labels (app=api) do not match"
            " spec.selector (app=other)",
        ),
        (
            "Deployment",
            "apps/v1",
            "spec:\n  selector:\n    matchLabels:\n      app: api\n  template:",
            "spec: []\nstatus:\n  template:",
            "6: spec: expected a mapping, got a list",
        ),
    ],
)
def test_workload_selectors_are_checked_as_the_api_server_does(
    tmp_path: Path, kind: str, api_version: str, old: str, new: str, expected: str
) -> None:
    text = workload_yaml(kind, api_version, "api")
    assert old in text
    path = write(tmp_path, "w.yaml", text.replace(old, new, 1))
    assert problems_loading(path) == [f"{path}:{expected}"]


def test_a_cron_job_without_job_template_names_the_missing_step(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.yaml",
        "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: c\nspec:\n  schedule: x\n",
    )
    assert problems_loading(path) == [f"{path}:5: spec.jobTemplate: required"]


OWNED_BY_DEPLOYMENT = """\
  ownerReferences:
    - apiVersion: apps/v1
      kind: Deployment
      name: web
      uid: d1
      controller: true
"""
OWNED_BY_REPLICASET = """\
  ownerReferences:
    - apiVersion: apps/v1
      kind: ReplicaSet
      name: web-5f7c
      uid: r1
      controller: true
"""


def test_a_replicaset_owned_by_a_deployment_yields_pods_of_the_deployment(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "rs.yaml",
        workload_yaml("ReplicaSet", "apps/v1", "web-5f7c", owner=OWNED_BY_DEPLOYMENT),
    )
    [pod] = load_manifests([path]).state.pods
    assert (pod.name, pod.workload) == ("web", WorkloadRef("prod", "web", "Deployment"))


def test_a_deployment_and_its_replicaset_yield_one_pod(tmp_path: Path) -> None:
    write(tmp_path, "d.yaml", workload_yaml("Deployment", "apps/v1", "web"))
    write(
        tmp_path,
        "rs.yaml",
        workload_yaml("ReplicaSet", "apps/v1", "web-5f7c", owner=OWNED_BY_DEPLOYMENT),
    )
    result = load_manifests([tmp_path])
    assert [(p.name, p.owner) for p in result.state.pods] == [
        ("web", WorkloadRef("prod", "web", "Deployment"))
    ]


def test_bare_pods_belong_to_the_top_owner_and_replace_the_template_pod(tmp_path: Path) -> None:
    write(tmp_path, "d.yaml", workload_yaml("Deployment", "apps/v1", "web"))
    write(
        tmp_path,
        "rs.yaml",
        workload_yaml("ReplicaSet", "apps/v1", "web-5f7c", owner=OWNED_BY_DEPLOYMENT),
    )
    running = pod_yaml("web-5f7c-abcde", extra_metadata=OWNED_BY_REPLICASET) + (
        "status:\n  podIP: 10.0.0.7\n"
    )
    write(tmp_path, "pods.yaml", running)
    result = load_manifests([tmp_path])
    deployment = WorkloadRef("prod", "web", "Deployment")
    [pod] = result.state.pods
    assert (pod.name, pod.workload, pod.ip) == (
        "web-5f7c-abcde",
        deployment,
        ipaddress.ip_address("10.0.0.7"),
    )
    assert result.workloads == (deployment,)


def test_a_pod_whose_owner_is_not_loaded_belongs_to_that_owner(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", pod_yaml("web-5f7c-x", extra_metadata=OWNED_BY_REPLICASET))
    [pod] = load_manifests([path]).state.pods
    assert pod.owner == WorkloadRef("prod", "web-5f7c", "ReplicaSet")


def test_a_bare_pod_without_owner_is_its_own_workload(tmp_path: Path) -> None:
    result = load_manifests([write(tmp_path, "p.yaml", pod_yaml("solo"))])
    assert result.workloads == (WorkloadRef("prod", "solo", "Pod"),)
