"""Policies rewritten for the run's namespaces: what changes, what must not, and why it holds."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings

from service.cluster.kubernetes.naming import RunNaming
from service.cluster.kubernetes.policies import policy_manifest, reserved_label_problems
from service.policy.evaluate import Evaluator
from service.policy.model import ClusterState, Namespace, Protocol
from service.policy.parse import parse_network_policy
from tests.policy.strategies import cluster_states
from tests.runner.builders import netpol

NAMING = RunNaming("npd", "3f9a1c")
DEV = "npd-3f9a1c-development"
PROD = "npd-3f9a1c-production"
RUN_NAMESPACES = ("development", "production")


def _manifest(spec: dict[str, Any], namespace: str = "development") -> dict[str, Any]:
    return policy_manifest(netpol(namespace, "p", spec), naming=NAMING, namespaces=RUN_NAMESPACES)


def test_policy_lands_in_the_run_namespace_of_its_own_namespace() -> None:
    manifest = _manifest({"podSelector": {}})
    assert manifest["metadata"] == {"name": "p", "namespace": DEV}
    # A policy's own namespace is always the run's: the run creates it for the policy.
    elsewhere = policy_manifest(
        netpol("tools", "p", {"podSelector": {}}), naming=NAMING, namespaces=RUN_NAMESPACES
    )
    assert elsewhere["metadata"]["namespace"] == "npd-3f9a1c-tools"


def test_namespace_name_in_match_labels_is_rewritten() -> None:
    manifest = _manifest(
        {
            "podSelector": {},
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {
                                    "kubernetes.io/metadata.name": "production",
                                    "purpose": "production",
                                }
                            }
                        }
                    ]
                }
            ],
        }
    )
    selector = manifest["spec"]["ingress"][0]["from"][0]["namespaceSelector"]
    # Only the name label changes: the run's namespaces carry the scenario's other labels.
    assert selector == {
        "matchLabels": {"kubernetes.io/metadata.name": PROD, "purpose": "production"}
    }


@pytest.mark.parametrize(
    ("operator", "values", "expected"),
    [
        ("In", ["development", "production"], [DEV, PROD]),
        ("NotIn", ["production"], [PROD]),
        # Names of namespaces the run does not create keep meaning the cluster's own
        # (kube-system for DNS), which hold none of the run's pods.
        ("In", ["kube-system"], ["kube-system"]),
        ("NotIn", ["kube-system", "development"], ["kube-system", DEV]),
    ],
)
def test_namespace_names_in_match_expressions_are_rewritten(
    operator: str, values: list[str], expected: list[str]
) -> None:
    expression = {"key": "kubernetes.io/metadata.name", "operator": operator, "values": values}
    manifest = _manifest(
        {
            "podSelector": {},
            "egress": [{"to": [{"namespaceSelector": {"matchExpressions": [expression]}}]}],
            "policyTypes": ["Egress"],
        }
    )
    selector = manifest["spec"]["egress"][0]["to"][0]["namespaceSelector"]
    assert selector["matchExpressions"] == [
        {"key": "kubernetes.io/metadata.name", "operator": operator, "values": expected}
    ]


def test_selectors_that_do_not_name_namespaces_are_kept_as_written() -> None:
    spec = {
        "podSelector": {"matchLabels": {"kubernetes.io/metadata.name": "development"}},
        "ingress": [
            {
                "from": [
                    {
                        "podSelector": {"matchLabels": {"role": "frontend"}},
                        "namespaceSelector": {
                            "matchExpressions": [
                                {"key": "kubernetes.io/metadata.name", "operator": "Exists"},
                                {"key": "purpose", "operator": "In", "values": ["development"]},
                            ]
                        },
                    },
                    {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}},
                ],
                "ports": [{"port": "http", "protocol": "TCP"}, {"port": 80, "endPort": 90}],
            }
        ],
    }
    manifest = _manifest(spec)
    rule = manifest["spec"]["ingress"][0]
    # A pod selector on the name label selects pods, not namespaces: untouched.
    assert manifest["spec"]["podSelector"] == spec["podSelector"]
    assert rule["from"][0]["podSelector"] == {"matchLabels": {"role": "frontend"}}
    assert rule["from"][0]["namespaceSelector"]["matchExpressions"] == [
        {"key": "kubernetes.io/metadata.name", "operator": "Exists"},
        {"key": "purpose", "operator": "In", "values": ["development"]},
    ]
    assert rule["from"][1] == {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}
    assert rule["ports"] == [
        {"protocol": "TCP", "port": "http"},
        {"protocol": "TCP", "port": 80, "endPort": 90},
    ]


@pytest.mark.parametrize(
    ("spec", "types", "fields"),
    [
        ({"podSelector": {}}, ["Ingress"], {"ingress": []}),
        ({"podSelector": {}, "ingress": []}, ["Ingress"], {"ingress": []}),
        (
            {"podSelector": {}, "egress": [{}]},
            ["Ingress", "Egress"],
            {"ingress": [], "egress": [{}]},
        ),
        ({"podSelector": {}, "policyTypes": ["Egress"]}, ["Egress"], {"egress": []}),
    ],
)
def test_policy_types_are_written_out_as_the_api_server_defaults_them(
    spec: dict[str, Any], types: list[str], fields: dict[str, Any]
) -> None:
    manifest = _manifest(spec)
    assert manifest["spec"]["policyTypes"] == types
    assert {k: v for k, v in manifest["spec"].items() if k in ("ingress", "egress")} == fields


def test_the_api_server_accepts_every_rewritten_policy_back() -> None:
    policy = netpol(
        "development",
        "backend-policy",
        {
            "podSelector": {"matchLabels": {"app": "webapp"}},
            "ingress": [{"from": [{"namespaceSelector": {}, "podSelector": {}}]}],
        },
    )
    parsed = parse_network_policy(policy_manifest(policy, naming=NAMING, namespaces=RUN_NAMESPACES))
    assert parsed == replace(policy, namespace=DEV)


def _renamed(state: ClusterState) -> ClusterState:
    """``state`` as it lives on the cluster: renamed namespaces, rewritten policies."""
    # The run creates the declared namespaces, those of its pods and those of its policies.
    created = {ns.name for ns in state.namespaces} | {p.namespace for p in state.pods}
    created |= {p.namespace for p in state.policies}
    return ClusterState(
        namespaces=tuple(
            Namespace(NAMING.namespace(ns.name), ns.labels) for ns in state.namespaces
        ),
        pods=tuple(replace(p, namespace=NAMING.namespace(p.namespace)) for p in state.pods),
        policies=tuple(
            parse_network_policy(policy_manifest(p, naming=NAMING, namespaces=sorted(created)))
            for p in state.policies
        ),
    )


def _partly_renamed(state: ClusterState) -> ClusterState:
    """As :func:`_renamed`, but the run only knows the namespaces that hold pods."""
    created = {p.namespace for p in state.pods}
    return ClusterState(
        namespaces=tuple(
            Namespace(NAMING.namespace(ns.name), ns.labels) for ns in state.namespaces
        ),
        pods=tuple(replace(p, namespace=NAMING.namespace(p.namespace)) for p in state.pods),
        policies=tuple(
            parse_network_policy(policy_manifest(p, naming=NAMING, namespaces=sorted(created)))
            for p in state.policies
        ),
    )


@settings(max_examples=150, deadline=None)
@given(state=cluster_states())
def test_rewriting_keeps_every_verdict_between_pods(state: ClusterState) -> None:
    # Whether names of pod-less namespaces are rewritten or kept, no verdict between
    # the run's pods may change: both views must agree with the scenario's.
    for on_cluster in (_renamed(state), _partly_renamed(state)):
        original, renamed = Evaluator(state), Evaluator(on_cluster)
        for src, src_there in zip(state.pods, on_cluster.pods, strict=True):
            for dst, dst_there in zip(state.pods, on_cluster.pods, strict=True):
                for port in (53, 80, 8080):
                    for protocol in (Protocol.TCP, Protocol.UDP):
                        expected = original.is_allowed(src, dst, port=port, protocol=protocol)
                        seen = renamed.is_allowed(
                            src_there, dst_there, port=port, protocol=protocol
                        )
                        assert expected == seen, (src.ref, dst.ref, port, protocol)


def test_policy_selecting_on_an_ownership_label_is_refused_with_its_path() -> None:
    policy = netpol(
        "development",
        "sneaky",
        {
            "podSelector": {"matchLabels": {"app": "webapp"}},
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchExpressions": [
                                    {"key": "netpol-drift.io/run", "operator": "Exists"}
                                ]
                            }
                        }
                    ]
                }
            ],
        },
    )
    problems = reserved_label_problems([policy], version="v1")
    assert [str(p.path) for p in problems] == [
        "versions.v1.policies.development/sneaky.spec.ingress[0].from[0].namespaceSelector"
    ]
    assert "netpol-drift.io/run" in problems[0].message
    assert (
        reserved_label_problems([netpol("development", "fine", {"podSelector": {}})], version="v1")
        == []
    )
