"""Per-class vectors for Kubernetes NetworkPolicy pieces: selections, peers and ports.

Shared by the Kubernetes truth table and the Calico one (which uses them for
the Kubernetes policies of tier ``default`` when no network set can change
what their peers match). Vectors are cached by their hashable values, since
thousands of policies share few selectors, peers and port lists.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from service.policy.classes import ABSENT, BoolArray, IntArray, PodClasses
from service.policy.model import NetworkPolicy, Peer, PolicyPort, Protocol

__all__ = ["PortProbe", "RuleVectors"]


@dataclass(frozen=True, slots=True)
class PortProbe:
    """A probed port. A name is resolved on each destination pod by name and protocol."""

    port: int | str
    protocol: Protocol = Protocol.TCP

    def __str__(self) -> str:
        return f"{self.protocol} {self.port}"


class RuleVectors:
    """Per-class vectors for selectors, peers and ports, cached by their (hashable) values."""

    def __init__(self, classes: PodClasses, probes: tuple[PortProbe, ...]) -> None:
        self.classes = classes
        self.probes = probes
        count = classes.count
        self.number = np.empty((len(probes), count), dtype=np.int32)
        for k, probe in enumerate(probes):
            if isinstance(probe.port, str):
                self.number[k] = classes.named_ports[(probe.port, probe.protocol)]
            else:
                self.number[k] = probe.port
        self.valid: BoolArray = self.number != ABSENT
        self._all_classes = np.ones(count, dtype=np.bool_)
        self._all_ports = np.ones((len(probes), count), dtype=np.bool_)
        self._peers: dict[tuple[int, tuple[Peer, ...]], BoolArray] = {}
        self._ports: dict[tuple[PolicyPort, ...], BoolArray] = {}

    def selected(self, policy: NetworkPolicy, block: slice) -> BoolArray:
        """(C_n,) classes of the policy's namespace its podSelector selects."""
        classes = self.classes
        by_labels = classes.label_table.select(policy.pod_selector)
        return by_labels[classes.class_labels[block]] & ~classes.class_host_network[block]

    def peers(self, ns_id: int, peers: tuple[Peer, ...]) -> BoolArray:
        """(C,) classes matched by any of ``peers`` of a rule of a policy in ``ns_id``."""
        if not peers:
            return self._all_classes
        key = (ns_id, peers)
        found = self._peers.get(key)
        if found is None:
            found = np.zeros(self.classes.count, dtype=np.bool_)
            for peer in peers:
                found |= self._peer(ns_id, peer)
            self._peers[key] = found
        return found

    def _peer(self, ns_id: int, peer: Peer) -> BoolArray:
        classes = self.classes
        if peer.ip_block is not None:
            # ipBlocks match pod IPs, hostNetwork pods included (their IP is the node's).
            return classes.ip_member[:, classes.blocks[peer.ip_block]]
        if peer.namespace_selector is not None:
            scope = classes.select_namespaces(peer.namespace_selector)
        else:
            scope = (classes.class_namespace == ns_id) & ~classes.class_host_network
        if peer.pod_selector is not None:
            scope = scope & classes.select_pods(peer.pod_selector)
        return scope

    def ports(self, ports: tuple[PolicyPort, ...]) -> BoolArray:
        """(K, C): the rule's ports admit probe k on destination class c."""
        if not ports:
            return self._all_ports
        found = self._ports.get(ports)
        if found is None:
            found = np.zeros_like(self._all_ports)
            for k, probe in enumerate(self.probes):
                for pp in ports:
                    if pp.protocol != probe.protocol:
                        continue
                    found[k] |= self._port_matches(pp, self.number[k])
            self._ports[ports] = found
        return found

    def _port_matches(self, pp: PolicyPort, number: IntArray) -> BoolArray:
        if pp.port is None:
            return self._all_classes
        if isinstance(pp.port, str):
            # Named rule ports resolve on the destination, by name and protocol.
            named = self.classes.named_ports[(pp.port, Protocol(pp.protocol))]
            same: BoolArray = (named == number) & (named != ABSENT)
            return same
        high = pp.port if pp.end_port is None else pp.end_port
        inside: BoolArray = (number >= pp.port) & (number <= high)
        return inside
