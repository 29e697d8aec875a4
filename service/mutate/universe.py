"""The scenario's pod universe: every kind of pod its namespaces could hold, one of each.

Two pods are of one *kind* when no policy of the scenario (nor any mutant of
one) can tell them apart: same namespace, same labels as the selectors see
them (:meth:`Vocabulary.canonical`) and the same numbers behind the port names
rules use. The universe holds one representative pod per kind, from

- the planned layout (targets and probe pods), and
- every searched label set (:func:`candidate_label_sets`) in every declared
  namespace, once without ports and, when rules name ports, once serving the
  targets' ports of those names;

and probes one port per stretch of ports the rules treat alike, on every
protocol. A verdict tensor ``[probe, source kind, destination kind]`` says
whether a pod of one kind reaches a *different* pod of the other kind (a pod
reaching itself is loopback, always allowed, and never in it).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from service.mutate.vocabulary import Vocabulary, pod_selectors
from service.policy.calico.model import CalicoEntry
from service.policy.classes import BoolArray
from service.policy.model import (
    ClusterState,
    ContainerPort,
    Labels,
    LabelSelector,
    Namespace,
    NetworkPolicy,
    Operator,
    Pod,
    Protocol,
)
from service.policy.truthtable import PortProbe, compute_truth_table
from service.scenario.model import Scenario
from service.scenario.plan import Layout, PodSpec

__all__ = [
    "Kind",
    "Universe",
    "build_universe",
    "candidate_label_sets",
    "kind_of",
    "simplicity",
]

# Booleans in one verdict tensor (bytes too): one per version and one per mutant are alive.
MAX_TENSOR_CELLS = 32 * 1024 * 1024

# (namespace, labels as selectors see them, numbers behind the rule port names)
Kind = tuple[str, Labels, tuple[int, ...]]
_NO_PORT = -1


@dataclass(frozen=True, slots=True, eq=False)
class Universe:
    """One representative pod per kind, the probed ports, and who stands for which pods.

    ``members[u]``: refs of the layout pods of kind ``u`` (empty for a searched
    label set no layout pod has). ``target_ports``: every port a target
    declares, each (number, protocol) once, the first name kept.
    """

    vocabulary: Vocabulary
    kinds: tuple[Kind, ...]
    pods: tuple[Pod, ...]
    members: tuple[tuple[str, ...], ...]
    index: Mapping[Kind, int]
    probes: tuple[PortProbe, ...]
    probe_index: Mapping[tuple[int, Protocol], int]
    label_sets: tuple[Labels, ...]
    target_ports: tuple[ContainerPort, ...]
    exhaustive: bool
    # Pods already looked up (suggestions plan the same pods many times over).
    _known: dict[tuple[str, Labels, tuple[ContainerPort, ...]], int] = field(
        default_factory=dict, repr=False
    )

    @property
    def size(self) -> int:
        return len(self.kinds)

    def index_of(self, pod: PodSpec) -> int:
        """The kind of a planned pod, -1 when the universe has none like it."""
        return self.kind_index(pod.namespace, pod.labels, pod.ports)

    def kind_index(self, namespace: str, labels: Labels, ports: tuple[ContainerPort, ...]) -> int:
        """The kind of a pod with these labels and ports, -1 when the universe has none."""
        key = (namespace, labels, ports)
        found = self._known.get(key)
        if found is None:
            kind = kind_of(self.vocabulary, namespace, labels, ports)
            found = self._known[key] = self.index.get(kind, -1)
        return found

    def tensor(
        self, namespaces: Sequence[Namespace], policies: Sequence[NetworkPolicy]
    ) -> BoolArray:
        """(K, U, U) bool: on probe k, a pod of kind s may connect to another pod of kind d."""
        state = ClusterState(namespaces=tuple(namespaces), pods=self.pods, policies=tuple(policies))
        table = compute_truth_table(state, self.probes)
        kind_class = table.pod_class.astype(np.intp)
        by_class = table.class_allowed[:, kind_class]
        allowed: BoolArray = by_class[:, :, kind_class]
        return allowed


def build_universe(
    scenario: Scenario,
    layout: Layout,
    vocabulary: Vocabulary,
    policy_sets: Sequence[Sequence[NetworkPolicy]],
    *,
    max_label_sets: int,
    max_tensor_cells: int = MAX_TENSOR_CELLS,
) -> Universe:
    """The universe of ``scenario`` for the policies in ``policy_sets`` (see the module doc).

    At most ``max_label_sets`` label sets per namespace are searched, fewer when the
    verdict tensors would exceed ``max_tensor_cells`` booleans (then the simplest
    ones, and the universe is not exhaustive).
    """
    target_ports = _target_ports(scenario)
    pods: list[Pod] = []
    members: list[list[str]] = []
    index: dict[Kind, int] = {}

    def add(pod: Pod, ref: str | None) -> None:
        kind = kind_of(vocabulary, pod.namespace, pod.labels, pod.ports)
        found = index.get(kind)
        if found is None:
            found = index[kind] = len(pods)
            pods.append(pod)
            members.append([])
        if ref is not None:
            members[found].append(ref)

    for spec in layout.pods:
        add(Pod(spec.namespace, spec.name, spec.labels, spec.ports), spec.ref)
    flavours: list[tuple[ContainerPort, ...]] = [()]
    # The only ports that set pods apart are those rules name: a second flavour serves them.
    named = tuple(cp for cp in target_ports if (cp.name, cp.protocol) in vocabulary.named_ports)
    if named:
        flavours.append(named)
    probes = tuple(PortProbe(n, proto) for proto in Protocol for n in vocabulary.points)
    # A verdict tensor has probes x kinds x kinds cells: bound the kinds so it fits.
    most_kinds = math.isqrt(max_tensor_cells // max(1, len(probes)))
    room = max(1, (most_kinds - len(pods)) // (len(scenario.namespaces) * len(flavours)))
    seen = [vocabulary.canonical(p.labels) for p in layout.pods]
    label_sets, exhaustive = candidate_label_sets(
        vocabulary, policy_sets, seen, limit=min(max_label_sets, room)
    )
    if len(label_sets) > room:
        label_sets, exhaustive = label_sets[:room], False
    serial = itertools.count()
    for ns in scenario.namespaces:
        for labels in label_sets:
            for ports in flavours:
                # The name only has to be unique; a pod's name is invisible to policies.
                add(Pod(ns.name, f"universe-{next(serial)}", labels, ports), None)

    kinds = [kind_of(vocabulary, p.namespace, p.labels, p.ports) for p in pods]
    return Universe(
        vocabulary=vocabulary,
        kinds=tuple(kinds),
        pods=tuple(pods),
        members=tuple(tuple(m) for m in members),
        index=index,
        probes=probes,
        probe_index={(int(p.port), p.protocol): k for k, p in enumerate(probes)},
        label_sets=label_sets,
        target_ports=target_ports,
        exhaustive=exhaustive and not vocabulary.calico,
    )


def kind_of(
    vocabulary: Vocabulary, namespace: str, labels: Labels, ports: Sequence[ContainerPort]
) -> Kind:
    """What policies can see of a pod: namespace, selector view of labels, named port numbers."""
    signature = tuple(
        next((cp.port for cp in ports if cp.name == name and cp.protocol is proto), _NO_PORT)
        for name, proto in sorted(vocabulary.named_ports)
    )
    return namespace, vocabulary.canonical(labels), signature


def _target_ports(scenario: Scenario) -> tuple[ContainerPort, ...]:
    """Every port some target declares, once per (number, protocol) and per name."""
    out: list[ContainerPort] = []
    numbers: set[tuple[int, Protocol]] = set()
    names: set[tuple[str, Protocol]] = set()
    for target in scenario.targets:
        for port in target.ports:
            if (port.port, port.protocol) in numbers:
                continue
            numbers.add((port.port, port.protocol))
            name = port.name
            if name is not None and (name, port.protocol) in names:
                name = None
            if name is not None:
                names.add((name, port.protocol))
            out.append(ContainerPort(port.port, port.protocol, name))
    return tuple(out)


def simplicity(labels: Labels) -> tuple[int, tuple[tuple[str, str], ...]]:
    """Orders label sets simplest first: fewer labels, then by key and value."""
    return len(labels), tuple(labels.items())


def candidate_label_sets(
    vocabulary: Vocabulary,
    policy_sets: Sequence[Sequence[NetworkPolicy]],
    seen: Sequence[Labels],
    *,
    limit: int,
) -> tuple[tuple[Labels, ...], bool]:
    """The label sets to search, simplest first, and whether they are every one selectors
    can tell apart.

    Every combination of (absent, each named value, one unnamed value) over the
    keys pod selectors read, when there are at most ``limit``; otherwise, for each
    selector, a label set it selects and that set with each requirement broken in
    turn (not exhaustive). Both include ``seen`` (the layout's label sets).
    """
    domains = [
        (key, (None, *sorted(values), vocabulary.other(key)))
        for key, values in vocabulary.pod_values.items()
    ]
    count = 1
    for _, domain in domains:
        count *= len(domain)
    found: set[Labels] = set(seen) | {Labels()}
    exhaustive = count <= limit
    if exhaustive:
        for combo in itertools.product(*(domain for _, domain in domains)):
            found.add(
                Labels(
                    (key, value) for (key, _), value in zip(domains, combo, strict=True) if value
                )
            )
    else:
        for policy in (p for ps in policy_sets for p in ps if not isinstance(p, CalicoEntry)):
            for selector in pod_selectors(policy):
                found.update(vocabulary.canonical(labels) for labels in _near(selector, vocabulary))
    return tuple(sorted(found, key=simplicity)), exhaustive


def _near(selector: LabelSelector, vocabulary: Vocabulary) -> Iterator[Labels]:
    """A label set ``selector`` matches, then that set with each requirement broken."""
    base: dict[str, str] = dict(selector.match_labels)
    for req in selector.match_expressions:
        if req.operator is Operator.IN and req.values:
            base.setdefault(req.key, min(req.values))
        elif req.operator is Operator.EXISTS:
            base.setdefault(req.key, vocabulary.other(req.key))
    yield Labels(base)
    for key in selector.match_labels:
        yield Labels({**base, key: vocabulary.other(key)})
        yield Labels((k, v) for k, v in base.items() if k != key)
    for req in selector.match_expressions:
        without = Labels((k, v) for k, v in base.items() if k != req.key)
        if req.operator in (Operator.IN, Operator.EXISTS):
            yield without
        elif req.values:
            yield without.with_label(req.key, min(req.values))
        else:
            yield without.with_label(req.key, vocabulary.other(req.key))
