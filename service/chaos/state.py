"""The engine's view of an experiment's cluster: what should hold at each moment.

An :class:`EngineState` is what the cluster was told: the layout with its
current labels, the pods' current addresses, the policy version in force and
any policies a step added. Every change a step makes is first a change of this
state, and the expected matrix of a phase is the engine's verdict for it, so a
relabelled namespace, a pod with a new IP (ipBlocks may match pod IPs) or an
added default-deny is re-evaluated exactly as a version switch is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from service.policy.evaluate import Evaluator
from service.policy.model import IPAddress, Labels, NetworkPolicy
from service.scenario.cells import Cell
from service.scenario.hashing import policies_hash
from service.scenario.model import PolicyVersion, Verdict
from service.scenario.plan import Layout

__all__ = ["EngineState"]

# The applied version's name when a step added policies: "<version>+chaos".
ADDED_SUFFIX = "+chaos"


@dataclass(frozen=True, slots=True)
class EngineState:
    layout: Layout
    addresses: Mapping[str, IPAddress]
    version: PolicyVersion
    added: tuple[NetworkPolicy, ...] = field(default=())

    @property
    def applied(self) -> PolicyVersion:
        """The policy set the cluster is given: the version's, plus what steps added."""
        if not self.added:
            return self.version
        policies = (*self.version.policies, *self.added)
        return replace(
            self.version,
            name=self.version.name + ADDED_SUFFIX,
            policies=policies,
            content_hash=policies_hash(policies),
        )

    def namespace_labels(self, namespace: str) -> Labels:
        for ns in self.layout.namespaces:
            if ns.name == namespace:
                return ns.labels
        raise KeyError(namespace)

    def pod_labels(self, ref: str) -> Labels:
        return self.layout.pod(ref).labels

    def with_namespace_labels(self, namespace: str, labels: Labels) -> EngineState:
        namespaces = tuple(
            replace(ns, labels=labels) if ns.name == namespace else ns
            for ns in self.layout.namespaces
        )
        return replace(self, layout=replace(self.layout, namespaces=namespaces))

    def with_pod_labels(self, ref: str, labels: Labels) -> EngineState:
        pods = tuple(replace(p, labels=labels) if p.ref == ref else p for p in self.layout.pods)
        return replace(self, layout=replace(self.layout, pods=pods))

    def with_addresses(self, addresses: Mapping[str, IPAddress]) -> EngineState:
        return replace(self, addresses={**self.addresses, **addresses})

    def expected(self, cells: Sequence[Cell]) -> dict[str, Verdict]:
        """The engine's verdict for each cell, by pair key."""
        state = self.layout.cluster_state(policies=self.applied.policies, addresses=self.addresses)
        pods = {p.ref: p for p in state.pods}
        evaluator = Evaluator(state)
        out = {}
        for cell in cells:
            if cell.port_number is None:
                raise ValueError(f"cell {cell} is not probed: it has no port")
            allowed = evaluator.is_allowed(
                pods[cell.source_pod],
                pods[cell.target_pod],
                port=cell.port_number,
                protocol=cell.protocol,
            )
            out[cell.pair_key] = Verdict.ALLOWED if allowed else Verdict.BLOCKED
        return out
