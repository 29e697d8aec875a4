"""Syntax rules of names, labels, ports and CIDRs, and the parsers around policies.

Pods, pod templates, Services and Namespaces, as the API server would accept them;
each invalid input is a table row with the exact message reported.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from service.errors import FieldPath, InvalidInput
from service.policy.model import (
    ContainerPort,
    Labels,
    Namespace,
    Protocol,
    ServicePort,
    WorkloadRef,
)
from service.policy.parse import parse_namespace, parse_pod, parse_pod_template, parse_service
from service.policy.syntax import (
    cidr,
    dns1123_subdomain_error,
    label_key_error,
    label_value_error,
    port_name_error,
)

# --- syntax rules on their own -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        ("app", True),
        ("app.kubernetes.io/name", True),
        ("kubernetes.io/metadata.name", True),
        ("A_b-C.d", True),
        ("x" * 63, True),
        ("x" * 64, False),
        ("example.com/" + "x" * 63, True),
        ("Example.com/app", False),  # prefixes are lowercase DNS subdomains
        ("/app", False),
        ("example.com/", False),
        ("-app", False),
        ("app_", False),
        ("a b", False),
        ("", False),
        ("a" * 254 + "/b", False),
    ],
)
def test_label_keys_are_qualified_names(key: str, valid: bool) -> None:
    assert (label_key_error(key) is None) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("", True),
        ("web", True),
        ("1.2_3-x", True),
        ("x" * 63, True),
        ("x" * 64, False),
        ("-x", False),
        ("x.", False),
        ("a/b", False),
        ("a b", False),
    ],
)
def test_label_values_may_be_empty_or_short_alphanumerics(value: str, valid: bool) -> None:
    assert (label_value_error(value) is None) is valid


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("http", True),
        ("web-80", True),
        ("h2c", True),
        ("x" * 15, True),
        ("x" * 16, False),
        ("80", False),
        ("a--b", False),
        ("-a", False),
        ("a-", False),
        ("HTTP", False),
        ("a_b", False),
    ],
)
def test_port_names_are_iana_service_names(name: str, valid: bool) -> None:
    assert (port_name_error(name) is None) is valid


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("web", True),
        ("a.b-c", True),
        ("x" * 253, True),
        ("x" * 254, False),
        ("Web", False),
        ("a..b", False),
        (".a", False),
        ("a_b", False),
    ],
)
def test_object_names_are_dns_subdomains(name: str, valid: bool) -> None:
    assert (dns1123_subdomain_error(name) is None) is valid


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("10.0.0.0/8", True),
        ("0.0.0.0/0", True),
        ("fd00::/8", True),
        ("10.0.0.1/32", True),
        ("10.0.0.1/8", False),
        ("10.0.0.0", False),
        ("10.0.0.0/33", False),
        ("fd00::1/8", False),
        ("010.0.0.0/8", False),
    ],
)
def test_cidrs_are_strict(text: str, valid: bool) -> None:
    network, error = cidr(text)
    assert (network is not None, error is None) == (valid, valid)


# --- Pods, templates, Services, Namespaces ------------------------------------------------------


def pod(spec: Any, *, status: Any = None, **metadata: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "a", "labels": {"app": "web"}, **metadata},
        "spec": spec,
    }
    if status is not None:
        obj["status"] = status
    return obj


CONTAINERS = [
    {"name": "web", "ports": [{"name": "http", "containerPort": 8080}]},
    {"name": "dns", "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"}]},
]


def test_a_pod_carries_ports_host_network_account_ip_and_owner() -> None:
    owners = [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "uid": "1"},
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "web-7d",
            "uid": "2",
            "controller": True,
        },
    ]
    parsed = parse_pod(
        pod(
            {"containers": CONTAINERS, "hostNetwork": True, "serviceAccountName": "builder"},
            status={"podIP": "10.1.2.3"},
            namespace="prod",
            ownerReferences=owners,
        )
    )
    assert parsed.ref == "prod/a"
    assert parsed.labels == Labels({"app": "web"})
    assert parsed.ports == (
        ContainerPort(8080, Protocol.TCP, "http"),
        ContainerPort(53, Protocol.UDP, "dns"),
    )
    assert parsed.host_network is True
    assert parsed.service_account == "builder"
    assert parsed.ip == ipaddress.ip_address("10.1.2.3")
    assert parsed.workload == WorkloadRef("prod", "web-7d", "ReplicaSet")


def test_a_pod_without_a_controller_owner_belongs_to_its_first_owner() -> None:
    owners = [{"apiVersion": "batch/v1", "kind": "Job", "name": "j"}]
    parsed = parse_pod(pod({"containers": CONTAINERS}, ownerReferences=owners))
    assert parsed.namespace == "default"
    assert parsed.workload == WorkloadRef("default", "j", "Job")
    assert parse_pod(pod({"containers": CONTAINERS})).workload is None


def test_a_pod_defaults_to_the_default_service_account_and_reads_the_deprecated_field() -> None:
    assert parse_pod(pod({"containers": CONTAINERS})).service_account == "default"
    legacy = parse_pod(pod({"containers": CONTAINERS, "serviceAccount": "old"}))
    assert legacy.service_account == "old"


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (pod({}), "spec.containers: required: at least one container"),
        (pod({"containers": [{"ports": []}]}), "spec.containers[0].name: required"),
        (
            pod({"containers": [{"name": "a"}, {"name": "a"}]}),
            "spec.containers[1].name: duplicate container name 'a'",
        ),
        (
            pod({"containers": [{"name": "a", "ports": [{"name": "http"}]}]}),
            "spec.containers[0].ports[0].containerPort: required",
        ),
        (
            pod({"containers": [{"name": "a", "ports": [{"containerPort": 0}]}]}),
            "spec.containers[0].ports[0].containerPort: 0 is not a valid port number:"
            " expected 1-65535",
        ),
        (
            pod(
                {
                    "containers": [
                        {"name": "a", "ports": [{"containerPort": 80, "protocol": "HTTP"}]}
                    ]
                }
            ),
            "spec.containers[0].ports[0].protocol: 'HTTP' is not one of TCP, UDP, SCTP",
        ),
        (
            pod({"containers": [{"name": "a", "ports": [{"containerPort": 80, "name": "Web"}]}]}),
            "spec.containers[0].ports[0].name: port name 'Web' must be lowercase alphanumerics"
            " and '-',"
            " not starting or ending with '-'",
        ),
        (
            pod({"containers": [{"name": "a", "ports": [{"containerPort": 80, "nmae": "web"}]}]}),
            "spec.containers[0].ports[0].nmae: unknown field; did you mean 'name'?",
        ),
        (
            pod(
                {
                    "containers": [
                        {"name": "a", "ports": [{"containerPort": 80, "name": "web"}]},
                        {"name": "b", "ports": [{"containerPort": 81, "name": "web"}]},
                    ]
                }
            ),
            "spec.containers[1].ports[0].name: duplicate port name 'web'"
            " (also spec.containers[0].ports[0])",
        ),
        (
            pod({"containers": CONTAINERS, "hostNetwork": "yes"}),
            "spec.hostNetwork: expected a boolean (true or false), got a string",
        ),
        (
            pod({"containers": CONTAINERS, "serviceAccountName": "Bad_Name"}),
            "spec.serviceAccountName: 'Bad_Name' is not a DNS-1123 subdomain"
            " (lowercase alphanumerics"
            " and '-', starting and ending with an alphanumeric, in parts separated by '.')",
        ),
        (
            pod({"containers": CONTAINERS}, status={"podIP": "10.0.0.300"}),
            "status.podIP: '10.0.0.300' is not an IP address",
        ),
        (
            pod({"containers": CONTAINERS}, ownerReferences=[{"kind": "ReplicaSet", "name": "x"}]),
            "metadata.ownerReferences[0].apiVersion: required",
        ),
        (
            pod(
                {"containers": CONTAINERS},
                ownerReferences=[
                    {"apiVersion": "v1", "kind": "A", "name": "a", "controller": True},
                    {"apiVersion": "v1", "kind": "B", "name": "b", "controller": True},
                ],
            ),
            "metadata.ownerReferences: only one reference can have controller set to true",
        ),
        (
            {**pod({"containers": CONTAINERS}), "apiVersion": "apps/v1"},
            "apiVersion: expected 'v1' for a Pod, got 'apps/v1'",
        ),
        (
            {**pod({"containers": CONTAINERS}), "statuss": {}},
            "statuss: unknown field; did you mean 'status'?",
        ),
    ],
)
def test_invalid_pods_are_rejected_with_the_field_and_expectation(obj: Any, expected: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_pod(obj)
    assert [str(p) for p in err.value.problems] == [expected]


def test_pod_spec_fields_we_do_not_model_are_tolerated() -> None:
    spec = {"containers": [{"name": "a", "image": "x", "futureField": 1}], "newPodField": True}
    assert parse_pod(pod(spec)).ports == ()


def test_a_pod_template_becomes_the_workloads_representative_pod() -> None:
    ref = WorkloadRef("prod", "web", "Deployment")
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": CONTAINERS}}
    parsed = parse_pod_template(
        template, FieldPath(("spec", "template")), namespace="prod", name="web", workload=ref
    )
    assert (parsed.ref, parsed.workload, parsed.labels) == ("prod/web", ref, Labels({"app": "web"}))
    assert len(parsed.ports) == 2


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (None, "spec.template: required: a pod template with metadata.labels and spec"),
        ({"metadata": {"labels": {"app": "web"}}}, "spec.template.spec: required"),
        (
            {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "a"}]},
                "extra": 1,
            },
            "spec.template.extra: unknown field; expected one of metadata, spec",
        ),
        (
            {"metadata": {"labels": ["app"]}, "spec": {"containers": CONTAINERS}},
            "spec.template.metadata.labels: expected a mapping, got a list",
        ),
    ],
)
def test_invalid_pod_templates_are_named_by_their_path(template: Any, expected: str) -> None:
    ref = WorkloadRef("prod", "web", "Deployment")
    with pytest.raises(InvalidInput) as err:
        parse_pod_template(
            template, FieldPath(("spec", "template")), namespace="prod", name="web", workload=ref
        )
    assert [str(p) for p in err.value.problems] == [expected]


def service(spec: Any, name: str = "web") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def test_a_service_defaults_target_port_to_port_and_headless_has_no_ip() -> None:
    parsed = parse_service(
        service(
            {
                "selector": {"app": "web"},
                "clusterIP": "None",
                "ports": [
                    {"name": "http", "port": 80, "targetPort": "http"},
                    {"name": "dns", "port": 53, "protocol": "UDP"},
                ],
            }
        )
    )
    assert (parsed.namespace, parsed.name, parsed.cluster_ip) == ("default", "web", None)
    assert parsed.selector == Labels({"app": "web"})
    assert parsed.ports == (
        ServicePort(80, "http", Protocol.TCP, "http"),
        ServicePort(53, 53, Protocol.UDP, "dns"),
    )
    with_ip = parse_service(service({"clusterIP": "10.96.0.10", "ports": [{"port": 53}]}))
    assert with_ip.cluster_ip == ipaddress.ip_address("10.96.0.10")


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            service({"ports": [{"port": 80}]}, name="1web"),
            "metadata.name: '1web' is not a DNS-1035 label"
            " (lowercase alphanumerics and '-', starting"
            " with a letter and ending with an alphanumeric)",
        ),
        (  # one problem per field: the Service's own name rule replaces the general one
            service({"ports": [{"port": 80}]}, name="Web_1"),
            "metadata.name: 'Web_1' is not a DNS-1035 label"
            " (lowercase alphanumerics and '-', starting"
            " with a letter and ending with an alphanumeric)",
        ),
        (
            service({"ports": [{"port": 80, "name": "a"}, {"port": 81}]}),
            "spec.ports[1].name: required",
        ),
        (
            service({"ports": [{"port": 80, "name": "a"}, {"port": 81, "name": "a"}]}),
            "spec.ports[1].name: duplicate port name 'a' (also spec.ports[0])",
        ),
        (service({"ports": [{"targetPort": 80}]}), "spec.ports[0].port: required"),
        (
            service({"ports": [{"port": 80, "targetPort": 0}]}),
            "spec.ports[0].targetPort: 0 is not a valid port number: expected 1-65535",
        ),
        (
            service({"ports": [{"port": 80, "tragetPort": 8080}]}),
            "spec.ports[0].tragetPort: unknown field; did you mean 'targetPort'?",
        ),
        (
            service({"selector": {"app": ["web"]}}),
            "spec.selector.app: expected a string (quote numbers and booleans), got a list",
        ),
        (service({"clusterIP": "ten"}), "spec.clusterIP: 'ten' is not an IP address"),
    ],
)
def test_invalid_services_are_rejected_with_the_field_and_expectation(
    obj: Any, expected: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_service(obj)
    assert [str(p) for p in err.value.problems] == [expected]


def test_a_namespace_has_its_labels_and_a_dns_label_name() -> None:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "prod", "labels": {"team": "a"}},
    }
    assert parse_namespace(obj) == Namespace("prod", Labels({"team": "a"}))
    obj["metadata"]["name"] = "prod.eu"
    with pytest.raises(InvalidInput) as err:
        parse_namespace(obj)
    assert [str(p) for p in err.value.problems] == [
        "metadata.name: 'prod.eu' is not a DNS-1123 label (lowercase alphanumerics and '-',"
        " starting and ending with an alphanumeric)"
    ]


def test_a_missing_spec_is_reported_once_not_with_everything_inside_it() -> None:
    obj = pod({})
    del obj["spec"]
    with pytest.raises(InvalidInput) as err:
        parse_pod(obj)
    assert [str(p) for p in err.value.problems] == ["spec: required"]
