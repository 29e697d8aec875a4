"""Stored runs as the values :mod:`service.compare` works on.

The compare package is pure and knows no database; this module is the
mapping its docstring asks the store side for: a run's row and its cells
become a :class:`~service.compare.RunSummary` and
:class:`~service.compare.CellObservation` s in a
:class:`~service.compare.RunRecord`, or, for history-scale work that only
needs columns (drift counts, flakes), a :class:`~service.compare.RunColumns`
straight from a column query.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from functools import lru_cache

from sqlalchemy import String, Text, null, select, type_coerce
from sqlalchemy.orm import Session

from service.compare import (
    CellObservation,
    CellPlace,
    RunColumns,
    RunRecord,
    RunSummary,
    VersionHash,
)
from service.policy.model import Labels, Protocol
from service.queries.cells import EXPECTED, PLACE, run_cell_columns, select_run_cells
from service.queries.formats import labels_object, port_value
from service.queries.runs import run_and_scenario_name
from service.runs.history import on_cluster
from service.scenario.cells import RawOutcome
from service.scenario.model import Verdict
from service.store.enums import RunStatus
from service.store.models import CellResult, RevisionCell, Run, RunVersion

__all__ = ["run_columns", "run_record", "run_summary", "scenario_run_ids"]


def run_summary(session: Session, run_id: int) -> RunSummary | None:
    found = run_and_scenario_name(session, run_id)
    return _summary(session, *found) if found is not None else None


def _summary(session: Session, run: Run, name: str) -> RunSummary:
    versions = session.execute(
        select(RunVersion.version, RunVersion.content_hash).where(RunVersion.run_id == run.id)
    ).all()
    return RunSummary(
        id=run.id,
        scenario=name,
        created_at=run.created_at,
        revision_hash=run.revision.content_hash,
        versions=tuple(VersionHash(name, content_hash) for name, content_hash in versions),
    )


@lru_cache(maxsize=4096)
def _labels(text: str) -> Labels:
    return Labels(labels_object(text))


def run_record(
    session: Session,
    run_id: int,
    *,
    explanations: bool = False,
    cell_keys: Collection[str] | None = None,
) -> RunRecord | None:
    """The run with every stored cell (or only those of ``cell_keys``), in plan order;
    None when there is no such run."""
    found = run_and_scenario_name(session, run_id)
    if found is None:
        return None
    run, name = found
    summary = _summary(session, run, name)
    revision_id = run.revision_id
    hashes = {v.name: v.content_hash for v in summary.versions}
    # Explanations are long texts: read only when asked for.
    explanation = (RevisionCell.explanation if explanations else null()).label("explanation")
    query = select_run_cells(
        run_id,
        revision_id,
        CellResult.cell_key,
        RevisionCell.pair_key,
        RevisionCell.version,
        *PLACE,
        EXPECTED.label("expected"),
        CellResult.observed,
        CellResult.raw_outcome,
        CellResult.attempts,
        CellResult.attempt_details,
        CellResult.regression,
        CellResult.flaky,
        CellResult.explanation_override,
        explanation,
    ).order_by(RevisionCell.ordinal)
    if cell_keys is not None:
        query = query.where(CellResult.cell_key.in_(cell_keys))
    rows = session.execute(query).all()
    cells = []
    for r in rows:
        observed = Verdict(r.observed)
        cells.append(
            CellObservation(
                run_id=run_id,
                run_at=summary.created_at,
                cell_key=r.cell_key,
                pair_key=r.pair_key,
                version=r.version,
                version_hash=hashes.get(r.version, ""),
                place=CellPlace(
                    source_namespace=r.source_namespace,
                    source_labels=_labels(r.source_labels),
                    target_namespace=r.target_namespace,
                    target=r.target_name,
                    port=port_value(r.port),
                    protocol=Protocol(r.protocol),
                    port_number=r.resolved_port,
                    source=r.source_name,
                ),
                expected=Verdict(r.expected),
                observed=observed,
                raw_outcome=RawOutcome(r.raw_outcome) if r.raw_outcome is not None else None,
                attempts=_attempts(r.attempts, r.attempt_details, observed),
                explanation=(r.explanation_override or r.explanation) if explanations else None,
                regression=r.regression,
                flaky=r.flaky,
                loopback=r.loopback,
            )
        )
    return RunRecord(summary, tuple(cells))


def _attempts(
    count: int, details: Sequence[object] | None, observed: Verdict
) -> tuple[Verdict, ...]:
    if details is None:
        # Stored without details: it took one attempt (or none, for an invalid cell).
        return (observed,) if count else ()
    out = []
    for item in details:
        if isinstance(item, dict) and isinstance(item.get("observed"), str):
            out.append(Verdict(item["observed"]))
    return tuple(out)


def _attempts_disagree(details: object) -> bool:
    """Whether a cell's stored attempts saw more than one verdict (None: one clean attempt).

    ``details`` is the stored JSON text (SQLite) or, where the driver decodes JSON columns
    itself whatever the declared type (psycopg and PostgreSQL's jsonb), the decoded list.
    """
    if details is None:
        return False
    attempts = details
    if isinstance(details, str | bytes):
        try:
            attempts = json.loads(details)
        except ValueError:
            return False
    if not isinstance(attempts, list):
        return False
    seen = {a.get("observed") for a in attempts if isinstance(a, dict)}
    return len(seen - {None}) > 1


def run_columns(session: Session, run_id: int) -> RunColumns | None:
    """The run's columns (key, final verdict, policy hash, flaky within the run) in plan order.

    Read for history-scale work (drift counts and pages, flakes, timelines: every cell of
    many runs), so lean: verdicts and attempt details as their stored text, through Core
    rather than ORM execution; at 10,000 cells, making enum members, JSON values and ORM
    rows cost more than the query itself.
    """
    found = run_and_scenario_name(session, run_id)
    if found is None:
        return None
    run, name = found
    summary = _summary(session, run, name)
    revision_id, regressions = run.revision_id, run.regressions
    hashes = {v.name: v.content_hash for v in summary.versions}
    rows = run_cell_columns(
        session,
        run_id,
        revision_id,
        CellResult.cell_key,
        type_coerce(CellResult.observed, String),
        RevisionCell.version,
        CellResult.flaky,
        type_coerce(CellResult.attempt_details, Text),
    )
    keys, observed, versions, flags, details = zip(*rows, strict=True) if rows else ((),) * 5
    return RunColumns(
        summary,
        keys=tuple(keys),
        observed=observed,
        hashes=tuple(hashes.get(v, "") for v in versions),
        # Flaky within the run: flagged so, or its attempts disagree (only cells stored
        # with attempt details can: the others took one attempt).
        flaky=[bool(f) or _attempts_disagree(d) for f, d in zip(flags, details, strict=True)],
        regressions=regressions or 0,
    )


def scenario_run_ids(
    session: Session,
    scenario_id: int,
    *,
    limit: int,
    finished_only: bool = True,
    cluster: str | None = None,
) -> list[int]:
    """The newest ``limit`` runs of a scenario, oldest first; only those on ``cluster``
    (a :func:`~service.runs.history.cluster_identity`) when it is given."""
    query = (
        select(Run.id)
        .where(Run.scenario_id == scenario_id)
        .order_by(Run.created_at.desc(), Run.id.desc())
        .limit(limit)
    )
    if finished_only:
        query = query.where(Run.status.in_((RunStatus.SUCCEEDED, RunStatus.FAILED)))
    if cluster is not None:
        query = query.where(on_cluster(cluster))
    return list(reversed(session.scalars(query).all()))
