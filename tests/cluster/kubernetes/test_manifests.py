"""The objects a run creates: locked-down pods serving named ports, labelled namespaces."""

from __future__ import annotations

from typing import Any

import pytest

from service.cluster.kubernetes.manifests import (
    exec_container,
    namespace_manifest,
    pod_manifest,
    service_manifest,
)
from service.cluster.kubernetes.naming import RunNaming
from service.cluster.kubernetes.options import Images, KubernetesOptions, Resources
from service.errors import InvalidInput
from service.policy.model import ContainerPort, Labels, Namespace, Protocol, Service, ServicePort
from service.scenario.plan import PodSpec

NAMING = RunNaming("npd", "3f9a1c")
OPTIONS = KubernetesOptions(images=Images(agnhost="mirror.example/agnhost:2.53"))
TARGET = PodSpec(
    namespace="x",
    name="a",
    labels=Labels({"pod": "a"}),
    ports=(
        ContainerPort(80, Protocol.TCP, "serve-80-tcp"),
        ContainerPort(80, Protocol.UDP, "serve-80-udp"),
        ContainerPort(8132, Protocol.SCTP, None),
    ),
    target="a",
    probes=True,
)
PROBE = PodSpec(namespace="x", name="probe-any", labels=Labels({"role": "client"}), probes=True)


def _containers(pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in pod["spec"]["containers"]}


def test_target_pod_serves_each_port_and_protocol_from_its_own_container() -> None:
    containers = _containers(pod_manifest(TARGET, naming=NAMING, options=OPTIONS))
    assert containers["serve-80-tcp"]["args"] == [
        "serve-hostname",
        "--tcp",
        "--http=false",
        "--port",
        "80",
    ]
    assert containers["serve-80-udp"]["args"][:2] == ["serve-hostname", "--udp"]
    assert containers["serve-8132-sctp"]["args"] == ["porter"]
    assert containers["serve-8132-sctp"]["env"] == [
        {"name": "SERVE_SCTP_PORT_8132", "value": "netpol-drift"}
    ]


def test_named_ports_are_declared_on_the_serving_container() -> None:
    containers = _containers(pod_manifest(TARGET, naming=NAMING, options=OPTIONS))
    assert containers["serve-80-tcp"]["ports"] == [
        {"containerPort": 80, "protocol": "TCP", "name": "serve-80-tcp"}
    ]
    assert containers["serve-8132-sctp"]["ports"] == [{"containerPort": 8132, "protocol": "SCTP"}]


@pytest.mark.parametrize("spec", [TARGET, PROBE], ids=["target", "probe"])
def test_every_container_is_non_root_without_escalation_on_a_read_only_root(spec: PodSpec) -> None:
    pod = pod_manifest(spec, naming=NAMING, options=OPTIONS)
    security = pod["spec"]["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] > 0
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["spec"]["automountServiceAccountToken"] is False
    for container in pod["spec"]["containers"]:
        assert container["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        }
        limits = container["resources"]["limits"]
        assert set(limits) == {"cpu", "memory"}
        assert container["image"] == "mirror.example/agnhost:2.53"


def test_low_ports_are_served_through_the_unprivileged_port_sysctl_not_a_capability() -> None:
    pod = pod_manifest(TARGET, naming=NAMING, options=OPTIONS)
    assert pod["spec"]["securityContext"]["sysctls"] == [
        {"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}
    ]
    high = PodSpec("x", "b", Labels(), (ContainerPort(8080),), target="b")
    assert (
        "sysctls"
        not in pod_manifest(high, naming=NAMING, options=OPTIONS)["spec"]["securityContext"]
    )


def test_probe_pod_carries_the_source_labels_plus_only_reserved_keys() -> None:
    labels = pod_manifest(PROBE, naming=NAMING, options=OPTIONS)["metadata"]["labels"]
    ours = {k: v for k, v in labels.items() if k.startswith("netpol-drift.io/")}
    assert {k: v for k, v in labels.items() if k not in ours} == {"role": "client"}
    assert ours == {
        "netpol-drift.io/managed-by": "netpol-drift",
        "netpol-drift.io/run": "3f9a1c",
        "netpol-drift.io/role": "probe",
    }
    assert exec_container(PROBE) == "probe"
    assert _containers(pod_manifest(PROBE, naming=NAMING, options=OPTIONS))["probe"]["args"] == [
        "pause"
    ]


def test_probing_target_gets_the_probe_resources_on_the_container_probes_run_in() -> None:
    options = KubernetesOptions(
        probe_resources=Resources("1m", "2m", "3Mi", "4Mi"),
        target_resources=Resources("5m", "6m", "7Mi", "8Mi"),
    )
    containers = _containers(pod_manifest(TARGET, naming=NAMING, options=options))
    assert exec_container(TARGET) == "serve-80-tcp"
    assert containers["serve-80-tcp"]["resources"]["limits"] == {"cpu": "2m", "memory": "4Mi"}
    assert containers["serve-80-udp"]["resources"]["limits"] == {"cpu": "6m", "memory": "8Mi"}


def test_namespace_keeps_scenario_labels_and_adds_ownership_and_expiry() -> None:
    namespace = Namespace(
        "development",
        Labels({"purpose": "development", "kubernetes.io/metadata.name": "development"}),
    )
    manifest = namespace_manifest(namespace, naming=NAMING, expires_at="2026-03-01T18:00:00Z")
    assert manifest["metadata"]["name"] == "npd-3f9a1c-development"
    # The API server sets the name label to the real name; sending the scenario's would clash.
    assert manifest["metadata"]["labels"] == {
        "purpose": "development",
        "netpol-drift.io/managed-by": "netpol-drift",
        "netpol-drift.io/run": "3f9a1c",
    }
    assert manifest["metadata"]["annotations"] == {
        "netpol-drift.io/expires-at": "2026-03-01T18:00:00Z",
        "netpol-drift.io/original-namespace": "development",
    }


def test_service_ports_get_names_the_api_requires() -> None:
    service = Service(
        "development",
        "backend",
        Labels({"app": "webapp"}),
        (ServicePort(80, 80, Protocol.TCP), ServicePort(53, "dns", Protocol.UDP, "dns")),
    )
    manifest = service_manifest(service, naming=NAMING)
    assert manifest["metadata"]["namespace"] == "npd-3f9a1c-development"
    assert manifest["spec"]["selector"] == {"app": "webapp"}
    assert manifest["spec"]["ports"] == [
        {"name": "tcp-80", "port": 80, "targetPort": 80, "protocol": "TCP"},
        {"name": "dns", "port": 53, "targetPort": "dns", "protocol": "UDP"},
    ]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"run_as_user": 0}, "run_as_user"),
        ({"probe_timeout_s": 0}, "probe_timeout_s"),
        ({"probe_parallelism": 0}, "probe_parallelism"),
        ({"images": Images(agnhost=" ")}, "images.agnhost"),
        ({"images": Images(pull_policy="Sometimes")}, "images.pull_policy"),
        ({"target_resources": Resources(memory_limit="lots")}, "target_resources.memory_limit"),
    ],
)
def test_bad_options_are_invalid_input_naming_the_field(
    changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        KubernetesOptions(**changes)
    assert [str(p.path) for p in caught.value.problems] == [field]
