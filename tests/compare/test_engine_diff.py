"""The engine-level version diff over two cluster states, every port, like netpol-analyzer's."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from service.compare import (
    DiffType,
    PairDiff,
    common_ranges,
    engine_diff,
    scenario_version_diff,
)
from service.policy.connections import ConnectionSet
from service.policy.model import (
    ClusterState,
    ContainerPort,
    Labels,
    Namespace,
    NetworkPolicy,
    Pod,
    Protocol,
    WorkloadRef,
)
from service.policy.parse import parse_network_policy
from service.report.connlist import Endpoint, ExternalRange
from service.scenario.load import load_scenario

WORKSHOP = Path(__file__).resolve().parents[2] / "scenarios" / "calico-workshop.yaml"


def _rows(changes: tuple[PairDiff[Endpoint], ...]) -> list[tuple[str, str, str, str, str]]:
    return [
        (str(c.diff_type), str(c.source), str(c.destination), str(c.ref1), str(c.ref2))
        for c in changes
    ]


def test_workshop_allow_pod_adds_frontend_to_backend_on_tcp_80() -> None:
    diff = scenario_version_diff(load_scenario(WORKSHOP), "deny-all", "allow-pod")
    # allow-pod's rule has no ports, so the engine opens every port; the matrix probes 80.
    assert _rows(diff.changes) == [
        (
            "added",
            "development/probe-frontend[Pod]",
            "development/backend[Pod]",
            "No Connections",
            "All Connections",
        ),
        (
            "added",
            "production/probe-frontend[Pod]",
            "development/backend[Pod]",
            "No Connections",
            "All Connections",
        ),
    ]
    assert all(c.ref2.contains(Protocol.TCP, 80) for c in diff.changes)
    assert diff.added_workloads == diff.removed_workloads == ()
    assert diff.render().splitlines()[0] == "Connections from deny-all (ref1) to allow-pod (ref2):"


def _netpol(namespace: str, name: str, spec: dict[str, Any]) -> NetworkPolicy:
    return parse_network_policy(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"namespace": namespace, "name": name},
            "spec": spec,
        }
    )


def _pod(name: str, kind: str = "Deployment", **labels: str) -> Pod:
    return Pod(
        namespace="shop",
        name=f"{name}-0",
        labels=Labels(labels),
        ports=(ContainerPort(8080),),
        workload=WorkloadRef("shop", name, kind),
    )


def _state(pods: tuple[Pod, ...], *policies: NetworkPolicy) -> ClusterState:
    return ClusterState(namespaces=(Namespace("shop"),), pods=pods, policies=policies)


WEB = _pod("web", app="web")
DB = _pod("db", "StatefulSet", app="db")
CACHE = _pod("cache", app="cache")


def _egress_to(cidr: str) -> NetworkPolicy:
    return _netpol(
        "shop",
        "web-egress",
        {
            "podSelector": {"matchLabels": {"app": "web"}},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": cidr}}]}],
        },
    )


def test_external_ranges_of_both_sides_line_up_on_their_common_refinement() -> None:
    ref1 = _state((WEB,), _egress_to("10.0.0.0/8"))
    ref2 = _state((WEB,), _egress_to("10.0.0.0/16"))
    diff = engine_diff(ref1, ref2)
    # Only 10.1.0.0-10.255.255.255 lost its connection; 10.0/16 kept it, the rest never had it.
    assert _rows(diff.changes) == [
        (
            "removed",
            "shop/web[Deployment]",
            "10.1.0.0-10.255.255.255[External]",
            "All Connections",
            "No Connections",
        )
    ]


def test_common_ranges_cut_at_every_boundary_of_either_side() -> None:
    def r(first: str, last: str) -> ExternalRange:
        return ExternalRange(ipaddress.ip_address(first), ipaddress.ip_address(last))

    one = (r("0.0.0.0", "9.255.255.255"), r("10.0.0.0", "255.255.255.255"))
    two = (r("0.0.0.0", "10.0.255.255"), r("10.1.0.0", "255.255.255.255"))
    assert common_ranges(one, two) == (
        r("0.0.0.0", "9.255.255.255"),
        r("10.0.0.0", "10.0.255.255"),
        r("10.1.0.0", "255.255.255.255"),
    )


def test_ipv6_ranges_of_one_side_are_answered_by_the_engine_on_the_other() -> None:
    ref1 = _state((WEB,), _egress_to("10.0.0.0/8"))
    ref2 = _state(
        (WEB,),
        _netpol(
            "shop",
            "web-egress",
            {
                "podSelector": {"matchLabels": {"app": "web"}},
                "policyTypes": ["Egress"],
                "egress": [
                    {"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}, {"ipBlock": {"cidr": "fd00::/8"}}]}
                ],
            },
        ),
    )
    diff = engine_diff(ref1, ref2)
    # ref1 isolates web's egress to 10/8 only: no IPv6 at all; ref2 opens fd00::/8.
    assert _rows(diff.changes) == [
        (
            "added",
            "shop/web[Deployment]",
            "fd00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff[External]",
            "No Connections",
            "All Connections",
        )
    ]


def test_workloads_on_one_side_only_are_marked_added_and_removed() -> None:
    deny_db = _netpol(
        "shop",
        "db-ingress",
        {
            "podSelector": {"matchLabels": {"app": "db"}},
            "ingress": [
                {
                    "from": [{"podSelector": {"matchLabels": {"app": "web"}}}],
                    "ports": [{"port": 5432}],
                }
            ],
        },
    )
    ref1 = _state((WEB, DB), deny_db)
    ref2 = _state((DB, CACHE), deny_db)
    diff = engine_diff(ref1, ref2)
    assert diff.added_workloads == (CACHE.owner,)
    assert diff.removed_workloads == (WEB.owner,)
    everything = "0.0.0.0-255.255.255.255[External]"
    cache, db, web = "shop/cache[Deployment]", "shop/db[StatefulSet]", "shop/web[Deployment]"
    added, removed = f"workload {cache} added", f"workload {web} removed"
    # db admits only web on 5432, so cache -> db has no connection on either side.
    assert [
        (*row, c.workloads_info) for row, c in zip(_rows(diff.changes), diff.changes, strict=True)
    ] == [
        ("added", everything, cache, "No Connections", "All Connections", added),
        ("removed", everything, web, "All Connections", "No Connections", removed),
        ("added", cache, everything, "No Connections", "All Connections", added),
        ("added", db, cache, "No Connections", "All Connections", added),
        ("removed", db, web, "All Connections", "No Connections", removed),
        ("removed", web, everything, "All Connections", "No Connections", removed),
        ("removed", web, db, "TCP 5432", "No Connections", removed),
    ]
    assert diff.render().splitlines()[-2:] == [f"workload {cache} added", f"workload {web} removed"]


def test_a_narrowed_port_is_changed_with_both_connection_sets() -> None:
    def ingress(ports: list[dict[str, Any]]) -> NetworkPolicy:
        return _netpol(
            "shop",
            "db-ingress",
            {
                "podSelector": {"matchLabels": {"app": "db"}},
                "ingress": [
                    {"from": [{"podSelector": {"matchLabels": {"app": "web"}}}], "ports": ports}
                ],
            },
        )

    ref1 = _state((WEB, DB), ingress([{"port": 5432}, {"port": 9187}]))
    ref2 = _state((WEB, DB), ingress([{"port": 5432}]))
    (change,) = engine_diff(ref1, ref2).changes
    assert change.diff_type is DiffType.CHANGED
    assert change.ref1 == ConnectionSet.of(Protocol.TCP, 5432) | ConnectionSet.of(
        Protocol.TCP, 9187
    )
    assert str(change) == (
        "diff-type: changed, source: shop/web[Deployment], destination: shop/db[StatefulSet], "
        "ref1: TCP 5432,9187, ref2: TCP 5432"
    )
