"""Which policies isolate a pod, and how their rules combine (policy-semantics.md section 1).

A pod is isolated for a direction by the policies of its namespace that select
it with that type; what they allow is the union of their rules, and a
connection needs the source's egress and the destination's ingress. See
:mod:`tests.policy.rules_world` for the cluster and how each row is checked.
"""

from __future__ import annotations

from tests.policy.rules_world import (
    CLIENT,
    DB,
    DENY_IN,
    DENY_OUT,
    DEV_WEB,
    EGRESS,
    EXTERNAL,
    INGRESS,
    OTHER_EXTERNAL,
    UDP,
    WEB,
    WEB_IP,
    Case,
    cases,
    check,
    cidr,
    egr,
    ing,
    nss,
    pods,
    policy,
    port,
    rule,
    sel,
)

TYPES = {
    "Ingress-listed": [
        policy("prod", "p", ingress=[rule()], egress=[rule(pods(app="db"))], types=[INGRESS])
    ],
    "Egress-listed": [
        policy("prod", "p", ingress=[rule(pods(app="db"))], egress=[rule()], types=[EGRESS])
    ],
    "both-listed": [policy("prod", "p", ingress=[rule()], egress=[rule(pods(app="db"))])],
    "Egress-without-rules": [policy("prod", "p", egress=[])],
}


@cases(
    TYPES,
    [
        ("egress-rules-ignored-unless-Egress", "Ingress-listed", WEB, DEV_WEB, "80", True),
        ("ingress-rules-ignored-unless-Ingress", "Egress-listed", CLIENT, WEB, "80", True),
        ("egress-rules-apply-with-Egress-type", "both-listed", WEB, DEV_WEB, "80", False),
        ("egress-rules-allow-with-Egress-type", "both-listed", WEB, DB, "5432", True),
        ("Egress-type-without-rules-denies-all", "Egress-without-rules", WEB, DB, "5432", False),
    ],
)
def test_policy_types_decide_which_rules_apply(case: Case) -> None:
    check(case)


ISOLATION = {
    "dev-deny-in": [policy("dev", "deny-in", ingress=[])],
    "deny-in-db": [policy("prod", "deny-in", sel({"app": "db"}), ingress=[])],
    "deny-in-web": [policy("prod", "deny-in", sel({"app": "web"}), ingress=[])],
    "deny-in": [DENY_IN],
    "deny-out": [DENY_OUT],
}


@cases(
    ISOLATION,
    [
        ("other-namespace-policy-does-not-isolate", "dev-deny-in", CLIENT, WEB, "80", True),
        ("unselected-pod-is-not-isolated", "deny-in-db", CLIENT, WEB, "80", True),
        ("selected-pod-is-isolated", "deny-in-web", CLIENT, WEB, "80", False),
        ("ingress-policy-does-not-isolate-egress", "deny-in", WEB, DEV_WEB, "80", True),
        ("egress-policy-does-not-isolate-ingress", "deny-out", CLIENT, WEB, "80", True),
        ("egress-policy-isolates-egress", "deny-out", WEB, CLIENT, "8080", False),
    ],
)
def test_isolation_needs_a_policy_of_the_pods_namespace_selecting_it_with_that_type(
    case: Case,
) -> None:
    check(case)


ALLOW_80 = ing("prod", rule(nss(team="b"), ports=[port(80)]), name="allow-80")
ALLOW_81 = ing("prod", rule(nss(team="b"), ports=[port(81)]), name="allow-81")
UNION = {
    "two-policies": [ALLOW_80, ALLOW_81],
    "deny-all-and-allow": [DENY_IN, ALLOW_80],
    "two-rules": [ing("prod", rule(pods(app="db")), rule(nss(env="dev"), ports=[port(53, UDP)]))],
}


@cases(
    UNION,
    [
        ("first-policy-port", "two-policies", CLIENT, WEB, "80", True),
        ("second-policy-port", "two-policies", CLIENT, WEB, "81", True),
        ("neither-policy-port", "two-policies", CLIENT, WEB, "82", False),
        ("deny-all-adds-nothing-to-the-union", "deny-all-and-allow", CLIENT, WEB, "80", True),
        ("second-rule-of-one-policy", "two-rules", CLIENT, WEB, "53/UDP", True),
        ("first-rule-of-one-policy", "two-rules", DB, WEB, "80", True),
    ],
)
def test_allowed_traffic_is_the_union_of_all_rules_of_all_policies(case: Case) -> None:
    check(case)


OUT_OK = egr("dev", rule(nss(team="a")), on=sel({"app": "client"}))
OUT_NO = egr("dev", on=sel({"app": "client"}))
IN_OK = ing("prod", rule(nss(team="b")), on=sel({"app": "web"}))
IN_NO = ing("prod", on=sel({"app": "web"}))
BOTH_SIDES = {
    "both-allow": [OUT_OK, IN_OK],
    "ingress-denies": [OUT_OK, IN_NO],
    "egress-denies": [OUT_NO, IN_OK],
    "both-deny": [OUT_NO, IN_NO],
    "egress-allows-only": [OUT_OK],
    "ingress-allows-only": [IN_OK],
}


@cases(
    BOTH_SIDES,
    [
        ("both-allow", "both-allow", CLIENT, WEB, "80", True),
        ("ingress-denies", "ingress-denies", CLIENT, WEB, "80", False),
        ("egress-denies", "egress-denies", CLIENT, WEB, "80", False),
        ("both-deny", "both-deny", CLIENT, WEB, "80", False),
        ("egress-allows-ingress-not-isolated", "egress-allows-only", CLIENT, WEB, "80", True),
        ("ingress-allows-egress-not-isolated", "ingress-allows-only", CLIENT, WEB, "80", True),
    ],
)
def test_connection_needs_source_egress_and_destination_ingress(case: Case) -> None:
    check(case)


@cases(
    {"deny-both": [DENY_IN, DENY_OUT], "deny-in": [DENY_IN], "deny-out": [DENY_OUT]},
    [
        ("deny-all-both-ways", "deny-both", WEB, WEB, "80", True),
        ("deny-all-ingress", "deny-in", DB, DB, "5432", True),
        ("any-port-and-protocol", "deny-out", WEB, WEB, "1/SCTP", True),
        ("another-pod-still-blocked", "deny-in", DB, WEB, "80", False),
    ],
)
def test_pod_to_itself_is_always_allowed(case: Case) -> None:
    check(case)


@cases(
    {"deny-in": [DENY_IN]},
    [
        ("selects-web", "deny-in", CLIENT, WEB, "80", False),
        ("selects-db", "deny-in", CLIENT, DB, "5432", False),
        ("not-pods-of-other-namespaces", "deny-in", WEB, DEV_WEB, "80", True),
    ],
)
def test_empty_pod_selector_selects_every_pod_of_its_namespace(case: Case) -> None:
    check(case)


@cases(
    {
        "deny-both": [DENY_IN, DENY_OUT],
        "out-test-net": [egr("prod", rule(cidr("203.0.113.0/24")))],
    },
    [
        ("ip-to-ip", "deny-both", EXTERNAL, OTHER_EXTERNAL, "80", True),
        ("no-ingress-side-for-an-ip", "out-test-net", WEB, EXTERNAL, "12345/SCTP", True),
        ("pod-ip-alone-is-not-isolated-for-ingress", "deny-both", CLIENT, WEB_IP, "80", True),
        ("pod-ip-alone-is-not-isolated-for-egress", "deny-both", WEB_IP, CLIENT, "8080", True),
    ],
)
def test_external_ip_endpoint_is_never_isolated(case: Case) -> None:
    check(case)
