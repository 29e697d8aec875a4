"""What the scenario's policies can tell apart: label keys and values, port numbers, port names.

A Kubernetes label selector only reads the keys it names, and for each key it
only tells apart the values it names, "some other value" and "no such label".
So the label sets worth searching are the product, over the keys pod selectors
read, of (absent, each named value, one unnamed value). Ports likewise: whether
a rule admits a port only changes at the ends of its ranges, so one port per
stretch between those ends covers every port.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from service.policy.calico.model import CalicoEntry, has_calico
from service.policy.connections import MAX_PORT, MIN_PORT
from service.policy.model import (
    Labels,
    LabelSelector,
    NetworkPolicy,
    Operator,
    Protocol,
)
from service.scenario.model import TargetSpec

__all__ = ["Vocabulary", "build_vocabulary", "fresh_value", "pod_selectors"]

UNNAMED = "other"


def fresh_value(named: Iterable[str]) -> str:
    """A label value no selector names: ``other``, or ``other-2``... when that one is named."""
    taken = set(named)
    value, n = UNNAMED, 1
    while value in taken:
        n += 1
        value = f"{UNNAMED}-{n}"
    return value


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """``pod_values``: key -> the values pod selectors name (empty for a key only tested for
    presence); ``namespace_values`` / ``namespace_presence`` the same for namespace
    selectors; ``named_ports`` every (name, protocol) a rule port may name; ``points`` one
    port number per stretch of ports the rules (and their mutants) treat alike;
    ``calico`` whether Calico objects take part (their selectors are not searched)."""

    pod_values: Mapping[str, frozenset[str]]
    namespace_values: Mapping[str, frozenset[str]]
    namespace_presence: frozenset[str]
    named_ports: frozenset[tuple[str, Protocol]]
    points: tuple[int, ...]
    calico: bool

    def other(self, key: str) -> str:
        """The one unnamed value of ``key`` used in searched label sets."""
        return fresh_value(self.pod_values.get(key, ()))

    def canonical(self, labels: Labels) -> Labels:
        """``labels`` as Kubernetes selectors see them: read keys only, unnamed values as one.

        With Calico objects present this is ``labels`` itself: Calico selectors
        read other keys and test values in other ways.
        """
        if self.calico:
            return labels
        out = {}
        for key, value in labels.items():
            named = self.pod_values.get(key)
            if named is None:
                continue
            out[key] = value if value in named else self.other(key)
        return Labels(out)


def pod_selectors(policy: NetworkPolicy) -> Iterator[LabelSelector]:
    yield policy.pod_selector
    for rule in (*policy.ingress, *policy.egress):
        for peer in rule.peers:
            if peer.pod_selector is not None:
                yield peer.pod_selector


def _namespace_selectors(policy: NetworkPolicy) -> Iterator[LabelSelector]:
    for rule in (*policy.ingress, *policy.egress):
        for peer in rule.peers:
            if peer.namespace_selector is not None:
                yield peer.namespace_selector


def _read(
    selectors: Iterable[LabelSelector], values: dict[str, set[str]], presence: set[str]
) -> None:
    for selector in selectors:
        for key, value in selector.match_labels.items():
            values.setdefault(key, set()).add(value)
        for req in selector.match_expressions:
            values.setdefault(req.key, set()).update(req.values)
            if req.operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST):
                presence.add(req.key)


def build_vocabulary(
    policy_sets: Sequence[Sequence[NetworkPolicy]], targets: Sequence[TargetSpec]
) -> Vocabulary:
    """The vocabulary of the given policy lists (the originals: mutants only drop requirements
    and widen ports, and the points below cover their new ends too)."""
    pod: dict[str, set[str]] = {}
    namespace: dict[str, set[str]] = {}
    presence: set[str] = set()
    names: set[tuple[str, Protocol]] = set()
    bounds: set[int] = {MIN_PORT}
    policies = [p for policies in policy_sets for p in policies if not isinstance(p, CalicoEntry)]
    for policy in policies:
        _read(pod_selectors(policy), pod, set())
        _read(_namespace_selectors(policy), namespace, presence)
        for rule in (*policy.ingress, *policy.egress):
            for pp in rule.ports:
                if isinstance(pp.port, str):
                    # A swapped protocol keeps the name: every protocol may be asked for.
                    names.update((pp.port, proto) for proto in Protocol)
                elif isinstance(pp.port, int):
                    top = pp.port if pp.end_port is None else pp.end_port
                    # The range's ends, and the end of the range widened by one.
                    bounds.update((pp.port, top + 1, top + 2))
    for target in targets:
        for port in target.ports:
            bounds.update((port.port, port.port + 1))
    return Vocabulary(
        pod_values={k: frozenset(v) for k, v in sorted(pod.items())},
        namespace_values={k: frozenset(v) for k, v in sorted(namespace.items())},
        namespace_presence=frozenset(presence),
        named_ports=frozenset(names),
        points=tuple(sorted(b for b in bounds if MIN_PORT <= b <= MAX_PORT)),
        calico=any(has_calico(policies) for policies in policy_sets),
    )
