"""Generating single mutations of a scenario: each one small change to one policy of one
version, or to one label of one namespace (in force in every version).

The catalogue (docs/mutation.md has the reasoning):

- drop a policy; drop a rule; drop a peer (the last one: the rule admits everyone);
- drop the podSelector or the namespaceSelector of a peer that has both;
- empty a selector (a peer's, or the policy's own podSelector) to ``{}``;
- drop one matchLabels entry or matchExpressions entry of a selector with two or more;
- widen ports: drop a rule's port list, drop a port (every port of its protocol),
  or widen a number by one (``80`` -> ``80-81``, ``80-90`` -> ``80-91``);
- swap a port's protocol (TCP <-> UDP, SCTP -> TCP);
- flip policyTypes: add the missing type, remove one of two, or swap a lone one;
- relabel a namespace on a key some namespaceSelector reads: to each other value
  the selectors name, to a value none names, or (when a selector tests only
  presence) without the key.

Only Kubernetes NetworkPolicies are mutated; Calico objects ride along unchanged.
A change that gives a policy set already produced (or the original) is generated
once; one the API server would reject is not generated.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from service.errors import FieldPath, InvalidInput
from service.mutate.model import Mutation, MutationKind
from service.mutate.vocabulary import Vocabulary, fresh_value
from service.policy.calico.model import CalicoEntry
from service.policy.checks import check_policies
from service.policy.connections import MAX_PORT
from service.policy.model import (
    NAMESPACE_NAME_LABEL,
    Direction,
    Labels,
    LabelSelector,
    NetworkPolicy,
    Peer,
    PolicyPort,
    Protocol,
    Rule,
)
from service.scenario.model import NamespaceSpec, PolicyVersion, Scenario

__all__ = ["Mutant", "generate_mutants"]

# The protocol a port is swapped to: the likeliest slip for each.
_SWAP = {Protocol.TCP: Protocol.UDP, Protocol.UDP: Protocol.TCP, Protocol.SCTP: Protocol.TCP}
_TYPE_ORDER = (Direction.INGRESS, Direction.EGRESS)


@dataclass(frozen=True, slots=True)
class Mutant:
    """A mutation with what it changes: the mutated version's whole policy list, or the
    scenario's whole namespace list (the other one None)."""

    mutation: Mutation
    policies: tuple[NetworkPolicy, ...] | None = None
    namespaces: tuple[NamespaceSpec, ...] | None = None


# (kind, path, description, the mutated policy or None to drop it)
_Change = tuple[MutationKind, FieldPath, str, NetworkPolicy | None]
_SelectorChange = tuple[MutationKind, FieldPath, str, LabelSelector]


def generate_mutants(
    scenario: Scenario, versions: Sequence[PolicyVersion], vocabulary: Vocabulary
) -> tuple[Mutant, ...]:
    """Every distinct single mutation of ``versions`` and of the namespaces, in a fixed order:
    version by version, policy by policy, field by field; then namespace relabels. Ids
    are ``m1``, ``m2``... in that order."""
    out: list[Mutant] = []

    def add(
        kind: MutationKind,
        version: str | None,
        policy: str | None,
        path: FieldPath,
        text: str,
        *,
        policies: tuple[NetworkPolicy, ...] | None = None,
        namespaces: tuple[NamespaceSpec, ...] | None = None,
    ) -> None:
        mutation = Mutation(f"m{len(out) + 1}", kind, version, policy, str(path), text)
        out.append(Mutant(mutation, policies, namespaces))

    for version in versions:
        seen: set[tuple[NetworkPolicy, ...]] = {version.policies}
        for index, policy in enumerate(version.policies):
            if isinstance(policy, CalicoEntry):
                continue
            for kind, path, text, mutated in _policy_changes(policy):
                policies = _replaced(version.policies, index, mutated)
                if policies in seen or not _valid(mutated):
                    continue
                seen.add(policies)
                add(kind, version.name, policy.ref, path, text, policies=policies)
    for kind, path, text, namespaces in _relabels(scenario, vocabulary):
        add(kind, None, None, path, text, namespaces=namespaces)
    return tuple(out)


def _replaced(
    policies: tuple[NetworkPolicy, ...], index: int, mutated: NetworkPolicy | None
) -> tuple[NetworkPolicy, ...]:
    if mutated is None:
        return policies[:index] + policies[index + 1 :]
    return (*policies[:index], mutated, *policies[index + 1 :])


def _valid(policy: NetworkPolicy | None) -> bool:
    if policy is None:
        return True
    try:
        check_policies((policy,))
    except InvalidInput:
        return False
    return True


# --- policies ------------------------------------------------------------------------------


def _policy_changes(policy: NetworkPolicy) -> Iterator[_Change]:
    spec = FieldPath(("spec",))
    yield MutationKind.DROP_POLICY, FieldPath(), f"drop policy {policy.ref}", None
    yield from _type_flips(policy, spec / "policyTypes")
    for kind, path, text, selector in _selector_changes(
        policy.pod_selector, spec / "podSelector", "the policy's podSelector"
    ):
        yield kind, path, text, replace(policy, pod_selector=selector)
    for direction in _TYPE_ORDER:
        if direction not in policy.policy_types:
            continue  # rules of an unlisted type are ignored: changing them changes nothing
        key = "ingress" if direction is Direction.INGRESS else "egress"
        rules = policy.rules(direction)
        for i, rule in enumerate(rules):
            path = spec / key / i
            dropped = rules[:i] + rules[i + 1 :]
            yield (
                MutationKind.DROP_RULE,
                path,
                f"drop {key} rule {i}",
                _with_rules(policy, direction, dropped),
            )
            for kind, at, text, new_rule in _rule_changes(rule, path, direction):
                changed = (*rules[:i], new_rule, *rules[i + 1 :])
                yield kind, at, text, _with_rules(policy, direction, changed)


def _with_rules(
    policy: NetworkPolicy, direction: Direction, rules: tuple[Rule, ...]
) -> NetworkPolicy:
    if direction is Direction.INGRESS:
        return replace(policy, ingress=rules)
    return replace(policy, egress=rules)


def _type_flips(policy: NetworkPolicy, path: FieldPath) -> Iterator[_Change]:
    old = policy.policy_types
    flips: list[frozenset[Direction]] = []
    if len(old) == 1:
        (lone,) = old
        other = Direction.EGRESS if lone is Direction.INGRESS else Direction.INGRESS
        flips += [old | {other}, frozenset({other})]
    elif len(old) == 2:
        flips += [old - {d} for d in _TYPE_ORDER]
    for new in flips:
        text = f"policyTypes {_types_text(old)} -> {_types_text(new)}"
        yield MutationKind.FLIP_POLICY_TYPES, path, text, replace(policy, policy_types=new)


def _types_text(types: frozenset[Direction]) -> str:
    return "[" + ", ".join(d.value for d in _TYPE_ORDER if d in types) + "]"


def _rule_changes(
    rule: Rule, path: FieldPath, direction: Direction
) -> Iterator[tuple[MutationKind, FieldPath, str, Rule]]:
    peers_key = "from" if direction is Direction.INGRESS else "to"
    for j, peer in enumerate(rule.peers):
        at = path / peers_key / j
        rest = rule.peers[:j] + rule.peers[j + 1 :]
        note = "" if rest else f" (the rule then admits every {_side(direction)})"
        text = f"drop {peers_key} peer {peer}{note}"
        yield MutationKind.DROP_PEER, at, text, replace(rule, peers=rest)
        for kind, where, text, new_peer in _peer_changes(peer, at):
            peers = (*rule.peers[:j], new_peer, *rule.peers[j + 1 :])
            yield kind, where, text, replace(rule, peers=peers)
    if rule.ports:
        yield (
            MutationKind.WIDEN_PORT,
            path / "ports",
            "drop the port list (every port of every protocol)",
            replace(rule, ports=()),
        )
    for j, port in enumerate(rule.ports):
        for kind, where, text, new_port in _port_changes(port, path / "ports" / j):
            ports = (*rule.ports[:j], new_port, *rule.ports[j + 1 :])
            yield kind, where, text, replace(rule, ports=ports)


def _side(direction: Direction) -> str:
    return "source" if direction is Direction.INGRESS else "destination"


def _peer_changes(
    peer: Peer, path: FieldPath
) -> Iterator[tuple[MutationKind, FieldPath, str, Peer]]:
    if peer.ip_block is not None:
        return
    ns_sel, pod_sel = peer.namespace_selector, peer.pod_selector
    if ns_sel is not None and pod_sel is not None:
        yield (
            MutationKind.DROP_SELECTOR,
            path / "namespaceSelector",
            f"drop namespaceSelector {ns_sel} (only pods of the policy's namespace)",
            replace(peer, namespace_selector=None),
        )
        yield (
            MutationKind.DROP_SELECTOR,
            path / "podSelector",
            f"drop podSelector {pod_sel} (every pod of the selected namespaces)",
            replace(peer, pod_selector=None),
        )
    if ns_sel is not None:
        for kind, at, text, sel in _selector_changes(
            ns_sel, path / "namespaceSelector", "the peer's namespaceSelector"
        ):
            yield kind, at, text, replace(peer, namespace_selector=sel)
    if pod_sel is not None:
        for kind, at, text, sel in _selector_changes(
            pod_sel, path / "podSelector", "the peer's podSelector"
        ):
            yield kind, at, text, replace(peer, pod_selector=sel)


def _selector_changes(
    selector: LabelSelector, path: FieldPath, what: str
) -> Iterator[_SelectorChange]:
    if selector.is_empty:
        return
    yield MutationKind.EMPTY_SELECTOR, path, f"empty {what} ({selector} -> {{}})", LabelSelector()
    if len(selector.match_labels) + len(selector.match_expressions) < 2:
        return  # dropping the only requirement is the same as emptying the selector
    for key, value in selector.match_labels.items():
        kept = Labels((k, v) for k, v in selector.match_labels.items() if k != key)
        smaller = replace(selector, match_labels=kept)
        yield (
            MutationKind.DROP_MATCH_LABEL,
            path / "matchLabels" / key,
            f"drop {key}={value} from {what} ({selector} -> {smaller})",
            smaller,
        )
    for i, requirement in enumerate(selector.match_expressions):
        exprs = selector.match_expressions[:i] + selector.match_expressions[i + 1 :]
        smaller = replace(selector, match_expressions=exprs)
        shown = LabelSelector(match_expressions=(requirement,))
        yield (
            MutationKind.DROP_MATCH_EXPRESSION,
            path / "matchExpressions" / i,
            f"drop expression '{shown}' from {what} ({selector} -> {smaller})",
            smaller,
        )


def _port_changes(
    port: PolicyPort, path: FieldPath
) -> Iterator[tuple[MutationKind, FieldPath, str, PolicyPort]]:
    if port.port is not None:
        yield (
            MutationKind.WIDEN_PORT,
            path / "port",
            f"widen {port} to every {port.protocol} port",
            replace(port, port=None, end_port=None),
        )
    if isinstance(port.port, int):
        top = port.port if port.end_port is None else port.end_port
        if top < MAX_PORT:
            wider = replace(port, end_port=top + 1)
            yield MutationKind.WIDEN_PORT, path / "endPort", f"widen {port} to {wider}", wider
    swapped = replace(port, protocol=_SWAP[port.protocol])
    yield MutationKind.SWAP_PROTOCOL, path / "protocol", f"swap {port} to {swapped}", swapped


# --- namespaces ----------------------------------------------------------------------------

_ABSENT = None


def _relabels(
    scenario: Scenario, vocabulary: Vocabulary
) -> Iterator[tuple[MutationKind, FieldPath, str, tuple[NamespaceSpec, ...]]]:
    """Namespace label changes a namespaceSelector can see, in declaration and key order."""
    for index, ns in enumerate(scenario.namespaces):
        for key in sorted(vocabulary.namespace_values):
            if key == NAMESPACE_NAME_LABEL:
                continue  # set by Kubernetes to the name; nobody can change it
            named = vocabulary.namespace_values[key]
            presence = key in vocabulary.namespace_presence
            current = ns.labels.get(key)
            for value in _relabel_values(current, named, presence):
                if value is _ABSENT:
                    labels = Labels((k, v) for k, v in ns.labels.items() if k != key)
                    after = f"no {key}"
                else:
                    labels = ns.labels.with_label(key, value)
                    after = f"{key}={value}"
                before = f"{key}={current}" if current is not None else f"no {key}"
                namespaces = (
                    *scenario.namespaces[:index],
                    NamespaceSpec(ns.name, labels),
                    *scenario.namespaces[index + 1 :],
                )
                yield (
                    MutationKind.RELABEL_NAMESPACE,
                    FieldPath(("namespaces", ns.name, key)),
                    f"relabel namespace {ns.name}: {before} -> {after}",
                    namespaces,
                )


def _relabel_values(
    current: str | None, named: frozenset[str], presence: bool
) -> Iterator[str | None]:
    """The values ``current`` can change to that some selector tells apart from it.

    Selectors distinguish each named value, "some other value" and, only through
    Exists/DoesNotExist, "no label": one representative of each other class.
    """
    unnamed = fresh_value(named)
    if current is not None and current not in named:
        kind: str | None = unnamed
    else:
        kind = current
    for value in sorted(named):
        if value != kind:
            yield value
    if kind != unnamed and (current is not None or presence):
        yield unnamed
    if presence and current is not None:
        yield _ABSENT
