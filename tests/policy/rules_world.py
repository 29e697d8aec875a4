"""The small cluster the evaluator's rule tables run on, and how a table row is checked.

The tests of ``test_evaluate_*`` check the evaluator against Kubernetes
NetworkPolicy semantics, one rule per test: each names the rule of
reference/policy-semantics.md section 1 it checks and is a table: named policy
sets, then rows of (case id, policy set, source, destination, probe, expected
verdict) on the cluster described below. Each row is checked three ways:
is_allowed, explain().allowed, connections().
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from ipaddress import ip_address, ip_network
from typing import NamedTuple

import pytest

from service.policy.evaluate import Endpoint, Evaluator
from service.policy.model import (
    NAMESPACE_NAME_LABEL,
    ClusterState,
    ContainerPort,
    Direction,
    IPBlock,
    Labels,
    LabelSelector,
    Namespace,
    NetworkPolicy,
    Operator,
    Peer,
    Pod,
    PolicyPort,
    Protocol,
    Requirement,
    Rule,
)

TCP, UDP, SCTP = Protocol.TCP, Protocol.UDP, Protocol.SCTP
INGRESS, EGRESS = Direction.INGRESS, Direction.EGRESS


def sel(labels: Mapping[str, str] | None = None, *exprs: Requirement) -> LabelSelector:
    return LabelSelector(Labels(labels or {}), tuple(exprs))


def req(key: str, operator: Operator, *values: str) -> Requirement:
    return Requirement(key, operator, frozenset(values))


def pods(**labels: str) -> Peer:
    return Peer(pod_selector=sel(labels))


def nss(*exprs: Requirement, **labels: str) -> Peer:
    return Peer(namespace_selector=sel(labels, *exprs))


def ns_named(name: str) -> Peer:
    return Peer(namespace_selector=sel({NAMESPACE_NAME_LABEL: name}))


def cidr(block: str, *excepts: str) -> Peer:
    return Peer(ip_block=IPBlock(ip_network(block), tuple(ip_network(e) for e in excepts)))


def rule(*peers: Peer, ports: Sequence[PolicyPort] = ()) -> Rule:
    return Rule(peers=peers, ports=tuple(ports))


def port(
    number: int | str | None = None, protocol: Protocol = TCP, end: int | None = None
) -> PolicyPort:
    return PolicyPort(protocol, number, end)


def policy(
    namespace: str,
    name: str,
    selector: LabelSelector | None = None,
    *,
    ingress: Sequence[Rule] | None = None,
    egress: Sequence[Rule] | None = None,
    types: Sequence[Direction] | None = None,
) -> NetworkPolicy:
    """A policy whose types are the sections given (None = absent), unless ``types`` says."""
    if types is None:
        types = [d for d, rules in ((INGRESS, ingress), (EGRESS, egress)) if rules is not None]
    return NetworkPolicy(
        namespace=namespace,
        name=name,
        pod_selector=selector or sel(),
        policy_types=frozenset(types),
        ingress=tuple(ingress or ()),
        egress=tuple(egress or ()),
    )


def ing(
    namespace: str, *rules: Rule, name: str = "in", on: LabelSelector | None = None
) -> NetworkPolicy:
    return policy(namespace, name, on, ingress=rules)


def egr(
    namespace: str, *rules: Rule, name: str = "out", on: LabelSelector | None = None
) -> NetworkPolicy:
    return policy(namespace, name, on, egress=rules)


# --- the cluster every table runs on -------------------------------------------------
#
# prod {team=a, env=prod}  web (app=web) serves http TCP 80, dns UDP 53, sig SCTP 9000,
#                          metrics TCP 9090; db (app=db) serves pg TCP 5432;
#                          agent (app=web) is on the host network (node IP 192.168.0.10)
# dev  {team=b, env=dev}   web (app=web); client (app=client, role=tester) serves
#                          http TCP 8080 and metrics UDP 9090
# ops  (no labels)         probe: no labels, no IP yet
# ghost (not declared)     thing (app=web): its namespace is known only by name

PROD = Namespace("prod", Labels({"team": "a", "env": "prod"}))
DEV = Namespace("dev", Labels({"team": "b", "env": "dev"}))
OPS = Namespace("ops")
WEB_IP, DB_IP, CLIENT_IP = ip_address("10.0.1.1"), ip_address("10.0.1.2"), ip_address("10.0.2.2")
EXTERNAL, OTHER_EXTERNAL = ip_address("203.0.113.7"), ip_address("198.51.100.1")

WEB = Pod(
    "prod",
    "web",
    Labels({"app": "web"}),
    (
        ContainerPort(80, TCP, "http"),
        ContainerPort(53, UDP, "dns"),
        ContainerPort(9000, SCTP, "sig"),
        ContainerPort(9090, TCP, "metrics"),
    ),
    WEB_IP,
)
DB = Pod("prod", "db", Labels({"app": "db"}), (ContainerPort(5432, TCP, "pg"),), DB_IP)
AGENT = Pod(
    "prod", "agent", Labels({"app": "web"}), ip=ip_address("192.168.0.10"), host_network=True
)
DEV_WEB = Pod("dev", "web", Labels({"app": "web"}), ip=ip_address("10.0.2.1"))
CLIENT = Pod(
    "dev",
    "client",
    Labels({"app": "client", "role": "tester"}),
    (ContainerPort(8080, TCP, "http"), ContainerPort(9090, UDP, "metrics")),
    CLIENT_IP,
)
PROBE = Pod("ops", "probe")
THING = Pod("ghost", "thing", Labels({"app": "web"}), ip=ip_address("10.0.3.1"))
ALL_PODS = (WEB, DB, AGENT, DEV_WEB, CLIENT, PROBE, THING)


def evaluator(*policies: NetworkPolicy) -> Evaluator:
    return Evaluator(ClusterState(namespaces=(PROD, DEV, OPS), pods=ALL_PODS, policies=policies))


class Case(NamedTuple):
    policies: tuple[NetworkPolicy, ...]
    src: Endpoint
    dst: Endpoint
    probe: str  # "80" is TCP 80, "53/UDP" is UDP 53
    expected: bool


# (case id, key of the policy set, source, destination, probe, expected allowed)
Row = tuple[str, str, Endpoint, Endpoint, str, bool]


def cases(
    policy_sets: Mapping[str, Sequence[NetworkPolicy]], rows: Sequence[Row]
) -> pytest.MarkDecorator:
    """Parametrise a test over ``rows``, each run on its named set of policies."""
    return pytest.mark.parametrize(
        "case",
        [
            pytest.param(Case(tuple(policy_sets[key]), src, dst, probe, allowed), id=case_id)
            for case_id, key, src, dst, probe, allowed in rows
        ],
    )


def check(case: Case) -> None:
    """The verdict, asked three ways: boolean, explanation, and the full connection set."""
    number, _, name = case.probe.partition("/")
    port, protocol = int(number), Protocol(name or "TCP")
    ev = evaluator(*case.policies)
    assert ev.is_allowed(case.src, case.dst, port=port, protocol=protocol) is case.expected
    assert ev.explain(case.src, case.dst, port=port, protocol=protocol).allowed is case.expected
    assert ev.connections(case.src, case.dst).contains(protocol, port) is case.expected


# Deny-all of prod, one way or the other: several tables start from these.
DENY_IN = policy("prod", "deny-in", ingress=[])
DENY_OUT = policy("prod", "deny-out", egress=[])
