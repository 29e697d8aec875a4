"""The version diff over a matrix: what two policy versions allow among the probed cells.

Where the engine-level diff (:mod:`service.compare.enginediff`) asks the engine
about every port, this one reads cells: each side is a set of cells of one
version with a verdict each (the engine's expected verdicts, or what a run
observed), and a pair's connections are the probed ports whose verdict is
``allowed``. So it speaks only of what the matrix probes, and it works on a
stored run without re-running the engine.

Endpoints are the matrix's: a source is a label set in a namespace (what
policies see; the scenario's name for it is shown, not compared), a target is
a namespace and a name. A source or target present on one side only is an
added or removed workload. Loopback cells are left out (a pod to itself, as
netpol-analyzer leaves out self pairs) and so are invalid cells (nothing was
probed); both still make their endpoints known to the side.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeAlias

from service.compare.observations import CellObservation, CellPlace, place_of
from service.compare.pairdiff import VersionDiff, diff_pairs
from service.compare.runs import RunRecord
from service.errors import FieldPath, InvalidInput, Problem
from service.policy.connections import ConnectionSet, Interval
from service.policy.model import Labels, Protocol
from service.scenario.cells import CellKind
from service.scenario.model import Verdict
from service.scenario.plan import VersionPlan

__all__ = [
    "MatrixEndpoint",
    "MatrixSource",
    "MatrixTarget",
    "PlacedVerdict",
    "VerdictSide",
    "matrix_diff",
    "planned_verdicts",
    "run_verdicts",
    "run_version_diff",
]


@dataclass(frozen=True, slots=True)
class MatrixSource:
    """A source of the matrix: a label set in a namespace (``name`` is display only)."""

    namespace: str
    labels: Labels
    name: str = field(default="", compare=False)

    def __str__(self) -> str:
        labels = str(self.labels) or "no labels"
        return (
            f"{self.namespace}/{self.name}[{labels}]"
            if self.name
            else f"{self.namespace}/[{labels}]"
        )


@dataclass(frozen=True, slots=True)
class MatrixTarget:
    """A target of the matrix, by namespace and name."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


MatrixEndpoint: TypeAlias = MatrixSource | MatrixTarget


def _sort_key(endpoint: MatrixEndpoint) -> tuple[object, ...]:
    # Sources before targets; a source by namespace then labels (its identity), not name.
    if isinstance(endpoint, MatrixSource):
        return (0, endpoint.namespace, str(endpoint.labels))
    return (1, endpoint.namespace, endpoint.name)


class VerdictSide(StrEnum):
    """Which verdict of a stored cell a diff reads."""

    EXPECTED = "expected"
    OBSERVED = "observed"


@dataclass(frozen=True, slots=True)
class PlacedVerdict:
    """A cell's place and one verdict for it."""

    place: CellPlace
    verdict: Verdict
    loopback: bool = False


def run_verdicts(
    cells: Iterable[CellObservation], version: str, *, side: VerdictSide = VerdictSide.EXPECTED
) -> list[PlacedVerdict]:
    """The cells of ``version`` among ``cells``, with their expected or observed verdict."""
    expected = side is VerdictSide.EXPECTED
    return [
        PlacedVerdict(c.place, c.expected if expected else c.observed, c.loopback)
        for c in cells
        if c.version == version
    ]


def planned_verdicts(plan: VersionPlan) -> list[PlacedVerdict]:
    """A planned version's cells with the engine's expected verdicts (no run needed)."""
    return [
        PlacedVerdict(
            place_of(cell),
            plan.expected[cell.key].verdict,
            cell.kind is CellKind.LOOPBACK,
        )
        for cell in plan.cells
    ]


def _connections(
    cells: Iterable[PlacedVerdict],
) -> tuple[dict[tuple[MatrixEndpoint, MatrixEndpoint], ConnectionSet], set[MatrixEndpoint]]:
    ports: dict[tuple[MatrixEndpoint, MatrixEndpoint], dict[Protocol, set[int]]] = {}
    endpoints: set[MatrixEndpoint] = set()
    for cell in cells:
        place = cell.place
        source = MatrixSource(place.source_namespace, place.source_labels, place.source)
        target = MatrixTarget(place.target_namespace, place.target)
        endpoints.add(source)
        endpoints.add(target)
        if cell.loopback or place.port_number is None or cell.verdict is Verdict.INVALID:
            continue
        # The pair is known (no connections yet) even when this cell is not allowed.
        open_ports = ports.setdefault((source, target), {})
        if cell.verdict is Verdict.ALLOWED:
            open_ports.setdefault(place.protocol, set()).add(place.port_number)
    return {pair: _as_set(found) for pair, found in ports.items()}, endpoints


def _as_set(found: dict[Protocol, set[int]]) -> ConnectionSet:
    def ranges(protocol: Protocol) -> tuple[Interval, ...]:
        return tuple((p, p) for p in sorted(found.get(protocol, ())))

    # The constructor merges neighbouring ports into ranges: 80,81 prints as 80-81.
    return ConnectionSet(
        tcp=ranges(Protocol.TCP), udp=ranges(Protocol.UDP), sctp=ranges(Protocol.SCTP)
    )


def matrix_diff(
    ref1: Iterable[PlacedVerdict],
    ref2: Iterable[PlacedVerdict],
    *,
    names: tuple[str, str] = ("ref1", "ref2"),
) -> VersionDiff[MatrixEndpoint]:
    """The pairs whose allowed probed ports differ from ``ref1`` to ``ref2``.

    Each side is the cells of one version (from :func:`run_verdicts` or
    :func:`planned_verdicts`); ``names`` label the sides in the report.
    """
    connections1, endpoints1 = _connections(ref1)
    connections2, endpoints2 = _connections(ref2)
    return diff_pairs(
        connections1,
        connections2,
        endpoints1=endpoints1,
        endpoints2=endpoints2,
        sort_key=_sort_key,
        names=names,
    )


def run_version_diff(
    run: RunRecord, ref1: str, ref2: str, *, side: VerdictSide = VerdictSide.EXPECTED
) -> VersionDiff[MatrixEndpoint]:
    """The matrix diff between two policy versions of one stored run.

    Raises :class:`InvalidInput` when the run has no cell of either version.
    """
    known = {c.version for c in run.cells}
    problems = [
        Problem(
            f"expected a policy version of run {run.id} ({', '.join(sorted(known)) or 'none'}), "
            f"got {name!r}",
            path=FieldPath((field_name,)),
        )
        for field_name, name in (("ref1", ref1), ("ref2", ref2))
        if name not in known
    ]
    InvalidInput.collect(problems)
    return matrix_diff(
        run_verdicts(run.cells, ref1, side=side),
        run_verdicts(run.cells, ref2, side=side),
        names=(ref1, ref2),
    )
