"""Small clusters and Calico manifests for the Calico engine tests.

:func:`objects` reads YAML documents (projectcalico.org/v3, admin policies,
networking.k8s.io/v1) the way the manifest loader does; :func:`allowed` asks the
per-cell evaluator and, for two pods, checks the vectorised truth table says the
same, so every semantic test exercises both engines.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

import yaml

from service.policy.calico.parse import is_calico_kind, parse_calico_entry
from service.policy.evaluate import Endpoint, Evaluator
from service.policy.model import (
    ClusterState,
    ContainerPort,
    Labels,
    Namespace,
    NetworkPolicy,
    Pod,
    Protocol,
    Service,
    ServicePort,
)
from service.policy.parse import parse_network_policy
from service.policy.truthtable import PortProbe, compute_truth_table

TCP, UDP, SCTP = Protocol.TCP, Protocol.UDP, Protocol.SCTP


def ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


def pod(
    namespace: str,
    name: str,
    labels: dict[str, str] | None = None,
    *,
    address: str | None = None,
    ports: Iterable[tuple[int, Protocol, str | None]] = (),
    account: str = "default",
    host: bool = False,
) -> Pod:
    return Pod(
        namespace=namespace,
        name=name,
        labels=Labels(labels or {}),
        ports=tuple(ContainerPort(n, p, name) for n, p, name in ports),
        ip=None if address is None else ip(address),
        host_network=host,
        service_account=account,
    )


NAMESPACES = (
    Namespace("dev", Labels({"team": "a", "env": "dev"})),
    Namespace("prod", Labels({"team": "b", "env": "prod"})),
    Namespace("kube-system", Labels({})),
)
DEV_WEB = pod("dev", "web", {"app": "web"}, address="10.0.1.1", ports=[(80, TCP, "http")])
DEV_DB = pod(
    "dev", "db", {"app": "db"}, address="10.0.1.2", ports=[(5432, TCP, "pg")], account="db"
)
PROD_WEB = pod(
    "prod", "web", {"app": "web"}, address="10.0.2.1", ports=[(8080, TCP, "http"), (53, UDP, "dns")]
)
PROD_CLIENT = pod("prod", "client", {"app": "client"}, address="10.0.2.2")
AGENT = pod("kube-system", "agent", {"app": "agent"}, address="172.16.0.10", host=True)
OUTSIDE = ip("203.0.113.7")
PODS = (DEV_WEB, DEV_DB, PROD_WEB, PROD_CLIENT, AGENT)
DB_SERVICE = Service("dev", "db", Labels({"app": "db"}), (ServicePort(5432, "pg"),))


def objects(text: str) -> tuple[NetworkPolicy, ...]:
    """Every document of ``text``: Calico and admin kinds as CalicoEntry, others NetworkPolicy."""
    out: list[NetworkPolicy] = []
    for doc in yaml.safe_load_all(text):
        if doc is None:
            continue
        if is_calico_kind(doc["apiVersion"], doc["kind"]):
            out.append(parse_calico_entry(doc))
        else:
            out.append(parse_network_policy(doc))
    return tuple(out)


def cluster(text: str = "", *, pods: Iterable[Pod] = PODS) -> ClusterState:
    return ClusterState(
        namespaces=NAMESPACES, pods=tuple(pods), policies=objects(text), services=(DB_SERVICE,)
    )


def allowed(
    state: ClusterState,
    src: Endpoint,
    dst: Endpoint,
    port: int,
    protocol: Protocol = TCP,
    *,
    with_staged: bool = False,
) -> bool:
    """The per-cell verdict; for two pods, the truth table must agree (asserted)."""
    verdict = Evaluator(state, with_staged=with_staged).is_allowed(
        src, dst, port=port, protocol=protocol
    )
    if isinstance(src, Pod) and isinstance(dst, Pod) and not with_staged:
        table = compute_truth_table(state, [PortProbe(port, protocol)])
        i, j = state.pods.index(src), state.pods.index(dst)
        assert table.allowed(i, j, 0) is verdict, "the truth table disagrees with the evaluator"
    return verdict
