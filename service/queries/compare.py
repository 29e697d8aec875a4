"""Comparisons over stored runs, built on :mod:`service.compare`, as JSON-ready values.

- :func:`run_drift`: what changed in one run since another of the same
  scenario (by default the finished run before it), changes paged;
- :func:`run_version_diff_view`: the connections two policy versions of a
  stored run differ in (expected or observed verdicts);
- :func:`revision_version_diff_view`: the same from a scenario revision
  without a run, as the engine plans it (probed cells, or every port);
- :func:`scenario_flakes`: cells that flip-flop over a scenario's last runs on one cluster.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from typing_extensions import TypedDict

from service.compare import (
    CellObservation,
    DriftChange,
    DriftGroup,
    DriftMark,
    RunSummary,
    VerdictSide,
    VersionDiff,
    drift_rows,
    flakes,
    only_in_counts,
    run_version_diff,
    scenario_matrix_diff,
    scenario_version_diff,
    version_changes,
)
from service.errors import FieldPath, InvalidInput, Problem
from service.queries.formats import iso
from service.queries.paging import DEFAULT_LIMIT, decode_cursor, encode_cursor
from service.queries.records import run_columns, run_record, scenario_run_ids
from service.runs.history import cluster_identity
from service.scenario.model import Scenario
from service.store.enums import RunStatus
from service.store.models import Run

__all__ = [
    "DriftView",
    "FlakesView",
    "VersionDiffView",
    "revision_version_diff_view",
    "run_drift",
    "run_version_diff_view",
    "scenario_flakes",
]


class RunRef(TypedDict):
    id: int
    created_at: str | None
    revision_hash: str


class DriftCountsView(TypedDict):
    alarm: int
    expected: int
    added: int
    removed: int
    changed: int


class VersionChangeView(TypedDict):
    name: str
    before: str | None
    after: str | None


class SideView(TypedDict):
    observed: str
    expected: str
    version_hash: str


class DriftChangeView(TypedDict):
    group: str
    mark: str
    key: str
    version: str
    source_namespace: str
    source: str
    source_labels: dict[str, str]
    target_namespace: str
    target: str
    port: int | str
    port_number: int | None
    protocol: str
    before: SideView
    after: SideView


class DriftView(TypedDict):
    base: RunRef
    head: RunRef
    scenario_changed: bool
    counts: DriftCountsView
    versions: list[VersionChangeView]
    changes: list[DriftChangeView]
    next_cursor: str | None


class PairDiffView(TypedDict):
    diff_type: str
    source: str
    destination: str
    ref1: str
    ref2: str
    workloads_info: str


class VersionDiffView(TypedDict):
    ref1: str
    ref2: str
    basis: str
    changes: list[PairDiffView]
    added_workloads: list[str]
    removed_workloads: list[str]
    text: str


class FlakeView(TypedDict):
    key: str
    switches: int
    revisions: list[dict[str, Any]]
    points: list[dict[str, Any]]


class FlakesView(TypedDict):
    scenario_id: int
    # The cluster whose runs were counted (service.runs.history.cluster_identity); None
    # when none was asked for and the scenario has no finished run.
    cluster: str | None
    window: int
    min_switches: int
    run_ids: list[int]
    flip_flops: list[FlakeView]
    within_run: list[dict[str, Any]]


def _ref(summary: RunSummary) -> RunRef:
    return RunRef(
        id=summary.id, created_at=iso(summary.created_at), revision_hash=summary.revision_hash
    )


def _change(change: DriftChange) -> DriftChangeView:
    place = change.after.place
    return DriftChangeView(
        group=change.group.value,
        mark=change.mark.value,
        key=change.cell_key,
        version=change.version,
        source_namespace=place.source_namespace,
        source=place.source,
        source_labels=dict(place.source_labels),
        target_namespace=place.target_namespace,
        target=place.target,
        port=place.port,
        port_number=place.port_number,
        protocol=place.protocol.value,
        before=SideView(
            observed=change.before.observed.value,
            expected=change.before.expected.value,
            version_hash=change.before.version_hash,
        ),
        after=SideView(
            observed=change.after.observed.value,
            expected=change.after.expected.value,
            version_hash=change.after.version_hash,
        ),
    )


def run_drift(
    session: Session,
    *,
    base_id: int,
    head_id: int,
    marks: tuple[DriftMark, ...] = (),
    groups: tuple[DriftGroup, ...] = (),
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> DriftView | None:
    """The drift of run ``head_id`` since run ``base_id``; None when either does not exist.

    What changed is found from the runs' verdict columns; only the page's cells are read
    in full (reading every cell of two 10,000-cell runs as observations took ~0.6 s).
    Raises InvalidInput (``base``) when the runs are of different scenarios, the
    same run, or the base is the newer one.
    """
    head = run_columns(session, head_id)
    base = run_columns(session, base_id)
    if head is None or base is None:
        return None
    try:
        rows = drift_rows(head, base)
    except InvalidInput as err:
        raise InvalidInput([_as_base(p) for p in err.problems]) from err
    chosen = [
        r for r in rows if (not marks or r.mark in marks) and (not groups or r.group in groups)
    ]
    start = 0
    if cursor is not None:
        (offset,) = decode_cursor(cursor, f"drift:{base_id}:{head_id}", (int,))
        start = max(0, int(offset or 0))
    page = chosen[start : start + limit]
    more = start + limit < len(chosen)
    keys = [head.keys[r.row] for r in page]
    after = _cells_by_key(session, head_id, keys)
    before = _cells_by_key(session, base_id, keys)
    alarm = sum(1 for r in rows if r.mark is DriftMark.ALARM)
    added, removed = only_in_counts(head, base)
    return DriftView(
        base=_ref(base.summary),
        head=_ref(head.summary),
        scenario_changed=head.summary.revision_hash != base.summary.revision_hash,
        counts=DriftCountsView(
            alarm=alarm,
            expected=len(rows) - alarm,
            added=added,
            removed=removed,
            changed=len(rows),
        ),
        versions=[
            VersionChangeView(name=v.name, before=v.before, after=v.after)
            for v in version_changes(head.summary, base.summary)
        ],
        changes=[
            _change(DriftChange(r.group, r.mark, before[key], after[key]))
            for r, key in zip(page, keys, strict=True)
        ],
        next_cursor=(
            encode_cursor(f"drift:{base_id}:{head_id}", [start + limit]) if more else None
        ),
    )


def _cells_by_key(session: Session, run_id: int, keys: list[str]) -> dict[str, CellObservation]:
    record = run_record(session, run_id, cell_keys=keys) if keys else None
    return {c.cell_key: c for c in record.cells} if record is not None else {}


def _as_base(problem: Problem) -> Problem:
    # compare names the earlier run "previous"; the API calls it "base".
    parts = problem.path.parts
    if parts and parts[0] == "previous":
        return Problem(problem.message, path=FieldPath(("base", *parts[1:])))
    return problem


def _diff_view(diff: VersionDiff[Any], basis: str) -> VersionDiffView:
    return VersionDiffView(
        ref1=diff.ref1,
        ref2=diff.ref2,
        basis=basis,
        changes=[
            PairDiffView(
                diff_type=c.diff_type.value,
                source=str(c.source),
                destination=str(c.destination),
                ref1=str(c.ref1),
                ref2=str(c.ref2),
                workloads_info=c.workloads_info,
            )
            for c in diff.changes
        ],
        added_workloads=[str(w) for w in diff.added_workloads],
        removed_workloads=[str(w) for w in diff.removed_workloads],
        text=diff.render(),
    )


def run_version_diff_view(
    session: Session, run_id: int, ref1: str, ref2: str, *, side: VerdictSide
) -> VersionDiffView | None:
    """The diff between versions ``ref1`` and ``ref2`` of a stored run; None: no such run.

    Raises InvalidInput (``ref1``/``ref2``) naming a version the run does not have.
    """
    record = run_record(session, run_id)
    if record is None:
        return None
    return _diff_view(run_version_diff(record, ref1, ref2, side=side), f"run-{side.value}")


def revision_version_diff_view(
    scenario: Scenario, ref1: str, ref2: str, *, all_ports: bool
) -> VersionDiffView:
    """The engine's diff between two versions of a scenario (probed cells, or every port).

    Raises InvalidInput (``versions``) naming a version the scenario does not have.
    """
    if all_ports:
        return _diff_view(scenario_version_diff(scenario, ref1, ref2), "engine-all-ports")
    return _diff_view(scenario_matrix_diff(scenario, ref1, ref2), "engine-probed")


def scenario_flakes(
    session: Session,
    scenario_id: int,
    *,
    window: int,
    min_switches: int,
    cluster: str | None = None,
) -> FlakesView:
    """Cells that switched at least ``min_switches`` times over the last ``window`` finished
    runs on one cluster at one policy content, and cells whose attempts disagreed within a run.

    The cluster is ``cluster`` (a :func:`~service.runs.history.cluster_identity`), by default
    that of the scenario's newest finished run: counted across clusters, every cell that
    differs between staging and production would flip-flop as the runs alternate.
    """
    if cluster is None:
        newest = session.execute(
            select(Run.backend, Run.cluster)
            .where(
                Run.scenario_id == scenario_id,
                Run.status.in_((RunStatus.SUCCEEDED, RunStatus.FAILED)),
            )
            .order_by(Run.created_at.desc(), Run.id.desc())
            .limit(1)
        ).first()
        if newest is not None:
            cluster = cluster_identity(str(newest.backend), newest.cluster)
    run_ids = (
        scenario_run_ids(session, scenario_id, limit=window, cluster=cluster)
        if cluster is not None
        else []
    )
    history = [c for c in (run_columns(session, run_id) for run_id in run_ids) if c is not None]
    report = flakes(history, window=window, min_switches=min_switches)
    return FlakesView(
        scenario_id=scenario_id,
        cluster=cluster,
        window=report.window,
        min_switches=report.min_switches,
        run_ids=list(report.run_ids),
        flip_flops=[
            FlakeView(
                key=f.cell_key,
                switches=f.switches,
                revisions=[
                    {"content_hash": r.content_hash, "switches": r.switches} for r in f.revisions
                ],
                points=[
                    {
                        "run_id": p.run_id,
                        "observed": p.observed.value,
                        "version_hash": p.version_hash,
                    }
                    for p in f.points
                ],
            )
            for f in report.flip_flops
        ],
        within_run=[{"key": a.cell_key, "run_ids": list(a.run_ids)} for a in report.within_run],
    )
