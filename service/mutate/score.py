"""The mutation score of a scenario: which single mutations its matrix detects.

For every mutation (:mod:`service.mutate.generate`) and every version it
touches, the verdict tensor of the universe (:mod:`service.mutate.universe`)
under the mutated policies is compared with the original's:

- *killed*: some probed, non-loopback matrix cell differs (evidence: the first
  one in plan order, with the original verdict - the expected one - and the
  mutant's);
- *equivalent*: nothing differs anywhere in the universe, on any probe;
- *survived*: otherwise (evidence: a connection outside the matrix that differs).

score = killed / (killed + survived). Pure: reads no file, prints nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from service.mutate.generate import Mutant, generate_mutants
from service.mutate.model import (
    MutantResult,
    MutationReport,
    Observation,
    Outcome,
    UniverseSummary,
)
from service.mutate.suggest import Survivor, suggest
from service.mutate.universe import Universe, build_universe
from service.mutate.vocabulary import build_vocabulary
from service.policy.classes import BoolArray
from service.policy.model import Namespace
from service.scenario.cells import Cell, CellKind
from service.scenario.model import Scenario, Verdict
from service.scenario.plan import Matrix, plan_matrix

__all__ = ["DEFAULT_MAX_LABEL_SETS", "mutate_scenario"]

# Label sets per namespace searched exhaustively; beyond it a selector-guided subset is.
DEFAULT_MAX_LABEL_SETS = 512


@dataclass(frozen=True, slots=True, eq=False)
class _Cells:
    """The matrix's probed, non-loopback cells (plan order) as universe indices."""

    cells: tuple[Cell, ...]
    probe: npt.NDArray[np.intp]
    source: npt.NDArray[np.intp]
    target: npt.NDArray[np.intp]


def mutate_scenario(
    scenario: Scenario,
    *,
    versions: Sequence[str] | None = None,
    suggestions: bool = True,
    max_label_sets: int = DEFAULT_MAX_LABEL_SETS,
) -> MutationReport:
    """Generate the mutations of ``scenario`` (of ``versions``: all by default), say which the
    matrix kills, and (``suggestions``) which matrix additions would kill the survivors.

    Raises InvalidInput for what planning rejects (an unknown version, a bad matrix).
    """
    matrix = plan_matrix(scenario, versions=versions)
    selected = matrix.versions
    policy_sets = [v.policies for v in selected]
    vocabulary = build_vocabulary(policy_sets, scenario.targets)
    universe = build_universe(
        scenario, matrix.layout, vocabulary, policy_sets, max_label_sets=max_label_sets
    )
    cells = _matrix_cells(matrix, universe)
    namespaces = matrix.layout.namespaces
    originals = {v.name: universe.tensor(namespaces, v.policies) for v in selected}

    results: list[MutantResult] = []
    survivors: list[Survivor] = []
    for mutant in generate_mutants(scenario, selected, vocabulary):
        evidence: Observation | None = None
        diffs: list[tuple[str, npt.NDArray[np.uint8]]] = []
        for version, mutated in _mutated_tensors(mutant, matrix, universe):
            diff = originals[version] ^ mutated
            if not diff.any():
                continue
            diffs.append((version, np.packbits(diff.reshape(-1))))
            if evidence is None:
                evidence = _caught(cells, diff, originals[version], version)
        if evidence is not None:
            results.append(MutantResult(mutant.mutation, Outcome.KILLED, evidence))
        elif diffs:
            results.append(MutantResult(mutant.mutation, Outcome.SURVIVED))
            survivors.append(Survivor(mutant.mutation, tuple(diffs)))
        else:
            results.append(MutantResult(mutant.mutation, Outcome.EQUIVALENT))

    found = suggest(scenario, universe, originals, survivors, cover=suggestions)
    results = [
        MutantResult(r.mutation, r.outcome, found.witnesses.get(r.mutation.id))
        if r.outcome is Outcome.SURVIVED
        else r
        for r in results
    ]
    return MutationReport(
        scenario=scenario.name,
        results=tuple(results),
        suggestions=found.suggestions,
        universe=UniverseSummary(
            label_sets=len(universe.label_sets),
            namespaces=len(scenario.namespaces),
            pods=universe.size,
            probes=len(universe.probes),
            exhaustive=universe.exhaustive,
        ),
        unkillable=found.unkillable,
        versions=tuple(v.name for v in selected),
    )


def _mutated_tensors(
    mutant: Mutant, matrix: Matrix, universe: Universe
) -> list[tuple[str, BoolArray]]:
    """The verdict tensors of every version the mutant changes."""
    if mutant.policies is not None:
        version = mutant.mutation.version
        assert version is not None  # a policy mutation belongs to one version
        return [(version, universe.tensor(matrix.layout.namespaces, mutant.policies))]
    assert mutant.namespaces is not None
    namespaces = [Namespace(ns.name, ns.labels) for ns in mutant.namespaces]
    return [(v.name, universe.tensor(namespaces, v.policies)) for v in matrix.versions]


def _matrix_cells(matrix: Matrix, universe: Universe) -> _Cells:
    # Every version has the same cells; loopback is always allowed and invalid never probed.
    template = matrix.cells_of(matrix.versions[0].name) if matrix.versions else ()
    pods = {p.ref: p for p in matrix.layout.pods}
    cells: list[Cell] = []
    index: list[tuple[int, int, int]] = []
    for cell in template:
        if cell.kind is not CellKind.PROBE or cell.port_number is None:
            continue
        k = universe.probe_index[(cell.port_number, cell.protocol)]
        s = universe.index_of(pods[cell.source_pod])
        d = universe.index_of(pods[cell.target_pod])
        cells.append(cell)
        index.append((k, s, d))
    array = np.array(index, dtype=np.intp).reshape(-1, 3)
    return _Cells(tuple(cells), array[:, 0], array[:, 1], array[:, 2])


def _caught(
    cells: _Cells, diff: BoolArray, original: BoolArray, version: str
) -> Observation | None:
    hits = diff[cells.probe, cells.source, cells.target]
    if not hits.any():
        return None
    i = int(np.argmax(hits))
    cell = cells.cells[i]
    before = bool(original[cells.probe[i], cells.source[i], cells.target[i]])
    assert cell.port_number is not None
    return Observation(
        version=version,
        source=cell.source_ref,
        target=cell.target_ref,
        port=cell.port_number,
        protocol=cell.protocol,
        expected=Verdict.ALLOWED if before else Verdict.BLOCKED,
        mutated=Verdict.BLOCKED if before else Verdict.ALLOWED,
        in_matrix=True,
    )
