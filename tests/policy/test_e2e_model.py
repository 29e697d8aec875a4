"""The upstream Kubernetes e2e netpol cases as truth tables, against our engine.

Each case is one ``It(...)`` of test/e2e/network/netpol/network_policy.go: the
policies it creates (written as API dictionaries and parsed, so parsing is
exercised too) and, for every port/protocol it probes, the reachability table
upstream expects (written out literally in :mod:`tests.policy.e2e_model`: rows
clients, columns servers, ``.`` reachable, ``X`` blocked). Cases with several
steps (policy updates, relabelled pods or namespaces, deleted policies) list the
steps in order.

Every off-diagonal cell is compared against BOTH the per-cell evaluator and the
vectorised truth table. The diagonal is loopback: upstream probes a pod through
its own Service, which some CNIs block, so its tables mark a pod reaching itself
as blocked when its ingress is closed; our engine, per the policy semantics
(section 1: "a pod is never blocked from itself"), treats loopback as its own
category, which :func:`test_loopback_is_allowed_whatever_the_policies_say` checks.
The endPort, UDP and SCTP probes beyond the ones upstream runs follow the same
semantics (ports are per protocol; endPort is an inclusive range); the three
cases that have no upstream counterpart say so in a comment.
"""

from __future__ import annotations

from typing import Any

import pytest

from service.policy.evaluate import Evaluator
from service.policy.model import Protocol
from service.policy.truthtable import PortProbe, compute_truth_table
from tests.policy.e2e_model import (
    ALL,
    CLIENT_SIDE_DENY,
    FROM_X_BLOCKED,
    FROM_XA_BLOCKED,
    FROM_XA_NOT_TO_XB,
    FROM_XA_ONLY_TO_XB,
    FROM_XA_ONLY_TO_Y,
    FROM_XA_ONLY_TO_YA,
    FROM_XA_ONLY_TO_YB,
    POD_REFS,
    TO_X_BLOCKED,
    TO_X_ONLY_FROM_X,
    TO_X_ONLY_FROM_Y,
    TO_XA_BLOCKED,
    TO_XA_NOT_FROM_XC,
    TO_XA_ONLY_FROM_XB,
    TO_XA_ONLY_FROM_XB_XC,
    TO_XA_ONLY_FROM_Y,
    TO_XA_ONLY_FROM_YA,
    TO_XA_ONLY_FROM_YB_ZB,
    TO_XA_ONLY_FROM_YBC_ZBC,
    TO_XB_XC_BLOCKED,
    X_CUT_OFF,
    XA_IN_FROM_XB_NO_OUT,
    XA_OUT_TO_XB_NO_IN,
    Case,
    Probe,
    Step,
    build_state,
    parse_grid,
    policy,
)

TCP, UDP, SCTP = Protocol.TCP, Protocol.UDP, Protocol.SCTP

# ---- the policies --------------------------------------------------------------------------
# fmt: off
# Written as upstream builds them (GenNetworkPolicyWithNameAndPodMatchLabel and friends),
# one policy per line where it fits, so each case reads like its upstream counterpart.


def sel(**labels: str) -> dict[str, Any]:
    return {"matchLabels": labels}


def expr(key: str, operator: str, *values: str) -> dict[str, Any]:
    return {"matchExpressions": [{"key": key, "operator": operator, "values": list(values)}]}


def ports(*numbers: int | str, protocol: str = "TCP") -> list[dict[str, Any]]:
    return [{"port": number, "protocol": protocol} for number in numbers]


def ingress(*peers: dict[str, Any], on: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An ingress-only spec with one rule (no peers = every peer, no ports = every port)."""
    rule: dict[str, Any] = {"from": list(peers)} if peers else {}
    if on is not None:
        rule["ports"] = on
    return {"ingress": [rule]}


def egress(*peers: dict[str, Any], on: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An egress-only spec with one rule; policyTypes must say Egress for it to count."""
    rule: dict[str, Any] = {"to": list(peers)} if peers else {}
    if on is not None:
        rule["ports"] = on
    return {"policyTypes": ["Egress"], "egress": [rule]}


def on_x(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A policy selecting every pod of x."""
    return policy("x", name, {"podSelector": {}, **spec})


def on_xa(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A policy selecting x/a only."""
    return policy("x", name, {"podSelector": sel(pod="a"), **spec})


def step(policies: list[dict[str, Any]], *probes: Probe, **relabel: Any) -> Step:
    return Step(tuple(policies), probes, **relabel)


def p(port: int, protocol: Protocol, grid: str) -> Probe:
    return Probe(port, protocol, grid)


NOT_X = expr("ns", "NotIn", "x")
DENY_INGRESS_X = on_x("deny-ingress", {"ingress": []})
DENY_ALL_X = on_x("deny-all", {"policyTypes": ["Ingress", "Egress"]})
ALLOW_ALL_INGRESS_X = on_x("allow-all", ingress())
ALLOW_ALL_EGRESS_X = on_x("allow-all-egress", egress())
FROM_Y = {"namespaceSelector": sel(ns="y")}
ALLOW_80_FROM_Y = on_xa("allow-80-from-y", ingress(FROM_Y, on=ports(80)))
ALLOW_81_FROM_Y = on_xa("allow-81-from-y", ingress(FROM_Y, on=ports(81)))
INGRESS_80_X = on_x("allow-ingress-port-80", ingress(on=ports(80)))
EGRESS_80_X = on_x("allow-egress-port-80", egress(on=ports(80)))
# x/b is 10.0.1.2 (e2e_model.pod_ip); upstream writes the /4 around a pod IP, we normalise it.
EXCEPT_XB = on_xa("allow-cidr-except-xb",
                  egress({"ipBlock": {"cidr": "0.0.0.0/4", "except": ["10.0.1.2/32"]}}))
ONLY_XB_CIDR = on_xa("allow-xb-cidr", egress({"ipBlock": {"cidr": "10.0.1.2/32"}}))
EGRESS_TO_XB = on_xa("allow-egress-for-target", egress({"podSelector": sel(pod="b")}))
FROM_NS2 = on_xa("allow-from-ns2", ingress({"namespaceSelector": sel(ns2="updated")}))
FROM_POD2 = on_xa("allow-from-pod2", ingress({"podSelector": sel(pod2="updated")}))
ISOLATE_TARGET = policy("x", "deny-to-isolated",
                        {"podSelector": sel(target="isolated"), "ingress": []})
XA_PEER = {"namespaceSelector": sel(ns="x"), "podSelector": sel(pod="a")}
CLIENT_SIDE = [
    on_xa("allow-to-ns-y-pod-a", egress({**FROM_Y, "podSelector": sel(pod="a")})),
    policy("y", "allow-from-xa-to-ya", {"podSelector": sel(pod="a"), **ingress(XA_PEER)}),
    policy("y", "allow-from-xa-to-yb", {"podSelector": sel(pod="b"), **ingress(XA_PEER)}),
]
# No policyTypes: the API server defaults them to [Ingress, Egress] as egress is non-empty.
INGRESS_AND_EGRESS = on_xa("allow-a-via-b", {
    "ingress": [{"from": [{"podSelector": sel(pod="b")}]}],
    "egress": [{"ports": ports(80)}],
})

CASES: tuple[Case, ...] = (
    Case("should support a default-deny-ingress policy", (
        step([DENY_INGRESS_X], p(80, TCP, TO_X_BLOCKED)),)),
    Case("should support a default-deny-all policy", (
        step([DENY_ALL_X], p(80, TCP, X_CUT_OFF)),)),
    Case("should enforce policy to allow traffic from pods within server namespace "
         "based on PodSelector", (
        step([on_xa("allow-x-a-from-x-b", ingress({"podSelector": sel(pod="b")}))],
             p(80, TCP, TO_XA_ONLY_FROM_XB)),)),
    Case("should enforce policy to allow ingress traffic for a target", (
        step([DENY_INGRESS_X, on_xa("allow-all-to-a", ingress())], p(80, TCP, TO_XB_XC_BLOCKED)),)),
    Case("should enforce policy to allow ingress traffic from pods in all namespaces", (
        step([on_x("allow-from-all-ns", ingress({"namespaceSelector": {}}))], p(80, TCP, ALL)),)),
    Case("should enforce policy to allow traffic only from a different namespace "
         "based on NamespaceSelector", (
        step([on_x("allow-from-y", ingress(FROM_Y))],
             p(80, TCP, TO_X_ONLY_FROM_Y)),)),
    Case("should enforce policy based on PodSelector with MatchExpressions", (
        step([on_xa("allow-b-expr", ingress({"podSelector": expr("pod", "In", "b")}))],
             p(80, TCP, TO_XA_ONLY_FROM_XB)),)),
    Case("should enforce policy based on NamespaceSelector with MatchExpressions", (
        step([on_xa("allow-y-expr", ingress({"namespaceSelector": expr("ns", "In", "y")}))],
             p(80, TCP, TO_XA_ONLY_FROM_Y)),)),
    Case("should enforce policy based on PodSelector or NamespaceSelector", (
        step([on_xa("allow-ns-or-pod", ingress({"namespaceSelector": NOT_X},
                                               {"podSelector": sel(pod="b")}))],
             p(80, TCP, TO_XA_NOT_FROM_XC)),)),
    Case("should enforce policy based on PodSelector and NamespaceSelector", (
        step([on_xa("allow-ns-and-pod", ingress({"namespaceSelector": NOT_X,
                                                 "podSelector": sel(pod="b")}))],
             p(80, TCP, TO_XA_ONLY_FROM_YB_ZB)),)),
    Case("should enforce policy based on Multiple PodSelectors and NamespaceSelectors", (
        step([on_xa("allow-ns-and-pods", ingress({"namespaceSelector": NOT_X,
                                                  "podSelector": expr("pod", "In", "b", "c")}))],
             p(80, TCP, TO_XA_ONLY_FROM_YBC_ZBC)),)),
    Case("should enforce policy based on any PodSelectors", (
        step([on_xa("allow-b-or-c", ingress({"podSelector": sel(pod="b")},
                                            {"podSelector": sel(pod="c")}))],
             p(80, TCP, TO_XA_ONLY_FROM_XB_XC)),)),
    Case("should enforce policy to allow traffic only from a pod in a different namespace "
         "based on PodSelector and NamespaceSelector", (
        step([on_xa("allow-y-a", ingress({"namespaceSelector": sel(ns="y"),
                                          "podSelector": sel(pod="a")}))],
             p(80, TCP, TO_XA_ONLY_FROM_YA)),)),
    Case("should enforce policy based on Ports", (
        step([ALLOW_81_FROM_Y], p(80, TCP, TO_XA_BLOCKED), p(81, TCP, TO_XA_ONLY_FROM_Y)),)),
    Case("should enforce multiple, stacked policies with overlapping podSelectors", (
        step([ALLOW_80_FROM_Y], p(80, TCP, TO_XA_ONLY_FROM_Y), p(81, TCP, TO_XA_BLOCKED)),
        step([ALLOW_80_FROM_Y, ALLOW_81_FROM_Y],
             p(80, TCP, TO_XA_ONLY_FROM_Y), p(81, TCP, TO_XA_ONLY_FROM_Y)))),
    Case("should support allow-all policy", (
        step([ALLOW_ALL_INGRESS_X], p(80, TCP, ALL), p(81, TCP, ALL)),)),
    Case("should allow ingress access on one named port", (
        step([on_x("allow-81", ingress(on=ports("serve-81-tcp")))],
             p(81, TCP, ALL), p(80, TCP, TO_X_BLOCKED)),)),
    Case("should allow ingress access from namespace on one named port", (
        step([on_x("allow-80-from-y", ingress(FROM_Y,
                                              on=ports("serve-80-tcp")))],
             p(80, TCP, TO_X_ONLY_FROM_Y), p(81, TCP, TO_X_BLOCKED)),)),
    Case("should allow egress access on one named port", (
        step([on_x("allow-egress-80", egress(on=ports("serve-80-tcp")))],
             p(80, TCP, ALL), p(81, TCP, FROM_X_BLOCKED)),)),
    # Not an upstream case: same model, same style, a rule upstream does not cover.
    Case("should match a named port by name and protocol", (
        step([on_x("allow-egress-81-udp", egress(on=ports("serve-81-udp", protocol="UDP")))],
             p(81, UDP, ALL), p(80, UDP, FROM_X_BLOCKED), p(81, TCP, FROM_X_BLOCKED)),)),
    Case("should enforce updated policy", (
        step([on_x("allow-all-mutate-to-deny-all", ingress())], p(81, TCP, ALL)),
        step([on_x("allow-all-mutate-to-deny-all", {"ingress": []})], p(81, TCP, TO_X_BLOCKED)))),
    Case("should allow ingress access from updated namespace", (
        step([FROM_NS2], p(80, TCP, TO_XA_BLOCKED)),
        step([FROM_NS2], p(80, TCP, TO_XA_ONLY_FROM_Y),
             namespace_labels={"y": {"ns2": "updated"}}))),
    Case("should allow ingress access from updated pod", (
        step([FROM_POD2], p(80, TCP, TO_XA_BLOCKED)),
        step([FROM_POD2], p(80, TCP, TO_XA_ONLY_FROM_XB),
             pod_labels={"x/b": {"pod2": "updated"}}))),
    Case("should deny ingress from pods on other namespaces", (
        step([on_x("deny-other-ns", ingress({"podSelector": {}}))],
             p(80, TCP, TO_X_ONLY_FROM_X)),)),
    Case("should deny ingress access to updated pod", (
        step([ISOLATE_TARGET], p(80, TCP, ALL)),
        step([ISOLATE_TARGET], p(80, TCP, TO_XA_BLOCKED),
             pod_labels={"x/a": {"target": "isolated"}}))),
    Case("should deny egress from pods based on PodSelector", (
        step([on_xa("deny-egress-a", {"policyTypes": ["Egress"]})], p(80, TCP, FROM_XA_BLOCKED)),)),
    Case("should deny egress from all pods in a namespace", (
        step([on_x("deny-egress", {"policyTypes": ["Egress"]})], p(80, TCP, FROM_X_BLOCKED)),)),
    Case("should work with Ingress, Egress specified together", (
        step([INGRESS_AND_EGRESS],
             p(80, TCP, TO_XA_ONLY_FROM_XB), p(81, TCP, XA_IN_FROM_XB_NO_OUT)),)),
    Case("should support denying of egress traffic on the client side "
         "even if the server explicitly allows this traffic", (
        step(CLIENT_SIDE, p(80, TCP, CLIENT_SIDE_DENY)),)),
    Case("should enforce egress policy allowing traffic to a server in a different namespace "
         "based on PodSelector and NamespaceSelector", (
        step([on_xa("allow-to-y-a", egress({"namespaceSelector": sel(ns="y"),
                                            "podSelector": sel(pod="a")}))],
             p(80, TCP, FROM_XA_ONLY_TO_YA)),)),
    Case("should enforce ingress policy allowing any port traffic to a server "
         "on a specific protocol", (
        step([on_xa("allow-ingress-by-proto", ingress(on=[{"protocol": "TCP"}]))],
             p(80, TCP, ALL), p(81, TCP, ALL), p(80, UDP, TO_XA_BLOCKED)),)),
    Case("should enforce multiple ingress policies with ingress allow-all policy "
         "taking precedence", (
        step([INGRESS_80_X], p(80, TCP, ALL), p(81, TCP, TO_X_BLOCKED)),
        step([INGRESS_80_X, ALLOW_ALL_INGRESS_X], p(81, TCP, ALL)))),
    Case("should enforce multiple egress policies with egress allow-all policy "
         "taking precedence", (
        step([EGRESS_80_X], p(80, TCP, ALL), p(81, TCP, FROM_X_BLOCKED)),
        step([EGRESS_80_X, ALLOW_ALL_EGRESS_X], p(81, TCP, ALL)))),
    Case("should stop enforcing policies after they are deleted", (
        step([DENY_ALL_X], p(80, TCP, X_CUT_OFF)),
        step([], p(80, TCP, ALL)))),
    Case("should allow egress access to server in CIDR block", (
        step([on_xa("allow-client-a-via-cidr-egress-rule",
                    egress({"ipBlock": {"cidr": "10.0.2.2/32"}}))],
             p(80, TCP, FROM_XA_ONLY_TO_YB)),)),
    Case("should enforce except clause while egress access to server in CIDR block", (
        step([EXCEPT_XB], p(80, TCP, FROM_XA_NOT_TO_XB)),)),
    Case("should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed", (
        step([EXCEPT_XB], p(80, TCP, FROM_XA_NOT_TO_XB)),
        step([EXCEPT_XB, ONLY_XB_CIDR], p(80, TCP, ALL)))),
    Case("should enforce policies to check ingress and egress policies can be controlled "
         "independently based on PodSelector", (
        step([EGRESS_TO_XB], p(80, TCP, FROM_XA_ONLY_TO_XB)),
        step([EGRESS_TO_XB, on_xa("deny-ingress-for-target", {"ingress": []})],
             p(80, TCP, XA_OUT_TO_XB_NO_IN)))),
    Case("should not mistakenly treat protocol SCTP as protocol TCP", (
        step([on_xa("allow-only-sctp-81", ingress(on=ports(81, protocol="SCTP")))],
             p(81, TCP, TO_XA_BLOCKED), p(81, SCTP, ALL), p(80, SCTP, TO_XA_BLOCKED)),)),
    Case("should properly isolate pods that are selected by a policy allowing SCTP", (
        step([on_xa("allow-sctp-80-from-y", ingress(FROM_Y,
                                                    on=ports(80, protocol="SCTP")))],
             p(80, TCP, TO_XA_BLOCKED), p(80, SCTP, TO_XA_ONLY_FROM_Y)),)),
    Case("should not allow access by TCP when a policy specifies only UDP", (
        step([on_xa("allow-only-udp-81", ingress(on=ports(81, protocol="UDP")))],
             p(81, TCP, TO_XA_BLOCKED), p(81, UDP, ALL), p(80, UDP, TO_XA_BLOCKED)),)),
    Case("should enforce policy to allow traffic based on NamespaceSelector with MatchLabels "
         "using default ns label", (
        step([on_x("allow-by-ns-name",
                   ingress({"namespaceSelector": sel(**{"kubernetes.io/metadata.name": "y"})}))],
             p(80, TCP, TO_X_ONLY_FROM_Y)),)),
    Case("should enforce policy based on NamespaceSelector with MatchExpressions "
         "using default ns label", (
        step([on_xa("allow-to-ns-name", egress(
            {"namespaceSelector": expr("kubernetes.io/metadata.name", "In", "y")}))],
             p(80, TCP, FROM_XA_ONLY_TO_Y)),)),
    # Not an upstream case: same model, same style, a rule upstream does not cover.
    Case("should allow ingress access from namespace on a port range with endPort", (
        step([on_xa("allow-80-81-from-y", ingress(
            FROM_Y, on=[{"port": 80, "endPort": 81, "protocol": "TCP"}]))],
             p(80, TCP, TO_XA_ONLY_FROM_Y), p(81, TCP, TO_XA_ONLY_FROM_Y),
             p(80, UDP, TO_XA_BLOCKED)),)),
    # Not an upstream case: same model, same style, a rule upstream does not cover.
    Case("should allow egress access on a port range with endPort starting above the probe", (
        step([on_x("allow-egress-81-90", egress(on=[{"port": 81, "endPort": 90}]))],
             p(80, TCP, FROM_X_BLOCKED), p(81, TCP, ALL)),)),
)
# fmt: on


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_upstream_case_matches_evaluator_and_truth_table(case: Case) -> None:
    mismatches: list[str] = []
    for step_no, step in enumerate(case.steps, start=1):
        state = build_state(
            step.policies, namespace_labels=step.namespace_labels, pod_labels=step.pod_labels
        )
        evaluator = Evaluator(state)
        table = compute_truth_table(state, [PortProbe(p.port, p.protocol) for p in step.probes])
        pods = {pod.ref: pod for pod in state.pods}
        row_of = {pod.ref: i for i, pod in enumerate(table.pods)}
        for k, probe in enumerate(step.probes):
            matrix = table.pod_matrix(k)
            for (src, dst), expected in parse_grid(probe.grid).items():
                if src == dst:
                    continue  # loopback: see the module docstring
                by_cell = evaluator.is_allowed(
                    pods[src], pods[dst], port=probe.port, protocol=probe.protocol
                )
                by_table = bool(matrix[row_of[src], row_of[dst]])
                if by_cell != expected or by_table != expected:
                    mismatches.append(
                        f"step {step_no} {probe.protocol} {probe.port} {src} -> {dst}: "
                        f"upstream {'.' if expected else 'X'}, evaluator "
                        f"{'.' if by_cell else 'X'}, truth table {'.' if by_table else 'X'}"
                    )
    assert not mismatches, "\n".join(mismatches)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_loopback_is_allowed_whatever_the_policies_say(case: Case) -> None:
    for step in case.steps:
        state = build_state(
            step.policies, namespace_labels=step.namespace_labels, pod_labels=step.pod_labels
        )
        evaluator = Evaluator(state)
        table = compute_truth_table(state, [PortProbe(p.port, p.protocol) for p in step.probes])
        for k, probe in enumerate(step.probes):
            assert table.pod_matrix(k).diagonal().all()
            for pod in state.pods:
                explanation = evaluator.explain(pod, pod, port=probe.port, protocol=probe.protocol)
                assert explanation.loopback
                assert explanation.allowed


def test_the_model_covers_at_least_twenty_upstream_cases() -> None:
    assert len(CASES) >= 20
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize(
    "grid",
    [
        ALL.replace("x/b  .", "x/c  .", 1),  # a row out of place
        ALL.replace(" z/c\n", " z/b\n", 1),  # a column out of place
        ALL.replace("y/a  .", "y/a  ?", 1),  # an unknown mark
        "\n".join(ALL.strip().splitlines()[:-1]),  # a missing row
    ],
)
def test_a_malformed_table_is_refused_rather_than_misread(grid: str) -> None:
    with pytest.raises(ValueError, match="must"):
        parse_grid(grid)


def test_grids_are_read_with_rows_as_clients_and_columns_as_servers() -> None:
    cells = parse_grid(FROM_XA_ONLY_TO_YB)
    assert cells[("x/a", "y/b")] is True
    assert cells[("x/a", "y/a")] is False
    assert cells[("y/a", "x/a")] is True
    assert sum(not allowed for allowed in cells.values()) == len(POD_REFS) - 1
