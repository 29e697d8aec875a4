"""What the evaluator says about a verdict: the policies, rules, peers and ports behind it."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from service.policy.evaluate import Endpoint
from service.policy.model import Direction
from service.policy.verdict import Action, RuleMatch
from tests.policy.rules_world import (
    AGENT,
    CLIENT,
    DB,
    DENY_IN,
    EGRESS,
    EXTERNAL,
    INGRESS,
    TCP,
    UDP,
    WEB,
    egr,
    evaluator,
    ing,
    nss,
    pods,
    port,
    rule,
    sel,
)

ZZ_WEB = ing(
    "prod",
    rule(pods(app="db")),
    rule(nss(team="b"), ports=[port(80), port("http"), port(53, UDP)]),
    name="zz-web",
    on=sel({"app": "web"}),
)
AA_ALL = ing("prod", rule(ports=[port(8000)]), name="aa-all")
MM_DENY = ing("prod", name="mm-deny")
EXPLAINED = evaluator(ZZ_WEB, MM_DENY, AA_ALL)


def _indexes(
    matches: Sequence[RuleMatch],
) -> list[tuple[str, Direction, int, int | None, int | None]]:
    return [(m.policy, m.direction, m.rule_index, m.peer_index, m.port_index) for m in matches]


def test_explanation_names_isolating_policies_sorted_and_every_matching_peer_and_port() -> None:
    explained = EXPLAINED.explain(CLIENT, WEB, port=80, protocol=TCP)
    assert explained.allowed
    assert explained.ingress.isolated
    assert explained.ingress.isolating_policies == ("prod/aa-all", "prod/mm-deny", "prod/zz-web")
    # Rule 1, peer 0, and both port 0 (80) and port 1 (http, which is 80 on web) admit it.
    assert _indexes(explained.ingress.matches) == [
        ("prod/zz-web", INGRESS, 1, 0, 0),
        ("prod/zz-web", INGRESS, 1, 0, 1),
    ]
    assert [m.detail for m in explained.ingress.matches] == [
        "from namespaceSelector team=b; TCP 80",
        "from namespaceSelector team=b; TCP http=80",
    ]
    assert all(m.action is Action.ALLOW for m in explained.ingress.matches)


def test_explanation_of_rule_without_peers_or_ports_has_no_peer_or_port_index() -> None:
    explained = evaluator(egr("dev", rule(), on=sel({"app": "client"}))).explain(
        CLIENT, EXTERNAL, port=443, protocol=TCP
    )
    assert _indexes(explained.egress.matches) == [("dev/out", EGRESS, 0, None, None)]
    assert explained.egress.matches[0].detail == "to any peer; all ports"


def test_blocked_explanation_names_policies_peer_port_and_near_misses() -> None:
    explained = EXPLAINED.explain(CLIENT, WEB, port=81, protocol=TCP)
    assert not explained.allowed
    assert explained.ingress.matches == ()
    assert explained.ingress.reason.splitlines() == [
        "no rule of prod/aa-all, prod/mm-deny, prod/zz-web "
        "allows ingress from dev/client on TCP 81",
        "prod/aa-all ingress[0] admits dev/client only on TCP 8000",
        "prod/mm-deny has no ingress rules: it denies all ingress",
        "prod/zz-web ingress[1] admits dev/client only on TCP 80, TCP http=80, UDP 53",
    ]


@pytest.mark.parametrize(
    ("src", "dst", "direction", "reason"),
    [
        pytest.param(CLIENT, WEB, EGRESS, "no policy selects dev/client for Egress", id="pod"),
        pytest.param(
            EXTERNAL,
            WEB,
            EGRESS,
            "203.0.113.7 is outside the cluster or known only by IP: no policy applies",
            id="ip",
        ),
        pytest.param(
            CLIENT,
            AGENT,
            INGRESS,
            "prod/agent uses the host network: no policy selects host-network pods",
            id="host-network",
        ),
    ],
)
def test_explanation_says_why_an_endpoint_is_not_isolated(
    src: Endpoint, dst: Endpoint, direction: Direction, reason: str
) -> None:
    explained = EXPLAINED.explain(src, dst, port=80, protocol=TCP)
    verdict = explained.egress if direction is EGRESS else explained.ingress
    assert not verdict.isolated
    assert verdict.allowed
    assert verdict.isolating_policies == ()
    assert verdict.reason == reason


def test_loopback_explanation_says_so_and_still_shows_the_policies() -> None:
    explained = evaluator(DENY_IN).explain(WEB, WEB, port=80, protocol=TCP)
    assert explained.loopback
    assert explained.allowed
    assert not explained.ingress.allowed
    assert "loopback: a pod is never blocked from itself" in explained.render()


def test_explanation_render_reads_as_indented_lines() -> None:
    rendered = EXPLAINED.explain(DB, WEB, port=53, protocol=UDP).render()
    assert rendered.splitlines() == [
        "prod/db -> prod/web UDP 53: allowed",
        "  egress of prod/db: allowed, not isolated",
        "    no policy selects prod/db for Egress",
        "  ingress of prod/web: allowed, isolated by prod/aa-all, prod/mm-deny, prod/zz-web",
        "    prod/zz-web ingress[0] (peer 0) -> Allow: "
        "from podSelector app=db in namespace prod; all ports",
    ]
