"""The vectorised truth table: every (source pod, destination pod, probed port) at once.

Same semantics as the per-cell :class:`service.policy.evaluate.Evaluator`
(Kubernetes NetworkPolicy, policy-semantics.md section 1), computed over pod
equivalence classes (:mod:`service.policy.classes`) with boolean matrix
products instead of one evaluation per cell:

- ingress: for destination namespace ``n``, ``allowed_in[s, d]`` is
  ``OR_r peer_r[s] AND selected_r[d] AND port_r[d]`` over the ingress rules of
  the policies of ``n``; that is ``peerᵀ @ (selected & port) > 0``, and only the
  destination classes of ``n`` take part (a policy selects only its namespace);
- egress: for source namespace ``n``, ``selectedᵀ @ (peer & port) > 0``, with the
  port matched on the destination (named ports resolve there);
- a direction with no isolating policy allows everything; a cell needs both.

Working namespace block by namespace block keeps every intermediate at most
(classes x probes x classes-of-one-namespace) and never (rules x C x C).

When the state holds Calico objects, the table follows Calico's tiered,
first-match semantics instead (:mod:`service.policy.calico.vector`), the
Kubernetes policies sitting in tier ``default`` at order 1000; the classes
then also tell apart what Calico rules observe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from service.errors import FieldPath, InvalidInput, Problem
from service.policy.calico.evaluate import TieredEvaluator
from service.policy.calico.model import has_calico
from service.policy.calico.vector import calico_allowed
from service.policy.calico.vectors import class_features
from service.policy.classes import (
    ABSENT,
    BoolArray,
    IntArray,
    NamedPort,
    PodClasses,
    build_pod_classes,
)
from service.policy.connections import MAX_PORT, MIN_PORT
from service.policy.evaluate import check_policies
from service.policy.model import (
    ClusterState,
    Direction,
    NetworkPolicy,
    Pod,
    Protocol,
)
from service.policy.products import or_product
from service.policy.rulevectors import PortProbe, RuleVectors
from service.policy.syntax import port_name_error

__all__ = ["PortProbe", "TruthTable", "compute_truth_table"]


@dataclass(frozen=True, slots=True, eq=False)
class TruthTable:
    """Expected connectivity of every pod pair on every probe.

    Stored per class: ``class_allowed[k, s, d]`` is whether a pod of class ``s``
    may open a connection to a *different* pod of class ``d`` on probe ``k``
    (False where ``d`` cannot be probed). ``class_port[k, d]`` is the number the
    probe reaches on class ``d`` (``-1`` when a named probe is absent there).
    All arrays are read-only.
    """

    pods: tuple[Pod, ...]
    probes: tuple[PortProbe, ...]
    pod_class: IntArray  # (P,) pod -> class
    class_allowed: BoolArray  # (K, C, C) [probe, source class, destination class]
    class_valid: BoolArray  # (K, C) the destination class can be probed
    class_port: IntArray  # (K, C) port number probed on the destination class
    representative: IntArray  # (C,) the first pod of each class

    def __post_init__(self) -> None:
        for array in (
            self.pod_class,
            self.class_allowed,
            self.class_valid,
            self.class_port,
            self.representative,
        ):
            array.setflags(write=False)

    @property
    def class_count(self) -> int:
        return len(self.representative)

    def valid(self, dst: int, probe: int) -> bool:
        """Whether pod ``dst`` can be probed on ``probe`` (False: it lacks the named port)."""
        return bool(self.class_valid[probe, self.pod_class[dst]])

    def port_number(self, dst: int, probe: int) -> int | None:
        """The port number ``probe`` reaches on pod ``dst``, None when it is invalid there."""
        number = int(self.class_port[probe, self.pod_class[dst]])
        return None if number == ABSENT else number

    def allowed(self, src: int, dst: int, probe: int) -> bool:
        """Pod ``src`` to pod ``dst`` on ``probe``; same as ``pod_matrix(probe)[src, dst]``."""
        if not self.valid(dst, probe):
            return False
        if src == dst:
            return True
        return bool(self.class_allowed[probe, self.pod_class[src], self.pod_class[dst]])

    def pod_matrix(self, probe: int) -> BoolArray:
        """(P, P) bool [source pod, destination pod] for ``probe``.

        Loopback (the diagonal) is True: a pod is never blocked from itself.
        A destination that cannot be probed (named port absent) is False in its
        whole column, the diagonal included: there is nothing to connect to.
        """
        index = self.pod_class.astype(np.intp)
        # Columns first, then rows: the row gather copies whole contiguous rows,
        # about ten times faster than gathering rows then columns.
        columns = np.take(self.class_allowed[probe], index, axis=1)
        matrix: BoolArray = np.take(columns, index, axis=0)
        diagonal = np.arange(len(self.pods))
        matrix[diagonal, diagonal] = self.class_valid[probe, self.pod_class]
        return matrix


def compute_truth_table(state: ClusterState, probes: Sequence[PortProbe]) -> TruthTable:
    """The truth table of ``state`` for ``probes``.

    Raises InvalidInput when a probe's port is out of 1-65535, is not a valid
    port name, or its protocol is not TCP, UDP or SCTP (all problems at once),
    and for the policies check_policies rejects (same problems, same paths).
    """
    checked = _checked_probes(probes)
    # The policies are checked as the Evaluator checks them, so both refuse the same
    # input with the same problems: check_policies (peer shapes, endPort, port ranges,
    # duplicates) on Kubernetes policies; with Calico objects the tiered evaluator runs
    # it on the Kubernetes ones and check_calico on the rest (a Calico object given
    # twice is named by its own kind, not as a NetworkPolicy).
    tiered = TieredEvaluator(state) if has_calico(state.policies) else None
    if tiered is None:
        check_policies(state.policies)
    named: set[NamedPort] = {(p.port, p.protocol) for p in checked if isinstance(p.port, str)}
    for policy in state.policies:
        for rule in (*policy.ingress, *policy.egress):
            named.update(
                (pp.port, Protocol(pp.protocol)) for pp in rule.ports if isinstance(pp.port, str)
            )
    if tiered is not None:
        # Calico's tiers, first match and actions; Kubernetes policies join tier default.
        features = class_features(tiered)
        classes = build_pod_classes(
            state,
            named_ports=named | features.named_ports,
            label_keys=features.label_keys,
            blocks=features.blocks,
            service_accounts=features.service_accounts,
        )
        rules = RuleVectors(classes, checked)
        allowed = calico_allowed(tiered, state, classes, rules, features)
    else:
        classes = build_pod_classes(state, named_ports=named)
        rules = RuleVectors(classes, checked)
        allowed = _kubernetes_allowed(state, classes, rules)
    allowed &= rules.valid[:, None, :]

    return TruthTable(
        pods=state.pods,
        probes=checked,
        pod_class=classes.pod_class,
        class_allowed=allowed,
        class_valid=rules.valid,
        class_port=rules.number,
        representative=classes.representative,
    )


def _kubernetes_allowed(state: ClusterState, classes: PodClasses, rules: RuleVectors) -> BoolArray:
    """Kubernetes NetworkPolicy alone: union semantics, block by namespace block."""
    by_namespace: dict[int, list[NetworkPolicy]] = {}
    for policy in state.policies:
        by_namespace.setdefault(classes.namespace_ids[policy.namespace], []).append(policy)
    allowed = np.empty((len(rules.probes), classes.count, classes.count), dtype=np.bool_)
    for ns_id in range(len(classes.namespaces)):
        _fill_ingress(allowed, rules, ns_id, by_namespace.get(ns_id, []))
    for ns_id, policies in by_namespace.items():
        _apply_egress(allowed, rules, ns_id, policies)
    return allowed


def _checked_probes(probes: Sequence[PortProbe]) -> tuple[PortProbe, ...]:
    problems: list[Problem] = []
    checked: list[PortProbe] = []
    for index, probe in enumerate(probes):
        path = FieldPath(("probes", index))
        port = probe.port
        if isinstance(port, bool) or not isinstance(port, int | str):
            problems.append(Problem(f"expected a port number or name, got {port!r}", path / "port"))
        elif isinstance(port, int) and not MIN_PORT <= port <= MAX_PORT:
            problems.append(
                Problem(
                    f"port {port} is out of range: expected {MIN_PORT}-{MAX_PORT}", path / "port"
                )
            )
        elif isinstance(port, str) and port_name_error(port) is not None:
            problems.append(
                Problem(
                    f"{port!r} is not a port name: expected 1-15 lowercase letters, digits "
                    "and '-', with at least one letter and no leading, trailing or double '-'",
                    path / "port",
                )
            )
        try:
            protocol = Protocol(probe.protocol)
        except ValueError:
            problems.append(
                Problem(
                    f"unknown protocol {probe.protocol!r}: expected one of TCP, UDP, SCTP",
                    path / "protocol",
                )
            )
            continue
        checked.append(PortProbe(port, protocol))
    InvalidInput.collect(problems)
    return tuple(checked)


def _fill_ingress(
    allowed: BoolArray, rules: RuleVectors, ns_id: int, policies: list[NetworkPolicy]
) -> None:
    """Set ``allowed[:, :, block]`` to the ingress verdicts of the destinations in ``ns_id``."""
    block = rules.classes.namespace_slice(ns_id)
    width = block.stop - block.start
    isolated = np.zeros(width, dtype=np.bool_)
    peer_rows: list[BoolArray] = []
    target_rows: list[BoolArray] = []
    for policy in policies:
        if Direction.INGRESS not in policy.policy_types:
            continue
        selected = rules.selected(policy, block)
        if not selected.any():
            continue
        isolated |= selected
        for rule in policy.ingress:
            peer_rows.append(rules.peers(ns_id, rule.peers))
            target_rows.append(rules.ports(rule.ports)[:, block] & selected)
    if not isolated.any():
        allowed[:, :, block] = True
        return
    count, probes = rules.classes.count, len(rules.probes)
    if peer_rows:
        by_rule = np.stack(target_rows).reshape(len(target_rows), probes * width)
        product = or_product(np.stack(peer_rows), by_rule)
        verdict = product.reshape(count, probes, width).transpose(1, 0, 2)
    else:
        verdict = np.zeros((probes, count, width), dtype=np.bool_)
    allowed[:, :, block] = verdict | ~isolated


def _apply_egress(
    allowed: BoolArray, rules: RuleVectors, ns_id: int, policies: list[NetworkPolicy]
) -> None:
    """AND ``allowed[:, block, :]`` with the egress verdicts of the sources in ``ns_id``."""
    block = rules.classes.namespace_slice(ns_id)
    width = block.stop - block.start
    isolated = np.zeros(width, dtype=np.bool_)
    source_rows: list[BoolArray] = []
    target_rows: list[BoolArray] = []
    for policy in policies:
        if Direction.EGRESS not in policy.policy_types:
            continue
        selected = rules.selected(policy, block)
        if not selected.any():
            continue
        isolated |= selected
        for rule in policy.egress:
            source_rows.append(selected)
            # Ports are matched on the destination, where named ports resolve.
            target_rows.append(rules.ports(rule.ports) & rules.peers(ns_id, rule.peers))
    if not isolated.any():
        return
    count, probes = rules.classes.count, len(rules.probes)
    if source_rows:
        by_rule = np.stack(target_rows).reshape(len(target_rows), probes * count)
        product = or_product(np.stack(source_rows), by_rule)
        verdict = product.reshape(width, probes, count).transpose(1, 0, 2)
    else:
        verdict = np.zeros((probes, width, count), dtype=np.bool_)
    allowed[:, block, :] &= verdict | ~isolated[None, :, None]
