"""Input the evaluator refuses: policies the API server would reject, probes off the port range."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from service.errors import InvalidInput
from service.policy.evaluate import Evaluator
from service.policy.model import ClusterState, IPBlock, Peer
from tests.policy.rules_world import CLIENT, DENY_IN, TCP, WEB, evaluator, policy, port, rule, sel


def test_policies_the_api_server_would_reject_are_refused_with_every_field_path() -> None:
    bad = policy(
        "prod",
        "bad",
        ingress=[
            rule(Peer(), Peer(pod_selector=sel(), ip_block=IPBlock(ip_network("10.0.0.0/8")))),
            rule(ports=[port("http", end=90), port(90, end=80), port(0), port(1, end=70000)]),
        ],
    )
    with pytest.raises(InvalidInput) as err:
        Evaluator(ClusterState(policies=(bad,)))
    prefix = "NetworkPolicy prod/bad: "
    assert [(str(p.path), p.message.removeprefix(prefix)) for p in err.value.problems] == [
        ("spec.ingress[0].from[0]", "expected podSelector, namespaceSelector or ipBlock"),
        (
            "spec.ingress[0].from[1]",
            "expected ipBlock alone, not with podSelector or namespaceSelector",
        ),
        ("spec.ingress[1].ports[0].port", "expected a numeric port with endPort"),
        ("spec.ingress[1].ports[1].endPort", "expected endPort >= port (90), got 80"),
        ("spec.ingress[1].ports[2].port", "expected a port 1-65535, got 0"),
        ("spec.ingress[1].ports[3].endPort", "expected a port 1-65535, got 70000"),
    ]


def test_the_same_policy_twice_is_refused() -> None:
    with pytest.raises(InvalidInput, match="prod/deny-in is given twice"):
        Evaluator(ClusterState(policies=(DENY_IN, DENY_IN)))


@pytest.mark.parametrize("probe_port", [0, 65536, -80])
def test_probe_port_outside_1_to_65535_is_refused(probe_port: int) -> None:
    ev = evaluator()
    with pytest.raises(InvalidInput, match="expected a port 1-65535"):
        ev.is_allowed(CLIENT, WEB, port=probe_port, protocol=TCP)
    with pytest.raises(InvalidInput, match="expected a port 1-65535"):
        ev.explain(CLIENT, WEB, port=probe_port, protocol=TCP)
