"""The values compare works on: what one run saw of one cell, and the run around it.

The store maps its rows to these (``service.store`` owns that mapping); nothing
here knows a database. Everything is a frozen value.

Identity
    ``cell_key`` is unique within a run and *includes the policy version*
    (:func:`service.scenario.cells.cell_key`): the same key in two runs is the
    same (version, connection), which is what drift and flakes follow.
    ``pair_key`` leaves the version out (:func:`service.scenario.cells.pair_key`):
    the same connection across the versions of a scenario.

Policy content
    ``version_hash`` is the sha256 of the version's canonical policy content
    (:attr:`service.scenario.model.PolicyVersion.content_hash`). Two runs of a
    version with the same hash enforced the same policies, so a change between
    them is not explained by the policy: that is the alarm, and the only place
    a flake can be counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from service.policy.model import Labels, Protocol
from service.scenario.cells import Cell, RawOutcome, probe_label
from service.scenario.model import Verdict

__all__ = ["CellObservation", "CellPlace", "RunSummary", "VersionHash", "place_of"]


@dataclass(frozen=True, slots=True)
class CellPlace:
    """Where a cell probes: from a source label set in a namespace to a target's port.

    ``source`` is the scenario's name for the label set (display only: policies
    see the labels). ``port`` is as written (a number or a port name);
    ``port_number`` is what was probed, None when a named port did not resolve.
    """

    source_namespace: str
    source_labels: Labels
    target_namespace: str
    target: str
    port: int | str
    protocol: Protocol
    port_number: int | None = None
    source: str = ""

    @property
    def source_ref(self) -> str:
        return f"{self.source_namespace}/{self.source or self.source_labels or '{}'}"

    @property
    def target_ref(self) -> str:
        return f"{self.target_namespace}/{self.target}"

    @property
    def probe_label(self) -> str:
        return probe_label(self.port, self.port_number, self.protocol)

    def __str__(self) -> str:
        return f"{self.source_ref} -> {self.target_ref} {self.probe_label}"


def place_of(cell: Cell) -> CellPlace:
    """The place of a planned cell (:mod:`service.scenario.cells`)."""
    return CellPlace(
        source_namespace=cell.source_namespace,
        source_labels=cell.source_labels,
        target_namespace=cell.target_namespace,
        target=cell.target,
        port=cell.port,
        protocol=cell.protocol,
        port_number=cell.port_number,
        source=cell.source,
    )


@dataclass(frozen=True, slots=True)
class CellObservation:
    """One cell in one run, as stored.

    ``observed`` is the verdict of the final attempt; ``attempts`` lists every
    attempt's verdict in order (empty for a cell that was never probed).
    ``explanation`` is the engine's rendered explanation of ``expected``.
    ``regression``, ``flaky`` and ``loopback`` are the flags the run set
    (:mod:`service.runner.results` decides them).
    """

    run_id: int
    run_at: datetime
    cell_key: str
    pair_key: str
    version: str
    version_hash: str
    place: CellPlace
    expected: Verdict
    observed: Verdict
    raw_outcome: RawOutcome | None = None
    attempts: tuple[Verdict, ...] = ()
    explanation: str | None = None
    regression: bool = False
    flaky: bool = False
    loopback: bool = False

    @property
    def invalid(self) -> bool:
        """Nothing was probed: the target lacks the named port or the port/protocol."""
        return self.expected is Verdict.INVALID or self.observed is Verdict.INVALID

    @property
    def attempts_disagree(self) -> bool:
        """The attempts of this run did not all see the same verdict."""
        attempts = self.attempts
        # count() runs in C; most cells have a single attempt and stop at len().
        return len(attempts) > 1 and attempts.count(attempts[0]) != len(attempts)

    @property
    def flaky_within_run(self) -> bool:
        """Flaky inside its own run: the attempts disagree, or the run said so."""
        return self.flaky or self.attempts_disagree


@dataclass(frozen=True, slots=True)
class VersionHash:
    """A policy version of a run and the content hash of the policies it applied."""

    name: str
    content_hash: str


@dataclass(frozen=True, slots=True)
class RunSummary:
    """A run as compare needs it: which scenario, when, at which revision, which versions.

    ``revision_hash`` is the scenario's content hash (the revision the run ran);
    ``versions`` the policy versions it applied, each with its content hash.
    """

    id: int
    scenario: str
    created_at: datetime
    revision_hash: str
    versions: tuple[VersionHash, ...] = ()

    def version_hash(self, name: str) -> str | None:
        """The content hash the run applied for version ``name``; None if it had none."""
        for version in self.versions:
            if version.name == name:
                return version.content_hash
        return None

    @property
    def order_key(self) -> tuple[datetime, int]:
        """Runs are ordered by creation time, then id (ids break ties between equal times)."""
        return (self.created_at, self.id)
