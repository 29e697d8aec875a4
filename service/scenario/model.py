"""A scenario as the rest of the service sees it: validated, resolved, immutable.

The YAML format users write is parsed and validated by
:mod:`service.scenario.load` into these values; planning
(:mod:`service.scenario.plan`) turns them into cells. Nothing here reads files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from service.policy.model import Labels, NetworkPolicy, Protocol
from service.scenario.chaos import ChaosSpec


class Verdict(StrEnum):
    """The outcome of one cell, expected or observed.

    ``error``: the probe could not run (pod not ready, exec failed) - never
    counted as blocked. ``invalid``: nothing to probe (the target lacks the
    named port or does not serve the protocol); such cells are not probed.
    """

    ALLOWED = "allowed"
    BLOCKED = "blocked"
    ERROR = "error"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class NamespaceSpec:
    name: str
    labels: Labels = field(default_factory=Labels)


@dataclass(frozen=True, slots=True)
class PortSpec:
    """A port a target serves; ``name`` is the container port name policies may use."""

    port: int
    protocol: Protocol = Protocol.TCP
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """An optional Service in front of a target (same name as the target unless given)."""

    name: str
    ports: tuple[PortSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """A target workload: pods with these labels in ``namespace`` serving ``ports``."""

    name: str
    namespace: str
    labels: Labels
    ports: tuple[PortSpec, ...]
    service: ServiceSpec | None = None

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A source label set; one probe pod per (source, source namespace)."""

    name: str
    labels: Labels = field(default_factory=Labels)


@dataclass(frozen=True, slots=True)
class ProbeSpec:
    """A probed port: a number, or a port name resolved on each target."""

    port: int | str
    protocol: Protocol = Protocol.TCP

    def __str__(self) -> str:
        return f"{self.port}/{self.protocol}"


@dataclass(frozen=True, slots=True)
class MatrixSpec:
    """Source label sets x source namespaces x targets x probes.

    ``probes`` empty means: every port each target declares, with its protocol.
    """

    sources: tuple[SourceSpec, ...]
    namespaces: tuple[str, ...]
    targets: tuple[str, ...]
    probes: tuple[ProbeSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    """One named set of policies; ``files`` are relative to the scenario file."""

    name: str
    policies: tuple[NetworkPolicy, ...] = ()
    files: tuple[str, ...] = ()
    # sha256 of the canonical policy content: "same version" for flake and drift logic.
    content_hash: str = ""
    description: str = ""


@dataclass(frozen=True, slots=True)
class Expectation:
    """An explicit expectation written by the user; ``version`` None means every version."""

    source_namespace: str
    source_labels: Labels
    target: str
    port: int | str
    protocol: Protocol
    verdict: Verdict
    version: str | None = None
    description: str = ""
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Schedule:
    cron: str
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    namespaces: tuple[NamespaceSpec, ...]
    targets: tuple[TargetSpec, ...]
    matrix: MatrixSpec
    versions: tuple[PolicyVersion, ...]
    expectations: tuple[Expectation, ...] = ()
    schedule: Schedule | None = None
    description: str = ""
    # Where it was read from (display only) and the sha256 of its resolved content:
    # a stored run points at this revision.
    path: str | None = field(default=None, compare=False)
    content_hash: str = ""
    # Chaos steps (service.scenario.chaos), run by `netpol-drift chaos`; None: none.
    chaos: ChaosSpec | None = None

    def target(self, name: str) -> TargetSpec:
        for t in self.targets:
            if t.name == name:
                return t
        raise KeyError(name)

    def version(self, name: str) -> PolicyVersion:
        for v in self.versions:
            if v.name == name:
                return v
        raise KeyError(name)

    def namespace_labels(self) -> dict[str, Labels]:
        return {ns.name: ns.labels for ns in self.namespaces}


__all__ = [
    "Expectation",
    "MatrixSpec",
    "NamespaceSpec",
    "PolicyVersion",
    "PortSpec",
    "ProbeSpec",
    "Scenario",
    "Schedule",
    "ServiceSpec",
    "SourceSpec",
    "TargetSpec",
    "Verdict",
]
