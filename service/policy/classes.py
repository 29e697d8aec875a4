"""Pod equivalence classes: pods that no NetworkPolicy rule can tell apart.

The truth table is computed over classes, not pods. Two pods are in one class
when they share everything a Kubernetes NetworkPolicy can observe:

- the namespace (policies select in their own namespace; peers scope by it);
- their labels, projected onto the keys some pod selector mentions (a selector
  only ever reads the keys it names, so other labels, such as
  ``pod-template-hash`` or a StatefulSet's per-pod name, cannot matter);
- the numbers behind the named ports that some rule or probe names, resolved by
  name and protocol as Kubernetes does;
- which of the policies' distinct ipBlocks contain the pod's IP;
- the hostNetwork flag (such pods are never selected by a podSelector and never
  matched by pod or namespace selector peers; their labels are ignored).

Classes are numbered in namespace order, so the classes of one namespace form a
contiguous slice (:attr:`PodClasses.ns_start`): a policy only ever selects pods
of its own namespace, and the truth table works namespace block by block.

Selectors are evaluated once per distinct selector over the distinct label sets
(:class:`LabelTable`), never once per pod.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from service.policy.model import (
    NAMESPACE_NAME_LABEL,
    ClusterState,
    ContainerPort,
    IPAddress,
    IPBlock,
    IPNetwork,
    Labels,
    LabelSelector,
    NetworkPolicy,
    Operator,
    Pod,
    Protocol,
)

__all__ = ["LabelTable", "NamedPort", "PodClasses", "build_pod_classes", "policy_ip_blocks"]

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int32]

# A named container port as rules and probes refer to it: (name, protocol).
NamedPort = tuple[str, Protocol]

# Marks "absent" in the integer columns (label value codes, named-port numbers).
ABSENT = -1


class LabelTable:
    """Distinct label sets stored by column, so one selector is evaluated over all at once.

    Each key gets an int32 column of value codes (``ABSENT`` where the key is
    missing); a selector becomes a handful of vector comparisons. Results are
    cached per selector, since thousands of policies share few selectors.
    """

    __slots__ = ("_cache", "_codes", "_columns", "_size")

    def __init__(self, label_sets: Sequence[Labels]) -> None:
        self._size = len(label_sets)
        self._codes: dict[str, dict[str, int]] = {}
        self._columns: dict[str, IntArray] = {}
        self._cache: dict[LabelSelector, BoolArray] = {}
        for row, labels in enumerate(label_sets):
            for key, value in labels.items():
                codes = self._codes.setdefault(key, {})
                column = self._columns.get(key)
                if column is None:
                    column = np.full(self._size, ABSENT, dtype=np.int32)
                    self._columns[key] = column
                column[row] = codes.setdefault(value, len(codes))

    def __len__(self) -> int:
        return self._size

    def select(self, selector: LabelSelector) -> BoolArray:
        """Which label sets ``selector`` matches, as a read-only (L,) bool vector."""
        cached = self._cache.get(selector)
        if cached is None:
            cached = self._evaluate(selector)
            cached.setflags(write=False)
            self._cache[selector] = cached
        return cached

    def _evaluate(self, selector: LabelSelector) -> BoolArray:
        result = np.ones(self._size, dtype=np.bool_)
        for key, value in selector.match_labels.items():
            result &= self._column(key) == self._code(key, value)
        for req in selector.match_expressions:
            column = self._column(req.key)
            match req.operator:
                case Operator.IN:
                    result &= np.isin(column, self._value_codes(req.key, req.values))
                case Operator.NOT_IN:
                    # An absent key has code ABSENT, never in the list: NotIn matches it.
                    result &= ~np.isin(column, self._value_codes(req.key, req.values))
                case Operator.EXISTS:
                    result &= column != ABSENT
                case Operator.DOES_NOT_EXIST:
                    result &= column == ABSENT
        return result

    def _column(self, key: str) -> IntArray:
        column = self._columns.get(key)
        if column is None:
            return np.full(self._size, ABSENT, dtype=np.int32)
        return column

    def _code(self, key: str, value: str) -> int:
        # A value no label set carries gets a code no row has (ABSENT - 1).
        return self._codes.get(key, {}).get(value, ABSENT - 1)

    def _value_codes(self, key: str, values: Iterable[str]) -> IntArray:
        codes = self._codes.get(key, {})
        return np.array([codes[v] for v in values if v in codes], dtype=np.int32)


@dataclass(frozen=True, slots=True, eq=False)
class PodClasses:
    """Pods grouped into equivalence classes, with per-class columns the engine needs.

    ``C`` classes, ``P`` pods, ``N`` namespaces, ``B`` distinct ipBlocks.
    """

    namespaces: tuple[str, ...]  # namespace id -> name
    namespace_ids: dict[str, int]
    namespace_table: LabelTable  # one row per namespace id, with metadata.name
    label_table: LabelTable  # one row per distinct projected pod label set
    pod_class: IntArray  # (P,) pod -> class
    representative: IntArray  # (C,) the first pod of each class
    class_namespace: IntArray  # (C,) namespace id, non-decreasing
    class_labels: IntArray  # (C,) row of label_table
    class_host_network: BoolArray  # (C,)
    ns_start: npt.NDArray[np.intp]  # (N + 1,) classes of namespace n: ns_start[n]:ns_start[n+1]
    blocks: dict[IPBlock, int]  # distinct ipBlock -> column of ip_member
    ip_member: BoolArray  # (C, B) the class's IP lies in the block (minus its excepts)
    named_ports: dict[NamedPort, IntArray]  # (C,) number behind the name, ABSENT if none

    @property
    def count(self) -> int:
        return len(self.representative)

    def namespace_slice(self, namespace_id: int) -> slice:
        return slice(int(self.ns_start[namespace_id]), int(self.ns_start[namespace_id + 1]))

    def select_pods(self, selector: LabelSelector) -> BoolArray:
        """(C,) classes whose labels match; hostNetwork classes never do."""
        return self.label_table.select(selector)[self.class_labels] & ~self.class_host_network

    def select_namespaces(self, selector: LabelSelector) -> BoolArray:
        """(C,) classes in a namespace whose labels match; hostNetwork classes never do."""
        in_ns = self.namespace_table.select(selector)[self.class_namespace]
        return in_ns & ~self.class_host_network


def policy_ip_blocks(policies: Iterable[NetworkPolicy]) -> Iterator[IPBlock]:
    for policy in policies:
        for rule in (*policy.ingress, *policy.egress):
            for peer in rule.peers:
                if peer.ip_block is not None:
                    yield peer.ip_block


def _selector_keys(policies: Iterable[NetworkPolicy]) -> frozenset[str]:
    """Every pod label key some pod selector reads: the projection that keeps classes exact."""
    selectors: list[LabelSelector] = []
    for policy in policies:
        selectors.append(policy.pod_selector)
        for rule in (*policy.ingress, *policy.egress):
            selectors.extend(p.pod_selector for p in rule.peers if p.pod_selector is not None)
    keys: set[str] = set()
    for selector in selectors:
        keys.update(selector.match_labels)
        keys.update(req.key for req in selector.match_expressions)
    return frozenset(keys)


def _namespaces(state: ClusterState) -> tuple[tuple[str, ...], list[Labels]]:
    """Every namespace known or referenced, sorted, with the labels selectors see.

    A namespace a pod or policy lives in but absent from ``state.namespaces``
    still carries kubernetes.io/metadata.name, as the API server would set it.
    """
    labels = state.namespace_labels()
    for name in (*(p.namespace for p in state.pods), *(p.namespace for p in state.policies)):
        # "" is a cluster-wide (Calico global) object, not a namespace.
        if name and name not in labels:
            labels[name] = Labels({NAMESPACE_NAME_LABEL: name})
    names = tuple(sorted(labels))
    return names, [labels[n] for n in names]


def _ip_membership(pods: Sequence[Pod], blocks: Sequence[IPBlock]) -> BoolArray:
    """(P, B): pod IP inside block b and outside its excepts. IPv4 is vectorised."""
    member = np.zeros((len(pods), len(blocks)), dtype=np.bool_)
    if not blocks:
        return member
    v4_rows: list[int] = []
    v4_addrs: list[int] = []
    v6: list[tuple[int, IPAddress]] = []
    for row, pod in enumerate(pods):
        if isinstance(pod.ip, ipaddress.IPv4Address):
            v4_rows.append(row)
            v4_addrs.append(int(pod.ip))
        elif pod.ip is not None:
            v6.append((row, pod.ip))
    rows = np.array(v4_rows, dtype=np.intp)
    addrs = np.array(v4_addrs, dtype=np.uint32)
    for col, block in enumerate(blocks):
        if block.cidr.version == 4:
            inside = _in_v4(addrs, block.cidr)
            for ex in block.excepts:
                if ex.version == 4:
                    inside &= ~_in_v4(addrs, ex)
            member[rows, col] = inside
        # IPv6 pods are rare: the exact per-address check is cheap enough.
        for row, ip in v6:
            member[row, col] = block.contains(ip)
    return member


def _in_v4(addrs: npt.NDArray[np.uint32], net: IPNetwork) -> BoolArray:
    mask = np.uint32(int(net.netmask))
    inside: BoolArray = (addrs & mask) == np.uint32(int(net.network_address))
    return inside


def build_pod_classes(
    state: ClusterState,
    *,
    named_ports: Iterable[NamedPort] = (),
    label_keys: Iterable[str] = (),
    blocks: Iterable[IPBlock] = (),
    service_accounts: bool = False,
) -> PodClasses:
    """Group ``state.pods`` into equivalence classes.

    ``named_ports`` are the (name, protocol) pairs some rule or probe refers to;
    only their numbers enter the class key. ``label_keys`` and ``blocks`` add
    what other selectors read and other CIDRs test (Calico's), and
    ``service_accounts`` puts the pod's service account in the key.
    """
    pods = state.pods
    names, ns_label_sets = _namespaces(state)
    namespace_ids = {name: i for i, name in enumerate(names)}
    keys = _selector_keys(state.policies) | frozenset(label_keys)
    wanted = tuple(sorted(set(named_ports)))
    blocks = list(dict.fromkeys((*policy_ip_blocks(state.policies), *blocks)))
    accounts: dict[str, int] = {}

    member = _ip_membership(pods, blocks)
    if blocks and pods:
        _, signature = np.unique(member, axis=0, return_inverse=True)
        signature = signature.reshape(-1)
    else:
        signature = np.zeros(len(pods), dtype=np.intp)

    label_ids: dict[Labels, int] = {Labels(): 0}
    projected: dict[Labels, int] = {}
    port_ids: dict[tuple[int, ...], int] = {}
    port_rows: dict[tuple[ContainerPort, ...], int] = {}
    class_ids: dict[tuple[int, int, int, int, bool, int], int] = {}
    pod_class_first = np.empty(len(pods), dtype=np.int32)
    for index, pod in enumerate(pods):
        if pod.host_network:
            label_id = 0
        else:
            label_id = projected.get(pod.labels, -1)
            if label_id < 0:
                kept = Labels((k, v) for k, v in pod.labels.items() if k in keys)
                label_id = label_ids.setdefault(kept, len(label_ids))
                projected[pod.labels] = label_id
        port_id = port_rows.get(pod.ports, -1)
        if port_id < 0:
            numbers = tuple(_named_number(pod, name, proto) for name, proto in wanted)
            port_id = port_ids.setdefault(numbers, len(port_ids))
            port_rows[pod.ports] = port_id
        key = (
            namespace_ids[pod.namespace],
            label_id,
            port_id,
            int(signature[index]),
            pod.host_network,
            accounts.setdefault(pod.service_account, len(accounts)) if service_accounts else 0,
        )
        pod_class_first[index] = class_ids.setdefault(key, len(class_ids))

    # Renumber classes in namespace order (stable), so each namespace is one slice.
    class_keys = list(class_ids)
    order = sorted(range(len(class_keys)), key=lambda c: (class_keys[c][0], c))
    renumber = np.empty(len(class_keys), dtype=np.int32)
    renumber[order] = np.arange(len(class_keys), dtype=np.int32)
    pod_class = renumber[pod_class_first]
    sorted_keys = [class_keys[c] for c in order]

    class_namespace = np.array([k[0] for k in sorted_keys], dtype=np.int32)
    class_port_ids = np.array([k[2] for k in sorted_keys], dtype=np.intp)
    representative = np.full(len(sorted_keys), len(pods), dtype=np.int32)
    # The first pod of each class: a minimum over pods, scattered by class.
    np.minimum.at(representative, pod_class, np.arange(len(pods), dtype=np.int32))

    port_table = np.array(list(port_ids), dtype=np.int32).reshape(len(port_ids), len(wanted))
    per_name = {
        name: np.ascontiguousarray(port_table[class_port_ids, col])
        for col, name in enumerate(wanted)
    }

    return PodClasses(
        namespaces=names,
        namespace_ids=namespace_ids,
        namespace_table=LabelTable(ns_label_sets),
        label_table=LabelTable(list(label_ids)),
        pod_class=pod_class,
        representative=representative,
        class_namespace=class_namespace,
        class_labels=np.array([k[1] for k in sorted_keys], dtype=np.int32),
        class_host_network=np.array([k[4] for k in sorted_keys], dtype=np.bool_),
        ns_start=np.searchsorted(class_namespace, np.arange(len(names) + 1), side="left"),
        blocks={block: i for i, block in enumerate(blocks)},
        ip_member=member[representative],
        named_ports=per_name,
    )


def _named_number(pod: Pod, name: str, protocol: Protocol) -> int:
    number = pod.named_port(name, protocol)
    return ABSENT if number is None else number
