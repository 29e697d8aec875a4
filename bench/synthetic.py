"""A seeded generator of realistic synthetic clusters for benchmarks and property tests.

The shape follows what real clusters look like to a NetworkPolicy engine:

- namespaces labelled from a vocabulary (team, env, tier, istio-injection), one
  ``kube-system`` with the DNS workload and a node-agent DaemonSet, and a few
  namespaces left undeclared (their pods exist, the Namespace object does not);
- pods in workloads that share labels (app, role, tier, version, a per-workload
  pod-template-hash, a per-pod StatefulSet name), with role-specific named and
  numbered container ports over TCP, UDP and SCTP;
- pod IPs from per-node /24s of 10.64.0.0/16, a few IPv6 pods, a few pods
  without an IP yet, and hostNetwork pods carrying their node's IP;
- policies cycling through a seeded order of kinds (so even a small cluster
  gets the whole mix): default-deny per direction, pod selectors, namespace
  selectors, both, matchExpressions, ipBlocks with ``except`` over pod CIDRs
  and external ranges, numbered, named, ranged and protocol-only ports,
  ingress and egress, selectors that match nothing.

The same arguments always give the same :class:`ClusterState`.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable
from dataclasses import dataclass

from bench.synthetic_calico import calico_policies
from service.errors import FieldPath, InvalidInput, Problem
from service.policy.model import (
    NAMESPACE_NAME_LABEL,
    ClusterState,
    ContainerPort,
    Direction,
    IPAddress,
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
    WorkloadRef,
)
from service.policy.truthtable import PortProbe

__all__ = ["DEFAULT_PROBES", "generate_cluster"]

TCP, UDP, SCTP = Protocol.TCP, Protocol.UDP, Protocol.SCTP
INGRESS, EGRESS = Direction.INGRESS, Direction.EGRESS

# A numbered, a named and a UDP probe: the named one resolves differently per pod.
DEFAULT_PROBES = (PortProbe(80, TCP), PortProbe("http", TCP), PortProbe(53, UDP))

TEAMS = ("payments", "search", "identity", "platform", "data", "web", "mobile", "ml")
ENVS = ("prod", "staging", "dev")
TIERS = ("frontend", "backend", "data", "ops")
APPS = (
    "checkout", "cart", "catalog", "search", "auth", "billing",
    "ledger", "gateway", "inventory", "notifier", "reports", "profile",
)  # fmt: skip
POD_CIDR = ipaddress.IPv4Network("10.64.0.0/16")
# Except vocabulary: a system node pool and one quarantined node; real policies
# carve out a few ranges, not one per node.
SYSTEM_POOL = ipaddress.IPv4Network("10.64.0.0/20")
QUARANTINED = ipaddress.IPv4Network("10.64.3.0/24")
NODE_CIDR = ipaddress.IPv4Network("172.16.0.0/16")
POD_CIDR_V6 = ipaddress.IPv6Network("fd00:10::/32")


@dataclass(frozen=True, slots=True)
class _Role:
    name: str
    tier: str
    ports: tuple[ContainerPort, ...]
    stateful: bool = False


def _cp(port: int, protocol: Protocol = TCP, name: str | None = None) -> ContainerPort:
    return ContainerPort(port, protocol, name)


_WEB = (_cp(80, TCP, "http"), _cp(443, TCP, "https"), _cp(9090, TCP, "metrics"))
_API = (_cp(8080, TCP, "http"), _cp(9000, TCP, "grpc"), _cp(9090, TCP, "metrics"))
_SIGNALLING = (_cp(3868, SCTP, "diameter"), _cp(5060, UDP, "sip"), _cp(8080, TCP, "http"))
ROLES = (
    _Role("web", "frontend", _WEB),
    _Role("api", "backend", _API),
    _Role("worker", "backend", (_cp(8081), _cp(9091, TCP, "metrics"))),
    _Role("db", "data", (_cp(5432, TCP, "postgres"), _cp(9187, TCP, "metrics")), stateful=True),
    _Role("cache", "data", (_cp(6379, TCP, "redis"),), stateful=True),
    _Role("queue", "data", (_cp(5672, TCP, "amqp"), _cp(15672, TCP, "http")), stateful=True),
    _Role("signalling", "backend", _SIGNALLING),
    _Role("batch", "backend", ()),
)
DNS_ROLE = _Role(
    "dns", "ops", (_cp(53, UDP, "dns"), _cp(53, TCP, "dns-tcp"), _cp(9153, TCP, "metrics"))
)


def generate_cluster(
    *, pods: int, namespaces: int, policies: int, seed: int = 0, calico_fraction: float = 0.0
) -> ClusterState:
    """A synthetic cluster of exactly ``pods`` pods, ``namespaces`` namespaces and ``policies``.

    Every namespace is declared or has pods, so all ``namespaces`` are visible
    even though a few with pods are left out of ``ClusterState.namespaces``.
    ``calico_fraction`` of the policies (rounded) are Calico policies over
    three tiers (:mod:`bench.synthetic_calico`); the Tier and network-set
    objects they use come on top of ``policies``. Raises InvalidInput for
    negative sizes, a fraction outside 0-1, or for pods or policies without a
    namespace to put them in.
    """
    problems = [
        Problem(f"expected a count >= 0, got {value}", path=FieldPath((name,)))
        for name, value in (("pods", pods), ("namespaces", namespaces), ("policies", policies))
        if value < 0
    ]
    if not 0.0 <= calico_fraction <= 1.0:
        problems.append(
            Problem(
                f"expected a fraction 0-1, got {calico_fraction}",
                path=FieldPath(("calico_fraction",)),
            )
        )
    if namespaces == 0 and (pods > 0 or policies > 0):
        problems.append(
            Problem(
                "expected at least one namespace for the pods and policies",
                FieldPath(("namespaces",)),
            )
        )
    InvalidInput.collect(problems)
    calico = round(max(policies, 0) * calico_fraction)
    return _Generator(random.Random(seed), pods, namespaces).build(policies - calico, calico)


@dataclass(frozen=True, slots=True)
class _Workload:
    namespace: str
    app: str
    role: _Role
    labels: Labels


class _Generator:
    def __init__(self, rng: random.Random, pods: int, namespaces: int) -> None:
        self.rng = rng
        self.nodes = max(2, -(-pods // 100))  # ~100 pods a node, 253 at most
        self.next_host = [2] * self.nodes
        self.namespaces: list[Namespace] = []
        self.pods: list[Pod] = []
        self.workloads: dict[str, list[_Workload]] = {}
        self._make_namespaces(namespaces)
        self._make_pods(pods)

    # --- namespaces and pods -----------------------------------------------------------

    def _make_namespaces(self, count: int) -> None:
        rng = self.rng
        for i in range(count):
            if i == 0:
                ns = Namespace("kube-system", Labels({NAMESPACE_NAME_LABEL: "kube-system"}))
            else:
                team, env = rng.choice(TEAMS), rng.choice(ENVS)
                labels = {"team": team}
                if rng.random() < 0.9:
                    labels["env"] = env
                if rng.random() < 0.6:
                    labels["tier"] = rng.choice(TIERS)
                if rng.random() < 0.2:
                    labels["istio-injection"] = "enabled"
                ns = Namespace(f"{team}-{env}-{i:03d}", Labels(labels))
            self.namespaces.append(ns)
            self.workloads[ns.name] = []

    def _make_pods(self, count: int) -> None:
        if count == 0:
            return
        host = round(count * 0.02) if count >= 10 else min(1, count // 3)
        self._make_host_network_pods(host)
        regular = count - host
        weights = [
            0.5 if i == 0 else self.rng.uniform(0.3, 1.7) for i in range(len(self.namespaces))
        ]
        total = sum(weights)
        shares = [regular * w / total for w in weights]
        counts = [int(s) for s in shares]
        by_remainder = sorted(range(len(shares)), key=lambda i: counts[i] - shares[i])
        for i in by_remainder[: regular - sum(counts)]:
            counts[i] += 1
        for ns, n in zip(self.namespaces, counts, strict=True):
            self._fill_namespace(ns.name, n)

    def _fill_namespace(self, namespace: str, count: int) -> None:
        rng = self.rng
        index = 0
        while count > 0:
            size = min(count, rng.choice((1, 1, 2, 2, 3, 3, 4, 5, 6, 8)))
            if namespace == "kube-system" and index == 0:
                role, app, extra = DNS_ROLE, "kube-dns", {"k8s-app": "kube-dns"}
            else:
                role, app, extra = rng.choice(ROLES), rng.choice(APPS), {}
            taken = {w.app for w in self.workloads[namespace]}
            if app in taken:
                app = f"{app}-{index}"
            labels = {"app": app, "role": role.name, **extra}
            labels["tier"] = role.tier if rng.random() < 0.8 else rng.choice(TIERS)
            if rng.random() < 0.4:
                labels["version"] = rng.choice(("v1", "v2"))
            ports: tuple[ContainerPort, ...] = role.ports
            if role.name == "web" and rng.random() < 0.2:
                # The same port name behind another number: named probes and rules must resolve it.
                ports = (_cp(8080, TCP, "http"), *ports[1:])
            kind = "StatefulSet" if role.stateful else "Deployment"
            if not role.stateful:
                labels["pod-template-hash"] = f"{rng.getrandbits(40):010x}"
            workload = _Workload(namespace, app, role, Labels(labels))
            self.workloads[namespace].append(workload)
            for replica in range(size):
                pod_labels = workload.labels
                name = f"{app}-{replica}" if role.stateful else f"{app}-{rng.getrandbits(20):05x}"
                if role.stateful:
                    pod_labels = pod_labels.with_label("statefulset.kubernetes.io/pod-name", name)
                self.pods.append(
                    Pod(
                        namespace=namespace,
                        name=name,
                        labels=pod_labels,
                        ports=ports,
                        ip=self._pod_ip(),
                        workload=WorkloadRef(namespace, app, kind),
                    )
                )
            count -= size
            index += 1

    def _pod_ip(self) -> IPAddress | None:
        roll = self.rng.random()
        if roll < 0.01:
            return None  # scheduled, no IP yet
        node = self.rng.randrange(self.nodes)
        while self.next_host[node] > 254:  # that node's /24 is full: the scheduler moves on
            node = (node + 1) % self.nodes
        host = self.next_host[node]
        self.next_host[node] += 1
        if roll < 0.02:
            return ipaddress.IPv6Address(int(POD_CIDR_V6.network_address) + (node << 80) + host)
        return ipaddress.IPv4Address(int(POD_CIDR.network_address) + (node << 8) + host)

    def _make_host_network_pods(self, count: int) -> None:
        for i in range(count):
            node = i % self.nodes
            ports: tuple[ContainerPort, ...]
            # Most are a node agent in kube-system; some an ingress proxy elsewhere.
            if i % 3 == 2 and len(self.namespaces) > 1:
                namespace = self.namespaces[1 + i % (len(self.namespaces) - 1)].name
                app, ports = "edge-proxy", (_cp(80, TCP, "http"), _cp(443, TCP, "https"))
            else:
                namespace, app, ports = "kube-system", "node-agent", (_cp(9100, TCP, "metrics"),)
            self.pods.append(
                Pod(
                    namespace=namespace,
                    name=f"{app}-node{node}-{i}",
                    labels=Labels({"app": app, "k8s-app": app}),
                    ports=ports,
                    ip=ipaddress.IPv4Address(int(NODE_CIDR.network_address) + 10 + node),
                    host_network=True,
                    workload=WorkloadRef(namespace, app, "DaemonSet"),
                )
            )

    # --- policies ------------------------------------------------------------------------

    def build(self, count: int, calico: int = 0) -> ClusterState:
        kinds = list(_KINDS)
        self.rng.shuffle(kinds)
        populated = [ns.name for ns in self.namespaces if self.workloads[ns.name]]
        homes = populated or [ns.name for ns in self.namespaces]
        weights = [len(self.workloads[n]) or 1 for n in homes]
        policies = []
        for i in range(count):
            namespace = self.rng.choices(homes, weights)[0]
            kind = kinds[i % len(kinds)]
            target, ingress, egress, types = kind(self, namespace)
            policies.append(
                NetworkPolicy(
                    namespace=namespace,
                    name=f"{kind.__name__.lstrip('_').replace('_', '-')}-{i}",
                    pod_selector=target,
                    policy_types=frozenset(types),
                    ingress=tuple(ingress),
                    egress=tuple(egress),
                )
            )
        policies.extend(calico_policies(self, homes, calico))
        # A few namespaces with pods exist only through them (no Namespace object): the
        # engine must still give them their kubernetes.io/metadata.name label.
        # One in twenty (the 11th, 31st, ...), so any cluster of a dozen namespaces has one.
        declared = tuple(
            ns
            for i, ns in enumerate(self.namespaces)
            if i % 20 != 10 or not self.workloads[ns.name]
        )
        return ClusterState(namespaces=declared, pods=tuple(self.pods), policies=tuple(policies))

    def apps(self, namespace: str) -> list[str]:
        return [w.app for w in self.workloads.get(namespace, [])]

    def app_selector(self, namespace: str) -> LabelSelector:
        """app=X of a workload of ``namespace`` mostly; sometimes an app that is not there."""
        found = self.workloads.get(namespace, [])
        if found and self.rng.random() < 0.85:
            app = self.rng.choice(found).app
        else:
            app = self.rng.choice(APPS) + "-gone"
        return LabelSelector(Labels({"app": app}))

    def other_namespace(self) -> str:
        return self.rng.choice(self.namespaces).name


_Spec = tuple[LabelSelector, list[Rule], list[Rule], set[Direction]]
_Kind = Callable[[_Generator, str], _Spec]
ALL = LabelSelector()


def _sel(**labels: str) -> LabelSelector:
    return LabelSelector(Labels(labels))


def _req(key: str, operator: Operator, *values: str) -> Requirement:
    return Requirement(key, operator, frozenset(values))


def _deny_ingress(g: _Generator, ns: str) -> _Spec:
    return ALL, [], [], {INGRESS}


def _deny_egress(g: _Generator, ns: str) -> _Spec:
    return ALL, [], [], {EGRESS}


def _deny_all(g: _Generator, ns: str) -> _Spec:
    return ALL, [], [], {INGRESS, EGRESS}


def _allow_same_namespace(g: _Generator, ns: str) -> _Spec:
    return g.app_selector(ns), [Rule(peers=(Peer(pod_selector=ALL),))], [], {INGRESS}


def _allow_from_app(g: _Generator, ns: str) -> _Spec:
    port = PolicyPort(TCP, 8080) if g.rng.random() < 0.5 else PolicyPort(TCP, "http")
    rule = Rule(peers=(Peer(pod_selector=g.app_selector(ns)),), ports=(port,))
    return g.app_selector(ns), [rule], [], {INGRESS}


def _allow_from_team(g: _Generator, ns: str) -> _Spec:
    peers = (Peer(namespace_selector=_sel(team=g.rng.choice(TEAMS))),)
    rule = Rule(peers=peers, ports=(PolicyPort(TCP, 8000, 8999), PolicyPort(TCP, 80)))
    target = ALL if g.rng.random() < 0.3 else g.app_selector(ns)
    return target, [rule], [], {INGRESS}


def _allow_from_prod_web(g: _Generator, ns: str) -> _Spec:
    peer = Peer(pod_selector=_sel(role="web"), namespace_selector=_sel(env=g.rng.choice(ENVS)))
    rule = Rule(peers=(peer,), ports=(PolicyPort(TCP, "metrics"), PolicyPort(TCP, 9090)))
    return _sel(role=g.rng.choice(("api", "web", "worker"))), [rule], [], {INGRESS}


def _match_expressions(g: _Generator, ns: str) -> _Spec:
    target = LabelSelector(match_expressions=(_req("role", Operator.IN, "api", "web"),))
    pods = LabelSelector(
        match_expressions=(_req("tier", Operator.NOT_IN, "data"), _req("version", Operator.EXISTS))
    )
    namespaces = LabelSelector(
        match_expressions=(
            _req("env", Operator.IN, "prod", "staging"),
            _req("istio-injection", Operator.DOES_NOT_EXIST),
        )
    )
    rule = Rule(
        peers=(Peer(pod_selector=pods), Peer(namespace_selector=namespaces)),
        ports=(PolicyPort(TCP),),
    )
    return target, [rule], [], {INGRESS}


def _ingress_ip_block(g: _Generator, ns: str) -> _Spec:
    excepts = g.rng.choice(((SYSTEM_POOL,), (QUARANTINED,), (SYSTEM_POOL, QUARANTINED)))
    peers = (
        Peer(ip_block=IPBlock(POD_CIDR, excepts)),
        Peer(ip_block=IPBlock(ipaddress.IPv4Network("203.0.113.0/24"))),
    )
    rule = Rule(peers=peers, ports=(PolicyPort(TCP, 443), PolicyPort(TCP, 80)))
    return g.app_selector(ns), [rule], [], {INGRESS}


def _allow_from_nodes(g: _Generator, ns: str) -> _Spec:
    rule = Rule(peers=(Peer(ip_block=IPBlock(NODE_CIDR)),), ports=(PolicyPort(TCP, "metrics"),))
    return ALL, [rule], [], {INGRESS}


def _egress_dns(g: _Generator, ns: str) -> _Spec:
    peer = Peer(
        pod_selector=_sel(**{"k8s-app": "kube-dns"}),
        namespace_selector=_sel(**{NAMESPACE_NAME_LABEL: "kube-system"}),
    )
    rule = Rule(peers=(peer,), ports=(PolicyPort(UDP, 53), PolicyPort(TCP, 53)))
    return ALL, [], [rule], {EGRESS}


def _egress_team(g: _Generator, ns: str) -> _Spec:
    peers = (Peer(namespace_selector=_sel(team=g.rng.choice(TEAMS))),)
    rule = Rule(peers=peers, ports=(PolicyPort(TCP, "http"), PolicyPort(TCP, "grpc")))
    return g.app_selector(ns), [], [rule], {EGRESS}


def _egress_external(g: _Generator, ns: str) -> _Spec:
    private = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
    block = IPBlock(
        ipaddress.IPv4Network("0.0.0.0/0"), tuple(ipaddress.IPv4Network(n) for n in private)
    )
    rule = Rule(peers=(Peer(ip_block=block),), ports=(PolicyPort(TCP, 443),))
    return _sel(role=g.rng.choice(("api", "web"))), [], [rule], {EGRESS}


def _egress_pod_cidr(g: _Generator, ns: str) -> _Spec:
    block = IPBlock(ipaddress.IPv4Network("10.64.0.0/14"), (QUARANTINED,))
    rule = Rule(
        peers=(Peer(ip_block=block),), ports=(PolicyPort(TCP, 5000, 6999), PolicyPort(UDP, 5060))
    )
    return g.app_selector(ns), [], [rule], {EGRESS}


def _mixed_both(g: _Generator, ns: str) -> _Spec:
    names = {g.other_namespace(), g.other_namespace(), "retired-namespace"}
    by_name = LabelSelector(match_expressions=(_req(NAMESPACE_NAME_LABEL, Operator.IN, *names),))
    ingress = Rule(
        peers=(Peer(namespace_selector=by_name),),
        ports=(PolicyPort(SCTP, 3868), PolicyPort(UDP)),
    )
    egress = Rule(peers=(Peer(pod_selector=ALL),))
    return g.app_selector(ns), [ingress], [egress], {INGRESS, EGRESS}


def _ingress_any_peer_on_ports(g: _Generator, ns: str) -> _Spec:
    rule = Rule(ports=(PolicyPort(TCP, 80), PolicyPort(TCP, "https")))
    return g.app_selector(ns), [rule], [], {INGRESS}


def _ingress_ipv6(g: _Generator, ns: str) -> _Spec:
    block = IPBlock(POD_CIDR_V6, (ipaddress.IPv6Network("fd00:10:3::/48"),))
    return ALL, [Rule(peers=(Peer(ip_block=block),))], [], {INGRESS}


def _egress_allow_all(g: _Generator, ns: str) -> _Spec:
    return g.app_selector(ns), [], [Rule()], {EGRESS}


def _ingress_typed_with_egress_rules(g: _Generator, ns: str) -> _Spec:
    # policyTypes [Ingress] with an egress section: the egress rules are ignored.
    ingress = Rule(peers=(Peer(namespace_selector=ALL, pod_selector=_sel(role="api")),))
    egress = Rule(peers=(Peer(pod_selector=_sel(role="db")),))
    return g.app_selector(ns), [ingress], [egress], {INGRESS}


_KINDS: tuple[_Kind, ...] = (
    _deny_ingress,
    _deny_egress,
    _deny_all,
    _allow_same_namespace,
    _allow_from_app,
    _allow_from_team,
    _allow_from_prod_web,
    _match_expressions,
    _ingress_ip_block,
    _allow_from_nodes,
    _egress_dns,
    _egress_team,
    _egress_external,
    _egress_pod_cidr,
    _mixed_both,
    _ingress_any_peer_on_ports,
    _ingress_ipv6,
    _egress_allow_all,
    _ingress_typed_with_egress_rules,
)
