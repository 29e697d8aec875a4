"""Additions to a scenario's matrix, applied to the Scenario value, and the cells they probe.

An *intent* says what to add without naming it (a source with these labels, a
target of this kind serving this port); applying intents to a scenario names
the new sources and targets, so the same intent always becomes the same edit
on the same scenario. :func:`probed_cells` lists a scenario's probed cells as
flat indices into the universe's verdict tensors, using the planner's own
layout (which pod probes for which source, loopback included).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from service.mutate.model import (
    AddMatrixTarget,
    AddProbe,
    AddSource,
    AddSourceNamespace,
    AddTarget,
    AddTargetPort,
    Edit,
)
from service.mutate.universe import Universe
from service.policy.model import ContainerPort, Labels, Protocol
from service.scenario.model import PortSpec, ProbeSpec, Scenario, SourceSpec, TargetSpec
from service.scenario.plan import PROBE_POD_PREFIX

__all__ = [
    "Intent",
    "NamespaceIntent",
    "NewTargetIntent",
    "ProbeIntent",
    "SourceIntent",
    "TargetIntent",
    "TargetPortIntent",
    "apply_intents",
    "intent_key",
    "probed_cells",
    "probed_ports",
    "slug",
]

IntArray = npt.NDArray[np.int64]
_NAME_LIMIT = 63


@dataclass(frozen=True, slots=True)
class SourceIntent:
    """``name`` is a preferred name (made unique on use); empty: one made from the labels."""

    labels: Labels
    name: str = ""


@dataclass(frozen=True, slots=True)
class NamespaceIntent:
    namespace: str


@dataclass(frozen=True, slots=True)
class TargetIntent:
    """Probe a declared target the matrix leaves out."""

    target: str


@dataclass(frozen=True, slots=True)
class NewTargetIntent:
    namespace: str
    labels: Labels
    ports: tuple[PortSpec, ...]


@dataclass(frozen=True, slots=True)
class TargetPortIntent:
    target: str
    port: PortSpec


@dataclass(frozen=True, slots=True)
class ProbeIntent:
    port: int
    protocol: Protocol


Intent = (
    SourceIntent | NamespaceIntent | TargetIntent | NewTargetIntent | TargetPortIntent | ProbeIntent
)
# Namespaces and targets first: a source or a probe is then added to the matrix they make.
_ORDER: dict[type, int] = {
    NamespaceIntent: 0,
    NewTargetIntent: 1,
    TargetIntent: 2,
    TargetPortIntent: 3,
    ProbeIntent: 4,
    SourceIntent: 5,
}


def intent_key(intent: Intent) -> tuple[int, str]:
    """A total order on intents, so every choice made over them is deterministic."""
    return _ORDER[type(intent)], repr(intent)


def apply_intents(scenario: Scenario, intents: Iterable[Intent]) -> tuple[Scenario, list[Edit]]:
    """``scenario`` with ``intents`` added to its matrix, and the named edits that did it."""
    edits: list[Edit] = []
    for intent in sorted(intents, key=intent_key):
        for step in _expand(scenario, intent):
            scenario, edit = _apply(scenario, step)
            edits.append(edit)
    return scenario, edits


def _expand(scenario: Scenario, intent: Intent) -> list[Intent]:
    """A new target like a declared one (same namespace and labels: an earlier suggestion
    added it) becomes ports on that one, so suggestions never add the same pod twice."""
    if not isinstance(intent, NewTargetIntent):
        return [intent]
    for target in scenario.targets:
        if target.namespace == intent.namespace and target.labels == intent.labels:
            served = {(p.port, p.protocol) for p in target.ports}
            steps: list[Intent] = [
                TargetPortIntent(target.name, p)
                for p in intent.ports
                if (p.port, p.protocol) not in served
            ]
            if target.name not in scenario.matrix.targets:
                steps.insert(0, TargetIntent(target.name))
            return steps
    return [intent]


def _apply(scenario: Scenario, intent: Intent) -> tuple[Scenario, Edit]:
    matrix = scenario.matrix
    match intent:
        case NamespaceIntent(namespace):
            matrix = replace(matrix, namespaces=(*matrix.namespaces, namespace))
            return replace(scenario, matrix=matrix), AddSourceNamespace(namespace)
        case SourceIntent(labels, preferred):
            name = _source_name(scenario, preferred or slug(labels) or "unlabelled")
            matrix = replace(matrix, sources=(*matrix.sources, SourceSpec(name, labels)))
            return replace(scenario, matrix=matrix), AddSource(name, labels)
        case TargetIntent(listed):
            matrix = replace(matrix, targets=(*matrix.targets, listed))
            return replace(scenario, matrix=matrix), AddMatrixTarget(listed)
        case NewTargetIntent(namespace, labels, ports):
            name = _target_name(scenario, labels)
            target = TargetSpec(name, namespace, labels, ports)
            matrix = replace(matrix, targets=(*matrix.targets, name))
            scenario = replace(scenario, targets=(*scenario.targets, target), matrix=matrix)
            return scenario, AddTarget(name, namespace, labels, ports)
        case TargetPortIntent(target_name, port):
            targets = tuple(
                replace(t, ports=(*t.ports, port)) if t.name == target_name else t
                for t in scenario.targets
            )
            return replace(scenario, targets=targets), AddTargetPort(target_name, port)
        case ProbeIntent(port, protocol):
            matrix = replace(matrix, probes=(*matrix.probes, ProbeSpec(port, protocol)))
            return replace(scenario, matrix=matrix), AddProbe(port, protocol)
    raise AssertionError(f"unknown intent {intent!r}")  # pragma: no cover - exhaustive match


def slug(labels: Labels) -> str:
    """A name made of ``labels``: ``app-web-role-db``; empty for no labels."""
    text = "-".join(f"{k.rsplit('/', 1)[-1]}-{v}" for k, v in labels.items()).lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:_NAME_LIMIT].strip("-")


def _unique(base: str, taken: set[str]) -> str:
    name, n = base, 1
    while name in taken:
        n += 1
        suffix = f"-{n}"
        name = base[: _NAME_LIMIT - len(suffix)].rstrip("-") + suffix
    return name


def _source_name(scenario: Scenario, base: str) -> str:
    taken = {s.name for s in scenario.matrix.sources}
    # A source's probe pod is named probe-NAME; it must not collide with a target's pod.
    taken |= {
        t.name.removeprefix(PROBE_POD_PREFIX)
        for t in scenario.targets
        if t.name.startswith(PROBE_POD_PREFIX)
    }
    return _unique(base, taken)


def _target_name(scenario: Scenario, labels: Labels) -> str:
    base = slug(labels) or "unlabelled"
    if not base[0].isalpha():
        base = f"target-{base}"[:_NAME_LIMIT]
    if base.startswith(PROBE_POD_PREFIX):
        base = f"target-{base}"[:_NAME_LIMIT]
    return _unique(base, {t.name for t in scenario.targets})


def probed_ports(target: TargetSpec, probes: Sequence[ProbeSpec]) -> list[tuple[int, Protocol]]:
    """The (number, protocol) pairs the matrix probes on ``target``, as the planner resolves
    them (a probe the target cannot answer is an invalid cell, never probed)."""
    wanted = probes or tuple(ProbeSpec(p.port, p.protocol) for p in target.ports)
    out: list[tuple[int, Protocol]] = []
    for probe in wanted:
        for port in target.ports:
            if port.protocol is not probe.protocol:
                continue
            if (isinstance(probe.port, str) and port.name == probe.port) or port.port == probe.port:
                out.append((port.port, port.protocol))
                break
    return out


def probed_cells(scenario: Scenario, universe: Universe) -> IntArray:
    """Flat indices ``k * U * U + s * U + d`` of every probed, non-loopback cell of the matrix.

    Which pod probes for a source follows the planner
    (:func:`service.scenario.plan.build_layout`): the first target by name in the
    namespace with exactly the source's labels (then a cell to that target is
    loopback), else a probe pod with the source's labels. The tests hold the two
    to the same cells.
    """
    matrix = scenario.matrix
    by_namespace: dict[str, list[TargetSpec]] = {}
    for target in sorted(scenario.targets, key=lambda t: t.name):
        by_namespace.setdefault(target.namespace, []).append(target)
    size = universe.size
    ref_ids: dict[str, int] = {}
    rows: list[tuple[int, int]] = []
    for namespace in matrix.namespaces:
        for source in matrix.sources:
            twin = next(
                (t for t in by_namespace.get(namespace, ()) if t.labels == source.labels), None
            )
            if twin is not None:
                ref, u = twin.ref, _target_index(universe, twin)
            else:
                ref = f"{namespace}/{PROBE_POD_PREFIX}{source.name}"
                u = universe.kind_index(namespace, source.labels, ())
            rows.append((ref_ids.setdefault(ref, len(ref_ids)), u))
    columns: list[tuple[int, int, int]] = []
    for name in matrix.targets:
        target = scenario.target(name)
        ref_id = ref_ids.setdefault(target.ref, len(ref_ids))
        u = _target_index(universe, target)
        for number, protocol in probed_ports(target, matrix.probes):
            columns.append((ref_id, u, universe.probe_index.get((number, protocol), -1)))
    if not rows or not columns:
        return np.zeros(0, dtype=np.int64)
    src = np.array(rows, dtype=np.int64)
    dst = np.array(columns, dtype=np.int64)
    flat = dst[None, :, 2] * size * size + src[:, None, 1] * size + dst[None, :, 1]
    # Loopback is a pod probing itself: the same pod on both sides (a twin target).
    keep = (src[:, None, 0] != dst[None, :, 0]) & (src[:, None, 1] >= 0)
    keep &= (dst[None, :, 1] >= 0) & (dst[None, :, 2] >= 0)
    return np.unique(flat[keep])


def _target_index(universe: Universe, target: TargetSpec) -> int:
    ports = tuple(ContainerPort(p.port, p.protocol, p.name) for p in target.ports)
    return universe.kind_index(target.namespace, target.labels, ports)
