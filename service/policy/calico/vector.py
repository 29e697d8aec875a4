"""Calico's tiered, first-match evaluation, vectorised over pod equivalence classes.

Same semantics as :class:`~service.policy.calico.evaluate.TieredEvaluator`,
which the tests hold it to cell by cell. A rule matches (source class s,
destination class d, probe k) iff its source side holds for s and its
destination side for (k, d) (:mod:`.vectors`), so everything is boolean
algebra over class vectors. Per direction, the subject is the destination
(ingress) or the source (egress) and the peer the other end; per namespace
block of subjects (a namespaced policy selects only in its namespace):

- a tier made of global policies only (a security tier of
  GlobalNetworkPolicies, the admin tiers) is solved once for the whole
  cluster, over the few distinct peer and subject signatures its rules tell
  apart, into a table of outcomes (allow, deny, go on); a block just looks it up;
- any other tier is folded over the block: its rules, in order, cut into runs
  of one action (Log rules change nothing and are left out); a run's matches
  are one boolean matrix product, because within a run "first match" and "any
  match" give the same action; Allow and Deny decide, Pass only closes the
  tier, and at the end of the tier the cells still open for subjects the tier
  applies to take its defaultAction;
- cells no tier decided are allowed (the namespace profile).

Peers that every rule of a block treats alike are merged first (equal
columns in every rule row), so the fold works on distinct peer signatures
rather than on every class, and is expanded back at the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from service.policy.calico.evaluate import TieredEvaluator
from service.policy.calico.model import Tier
from service.policy.calico.vectors import ClassFeatures, ClassVectors, kubernetes_vectors
from service.policy.classes import BoolArray, IntArray, PodClasses
from service.policy.model import ClusterState, Direction, NetworkPolicy, Protocol
from service.policy.products import or_product
from service.policy.rulevectors import RuleVectors
from service.policy.verdict import Action

__all__ = ["calico_allowed"]

Int8Array = npt.NDArray[np.int8]
_ALLOW, _DENY = np.int8(1), np.int8(2)


@dataclass(frozen=True, slots=True)
class _Entry:
    """One non-Log rule of one policy, for one direction, as class vectors.

    ``peer`` is (C,) for ingress (the source side), (K, C) for egress (the
    destination side, probed); ``subject`` is (K, C) for ingress, (C,) for
    egress; the subject side includes the policy's own selection.
    """

    action: Action
    namespace: str | None
    peer: BoolArray
    subject: BoolArray


@dataclass(slots=True)
class _Tier:
    tier: Tier
    entries: list[_Entry]
    applies: BoolArray  # (C,) subjects some policy of the tier selects
    global_only: bool
    by_namespace: dict[str | None, list[_Entry]] = field(default_factory=dict)
    # A global-only tier's outcomes: table[k, peer group, subject group], 0 = go on.
    table: Int8Array | None = None
    peer_group: IntArray | None = None
    subject_group: IntArray | None = None


def _groups(rows: BoolArray) -> tuple[IntArray, npt.NDArray[np.intp]]:
    """Columns of ``rows`` (M, C) grouped by equality: (C,) group ids and one column per group."""
    count = rows.shape[1]
    if rows.shape[0] == 0:
        return np.zeros(count, dtype=np.int32), np.zeros(min(count, 1), dtype=np.intp)
    packed = np.ascontiguousarray(np.packbits(rows, axis=0).T)
    return _unique_rows(packed)


def _unique_rows(packed: npt.NDArray[np.uint8]) -> tuple[IntArray, npt.NDArray[np.intp]]:
    # One opaque value per class: sorting those is far cheaper than a row-wise unique.
    signatures = packed.view(np.dtype((np.void, packed.shape[1]))).reshape(-1)
    _, first, inverse = np.unique(signatures, return_index=True, return_inverse=True)
    return inverse.reshape(-1).astype(np.int32), first.astype(np.intp)


class _Side:
    """One direction: the tiers as entries, global tiers solved, and the block fold."""

    def __init__(
        self,
        evaluator: TieredEvaluator,
        vectors: ClassVectors,
        direction: Direction,
        native: RuleVectors | None,
        subjects: dict[int, BoolArray],
    ) -> None:
        self.ingress = direction is Direction.INGRESS
        self.probes = len(vectors.probes)
        self.count = vectors.classes.count
        self.tiers: list[_Tier] = []
        for tier, compiled in evaluator.compiled_tiers:
            policies = [
                p for p in compiled if direction in p.policy.types and not p.policy.host_only
            ]
            if not policies:
                continue
            applies = np.zeros(self.count, dtype=np.bool_)
            entries: list[_Entry] = []
            for policy in policies:
                if native is not None and policy.kubernetes is not None:
                    selected = _kubernetes_subject(native, policy.kubernetes, subjects)
                else:
                    selected = vectors.subject(policy)
                if not selected.any():
                    continue
                applies |= selected
                if native is not None and policy.kubernetes is not None:
                    entries.extend(self._kubernetes(native, policy.kubernetes, selected, direction))
                    continue
                for rule in policy.rules(direction):
                    if rule.action is Action.LOG:
                        continue
                    source, destination = vectors.rule(rule)
                    if self.ingress:
                        subject, peer = destination & selected[None, :], source
                    else:
                        subject, peer = source & selected, destination
                    if subject.any() and peer.any():
                        entries.append(_Entry(rule.action, policy.policy.namespace, peer, subject))
            if not applies.any():
                continue
            found = _Tier(tier, entries, applies, all(p.policy.namespace is None for p in policies))
            if found.global_only:
                self._solve(found)
            else:
                self._index(found)
            self.tiers.append(found)
        # Every global rule's peers, once: blocks refine this with their own rules only.
        global_rows = [e.peer for t in self.tiers for e in t.entries if e.namespace is None]
        self.base_group, self.base_first = _groups(self._peer_matrix(global_rows))

    def _kubernetes(
        self,
        native: RuleVectors,
        policy: NetworkPolicy,
        selected: BoolArray,
        direction: Direction,
    ) -> list[_Entry]:
        """A Kubernetes policy's rules, one entry each: all Allow, so its peers and ports
        may be ORed as Kubernetes does, with the Kubernetes vectors (cached by value)."""
        ns_id = native.classes.namespace_ids[policy.namespace]
        out = []
        for rule in policy.rules(direction):
            peer = native.peers(ns_id, rule.peers)
            ports = native.ports(rule.ports)
            if self.ingress:
                subject, match = ports & selected[None, :], peer
            else:
                subject, match = selected, ports & peer[None, :]
            if subject.any() and match.any():
                out.append(_Entry(Action.ALLOW, policy.namespace, match, subject))
        return out

    def _peer_matrix(self, peers: Sequence[BoolArray]) -> BoolArray:
        if not peers:
            return np.zeros((0, self.count), dtype=np.bool_)
        # Egress peers are (K, C): a class's signature spans every probe.
        return np.stack(peers).reshape(-1, self.count)

    def _index(self, tier: _Tier) -> None:
        """Per namespace, the entries its subjects may meet, in order (None: global ones)."""
        shared: list[_Entry] = []
        index = tier.by_namespace
        for entry in tier.entries:
            if entry.namespace is None:
                shared.append(entry)
                for found in index.values():
                    found.append(entry)
            else:
                # A namespace's list starts with the global entries that came before it.
                index.setdefault(entry.namespace, list(shared)).append(entry)
        index[None] = shared

    def _solve(self, tier: _Tier) -> None:
        """A global-only tier's outcome for every (probe, peer group, subject group)."""
        peer_group, peer_first = _groups(self._peer_matrix([e.peer for e in tier.entries]))
        subject_rows = [e.subject.reshape(-1, self.count) for e in tier.entries]
        subject_rows.append(tier.applies[None, :])
        subject_group, subject_first = _groups(np.concatenate(subject_rows))
        shape = (self.probes, len(peer_first), len(subject_first))
        allow = np.zeros(shape, dtype=np.bool_)
        still = np.ones(shape, dtype=np.bool_)
        in_tier = np.ones(shape, dtype=np.bool_)
        for entry in tier.entries:
            if self.ingress:
                peer = entry.peer[peer_first][None, :, None]
                subject = entry.subject[:, subject_first][:, None, :]
            else:
                peer = entry.peer[:, peer_first][:, :, None]
                subject = entry.subject[subject_first][None, None, :]
            _fold(entry.action, peer & subject, allow, still, in_tier)
        if tier.tier.default_action is Action.DENY:
            still &= ~(in_tier & tier.applies[subject_first][None, None, :])
        table = np.where(allow, _ALLOW, np.where(still, np.int8(0), _DENY)).astype(np.int8)
        tier.table, tier.peer_group, tier.subject_group = table, peer_group, subject_group

    def block(self, namespace: str, block: slice) -> BoolArray | None:
        """The verdicts of the block's subjects: ingress (K, C, W), egress (K, W, C).

        None when no tier applies to any of them (every cell allowed).
        """
        tiers = [t for t in self.tiers if t.applies[block].any()]
        if not tiers:
            return None
        own = [
            e.peer
            for t in tiers
            if not t.global_only
            for e in t.by_namespace.get(namespace, ())
            if e.namespace is not None
        ]
        group, first = self._refine(own)
        shape = (self.probes, len(first), block.stop - block.start)
        allow = np.zeros(shape, dtype=np.bool_)
        still = np.ones(shape, dtype=np.bool_)
        for tier in tiers:
            if tier.global_only:
                assert tier.table is not None
                assert tier.peer_group is not None
                assert tier.subject_group is not None
                code = tier.table[
                    :, tier.peer_group[first][:, None], tier.subject_group[block][None, :]
                ]
                allow |= still & (code == _ALLOW)
                still &= code == 0
                continue
            entries = tier.by_namespace.get(namespace) or tier.by_namespace.get(None, [])
            in_tier = still.copy()
            for action, match in self._runs(entries, first, block):
                _fold(action, match, allow, still, in_tier)
            if tier.tier.default_action is Action.DENY:
                still &= ~(in_tier & tier.applies[block][None, None, :])
        verdict = allow | still
        if self.ingress:
            return np.take(verdict, group, axis=1)
        # Egress rows are the block's sources: (K, W, C), laid out for the caller's rows.
        out: BoolArray = np.take(verdict.transpose(0, 2, 1), group, axis=2)
        return out

    def _refine(self, rows: list[BoolArray]) -> tuple[IntArray, npt.NDArray[np.intp]]:
        """Peer groups of the block: the global groups, split by the block's own rules."""
        if not rows:
            return self.base_group, self.base_first
        matrix = self._peer_matrix(rows)
        # Equal rows split nothing more: keep one of each (a block has a handful).
        distinct = list({row.tobytes(): row for row in matrix}.values())
        bases = len(self.base_first)
        if len(distinct) <= 16 and bases << len(distinct) <= 1 << 20:
            # The usual block: a small integer key per class, compacted by a table, no sort.
            key = self.base_group.astype(np.int64) << len(distinct)
            for bit, row in enumerate(distinct):
                key |= row.astype(np.int64) << bit
            present = np.zeros(bases << len(distinct), dtype=np.bool_)
            present[key] = True
            ids = np.cumsum(present, dtype=np.int32) - 1
            group: IntArray = ids[key]
            first = np.empty(int(ids[-1]) + 1, dtype=np.intp)
            first[group] = np.arange(self.count, dtype=np.intp)  # any class stands for its group
            return group, first
        packed = np.packbits(np.stack(distinct), axis=0).T
        base = self.base_group.astype("<i4").view(np.uint8).reshape(self.count, 4)
        return _unique_rows(np.ascontiguousarray(np.concatenate([base, packed], axis=1)))

    def _runs(
        self, entries: Sequence[_Entry], first: npt.NDArray[np.intp], block: slice
    ) -> list[tuple[Action, BoolArray]]:
        """Maximal runs of one action among the entries that touch the block, as matches."""
        runs: list[tuple[Action, list[BoolArray], list[BoolArray]]] = []
        for entry in entries:
            if self.ingress:
                subject, peer = entry.subject[:, block], entry.peer[first]
            else:
                subject, peer = entry.subject[block], entry.peer[:, first]
            if not subject.any() or not peer.any():
                continue
            if not runs or runs[-1][0] is not entry.action:
                runs.append((entry.action, [], []))
            runs[-1][1].append(peer.reshape(-1))
            runs[-1][2].append(subject.reshape(-1))
        width, size = block.stop - block.start, len(first)
        out = []
        for action, peers, subjects in runs:
            if self.ingress:
                product = or_product(np.stack(peers), np.stack(subjects))
                match = product.reshape(size, self.probes, width).transpose(1, 0, 2)
            else:
                product = or_product(np.stack(subjects), np.stack(peers))
                match = product.reshape(width, self.probes, size).transpose(1, 2, 0)
            out.append((action, match))
        return out


def _kubernetes_subject(
    native: RuleVectors, policy: NetworkPolicy, cache: dict[int, BoolArray]
) -> BoolArray:
    """(C,) the pods a Kubernetes policy selects, from the Kubernetes vectors (cached)."""
    found = cache.get(id(policy))
    if found is None:
        classes = native.classes
        found = np.zeros(classes.count, dtype=np.bool_)
        block = classes.namespace_slice(classes.namespace_ids[policy.namespace])
        found[block] = native.selected(policy, block)
        cache[id(policy)] = found
    return found


def _fold(
    action: Action, match: BoolArray, allow: BoolArray, still: BoolArray, in_tier: BoolArray
) -> None:
    """One rule (or run) in order: it takes the cells still open in the tier that it matches."""
    hit = in_tier & match
    in_tier &= ~hit
    if action is Action.ALLOW:
        allow |= hit
    if action is not Action.PASS:
        still &= ~hit


def calico_allowed(
    evaluator: TieredEvaluator,
    state: ClusterState,
    classes: PodClasses,
    rules: RuleVectors,
    features: ClassFeatures,
) -> BoolArray:
    """(K, C, C) [probe, source class, destination class]: allowed by Calico's tiers.

    ``rules`` are the Kubernetes vectors over the same classes and probes; the
    classes must have been built with ``features``.
    """
    probes = [Protocol(p.protocol) for p in rules.probes]
    vectors = ClassVectors(evaluator, state, classes, probes, rules.number, features)
    native = rules if kubernetes_vectors(evaluator) else None
    count = classes.count
    allowed = np.ones((len(probes), count, count), dtype=np.bool_)
    # Every ingress block first: it writes whole columns, which egress then narrows by rows.
    subjects: dict[int, BoolArray] = {}
    for direction in (Direction.INGRESS, Direction.EGRESS):
        side = _Side(evaluator, vectors, direction, native, subjects)
        for ns_id, namespace in enumerate(classes.namespaces):
            block = classes.namespace_slice(ns_id)
            if block.stop == block.start:
                continue
            verdict = side.block(namespace, block)
            if verdict is None:
                continue
            if direction is Direction.INGRESS:
                allowed[:, :, block] = verdict
            else:
                rows = allowed[:, block, :]
                np.logical_and(rows, verdict, out=rows)
    return allowed
