"""Values of a mutation analysis: mutations, what became of each, and suggested matrix additions.

A *mutation* is one small change to a scenario's policies (or to a namespace's
labels) of the kind a hurried edit makes: a rule dropped, a selector emptied, a
port widened. The scenario's matrix *kills* it when some probed cell would see
another verdict than the original policies give; it *survives* otherwise. A
mutation no pod of the scenario's universe can tell from the original is
*equivalent*: no matrix could catch it, so it does not count against the score.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from service.policy.model import Labels, Protocol
from service.scenario.model import PortSpec, Verdict

__all__ = [
    "AddMatrixTarget",
    "AddProbe",
    "AddSource",
    "AddSourceNamespace",
    "AddTarget",
    "AddTargetPort",
    "Edit",
    "MutantResult",
    "Mutation",
    "MutationKind",
    "MutationReport",
    "Observation",
    "Outcome",
    "Suggestion",
    "UniverseSummary",
]


class MutationKind(StrEnum):
    DROP_POLICY = "drop-policy"
    DROP_RULE = "drop-rule"
    DROP_PEER = "drop-peer"
    # Remove the podSelector or the namespaceSelector of a peer that has both.
    DROP_SELECTOR = "drop-selector"
    EMPTY_SELECTOR = "empty-selector"
    DROP_MATCH_LABEL = "drop-match-label"
    DROP_MATCH_EXPRESSION = "drop-match-expression"
    WIDEN_PORT = "widen-port"
    SWAP_PROTOCOL = "swap-protocol"
    FLIP_POLICY_TYPES = "flip-policy-types"
    RELABEL_NAMESPACE = "relabel-namespace"


class Outcome(StrEnum):
    KILLED = "killed"
    SURVIVED = "survived"
    EQUIVALENT = "equivalent"


@dataclass(frozen=True, slots=True)
class Mutation:
    """One single change.

    ``version`` None: a scenario-level change (a namespace's labels), in force
    in every version. ``policy`` is ``namespace/name`` (None for a namespace
    relabel); ``path`` is the field changed, kubectl-style
    (``spec.ingress[0].from[1].podSelector``; empty for the whole policy,
    ``namespaces.NAME.KEY`` for a relabel).
    """

    id: str
    kind: MutationKind
    version: str | None
    policy: str | None
    path: str
    description: str

    @property
    def where(self) -> str:
        """Where the change is, for one line of a report."""
        if self.policy is None:
            return self.path
        return f"{self.policy} {self.path}" if self.path else self.policy


@dataclass(frozen=True, slots=True)
class Observation:
    """One connection whose verdict a mutation changes.

    ``source`` and ``target`` are as a report shows them: a matrix source as
    ``namespace/name``, a label set the matrix does not probe as
    ``namespace/{labels}``; a target by ``namespace/name``, a pod no target
    stands for as ``namespace/{labels} (no target)``.
    """

    version: str
    source: str
    target: str
    port: int
    protocol: Protocol
    expected: Verdict
    mutated: Verdict
    in_matrix: bool

    def __str__(self) -> str:
        return (
            f"{self.source} -> {self.target} {self.port}/{self.protocol} in {self.version}:"
            f" {self.expected} -> {self.mutated}"
        )


@dataclass(frozen=True, slots=True)
class MutantResult:
    """What became of one mutation.

    ``evidence``: for a killed mutation the first matrix cell (in plan order)
    that catches it; for a survivor a connection outside the matrix that would
    (the one the simplest addition reaches); None for an equivalent one.
    """

    mutation: Mutation
    outcome: Outcome
    evidence: Observation | None = None


@dataclass(frozen=True, slots=True)
class AddSource:
    """Add a source label set to ``matrix.sources``."""

    name: str
    labels: Labels


@dataclass(frozen=True, slots=True)
class AddSourceNamespace:
    """Add a declared namespace to ``matrix.namespaces``."""

    namespace: str


@dataclass(frozen=True, slots=True)
class AddMatrixTarget:
    """Add a declared target to ``matrix.targets``."""

    target: str


@dataclass(frozen=True, slots=True)
class AddTarget:
    """Declare a new target (and probe it: it joins ``matrix.targets`` when that is a list)."""

    name: str
    namespace: str
    labels: Labels
    ports: tuple[PortSpec, ...]


@dataclass(frozen=True, slots=True)
class AddTargetPort:
    """Let a declared target serve one more port."""

    target: str
    port: PortSpec


@dataclass(frozen=True, slots=True)
class AddProbe:
    """Add a port to ``matrix.ports`` (only needed when the matrix lists its ports)."""

    port: int
    protocol: Protocol = Protocol.TCP


Edit = AddSource | AddSourceNamespace | AddMatrixTarget | AddTarget | AddTargetPort | AddProbe


@dataclass(frozen=True, slots=True)
class Suggestion:
    """Additions to the matrix that kill ``kills`` (mutation ids) when added after the ones
    before it; ``yaml`` is the snippet to paste into the scenario."""

    edits: tuple[Edit, ...]
    kills: tuple[str, ...]
    yaml: str


@dataclass(frozen=True, slots=True)
class UniverseSummary:
    """The pods and ports searched for differences (and for suggestions).

    ``exhaustive``: every label set that policies can tell apart was searched,
    so "equivalent" means no pod of the scenario's namespaces could ever tell.
    """

    label_sets: int
    namespaces: int
    pods: int
    probes: int
    exhaustive: bool


@dataclass(frozen=True, slots=True)
class MutationReport:
    scenario: str
    results: tuple[MutantResult, ...]
    suggestions: tuple[Suggestion, ...]
    universe: UniverseSummary
    # Survivors no addition found in the universe can kill (rare: see docs/mutation.md).
    unkillable: tuple[str, ...] = ()
    versions: tuple[str, ...] = field(default=())

    def of(self, outcome: Outcome) -> tuple[MutantResult, ...]:
        return tuple(r for r in self.results if r.outcome is outcome)

    @property
    def killed(self) -> int:
        return len(self.of(Outcome.KILLED))

    @property
    def survived(self) -> int:
        return len(self.of(Outcome.SURVIVED))

    @property
    def equivalent(self) -> int:
        return len(self.of(Outcome.EQUIVALENT))

    @property
    def score(self) -> float | None:
        """killed / (killed + survived); None when every mutation is equivalent (or none)."""
        counted = self.killed + self.survived
        return self.killed / counted if counted else None

    def result(self, mutation_id: str) -> MutantResult:
        for r in self.results:
            if r.mutation.id == mutation_id:
                return r
        raise KeyError(mutation_id)
