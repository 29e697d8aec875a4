"""Per-class vectors for Calico rules: who a selector, an entity, a rule, a policy matches.

Every Calico rule's match is rank one per probe: the source side (source
entity, source ports, ipVersion) depends only on the source class, the
destination side (destination entity, ports on the probed number, protocol)
only on the destination class and the probe. :class:`ClassVectors` gives
those two sides as boolean vectors over the pod classes, evaluating Calico
selectors column-wise (:class:`~service.policy.calico.columns.SelectorTable`)
over the labels Calico gives each class's endpoint, plus the nets of the
network sets a selector matches. :func:`class_features` says what the classes
must tell apart for those vectors to be exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from service.policy.calico.columns import SelectorTable
from service.policy.calico.evaluate import CompiledPolicy, TieredEvaluator
from service.policy.calico.model import CalicoRule, EntityRule, NamedPort, PortRange
from service.policy.calico.rules import (
    PROBE_PROTOCOLS,
    CompiledEntity,
    CompiledRule,
    backs,
    service_ports,
)
from service.policy.calico.scope import derived_key, projected_views
from service.policy.calico.selector import Selector
from service.policy.classes import ABSENT, BoolArray, IntArray, PodClasses
from service.policy.classes import NamedPort as PortName
from service.policy.model import ClusterState, Direction, IPBlock, IPNetwork, Pod, Protocol

__all__ = ["ClassFeatures", "ClassVectors", "class_features", "kubernetes_vectors"]


@dataclass(frozen=True, slots=True)
class ClassFeatures:
    """What Calico rules observe of a pod beyond Kubernetes selectors: the class key's extras."""

    named_ports: frozenset[PortName]
    label_keys: frozenset[str]  # pod label keys some selector reads
    blocks: tuple[IPBlock, ...]
    service_accounts: bool
    selector_keys: frozenset[str] = frozenset()  # every key, the derived ones too


def _entity_features(
    entity: CompiledEntity,
    protocols: Sequence[Protocol],
    names: set[PortName],
    keys: set[str],
    nets: list[IPNetwork],
) -> None:
    found = entity.entity
    for selector in (entity.positive, entity.negative):
        if selector is not None:
            keys.update(selector.keys())
    nets.extend(found.nets)
    nets.extend(found.not_nets)
    for match in (*found.ports, *found.not_ports):
        if isinstance(match, NamedPort):
            names.update((match.name, p) for p in protocols)
    if entity.service is not None:
        keys.update(entity.service.selector)
        for sp in entity.service.ports:
            if isinstance(sp.target_port, str):
                names.add((sp.target_port, sp.protocol))


def kubernetes_vectors(evaluator: TieredEvaluator) -> bool:
    """Whether Kubernetes policies may use the Kubernetes vectors.

    They may unless a namespaced NetworkSet exists: their translated selectors
    are scoped to namespaces, so only a namespaced set could add IPs to what
    their peers match; a GlobalNetworkSet never can.
    """
    return all(found.namespace is None for found in evaluator.model.network_sets)


def class_features(evaluator: TieredEvaluator) -> ClassFeatures:
    """The extras the pod classes of ``evaluator``'s state need to stay exact."""
    names: set[PortName] = set()
    keys: set[str] = set()
    nets: list[IPNetwork] = []
    native = kubernetes_vectors(evaluator)
    for _, policies in evaluator.compiled_tiers:
        for policy in policies:
            if native and policy.kubernetes is not None:
                continue  # the classes already tell apart what Kubernetes policies read
            keys.update(policy.selector.keys())
            for rule in (*policy.rules(Direction.INGRESS), *policy.rules(Direction.EGRESS)):
                protocols = [p for p in PROBE_PROTOCOLS if rule.protocol_ok(p)]
                for entity in (rule.source, rule.destination):
                    _entity_features(entity, protocols, names, keys, nets)
    for found in evaluator.model.network_sets:
        nets.extend(found.nets)
    accounts = any(k.startswith("pcsa.") or k == "projectcalico.org/serviceaccount" for k in keys)
    return ClassFeatures(
        named_ports=frozenset(names),
        label_keys=frozenset(k for k in keys if not derived_key(k)),
        blocks=tuple(dict.fromkeys(IPBlock(n) for n in nets)),
        service_accounts=accounts,
        selector_keys=frozenset(keys),
    )


class ClassVectors:
    """Per-class (and per-probe) vectors for selectors, entities and rules, cached."""

    def __init__(
        self,
        evaluator: TieredEvaluator,
        state: ClusterState,
        classes: PodClasses,
        probes: Sequence[Protocol],
        number: IntArray,
        features: ClassFeatures,
    ) -> None:
        self.evaluator = evaluator
        self.classes = classes
        self.probes = tuple(probes)
        self.number = number
        context = evaluator.context
        self.reps: list[Pod] = [state.pods[int(r)] for r in classes.representative]
        # Only the keys some selector reads: the rest cannot change an answer.
        keys = features.selector_keys
        self.table = SelectorTable(projected_views(self.reps, context.namespace_labels, keys))
        self.endpoint: BoolArray = ~classes.class_host_network
        self.has_ip = np.array([p.ip is not None for p in self.reps], dtype=np.bool_)
        self.version = np.array(
            [0 if p.ip is None else p.ip.version for p in self.reps], dtype=np.int8
        )
        self._selected: dict[Selector, BoolArray] = {}
        self._rules: dict[tuple[CalicoRule, str | None], tuple[BoolArray, BoolArray]] = {}
        self._subjects: dict[int, BoolArray] = {}
        self._admits: dict[tuple[EntityRule, str | None], BoolArray] = {}

    def nets(self, nets: Sequence[IPNetwork]) -> BoolArray:
        out = np.zeros(self.classes.count, dtype=np.bool_)
        for net in nets:
            out |= self.classes.ip_member[:, self.classes.blocks[IPBlock(net)]]
        return out

    def selected(self, selector: Selector) -> BoolArray:
        """(C,) classes an entity selector matches: endpoints by labels, any IP by network sets."""
        found = self._selected.get(selector)
        if found is None:
            found = self.table.select(selector) & self.endpoint
            for held in self.evaluator.context.sets.matching(selector):
                found |= self.nets(held.nets)
            self._selected[selector] = found
        return found

    def subject(self, policy: CompiledPolicy) -> BoolArray:
        """(C,) classes ``policy`` applies to (host-network classes never)."""
        key = id(policy)
        found = self._subjects.get(key)
        if found is None:
            found = self._subjects[key] = self.table.select(policy.selector) & self.endpoint
        return found

    def admits(self, entity: CompiledEntity) -> BoolArray:
        key = (entity.entity, entity.namespace)
        cached = self._admits.get(key)
        if cached is None:
            cached = self._admits[key] = self._admits_now(entity)
        return cached

    def _admits_now(self, entity: CompiledEntity) -> BoolArray:
        found = entity.entity
        out = np.ones(self.classes.count, dtype=np.bool_)
        if found.nets:
            out &= self.nets(found.nets)
        if found.not_nets:
            out &= self.has_ip & ~self.nets(found.not_nets)
        if entity.positive is not None:
            out &= self.selected(entity.positive)
        if entity.negative is not None:
            out &= ~self.selected(entity.negative)
        if entity.missing_service:
            out[:] = False
        elif entity.service is not None:
            service = entity.service
            out &= np.array([backs(service, p) for p in self.reps], dtype=np.bool_)
        return out

    def source_ports(self, entity: CompiledEntity) -> BoolArray:
        if not entity.entity.ports and not entity.entity.not_ports:
            return np.ones(self.classes.count, dtype=np.bool_)
        return np.array([entity.source_ports_ok(p) for p in self.reps], dtype=np.bool_)

    def destination_ports(self, entity: CompiledEntity) -> BoolArray:
        """(K, C): the destination's port criteria hold for probe k on class c."""
        found = entity.entity
        out = np.ones((len(self.probes), self.classes.count), dtype=np.bool_)
        for k, protocol in enumerate(self.probes):
            number = self.number[k]
            if found.ports:
                out[k] &= self._port_hits(found.ports, protocol, number)
            if found.not_ports:
                out[k] &= ~self._port_hits(found.not_ports, protocol, number)
            if entity.service is not None:
                service = entity.service
                out[k] &= np.array(
                    [
                        (protocol, int(n)) in set(service_ports(service, p))
                        for p, n in zip(self.reps, number, strict=True)
                    ],
                    dtype=np.bool_,
                )
        return out

    def _port_hits(
        self, matches: Sequence[PortRange | NamedPort], protocol: Protocol, number: IntArray
    ) -> BoolArray:
        out = np.zeros(self.classes.count, dtype=np.bool_)
        for match in matches:
            if isinstance(match, PortRange):
                out |= (number >= match.lo) & (number <= match.hi)
            else:
                # Only the protocols a rule can match were registered; others cannot hit.
                named = self.classes.named_ports.get((match.name, protocol))
                if named is not None:
                    out |= (named == number) & (named != ABSENT)
        return out

    def rule(self, rule: CompiledRule) -> tuple[BoolArray, BoolArray]:
        """(C,) sources and (K, C) destinations of ``rule``: it matches (s, d, k) iff both."""
        key = (rule.rule, rule.namespace)
        found = self._rules.get(key)
        if found is None:
            source = self.admits(rule.source) & self.source_ports(rule.source)
            destination = self.admits(rule.destination)[None, :] & self.destination_ports(
                rule.destination
            )
            protocol = np.array([rule.protocol_ok(p) for p in self.probes], dtype=np.bool_)
            destination &= protocol[:, None]
            version = rule.rule.ip_version
            if version is not None:
                fits = (self.version == 0) | (self.version == version)
                source = source & fits
                destination &= fits[None, :]
            found = self._rules[key] = (source, destination)
        return found
