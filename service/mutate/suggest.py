"""Suggestions: the fewest matrix additions that kill the survivors (greedy set cover).

A survivor changes some verdict in the universe, never in the matrix. Each such
connection (probe k, source kind s, destination kind d) says what the matrix
would need to see it: a source with the labels of s (and its namespace among
the source namespaces), a target standing for d (a declared one, or a new one),
serving and probing port k. Those additions are the candidates; each is
checked by planning the scenario with it added (:func:`probed_cells`) and
looking up which survivors then differ on a probed cell. Greedy set cover picks
the candidate killing most survivors per added edit (ties: fewer edits, then
simpler labels), on top of the additions picked before it, until every
survivor is killed or nothing more can be.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from service.mutate.draft import (
    Intent,
    NamespaceIntent,
    NewTargetIntent,
    ProbeIntent,
    SourceIntent,
    TargetIntent,
    TargetPortIntent,
    apply_intents,
    intent_key,
    probed_cells,
    probed_ports,
    slug,
)
from service.mutate.model import Mutation, Observation, Suggestion
from service.mutate.snippets import snippet
from service.mutate.universe import Universe, simplicity
from service.policy.classes import BoolArray
from service.policy.connections import MIN_PORT
from service.policy.model import Labels, Protocol
from service.scenario.model import PortSpec, Scenario, TargetSpec, Verdict
from service.scenario.plan import build_layout

__all__ = ["Survivor", "suggest"]

PackedArray = npt.NDArray[np.uint8]
# Candidates kept per survivor, cheapest first: enough for set cover to find shared ones.
_PER_SURVIVOR = 24
_PROTOCOL_ORDER = {p: i for i, p in enumerate(Protocol)}
# The label that makes a second probe pod of a kind (see _Finder.source_intents).
REPLICA_KEY = "replica"
REPLICA_VALUE = "2"


@dataclass(frozen=True, slots=True, eq=False)
class Survivor:
    """A surviving mutation and where it differs: (version, packed (K, U, U) diff) pairs."""

    mutation: Mutation
    diffs: tuple[tuple[str, PackedArray], ...]

    def any_packed(self) -> PackedArray:
        """Differs in some version, as packed bits of the flattened (K, U, U) tensor."""
        packed = self.diffs[0][1].copy()
        for _, other in self.diffs[1:]:
            packed |= other
        return packed

    def any_diff(self, shape: tuple[int, int, int]) -> BoolArray:
        return _unpack(self.any_packed(), shape)


def _unpack(packed: PackedArray, shape: tuple[int, int, int]) -> BoolArray:
    count = shape[0] * shape[1] * shape[2]
    flat: BoolArray = np.unpackbits(packed, count=count).astype(np.bool_)
    return flat.reshape(shape)


@dataclass(frozen=True, slots=True)
class _Candidate:
    intents: frozenset[Intent]
    rank: tuple[object, ...]
    cell: tuple[int, int, int]  # (k, s, d) it was drawn from


@dataclass(frozen=True, slots=True)
class SuggestionResult:
    suggestions: tuple[Suggestion, ...]
    witnesses: Mapping[str, Observation]
    unkillable: tuple[str, ...]


def suggest(
    scenario: Scenario,
    universe: Universe,
    originals: Mapping[str, BoolArray],
    survivors: Sequence[Survivor],
    *,
    cover: bool = True,
) -> SuggestionResult:
    """For each survivor the connection that shows it and (``cover``) suggestions killing
    ``survivors``."""
    shape = (len(universe.probes), universe.size, universe.size)
    finder = _Finder(scenario, universe)
    witnesses: dict[str, Observation] = {}
    candidates: dict[frozenset[Intent], _Candidate] = {}
    for survivor in survivors:
        found = finder.candidates(survivor.any_diff(shape))
        if found:
            witnesses[survivor.mutation.id] = finder.observation(
                survivor, found[0].cell, originals, shape
            )
        for candidate in found:
            known = candidates.get(candidate.intents)
            if known is None or candidate.rank < known.rank:
                candidates[candidate.intents] = candidate
    if not cover or not survivors:
        return SuggestionResult((), witnesses, ())
    ordered = sorted(candidates.values(), key=lambda c: c.rank)
    packed = np.stack([s.any_packed() for s in survivors])
    chosen, unkillable = _cover(scenario, universe, ordered, survivors, packed)
    return SuggestionResult(tuple(chosen), witnesses, unkillable)


def _cover(
    scenario: Scenario,
    universe: Universe,
    candidates: Sequence[_Candidate],
    survivors: Sequence[Survivor],
    diffs: PackedArray,
) -> tuple[list[Suggestion], tuple[str, ...]]:
    """Greedy set cover: each round the candidate killing most remaining survivors per new
    edit wins (on top of the additions already picked); ties go to fewer new edits, then to
    the candidate ranked first.

    Scoring every candidate every round is the cost; most need not be rescored. A
    candidate's cells are its new rows (sources, namespaces) against every column
    (target ports) plus every row against its new columns, so the additions picked
    can only give it more kills if it adds rows and they added columns, or the other
    way round, or if they share an addition. Every other candidate's last count is
    an upper bound (the survivors left only shrink), and candidates are scored
    best bound first until no bound can beat the best score found: the same choice
    as scoring them all.
    """
    remaining = np.ones(len(survivors), dtype=np.bool_)
    applied: set[Intent] = set()
    base = scenario
    chosen: list[Suggestion] = []
    bound = [float("inf")] * len(candidates)  # inf: must be scored
    rows = [any(_is_row(i) for i in c.intents) for c in candidates]
    columns = [any(not _is_row(i) for i in c.intents) for c in candidates]
    while remaining.any():
        news = [frozenset(c.intents - applied) for c in candidates]

        sizes = [len(n) for n in news]
        order = sorted(
            (i for i in range(len(candidates)) if sizes[i]),
            key=lambda i: _score_key(i, bound[i], sizes[i]),
        )
        best: tuple[tuple[float, int, int], int, BoolArray] | None = None
        scored: dict[frozenset[Intent], BoolArray] = {}
        for i in order:
            if best is not None and _score_key(i, bound[i], sizes[i]) > best[0]:
                break
            kills = scored.get(news[i])
            if kills is None:
                kills = scored[news[i]] = _kills(base, news[i], universe, diffs) & remaining
            bound[i] = int(kills.sum())
            score = _score_key(i, bound[i], sizes[i])
            if bound[i] and (best is None or score < best[0]):
                best = (score, i, kills)
        if best is None:
            break
        _, pick, kills = best
        new = news[pick]
        base, edits = apply_intents(base, new)
        applied |= new
        remaining &= ~kills
        ids = tuple(s.mutation.id for s, k in zip(survivors, kills, strict=True) if k)
        chosen.append(Suggestion(tuple(edits), ids, snippet(edits)))
        added_rows = any(_is_row(i) for i in new)
        added_columns = any(not _is_row(i) for i in new)
        for i, candidate in enumerate(candidates):
            if (
                (rows[i] and added_columns)
                or (columns[i] and added_rows)
                or not new.isdisjoint(candidate.intents)
            ):
                bound[i] = float("inf")
    unkillable = tuple(s.mutation.id for s, r in zip(survivors, remaining, strict=True) if r)
    return chosen, unkillable


def _score_key(index: int, kills: float, edits: int) -> tuple[float, int, int]:
    """Sorts best first: most kills per new edit, then fewer edits, then the higher rank."""
    return (-kills / edits, edits, index)


def _is_row(intent: Intent) -> bool:
    """Whether ``intent`` adds probing pods (rows of the matrix) rather than probed ports."""
    return isinstance(intent, SourceIntent | NamespaceIntent)


def _kills(
    base: Scenario, intents: frozenset[Intent], universe: Universe, diffs: PackedArray
) -> BoolArray:
    """Which survivors (rows of packed flat diffs) differ on a cell probed with ``intents``."""
    trial, _ = apply_intents(base, intents)
    cells = probed_cells(trial, universe)
    bits = (diffs[:, cells >> 3] >> (7 - (cells & 7)).astype(np.uint8)) & 1
    hits: BoolArray = np.asarray(bits.any(axis=1), dtype=np.bool_)
    return hits


class _Finder:
    """What it takes for the matrix to probe a given connection of the universe."""

    def __init__(self, scenario: Scenario, universe: Universe) -> None:
        self.scenario = scenario
        self.universe = universe
        matrix = scenario.matrix
        canon = universe.vocabulary.canonical
        self._sources = {canon(s.labels): s.name for s in matrix.sources}
        self._targets = {t.ref: t for t in scenario.targets}
        self._declared = {(p.port, p.protocol) for t in scenario.targets for p in t.ports}
        self._source_cache: dict[tuple[int, bool], tuple[Intent, ...]] = {}
        # Per kind: the target pod that already probes for its labels in its namespace (a
        # twin), and the target pod standing for it as a destination; as ids, -1/-2 for none.
        _, prober = build_layout(scenario)
        refs: dict[str, int] = {}
        self._prober_ids = np.full(universe.size, -1, dtype=np.int64)
        self._target_ids = np.full(universe.size, -2, dtype=np.int64)
        for u, (namespace, canonical, _) in enumerate(universe.kinds):
            name = self._sources.get(canonical)
            ref = prober.get((name, namespace)) if name is not None else None
            if ref is not None and ref in self._targets:
                self._prober_ids[u] = refs.setdefault(ref, len(refs))
            target = self._target_of(u)
            if target is not None:
                self._target_ids[u] = refs.setdefault(target.ref, len(refs))
        read = universe.vocabulary.pod_values
        self._replica_key = next(
            key
            for key in (REPLICA_KEY, *(f"{REPLICA_KEY}-{n}" for n in range(2, 100)))
            if key not in read
        )
        self._target_cache: dict[tuple[int, int], tuple[Intent, ...]] = {}
        self._ids: dict[tuple[Intent, ...], int] = {}
        self._keys: dict[Intent, tuple[int, str]] = {}
        self._simple: dict[int, tuple[int, tuple[tuple[str, str], ...]]] = {}

    def _key(self, intent: Intent) -> tuple[int, str]:
        found = self._keys.get(intent)
        if found is None:
            found = self._keys[intent] = intent_key(intent)
        return found

    def _simplicity(self, u: int) -> tuple[int, tuple[tuple[str, str], ...]]:
        found = self._simple.get(u)
        if found is None:
            found = self._simple[u] = simplicity(self.universe.pods[u].labels)
        return found

    def candidates(self, diff: BoolArray) -> list[_Candidate]:
        """The cheapest additions that would probe some connection where ``diff`` is set.

        Connections needing the same additions are grouped with numpy; each group
        is represented by its best connection (preferred port, simplest labels).
        """
        ks, ss, ds = np.nonzero(diff)
        if not len(ks):
            return []
        size = self.universe.size
        pairs, pair_of = np.unique(ks * size + ds, return_inverse=True)
        pair_list = [(int(p) // size, int(p) % size) for p in pairs]
        pair_ids = np.array([self._id(self.target_intents(k, d)) for k, d in pair_list])
        pair_len = np.array([len(self.target_intents(k, d)) for k, d in pair_list])
        pair_rank = _positions([self._target_rank(k, d) for k, d in pair_list])
        # A connection between two pods of one kind needs a second pod of that kind as the
        # source: the matrix source with those labels may be the target pod itself.
        replica = (ss == ds) | (self._prober_ids[ss] == self._target_ids[ds])
        sources, source_of = np.unique(ss * 2 + replica, return_inverse=True)
        slots = [(int(v) // 2, bool(v % 2)) for v in sources]
        source_ids = np.array([self._id(self.source_intents(u, replica=r)) for u, r in slots])
        source_len = np.array([len(self.source_intents(u, replica=r)) for u, r in slots])
        source_rank = _positions(
            [(len(self.source_intents(u, replica=r)), self._simplicity(u)) for u, r in slots]
        )
        group = source_ids[source_of] * (len(self._ids) + 1) + pair_ids[pair_of]
        order = np.lexsort((source_rank[source_of], pair_rank[pair_of], group))
        _, first = np.unique(group[order], return_index=True)
        best = order[first]
        # Fewest additions first, then the preferred target and port, then the simplest source.
        sizes = source_len[source_of[best]] + pair_len[pair_of[best]]
        keep = best[np.lexsort((source_rank[source_of[best]], pair_rank[pair_of[best]], sizes))]
        found = []
        for index in keep[:_PER_SURVIVOR].tolist():
            k, s, d = int(ks[index]), int(ss[index]), int(ds[index])
            source = self.source_intents(s, replica=bool(replica[index]))
            intents = frozenset((*source, *self.target_intents(k, d)))
            if not intents:
                continue  # already a matrix cell: only loopback can be, and it never differs
            found.append(_Candidate(intents, self._rank(intents, k, s, d), (k, s, d)))
        return sorted(found, key=lambda c: c.rank)

    def _replica(self, s: int, d: int) -> bool:
        return s == d or bool(self._prober_ids[s] == self._target_ids[d])

    def _id(self, intents: tuple[Intent, ...]) -> int:
        return self._ids.setdefault(intents, len(self._ids))

    def _target_rank(self, k: int, d: int) -> tuple[object, ...]:
        number, protocol = self._probe(k)
        target = self._target_of(d)
        return (
            len(self.target_intents(k, d)),
            # A port more on a declared target before a new target: one pod fewer to run.
            target is None,
            target is None
            or (number, protocol) not in {(p.port, p.protocol) for p in target.ports},
            (number, protocol) not in self._declared,
            number == MIN_PORT,  # the stand-in for "any low port": the last resort
            _PROTOCOL_ORDER[protocol],
            number,
            self._simplicity(d),
        )

    def _rank(self, intents: frozenset[Intent], k: int, s: int, d: int) -> tuple[object, ...]:
        return (
            len(intents),
            self._target_rank(k, d),
            self._simplicity(s),
            tuple(sorted(self._key(i) for i in intents)),
            s,
            d,
        )

    def _probe(self, k: int) -> tuple[int, Protocol]:
        probe = self.universe.probes[k]
        return int(probe.port), probe.protocol

    def _target_of(self, u: int) -> TargetSpec | None:
        found = [self._targets[r] for r in self.universe.members[u] if r in self._targets]
        return min(found, key=lambda t: t.name) if found else None

    def source_intents(self, u: int, *, replica: bool = False) -> tuple[Intent, ...]:
        """What the matrix needs to probe from a pod of kind ``u`` (``replica``: from a pod
        that is not the one pod of that kind the matrix may already have)."""
        cached = self._source_cache.get((u, replica))
        if cached is None:
            namespace, canonical, _ = self.universe.kinds[u]
            labels = self.universe.pods[u].labels
            out: list[Intent] = []
            if namespace not in self.scenario.matrix.namespaces:
                out.append(NamespaceIntent(namespace))
            if replica:
                # A label no selector reads keeps the kind but makes the pod a probe pod.
                name = f"{slug(labels) or 'unlabelled'}-{REPLICA_KEY}"
                out.append(SourceIntent(labels.with_label(self._replica_key, REPLICA_VALUE), name))
            elif canonical not in self._sources:
                out.append(SourceIntent(labels))
            cached = self._source_cache[(u, replica)] = tuple(out)
        return cached

    def target_intents(self, k: int, u: int) -> tuple[Intent, ...]:
        cached = self._target_cache.get((k, u))
        if cached is None:
            cached = self._target_cache[(k, u)] = self._compute_target_intents(k, u)
        return cached

    def _compute_target_intents(self, k: int, u: int) -> tuple[Intent, ...]:
        number, protocol = self._probe(k)
        wanted = PortSpec(number, protocol)
        matrix = self.scenario.matrix
        out: list[Intent] = []
        target = self._target_of(u)
        if target is not None:
            if target.name not in matrix.targets:
                out.append(TargetIntent(target.name))
            if not any(p.port == number and p.protocol is protocol for p in target.ports):
                out.append(TargetPortIntent(target.name, wanted))
                target = TargetSpec(
                    target.name, target.namespace, target.labels, (*target.ports, wanted)
                )
        else:
            pod = self.universe.pods[u]
            ports = tuple(PortSpec(cp.port, cp.protocol, cp.name) for cp in pod.ports)
            if not any(p.port == number and p.protocol is protocol for p in ports):
                ports = (*ports, wanted)
            out.append(NewTargetIntent(pod.namespace, pod.labels, ports))
            target = TargetSpec("new", pod.namespace, pod.labels, ports)
        if matrix.probes and (number, protocol) not in probed_ports(target, matrix.probes):
            out.append(ProbeIntent(number, protocol))
        return tuple(out)

    def observation(
        self,
        survivor: Survivor,
        cell: tuple[int, int, int],
        originals: Mapping[str, BoolArray],
        shape: tuple[int, int, int],
    ) -> Observation:
        k, s, d = cell
        version = next(v for v, packed in survivor.diffs if _unpack(packed, shape)[k, s, d])
        before = bool(originals[version][k, s, d])
        number, protocol = self._probe(k)
        return Observation(
            version=version,
            source=self._describe_source(s, replica=self._replica(s, d)),
            target=self._describe_target(d),
            port=number,
            protocol=protocol,
            expected=_verdict(before),
            mutated=_verdict(not before),
            in_matrix=False,
        )

    def _describe_source(self, u: int, *, replica: bool) -> str:
        namespace, canonical, _ = self.universe.kinds[u]
        name = self._sources.get(canonical)
        shown = (
            f"{namespace}/{name}"
            if name is not None
            else (f"{namespace}/{_labels_text(self.universe.pods[u].labels)}")
        )
        return f"{shown} (another pod)" if replica else shown

    def _describe_target(self, u: int) -> str:
        target = self._target_of(u)
        if target is not None:
            return target.ref
        pod = self.universe.pods[u]
        return f"{pod.namespace}/{_labels_text(pod.labels)} (no target)"


def _verdict(allowed: bool) -> Verdict:
    return Verdict.ALLOWED if allowed else Verdict.BLOCKED


def _labels_text(labels: Labels) -> str:
    return "{" + str(labels) + "}"


def _positions(keys: Sequence[tuple[object, ...]]) -> npt.NDArray[np.intp]:
    """Each key's position in the sorted order of ``keys``."""
    order = sorted(range(len(keys)), key=lambda i: keys[i])
    positions = np.empty(len(keys), dtype=np.intp)
    positions[order] = np.arange(len(keys))
    return positions
