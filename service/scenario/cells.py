"""Cells: the unit a run probes, their stable keys, and what a probe of one can see.

A cell is one (policy version, source namespace, source label set, target, port,
protocol). It has two stable identities:

- its **key** names the cell *in its version*: a stored result is unique per
  run and key, so a redelivered shard's cells collide with the ones already
  stored, and the same cell of the same version can be followed from run to run;
- its **pair key** leaves the version out: the same connection followed from
  version to version (a policy diff, "what changed with this version").

Both are the first 16 hex digits of the sha256 of a canonical JSON array::

    key:      ["cell/2", version, source namespace, [[label, value], ...sorted],
               target namespace, target name, port, protocol]
    pair key: ["cell/1", source namespace, [[label, value], ...sorted],
               target namespace, target name, port, protocol]

- the source is identified by its *labels* (what policies see), not by the name
  the scenario gives the label set, and the labels are sorted, so renaming a
  source or reordering its labels in YAML keeps the keys;
- the target is identified by namespace and name: changing its labels or ports
  is still "the same target", which is what a user following a cell expects;
- the port is kept as written: a named port stays a name (JSON keeps ``80`` and
  ``"http"`` apart), because the number behind a name may change between runs;
- the version is identified by its name (its content may change between
  revisions: that is drift, and the cell is still the same cell);
- nothing else of the scenario goes in, so adding targets, sources, versions or
  expectations, or changing descriptions, never moves an existing cell.

``cell/1`` and ``cell/2`` version the recipes: the pair key is exactly the key
of recipe 1, and if a recipe ever has to change, old keys stay distinct.

:func:`expand_cells` expands a scenario's matrix into cells, resolving each
probed port on its target (a port the target does not serve makes an invalid
cell); which pod probes for which source is the planner's decision
(:mod:`service.scenario.plan`).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from service.policy.model import Labels, Protocol
from service.scenario.model import PortSpec, ProbeSpec, Scenario, TargetSpec, Verdict

__all__ = [
    "Cell",
    "CellKind",
    "RawOutcome",
    "cell_key",
    "expand_cells",
    "pair_key",
    "probe_label",
    "verdict_of",
]

KEY_RECIPE = "cell/2"
PAIR_KEY_RECIPE = "cell/1"
KEY_LENGTH = 16


class CellKind(StrEnum):
    """How a cell is treated.

    ``probe``: an ordinary cell, probed and compared. ``loopback``: the probing
    pod is the target pod itself; probed and reported, but CNIs differ on
    hairpin traffic, so a mismatch is listed apart and is not a regression.
    ``invalid``: nothing to probe (the target lacks the named port or does not
    serve the port/protocol); planned, reported, never probed.
    """

    PROBE = "probe"
    LOOPBACK = "loopback"
    INVALID = "invalid"


class RawOutcome(StrEnum):
    """What one connection attempt did, before it is read as a verdict.

    It lives beside the cells rather than in ``service.cluster`` so results and
    reports can name it without depending on any cluster backend.
    """

    CONNECTED = "connected"
    TIMEOUT = "timeout"
    # The packet reached the target (policy let it through) but nothing listened:
    # not evidence of blocking, and not of a working service either.
    REFUSED = "refused"
    DNS_ERROR = "dns-error"
    # The probe itself could not run (exec failed, pod gone): never "blocked".
    EXEC_ERROR = "exec-error"


_VERDICT_OF: dict[RawOutcome, Verdict] = {
    RawOutcome.CONNECTED: Verdict.ALLOWED,
    RawOutcome.TIMEOUT: Verdict.BLOCKED,
    RawOutcome.REFUSED: Verdict.ERROR,
    RawOutcome.DNS_ERROR: Verdict.ERROR,
    RawOutcome.EXEC_ERROR: Verdict.ERROR,
}


def verdict_of(outcome: RawOutcome) -> Verdict:
    """The verdict a raw outcome stands for; only a timeout counts as blocked."""
    return _VERDICT_OF[outcome]


def probe_label(port: int | str, port_number: int | None, protocol: Protocol) -> str:
    """``80/TCP``, ``http/TCP``; a resolved name shows its number: ``http(8080)/TCP``."""
    if isinstance(port, str) and port_number is not None:
        return f"{port}({port_number})/{protocol}"
    return f"{port}/{protocol}"


def cell_key(
    *,
    version: str,
    source_namespace: str,
    source_labels: Labels,
    target_namespace: str,
    target: str,
    port: int | str,
    protocol: Protocol,
) -> str:
    """The stable key of a cell in its version (see the module docstring for the recipe)."""
    connection = _connection(
        source_namespace, source_labels, target_namespace, target, port, protocol
    )
    # The JSON of [recipe, version, *connection], spliced from the cached connection text.
    head = json.dumps([KEY_RECIPE, version], separators=(",", ":"), ensure_ascii=False)
    return _digest(f"{head[:-1]},{connection[1:]}")


def pair_key(
    *,
    source_namespace: str,
    source_labels: Labels,
    target_namespace: str,
    target: str,
    port: int | str,
    protocol: Protocol,
) -> str:
    """The key of a connection in every version (see the module docstring for the recipe)."""
    return _pair_key(source_namespace, source_labels, target_namespace, target, port, protocol)


# Planning a large matrix makes the same connections once per version: their JSON and
# pair key are computed once. Bounded, as a long-lived worker plans many scenarios.
_CACHE_SIZE = 1 << 17


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _pair_key(
    source_namespace: str,
    source_labels: Labels,
    target_namespace: str,
    target: str,
    port: int | str,
    protocol: Protocol,
) -> str:
    connection = _connection(
        source_namespace, source_labels, target_namespace, target, port, protocol
    )
    return _digest(f'["{PAIR_KEY_RECIPE}",{connection[1:]}')


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _connection(
    source_namespace: str,
    source_labels: Labels,
    target_namespace: str,
    target: str,
    port: int | str,
    protocol: Protocol,
) -> str:
    """The JSON array of what identifies a connection (``port`` 80 and "80" stay apart)."""
    return json.dumps(
        [
            source_namespace,
            [[k, v] for k, v in sorted(source_labels.items())],
            target_namespace,
            target,
            port,
            str(protocol),
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    )


def _digest(canonical: str) -> str:
    return hashlib.sha256(canonical.encode()).hexdigest()[:KEY_LENGTH]


@dataclass(frozen=True, slots=True)
class Cell:
    """One planned cell of one policy version.

    ``source`` is the scenario's name for the label set and ``source_pod`` /
    ``target_pod`` the ``namespace/name`` of the pods in the planned layout.
    ``port`` is as written in the scenario; ``port_number`` is what is probed
    (None only for an invalid cell whose named port does not resolve) and
    ``port_name`` the target's name for that port, if it has one. ``key`` and
    ``pair_key`` are derived (see the module docstring): the cell in its
    version, and the same connection in any version.
    """

    version: str
    source_namespace: str
    source: str
    source_labels: Labels
    source_pod: str
    target_namespace: str
    target: str
    target_pod: str
    port: int | str
    protocol: Protocol
    port_number: int | None
    port_name: str | None
    kind: CellKind
    invalid_reason: str = ""
    key: str = field(init=False)
    pair_key: str = field(init=False)

    def __post_init__(self) -> None:
        pair = pair_key(
            source_namespace=self.source_namespace,
            source_labels=self.source_labels,
            target_namespace=self.target_namespace,
            target=self.target,
            port=self.port,
            protocol=self.protocol,
        )
        key = cell_key(
            version=self.version,
            source_namespace=self.source_namespace,
            source_labels=self.source_labels,
            target_namespace=self.target_namespace,
            target=self.target,
            port=self.port,
            protocol=self.protocol,
        )
        # A frozen dataclass sets derived fields through object.__setattr__.
        object.__setattr__(self, "pair_key", pair)
        object.__setattr__(self, "key", key)

    @property
    def source_ref(self) -> str:
        """``namespace/source`` as reports show the source."""
        return f"{self.source_namespace}/{self.source}"

    @property
    def target_ref(self) -> str:
        return f"{self.target_namespace}/{self.target}"

    @property
    def probe_label(self) -> str:
        return probe_label(self.port, self.port_number, self.protocol)

    @property
    def probed(self) -> bool:
        return self.kind is not CellKind.INVALID

    def __str__(self) -> str:
        return f"{self.source_ref} -> {self.target_ref} {self.probe_label}"


def _probes_for(target: TargetSpec, probes: Sequence[ProbeSpec]) -> list[ProbeSpec]:
    if probes:
        return list(probes)
    # No probes listed: every port the target declares, by number.
    return [ProbeSpec(p.port, p.protocol) for p in target.ports]


def _resolve(target: TargetSpec, probe: ProbeSpec) -> tuple[PortSpec | None, str]:
    for port in target.ports:
        if port.protocol is not probe.protocol:
            continue
        if (isinstance(probe.port, str) and port.name == probe.port) or port.port == probe.port:
            return port, ""
    if isinstance(probe.port, str):
        return None, f"target {target.ref} has no port named {probe.port!r} for {probe.protocol}"
    return None, f"target {target.ref} does not serve {probe.port}/{probe.protocol}"


def expand_cells(
    scenario: Scenario,
    targets: Sequence[TargetSpec],
    prober: Mapping[tuple[str, str], str],
    *,
    version: str,
) -> list[Cell]:
    """The cells of one version in plan order: source namespace, source, target, probe.

    ``prober`` maps (source name, namespace) to the pod probing for it (see
    :func:`service.scenario.plan.build_layout`).
    """
    cells = []
    for namespace in scenario.matrix.namespaces:
        for source in scenario.matrix.sources:
            source_pod = prober[(source.name, namespace)]
            for target in targets:
                target_pod = target.ref
                for probe in _probes_for(target, scenario.matrix.probes):
                    port, reason = _resolve(target, probe)
                    if port is None:
                        kind = CellKind.INVALID
                    elif source_pod == target_pod:
                        kind = CellKind.LOOPBACK
                    else:
                        kind = CellKind.PROBE
                    cells.append(
                        Cell(
                            version=version,
                            source_namespace=namespace,
                            source=source.name,
                            source_labels=source.labels,
                            source_pod=source_pod,
                            target_namespace=target.namespace,
                            target=target.name,
                            target_pod=target_pod,
                            port=probe.port,
                            protocol=probe.protocol,
                            port_number=port.port if port is not None else None,
                            port_name=port.name if port is not None else None,
                            kind=kind,
                            invalid_reason=reason,
                        )
                    )
    return cells
