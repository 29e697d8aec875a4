"""The per-connection evaluator: exact semantics, one cell at a time, with explanations.

This is the engine's reference for Kubernetes networking.k8s.io/v1 NetworkPolicy
(docs: reference/policy-semantics.md section 1). A state holding Calico objects
is answered by Calico's tiered model instead
(:class:`~service.policy.calico.evaluate.TieredEvaluator`, section 2), behind
the same :class:`Evaluator` interface. The vectorised truth table is
checked against :meth:`Evaluator.is_allowed`, so clarity wins over cleverness
here; speed comes from indexing, not from shortcuts in the rules:

- policies are indexed by namespace at construction, so a query only looks at
  the policies of the source's and the destination's namespaces;
- which policies isolate a pod is cached per (direction, namespace, labels);
- a namespace selector's verdict is cached per namespace name.

Semantics, as the API server and Calico implement them:

- A pod is isolated for a direction when a policy of its namespace selects it
  and lists that type (``NetworkPolicy.rules`` already drops unlisted types).
- Traffic is allowed when the source's egress AND the destination's ingress
  allow it; each side allows what the union of its rules allows. A pod is never
  blocked from itself (loopback).
- Host-network pods are never selected by a podSelector (never isolated) and
  never matched by pod/namespace selector peers; ipBlocks match them by their
  IP (the node's). ipBlocks match pod IPs too (Calico), never a pod without IP.
- An IP endpoint (outside the cluster, or a pod known only by IP) is never
  isolated and only ipBlocks match it.
- Named ports are resolved on the DESTINATION pod, by name and protocol; a
  destination without that name (or an IP destination) is not matched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import product

from service.policy.calico.evaluate import TieredEvaluator
from service.policy.calico.model import has_calico
from service.policy.checks import check_policies, check_probe_port
from service.policy.connections import MAX_PORT, MIN_PORT, ConnectionSet
from service.policy.model import (
    ClusterState,
    Direction,
    Endpoint,
    Labels,
    Namespace,
    NetworkPolicy,
    Peer,
    Pod,
    PolicyPort,
    Protocol,
    Rule,
    endpoint_name,
    namespace_labels,
)
from service.policy.verdict import DirectionVerdict, Explanation, RuleMatch

__all__ = ["Endpoint", "Evaluator", "check_policies", "endpoint_name"]


def _is_loopback(src: Endpoint, dst: Endpoint) -> bool:
    # Only a pod can be "itself"; two equal IPs are outside the cluster and never isolated.
    return isinstance(src, Pod) and src == dst


class _Port:
    """A PolicyPort with its range precomputed; named ports resolve per destination."""

    __slots__ = ("hi", "index", "lo", "name", "protocol", "static")

    def __init__(self, index: int, spec: PolicyPort) -> None:
        self.index = index
        self.protocol = spec.protocol
        self.name = spec.port if isinstance(spec.port, str) else None
        if isinstance(spec.port, int):
            self.lo = spec.port
            self.hi = spec.end_port if spec.end_port is not None else spec.port
        else:
            # No port = every port of the protocol; a name has no range until resolved.
            self.lo, self.hi = MIN_PORT, MAX_PORT
        self.static = (
            None if self.name is not None else ConnectionSet.of(self.protocol, self.lo, self.hi)
        )

    def matches(self, port: int, protocol: Protocol, dst: Endpoint) -> bool:
        if protocol != self.protocol:
            return False
        if self.name is None:
            return self.lo <= port <= self.hi
        return isinstance(dst, Pod) and dst.named_port(self.name, protocol) == port

    def connections_on(self, dst: Endpoint) -> ConnectionSet:
        if self.static is not None:
            return self.static
        if self.name is None or not isinstance(dst, Pod):
            return ConnectionSet.none()
        number = dst.named_port(self.name, self.protocol)
        return ConnectionSet.none() if number is None else ConnectionSet.of(self.protocol, number)

    def describe(self, dst: Endpoint) -> str:
        if self.name is None:
            if (self.lo, self.hi) == (MIN_PORT, MAX_PORT):
                return f"{self.protocol} all ports"
            span = str(self.lo) if self.lo == self.hi else f"{self.lo}-{self.hi}"
            return f"{self.protocol} {span}"
        if not isinstance(dst, Pod):
            return f"{self.protocol} {self.name} (an IP destination has no named ports)"
        number = dst.named_port(self.name, self.protocol)
        if number is None:
            return f"{self.protocol} {self.name} (not a {self.protocol} port of {dst.ref})"
        return f"{self.protocol} {self.name}={number}"


class _Peer:
    """One from/to entry bound to its policy's namespace."""

    __slots__ = ("_namespace_labels", "_ns_verdicts", "index", "peer", "policy_namespace")

    def __init__(
        self,
        index: int,
        peer: Peer,
        policy_namespace: str,
        namespace_labels: Callable[[str], Labels],
    ) -> None:
        self.index = index
        self.peer = peer
        self.policy_namespace = policy_namespace
        self._namespace_labels = namespace_labels
        self._ns_verdicts: dict[str, bool] = {}

    def matches(self, endpoint: Endpoint) -> bool:
        block = self.peer.ip_block
        if block is not None:
            address = endpoint.ip if isinstance(endpoint, Pod) else endpoint
            return address is not None and block.contains(address)
        # Selector peers only see pods the orchestrator knows, never the host network.
        if not isinstance(endpoint, Pod) or endpoint.host_network:
            return False
        ns_selector = self.peer.namespace_selector
        if ns_selector is None:
            if endpoint.namespace != self.policy_namespace:
                return False
        else:
            verdict = self._ns_verdicts.get(endpoint.namespace)
            if verdict is None:
                verdict = ns_selector.matches(self._namespace_labels(endpoint.namespace))
                self._ns_verdicts[endpoint.namespace] = verdict
            if not verdict:
                return False
        pod_selector = self.peer.pod_selector
        return pod_selector is None or pod_selector.matches(endpoint.labels)

    def describe(self) -> str:
        if self.peer.ip_block is None and self.peer.namespace_selector is None:
            return f"{self.peer} in namespace {self.policy_namespace}"
        return str(self.peer)


class _Rule:
    __slots__ = ("index", "named_ports", "peers", "ports", "static_ports")

    def __init__(
        self,
        index: int,
        rule: Rule,
        policy_namespace: str,
        namespace_labels: Callable[[str], Labels],
    ) -> None:
        self.index = index
        self.peers = tuple(
            _Peer(i, p, policy_namespace, namespace_labels) for i, p in enumerate(rule.peers)
        )
        self.ports = tuple(_Port(i, p) for i, p in enumerate(rule.ports))
        self.named_ports = tuple(p for p in self.ports if p.static is None)
        static = ConnectionSet.none() if self.ports else ConnectionSet.all()
        for port in self.ports:
            if port.static is not None:
                static |= port.static
        self.static_ports = static

    def admits_peer(self, endpoint: Endpoint) -> bool:
        return not self.peers or any(p.matches(endpoint) for p in self.peers)

    def admits_port(self, port: int, protocol: Protocol, dst: Endpoint) -> bool:
        return not self.ports or any(p.matches(port, protocol, dst) for p in self.ports)

    def connections_on(self, dst: Endpoint) -> ConnectionSet:
        out = self.static_ports
        for port in self.named_ports:
            out |= port.connections_on(dst)
        return out

    def describe_ports(self, dst: Endpoint) -> str:
        return ", ".join(p.describe(dst) for p in self.ports) if self.ports else "all ports"


class _Policy:
    __slots__ = ("egress", "ingress", "namespace", "ref", "selector", "types")

    def __init__(self, policy: NetworkPolicy, namespace_labels: Callable[[str], Labels]) -> None:
        self.ref = policy.ref
        self.namespace = policy.namespace
        self.selector = policy.pod_selector
        self.types = policy.policy_types

        def compile_rules(direction: Direction) -> tuple[_Rule, ...]:
            return tuple(
                _Rule(i, r, policy.namespace, namespace_labels)
                for i, r in enumerate(policy.rules(direction))
            )

        self.ingress = compile_rules(Direction.INGRESS)
        self.egress = compile_rules(Direction.EGRESS)

    def rules(self, direction: Direction) -> tuple[_Rule, ...]:
        return self.ingress if direction is Direction.INGRESS else self.egress


class Evaluator:
    """Answers "is this connection allowed, and why" for one :class:`ClusterState`.

    Build once per state; queries are then independent of the number of pods
    and cost only the policies of the two namespaces involved. Raises
    :class:`InvalidInput` for policies the API server would reject and that
    have no defined meaning (peer shapes, endPort rules, ports out of range,
    the same policy given twice).

    Queries fill small caches (isolation per pod label set, namespace-selector
    verdicts per namespace); sharing one Evaluator between threads is safe
    under CPython, where a race only computes a cached value twice.

    When the state holds Calico objects, every query goes to Calico's tiered
    evaluation (:class:`~service.policy.calico.evaluate.TieredEvaluator`),
    where the Kubernetes policies sit in tier ``default`` at order 1000;
    ``with_staged`` then evaluates as if the staged policies were applied.
    Without Calico objects the union semantics below are the same answers,
    faster.
    """

    def __init__(self, state: ClusterState, *, with_staged: bool = False) -> None:
        self._tiered: TieredEvaluator | None = None
        if has_calico(state.policies):
            # Every query goes to the tiered evaluator, which checks the policies itself
            # (check_policies on the Kubernetes ones, check_calico on the rest): the union
            # index below would never be read.
            self._tiered = TieredEvaluator(state, with_staged=with_staged)
            return
        check_policies(state.policies)
        self._ns_labels: dict[str, Labels] = state.namespace_labels()
        by_namespace: dict[str, list[_Policy]] = {}
        for policy in state.policies:
            compiled = _Policy(policy, self._namespace_labels)
            by_namespace.setdefault(policy.namespace, []).append(compiled)
        # Sorted by name so answers and explanations do not depend on input order.
        self._policies: dict[str, tuple[_Policy, ...]] = {
            ns: tuple(sorted(found, key=lambda p: p.ref)) for ns, found in by_namespace.items()
        }
        self._isolation: dict[tuple[Direction, str, Labels], tuple[_Policy, ...]] = {}

    def _namespace_labels(self, name: str) -> Labels:
        labels = self._ns_labels.get(name)
        if labels is None:
            # A namespace the state does not declare still carries its name label.
            labels = namespace_labels(Namespace(name))
            self._ns_labels[name] = labels
        return labels

    def _isolating(self, direction: Direction, pod: Pod) -> tuple[_Policy, ...]:
        if pod.host_network:
            return ()
        key = (direction, pod.namespace, pod.labels)
        found = self._isolation.get(key)
        if found is None:
            found = tuple(
                p
                for p in self._policies.get(pod.namespace, ())
                if direction in p.types and p.selector.matches(pod.labels)
            )
            self._isolation[key] = found
        return found

    def isolating_policies(self, pod: Pod, direction: Direction) -> tuple[str, ...]:
        """``namespace/name`` of every policy isolating ``pod`` for ``direction``, sorted.

        With Calico objects: every policy applying to ``pod``, by tier and order.
        """
        if self._tiered is not None:
            return self._tiered.isolating_policies(pod, direction)
        return tuple(p.ref for p in self._isolating(direction, pod))

    # --- the fast path: booleans only -------------------------------------------------

    def is_allowed(self, src: Endpoint, dst: Endpoint, *, port: int, protocol: Protocol) -> bool:
        """The same answer as ``explain(...).allowed``, without building explanations."""
        if self._tiered is not None:
            return self._tiered.is_allowed(src, dst, port=port, protocol=protocol)
        check_probe_port(port)
        if _is_loopback(src, dst):
            return True
        return self._side_allows(
            Direction.EGRESS, src, dst, dst=dst, port=port, protocol=protocol
        ) and self._side_allows(Direction.INGRESS, dst, src, dst=dst, port=port, protocol=protocol)

    def _side_allows(
        self,
        direction: Direction,
        subject: Endpoint,
        peer: Endpoint,
        *,
        dst: Endpoint,
        port: int,
        protocol: Protocol,
    ) -> bool:
        if not isinstance(subject, Pod):
            return True
        policies = self._isolating(direction, subject)
        if not policies:
            return True
        for policy in policies:
            for rule in policy.rules(direction):
                if rule.admits_port(port, protocol, dst) and rule.admits_peer(peer):
                    return True
        return False

    # --- every port at once --------------------------------------------------------------

    def connections(self, src: Endpoint, dst: Endpoint) -> ConnectionSet:
        """Every (protocol, port) allowed from ``src`` to ``dst``: egress & ingress."""
        if self._tiered is not None:
            return self._tiered.connections(src, dst)
        if _is_loopback(src, dst):
            return ConnectionSet.all()
        out = self._side_connections(Direction.EGRESS, src, dst, dst=dst)
        if not out:
            return out
        return out & self._side_connections(Direction.INGRESS, dst, src, dst=dst)

    def _side_connections(
        self, direction: Direction, subject: Endpoint, peer: Endpoint, *, dst: Endpoint
    ) -> ConnectionSet:
        if not isinstance(subject, Pod):
            return ConnectionSet.all()
        policies = self._isolating(direction, subject)
        if not policies:
            return ConnectionSet.all()
        out = ConnectionSet.none()
        for policy in policies:
            for rule in policy.rules(direction):
                if rule.admits_peer(peer):
                    out |= rule.connections_on(dst)
                    if out.is_all:
                        return out
        return out

    # --- explanations --------------------------------------------------------------------

    def explain(
        self, src: Endpoint, dst: Endpoint, *, port: int, protocol: Protocol
    ) -> Explanation:
        """The verdict for one connection with, per direction, the policies and rules behind it."""
        if self._tiered is not None:
            return self._tiered.explain(src, dst, port=port, protocol=protocol)
        check_probe_port(port)
        return Explanation(
            source=endpoint_name(src),
            destination=endpoint_name(dst),
            port=port,
            protocol=protocol,
            egress=self._verdict(Direction.EGRESS, src, dst, dst=dst, port=port, protocol=protocol),
            ingress=self._verdict(
                Direction.INGRESS, dst, src, dst=dst, port=port, protocol=protocol
            ),
            loopback=_is_loopback(src, dst),
        )

    def _verdict(
        self,
        direction: Direction,
        subject: Endpoint,
        peer: Endpoint,
        *,
        dst: Endpoint,
        port: int,
        protocol: Protocol,
    ) -> DirectionVerdict:
        name = endpoint_name(subject)

        def open_side(reason: str) -> DirectionVerdict:
            return DirectionVerdict(direction, name, False, (), True, reason=reason)

        if not isinstance(subject, Pod):
            return open_side(
                f"{name} is outside the cluster or known only by IP: no policy applies"
            )
        if subject.host_network:
            return open_side(f"{name} uses the host network: no policy selects host-network pods")
        policies = self._isolating(direction, subject)
        if not policies:
            return open_side(f"no policy selects {name} for {direction}")
        matches: list[RuleMatch] = []
        for policy in policies:
            for rule in policy.rules(direction):
                matches.extend(
                    _rule_matches(
                        policy.ref, direction, rule, peer, dst=dst, port=port, proto=protocol
                    )
                )
        refs = tuple(p.ref for p in policies)
        reason = ""
        if not matches:
            reason = _blocked_reason(direction, policies, peer, dst=dst, port=port, proto=protocol)
        return DirectionVerdict(direction, name, True, refs, bool(matches), tuple(matches), reason)


def _rule_matches(
    ref: str,
    direction: Direction,
    rule: _Rule,
    peer: Endpoint,
    *,
    dst: Endpoint,
    port: int,
    proto: Protocol,
) -> Iterator[RuleMatch]:
    """One RuleMatch per (peer, port) pair of ``rule`` that admits this connection."""
    peers: list[_Peer | None] = [p for p in rule.peers if p.matches(peer)] if rule.peers else [None]
    ports: list[_Port | None] = (
        [p for p in rule.ports if p.matches(port, proto, dst)] if rule.ports else [None]
    )
    word = "from" if direction is Direction.INGRESS else "to"
    for matched_peer, matched_port in product(peers, ports):
        peer_text = "any peer" if matched_peer is None else matched_peer.describe()
        port_text = "all ports" if matched_port is None else matched_port.describe(dst)
        yield RuleMatch(
            policy=ref,
            direction=direction,
            rule_index=rule.index,
            peer_index=None if matched_peer is None else matched_peer.index,
            port_index=None if matched_port is None else matched_port.index,
            detail=f"{word} {peer_text}; {port_text}",
        )


def _blocked_reason(
    direction: Direction,
    policies: tuple[_Policy, ...],
    peer: Endpoint,
    *,
    dst: Endpoint,
    port: int,
    proto: Protocol,
) -> str:
    """Why no rule allowed it, with the near misses a human would look for first."""
    side = direction.lower()
    word = "from" if direction is Direction.INGRESS else "to"
    peer_name = endpoint_name(peer)
    refs = ", ".join(p.ref for p in policies)
    lines = [f"no rule of {refs} allows {side} {word} {peer_name} on {proto} {port}"]
    for policy in policies:
        rules = policy.rules(direction)
        if not rules:
            lines.append(f"{policy.ref} has no {side} rules: it denies all {side}")
        for rule in rules:
            if rule.admits_peer(peer):
                lines.append(
                    f"{policy.ref} {side}[{rule.index}] admits {peer_name} "
                    f"only on {rule.describe_ports(dst)}"
                )
    return "\n".join(lines)
