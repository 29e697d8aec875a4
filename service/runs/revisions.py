"""Scenarios and their revisions in the store, and the cells of a revision.

A scenario is stored by name; each distinct content (its content hash) is one
revision, holding the self-contained document a worker rebuilds it from
(:mod:`service.scenario.document`). Storing the same content again finds the
same revision: two processes storing it at once both end with one row.

A revision's cells (what each cell is, the engine's expected verdict and its
explanation) are written once, when the revision's first run is created, for
the whole matrix: every version, source and target, whatever that run was
narrowed to. Expected verdicts are the engine's on the simulator's pod
addresses, which depend only on the layout.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.cluster.simulated import SimulatedCluster
from service.scenario.cells import CellKind
from service.scenario.document import scenario_from_json, scenario_json
from service.scenario.model import Scenario as ScenarioValue
from service.scenario.plan import plan_matrix, plan_version
from service.store.models import RevisionCell, Scenario, ScenarioRevision
from service.store.writes import bulk_insert_ignoring_duplicates, insert_ignoring_duplicates

__all__ = [
    "load_revision",
    "revision_cell_rows",
    "store_revision",
    "write_revision_cells",
]

# Rows handed to one executemany: bounds memory for large matrices (SQLAlchemy
# itself splits each into INSERTs that fit the database's parameter limits).
_BATCH: Final = 2000


def store_revision(
    session: Session, scenario: ScenarioValue, *, source_text: str | None = None
) -> ScenarioRevision:
    """The stored revision of ``scenario``'s content, created (with its scenario) if new.

    ``source_text`` is what the user gave (YAML or JSON) for display; by default
    the document itself. Runs in the caller's transaction.
    """
    insert_ignoring_duplicates(session, Scenario, [{"name": scenario.name}])
    scenario_id = session.scalars(select(Scenario.id).where(Scenario.name == scenario.name)).one()
    document = scenario_json(scenario)
    insert_ignoring_duplicates(
        session,
        ScenarioRevision,
        [
            {
                "scenario_id": scenario_id,
                "content_hash": scenario.content_hash,
                "source_text": source_text if source_text is not None else document,
                "canonical_json": document,
            }
        ],
    )
    return session.scalars(
        select(ScenarioRevision).where(
            ScenarioRevision.scenario_id == scenario_id,
            ScenarioRevision.content_hash == scenario.content_hash,
        )
    ).one()


def load_revision(revision: ScenarioRevision) -> ScenarioValue:
    """The scenario of a stored revision, rebuilt from its document alone."""
    return scenario_from_json(revision.canonical_json)


def write_revision_cells(session: Session, revision_id: int, scenario: ScenarioValue) -> int:
    """Write the revision's cells unless they are there; how many rows went in.

    Runs in the caller's transaction, so the cells and the run that needed them
    commit together; a concurrent writer's rows make ours no-ops.
    """
    exists = session.scalar(
        select(RevisionCell.cell_key).where(RevisionCell.revision_id == revision_id).limit(1)
    )
    if exists is not None:
        return 0
    written = 0
    batch: list[dict[str, Any]] = []
    for row in revision_cell_rows(scenario, revision_id):
        batch.append(row)
        if len(batch) >= _BATCH:
            written += bulk_insert_ignoring_duplicates(session, RevisionCell, batch)
            batch = []
    written += bulk_insert_ignoring_duplicates(session, RevisionCell, batch)
    return written


def revision_cell_rows(scenario: ScenarioValue, revision_id: int) -> Iterator[dict[str, Any]]:
    """The rows of every cell of the full matrix, in plan order."""
    matrix = plan_matrix(scenario)
    addresses = SimulatedCluster().set_up(layout=matrix.layout)
    ordinal = 0
    for version in matrix.versions:
        plan = plan_version(matrix, version.name, addresses=addresses)
        for cell in plan.cells:
            expected = plan.expected[cell.key]
            if expected.explanation is not None:
                explanation: str | None = expected.explanation.render()
            else:
                explanation = cell.invalid_reason or None
            yield {
                "revision_id": revision_id,
                "cell_key": cell.key,
                "pair_key": cell.pair_key,
                "ordinal": ordinal,
                "version": cell.version,
                "source_namespace": cell.source_namespace,
                "source_name": cell.source,
                "source_labels": str(cell.source_labels),
                "target_namespace": cell.target_namespace,
                "target_name": cell.target,
                "port": str(cell.port),
                "resolved_port": cell.port_number,
                "protocol": cell.protocol,
                "loopback": cell.kind is CellKind.LOOPBACK,
                "expected": expected.verdict,
                "explanation": explanation,
            }
            ordinal += 1
