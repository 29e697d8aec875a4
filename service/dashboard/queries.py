"""The few reads the dashboard needs that :mod:`service.queries` does not offer.

- the last N runs of many scenarios in one query (the overview's sparklines);
- each scenario's next scheduled run;
- the cluster of each run of a history (drift is measured within a cluster);
- a scenario revision's story: its description and its versions' descriptions;
- where cells are, by key, across a scenario's revisions (history strips);
- recent webhook deliveries;
- every version's grid of a run in one query (:func:`run_matrices`;
  :func:`service.queries.matrix.version_matrix` reads one version per query,
  which for a run of many versions scans the run's cells once per version).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, func, select, type_coerce
from sqlalchemy.orm import Session

from service.dashboard.grid import GridCell, GridColumn, GridCounts, GridRow, VersionGrid
from service.notify.urls import redact_url
from service.queries.cells import EXPECTED, run_cell_columns
from service.queries.formats import port_value
from service.runs.history import cluster_identity
from service.scenario.document import scenario_from_json
from service.store.enums import RunStatus
from service.store.models import (
    CellResult,
    RevisionCell,
    Run,
    RunVersion,
    Scenario,
    ScenarioRevision,
    Schedule,
)
from service.store.notify_models import DeliveryStatus, Webhook, WebhookDelivery

__all__ = [
    "CellPlaceView",
    "DeliveryView",
    "SparkRun",
    "Story",
    "VersionStory",
    "cell_places",
    "next_fires",
    "recent_deliveries",
    "recent_runs",
    "revision_story",
    "run_clusters",
    "run_matrices",
]


@dataclass(frozen=True, slots=True)
class SparkRun:
    id: int
    status: RunStatus
    created_at: datetime
    regressions: int
    flaky: int
    errors: int


def recent_runs(
    session: Session, scenario_ids: Sequence[int], *, limit: int
) -> dict[int, list[SparkRun]]:
    """Per scenario, its newest ``limit`` runs, oldest first (one query for all)."""
    if not scenario_ids:
        return {}
    ranked = (
        select(
            Run.id,
            Run.scenario_id,
            Run.status,
            Run.created_at,
            Run.regressions,
            Run.flaky,
            Run.errors,
            func.row_number()
            .over(partition_by=Run.scenario_id, order_by=(Run.created_at.desc(), Run.id.desc()))
            .label("rank"),
        )
        .where(Run.scenario_id.in_(scenario_ids))
        .subquery()
    )
    rows = session.execute(
        select(ranked)
        .where(ranked.c.rank <= limit)
        .order_by(ranked.c.scenario_id, ranked.c.created_at, ranked.c.id)
    ).all()
    out: dict[int, list[SparkRun]] = {}
    for row in rows:
        out.setdefault(row.scenario_id, []).append(
            SparkRun(
                row.id,
                RunStatus(row.status),
                row.created_at,
                row.regressions,
                row.flaky,
                row.errors,
            )
        )
    return out


def run_clusters(session: Session, run_ids: Sequence[int]) -> dict[int, str]:
    """Per run, the cluster it ran on as :func:`service.runs.history.cluster_identity` names it
    (what decides which earlier run its drift is measured against)."""
    if not run_ids:
        return {}
    rows = session.execute(
        select(Run.id, Run.backend, Run.cluster).where(Run.id.in_(run_ids))
    ).all()
    return {run_id: cluster_identity(str(backend), record) for run_id, backend, record in rows}


def next_fires(session: Session, scenario_ids: Sequence[int]) -> dict[int, datetime]:
    """Per scenario, the soonest next fire time of its enabled schedules."""
    if not scenario_ids:
        return {}
    rows = session.execute(
        select(Schedule.scenario_id, func.min(Schedule.next_fire_at))
        .where(
            Schedule.scenario_id.in_(scenario_ids),
            Schedule.enabled.is_(True),
            Schedule.next_fire_at.is_not(None),
        )
        .group_by(Schedule.scenario_id)
    ).all()
    # min() keeps its argument's type, so the times come back aware (UTCDateTime).
    return {scenario_id: at for scenario_id, at in rows if at is not None}


@dataclass(frozen=True, slots=True)
class VersionStory:
    name: str
    description: str
    content_hash: str


@dataclass(frozen=True, slots=True)
class Story:
    revision_id: int
    content_hash: str
    description: str
    versions: tuple[VersionStory, ...]


def revision_story(session: Session, revision_id: int) -> Story | None:
    row = session.get(ScenarioRevision, revision_id)
    if row is None:
        return None
    scenario = scenario_from_json(row.canonical_json)
    return Story(
        revision_id=row.id,
        content_hash=row.content_hash,
        description=scenario.description,
        versions=tuple(
            VersionStory(v.name, v.description, v.content_hash) for v in scenario.versions
        ),
    )


@dataclass(frozen=True, slots=True)
class CellPlaceView:
    key: str
    version: str
    source: str
    target: str
    probe: str

    def __str__(self) -> str:
        return f"{self.version}: {self.source} → {self.target} {self.probe}"


def cell_places(
    session: Session, scenario_id: int, keys: Sequence[str]
) -> dict[str, CellPlaceView]:
    """Where each cell of ``keys`` is, from the newest revision of the scenario that has it."""
    if not keys:
        return {}
    rows = session.execute(
        select(RevisionCell)
        .join(ScenarioRevision, ScenarioRevision.id == RevisionCell.revision_id)
        .where(ScenarioRevision.scenario_id == scenario_id, RevisionCell.cell_key.in_(keys))
        .order_by(ScenarioRevision.id)
    ).scalars()
    out = {}
    for cell in rows:
        port = port_value(cell.port)
        if isinstance(port, str) and cell.resolved_port is not None:
            port = f"{port}({cell.resolved_port})"
        out[cell.cell_key] = CellPlaceView(
            key=cell.cell_key,
            version=cell.version,
            source=f"{cell.source_namespace}/{cell.source_name}",
            target=f"{cell.target_namespace}/{cell.target_name}",
            probe=f"{port}/{cell.protocol}",
        )
    return out


@dataclass(frozen=True, slots=True)
class DeliveryView:
    id: int
    run_id: int
    webhook_id: int
    webhook: str
    url: str
    scenario: str | None
    status: DeliveryStatus
    reasons: tuple[str, ...]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


def recent_deliveries(session: Session, *, limit: int = 50) -> list[DeliveryView]:
    rows = session.execute(
        select(WebhookDelivery, Webhook, Scenario.name)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .join(Run, Run.id == WebhookDelivery.run_id)
        .join(Scenario, Scenario.id == Run.scenario_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    ).all()
    return [
        DeliveryView(
            id=d.id,
            run_id=d.run_id,
            webhook_id=w.id,
            webhook=w.name,
            url=redact_url(w.url),
            scenario=scenario,
            status=d.status,
            reasons=tuple(str(r) for r in d.reasons),
            attempts=d.attempts,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            created_at=d.created_at,
            delivered_at=d.delivered_at,
        )
        for d, w, scenario in rows
    ]


class _Builder:
    """One version's grid, filled cell by cell in plan order."""

    def __init__(self) -> None:
        self.row_index: dict[tuple[str, str], int] = {}
        self.column_index: dict[tuple[str, str, str, str], int] = {}
        self.rows: list[GridRow] = []
        self.columns: list[GridColumn] = []
        self.placed: list[tuple[int, int, GridCell]] = []
        self.counts = {"allowed": 0, "blocked": 0, "error": 0, "invalid": 0}
        self.regressions = 0
        self.flaky = 0

    def grid(self, run_id: int, version: str, content_hash: str) -> VersionGrid:
        cells: list[list[GridCell | None]] = [[None] * len(self.columns) for _ in self.rows]
        for i, j, cell in self.placed:
            cells[i][j] = cell
        return VersionGrid(
            run_id=run_id,
            version=version,
            content_hash=content_hash,
            rows=tuple(self.rows),
            columns=tuple(self.columns),
            cells=tuple(tuple(line) for line in cells),
            counts=GridCounts(
                cells=len(self.placed),
                regressions=self.regressions,
                flaky=self.flaky,
                **self.counts,
            ),
        )


def run_matrices(session: Session, run_id: int, revision_id: int) -> dict[str, VersionGrid]:
    """The grid of every version the run applied, by version, in the run's version order."""
    hashes = dict(
        session.execute(
            select(RunVersion.version, RunVersion.content_hash).where(RunVersion.run_id == run_id)
        ).all()
    )
    # Verdicts and protocols read as their stored strings: at 10,000 cells, making
    # enum members would cost more than the query itself.
    rows = run_cell_columns(
        session,
        run_id,
        revision_id,
        RevisionCell.version,
        RevisionCell.cell_key,
        RevisionCell.source_namespace,
        RevisionCell.source_name,
        RevisionCell.target_namespace,
        RevisionCell.target_name,
        RevisionCell.port,
        RevisionCell.resolved_port,
        type_coerce(RevisionCell.protocol, String),
        RevisionCell.loopback,
        type_coerce(EXPECTED, String),
        type_coerce(CellResult.observed, String),
        CellResult.regression,
        CellResult.flaky,
    )
    builders: dict[str, _Builder] = {}
    for (
        version,
        key,
        source_namespace,
        source_name,
        target_namespace,
        target_name,
        port,
        resolved_port,
        protocol,
        loopback,
        expected,
        observed,
        regression,
        flaky,
    ) in rows:
        b = builders.get(version)
        if b is None:
            b = builders[version] = _Builder()
        source = (source_namespace, source_name)
        i = b.row_index.get(source)
        if i is None:
            i = b.row_index[source] = len(b.rows)
            b.rows.append(GridRow(source_namespace, source_name))
        target = (target_namespace, target_name, port, protocol)
        j = b.column_index.get(target)
        if j is None:
            j = b.column_index[target] = len(b.columns)
            b.columns.append(
                GridColumn(target_namespace, target_name, port_value(port), resolved_port, protocol)
            )
        b.counts[observed] += 1
        b.regressions += regression
        b.flaky += flaky
        b.placed.append((i, j, GridCell(key, expected, observed, regression, flaky, loopback)))
    return {
        version: b.grid(run_id, version, hashes.get(version, ""))
        for version, b in builders.items()
        if version in hashes
    }
