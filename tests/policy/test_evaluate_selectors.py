"""Which peers a rule admits by selector: podSelector, namespaceSelector, expressions.

See :mod:`tests.policy.rules_world` for the cluster and how each row is checked.
"""

from __future__ import annotations

from service.policy.model import NetworkPolicy, Operator, Peer, Requirement
from tests.policy.rules_world import (
    AGENT,
    CLIENT,
    DB,
    DEV_WEB,
    EXTERNAL,
    PROBE,
    THING,
    UDP,
    WEB,
    Case,
    cases,
    check,
    egr,
    ing,
    ns_named,
    nss,
    pods,
    port,
    req,
    rule,
    sel,
)


@cases(
    {
        "in-80": [ing("prod", rule(ports=[port(80)]))],
        "out-53": [egr("prod", rule(ports=[port(53, UDP)]))],
    },
    [
        ("pod-of-other-namespace", "in-80", CLIENT, WEB, "80", True),
        ("external-ip", "in-80", EXTERNAL, WEB, "80", True),
        ("host-network-pod", "in-80", AGENT, WEB, "80", True),
        ("pod-without-ip", "in-80", PROBE, WEB, "80", True),
        ("egress-to-external-ip", "out-53", WEB, EXTERNAL, "53/UDP", True),
        ("ports-still-apply", "in-80", CLIENT, WEB, "81", False),
    ],
)
def test_rule_without_peers_admits_every_peer_including_external_ips(case: Case) -> None:
    check(case)


@cases(
    {"db-from-web": [ing("prod", rule(pods(app="web")), on=sel({"app": "db"}))]},
    [
        ("matching-pod-of-policy-namespace", "db-from-web", WEB, DB, "5432", True),
        ("matching-pod-of-other-namespace", "db-from-web", DEV_WEB, DB, "5432", False),
        ("matching-pod-of-undeclared-namespace", "db-from-web", THING, DB, "5432", False),
    ],
)
def test_absent_namespace_selector_scopes_pod_selector_to_policy_namespace(case: Case) -> None:
    check(case)


@cases(
    {
        "team-b": [ing("prod", rule(nss(team="b")))],
        "named-ops": [ing("prod", rule(ns_named("ops")))],
        "named-ghost": [ing("prod", rule(ns_named("ghost")))],
    },
    [
        ("any-pod-of-matching-namespace", "team-b", CLIENT, WEB, "80", True),
        ("another-pod-of-matching-namespace", "team-b", DEV_WEB, WEB, "80", True),
        ("own-namespace-when-not-matching", "team-b", DB, WEB, "80", False),
        ("metadata-name-of-unlabelled-namespace", "named-ops", PROBE, WEB, "80", True),
        ("metadata-name-of-undeclared-namespace", "named-ghost", THING, WEB, "80", True),
        ("metadata-name-of-another-namespace", "named-ghost", CLIENT, WEB, "80", False),
    ],
)
def test_namespace_selector_alone_admits_all_pods_of_matching_namespaces(case: Case) -> None:
    check(case)


@cases(
    {
        "and": [ing("prod", rule(Peer(sel({"app": "web"}), sel({"team": "b"}))))],
        "or": [ing("prod", rule(pods(app="db"), nss(team="b")))],
    },
    [
        ("one-peer-both-match", "and", DEV_WEB, WEB, "80", True),
        ("one-peer-only-namespace-matches", "and", CLIENT, WEB, "80", False),
        ("one-peer-only-pod-matches", "and", THING, WEB, "80", False),
        ("two-peers-first-matches", "or", DB, WEB, "80", True),
        ("two-peers-second-matches", "or", CLIENT, WEB, "80", True),
        ("two-peers-neither-matches", "or", THING, WEB, "80", False),
    ],
)
def test_selectors_in_one_peer_are_anded_separate_peers_are_ored(case: Case) -> None:
    check(case)


@cases(
    {
        "pod-{}": [ing("prod", rule(Peer(pod_selector=sel())), on=sel({"app": "db"}))],
        "ns-{}": [ing("prod", rule(Peer(namespace_selector=sel())), on=sel({"app": "db"}))],
        "both-{}": [ing("prod", rule(Peer(sel(), sel())), on=sel({"app": "db"}))],
    },
    [
        ("pod-selector-{}-own-namespace", "pod-{}", WEB, DB, "5432", True),
        ("pod-selector-{}-absent-namespace-selector", "pod-{}", CLIENT, DB, "5432", False),
        ("namespace-selector-{}-every-namespace", "ns-{}", CLIENT, DB, "5432", True),
        ("namespace-selector-{}-undeclared-namespace", "ns-{}", THING, DB, "5432", True),
        ("namespace-selector-{}-not-ip-endpoints", "ns-{}", EXTERNAL, DB, "5432", False),
        ("both-{}-every-pod", "both-{}", PROBE, DB, "5432", True),
    ],
)
def test_empty_selector_matches_everything_in_scope_absent_is_unspecified(case: Case) -> None:
    check(case)


def _from_dev(*exprs: Requirement, **labels: str) -> list[NetworkPolicy]:
    return [
        ing(
            "prod",
            rule(Peer(pod_selector=sel(labels, *exprs), namespace_selector=sel({"team": "b"}))),
        )
    ]


# dev/client: app=client, role=tester; dev/web: app=web (no role); ops has no labels.
EXPRESSIONS = {
    "app=client": _from_dev(app="client"),
    "app=client,role=x": _from_dev(app="client", role="x"),
    "app-In": _from_dev(req("app", Operator.IN, "client", "web")),
    "role-In": _from_dev(req("role", Operator.IN, "tester")),
    "app-NotIn": _from_dev(req("app", Operator.NOT_IN, "client")),
    "role-NotIn": _from_dev(req("role", Operator.NOT_IN, "tester")),
    "role-Exists": _from_dev(req("role", Operator.EXISTS)),
    "role-DoesNotExist": _from_dev(req("role", Operator.DOES_NOT_EXIST)),
    "app=web,role-Exists": _from_dev(req("role", Operator.EXISTS), app="web"),
    "ns-env-NotIn": [ing("prod", rule(nss(req("env", Operator.NOT_IN, "prod"))))],
}


@cases(
    EXPRESSIONS,
    [
        ("matchLabels-equal", "app=client", CLIENT, WEB, "80", True),
        ("matchLabels-every-label-must-match", "app=client,role=x", CLIENT, WEB, "80", False),
        ("In-value-listed", "app-In", DEV_WEB, WEB, "80", True),
        ("In-key-absent", "role-In", DEV_WEB, WEB, "80", False),
        ("NotIn-value-listed", "app-NotIn", CLIENT, WEB, "80", False),
        ("NotIn-key-absent-matches", "role-NotIn", DEV_WEB, WEB, "80", True),
        ("Exists-key-present", "role-Exists", CLIENT, WEB, "80", True),
        ("Exists-key-absent", "role-Exists", DEV_WEB, WEB, "80", False),
        ("DoesNotExist-key-absent", "role-DoesNotExist", DEV_WEB, WEB, "80", True),
        ("DoesNotExist-key-present", "role-DoesNotExist", CLIENT, WEB, "80", False),
        ("matchLabels-and-expressions-are-anded", "app=web,role-Exists", DEV_WEB, WEB, "80", False),
        ("namespace-NotIn-key-absent-matches", "ns-env-NotIn", PROBE, WEB, "80", True),
        ("namespace-NotIn-value-listed", "ns-env-NotIn", DB, WEB, "80", False),
    ],
)
def test_match_labels_and_match_expressions_operators(case: Case) -> None:
    check(case)
