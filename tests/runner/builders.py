"""Scenario values for planner, cluster and runner tests, built without the YAML loader.

``workshop()`` is the Calico workshop (../shared/seed): namespaces development
and production, the backend target, an unlabelled and a frontend source in both
namespaces, and the workshop's four policy versions with its checks as
expectations. ``twins()`` is a small e2e-style model in which every source label
set is also a target's labels, so probe pods double as targets (loopback).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from service.policy.model import Labels, NetworkPolicy, Protocol
from service.policy.parse import parse_network_policy
from service.scenario.model import (
    Expectation,
    MatrixSpec,
    NamespaceSpec,
    PolicyVersion,
    PortSpec,
    ProbeSpec,
    Scenario,
    ServiceSpec,
    SourceSpec,
    TargetSpec,
    Verdict,
)

FRONTEND = Labels({"app": "webapp", "role": "frontend"})
BACKEND = Labels({"app": "webapp", "role": "backend"})
NOBODY = Labels()


def netpol(namespace: str, name: str, spec: Mapping[str, Any]) -> NetworkPolicy:
    return parse_network_policy(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace},
            "spec": dict(spec),
        }
    )


def version(name: str, *policies: NetworkPolicy) -> PolicyVersion:
    return PolicyVersion(name=name, policies=policies, content_hash=f"hash-of-{name}")


BACKEND_SELECTOR = {"matchLabels": dict(BACKEND)}
FRONTEND_SELECTOR = {"matchLabels": dict(FRONTEND)}

WORKSHOP_VERSIONS = (
    version("none"),
    version(
        "deny-all",
        netpol("development", "backend-policy", {"podSelector": BACKEND_SELECTOR, "ingress": []}),
    ),
    version(
        "allow-pod",
        netpol(
            "development",
            "backend-policy",
            {
                "podSelector": BACKEND_SELECTOR,
                "ingress": [
                    {"from": [{"namespaceSelector": {}, "podSelector": FRONTEND_SELECTOR}]}
                ],
            },
        ),
    ),
    version(
        "allow-pod-namespace",
        netpol(
            "development",
            "backend-policy",
            {
                "podSelector": BACKEND_SELECTOR,
                "ingress": [
                    {
                        "from": [
                            {
                                "namespaceSelector": {"matchLabels": {"purpose": "development"}},
                                "podSelector": FRONTEND_SELECTOR,
                            }
                        ]
                    }
                ],
            },
        ),
    ),
)

# The workshop's checks: (section, version, source namespace, source labels, verdict).
WORKSHOP_CHECKS: tuple[tuple[str, str, str, Labels, Verdict], ...] = (
    ("1.3", "none", "development", NOBODY, Verdict.ALLOWED),
    ("1.5", "deny-all", "development", NOBODY, Verdict.BLOCKED),
    ("2.2", "allow-pod", "development", FRONTEND, Verdict.ALLOWED),
    ("2.3", "allow-pod", "development", NOBODY, Verdict.BLOCKED),
    ("3.1", "none", "production", FRONTEND, Verdict.ALLOWED),
    ("3.3", "allow-pod-namespace", "production", FRONTEND, Verdict.BLOCKED),
    ("3.4", "allow-pod-namespace", "development", FRONTEND, Verdict.ALLOWED),
)


def expectation(
    namespace: str,
    labels: Labels,
    verdict: Verdict,
    *,
    version: str | None = None,
    target: str = "backend",
    port: int | str = 80,
    protocol: Protocol = Protocol.TCP,
    description: str = "",
) -> Expectation:
    return Expectation(
        source_namespace=namespace,
        source_labels=labels,
        target=target,
        port=port,
        protocol=protocol,
        verdict=verdict,
        version=version,
        description=description,
    )


def workshop(
    *,
    versions: Sequence[PolicyVersion] = WORKSHOP_VERSIONS,
    expectations: Sequence[Expectation] | None = None,
    probes: Sequence[ProbeSpec] = (),
    ports: Sequence[PortSpec] = (PortSpec(80, Protocol.TCP, "http"),),
) -> Scenario:
    if expectations is None:
        expectations = [
            expectation(ns, labels, verdict, version=v, description=f"workshop {section}")
            for section, v, ns, labels, verdict in WORKSHOP_CHECKS
        ]
    return Scenario(
        name="calico-workshop",
        namespaces=(
            NamespaceSpec("development", Labels({"purpose": "development"})),
            NamespaceSpec("production", Labels({"purpose": "production"})),
        ),
        targets=(
            TargetSpec(
                name="backend",
                namespace="development",
                labels=BACKEND,
                ports=tuple(ports),
                service=ServiceSpec("backend"),
            ),
        ),
        matrix=MatrixSpec(
            sources=(SourceSpec("unlabelled", NOBODY), SourceSpec("frontend", FRONTEND)),
            namespaces=("development", "production"),
            targets=("backend",),
            probes=tuple(probes),
        ),
        versions=tuple(versions),
        expectations=tuple(expectations),
        content_hash="workshop-hash",
    )


def twins(*, versions: Sequence[PolicyVersion] = (version("open"),)) -> Scenario:
    """Namespaces x and y, targets a and b in each (labels pod=a / pod=b, 80/TCP), and
    sources with exactly those labels: every probe pod is a target pod."""
    ports = (PortSpec(80, Protocol.TCP, "serve-80-tcp"),)
    targets = tuple(
        TargetSpec(name=f"{pod}-{ns}", namespace=ns, labels=Labels({"pod": pod}), ports=ports)
        for ns in ("x", "y")
        for pod in ("a", "b")
    )
    return Scenario(
        name="twins",
        namespaces=(
            NamespaceSpec("x", Labels({"ns": "x"})),
            NamespaceSpec("y", Labels({"ns": "y"})),
        ),
        targets=targets,
        matrix=MatrixSpec(
            sources=(SourceSpec("a", Labels({"pod": "a"})), SourceSpec("b", Labels({"pod": "b"}))),
            namespaces=("x", "y"),
            targets=tuple(t.name for t in targets),
        ),
        versions=tuple(versions),
    )
