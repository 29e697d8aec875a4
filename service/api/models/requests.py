"""Request bodies and query parameters, validated before a view runs.

Bounds here are the API's, tighter than the core's where the core would
accept something that costs without limit (a deadline of a century, a
simulated pace of an hour per probe batch). The core then checks what only it
knows (a version name the scenario has), with the same field paths.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

from service.api.models.common import Body, Id, Limit, Name, Query, storable
from service.cluster.faults import WindowMode
from service.compare import DriftGroup, DriftMark, VerdictSide
from service.policy.model import Protocol
from service.scenario.model import Verdict
from service.store.enums import Backend, RunStatus, TokenRole, Trigger

__all__ = [
    "CellFilters",
    "CellListQuery",
    "CompareRunsQuery",
    "CompareVersionsQuery",
    "DeleteScenarioQuery",
    "FlakesQuery",
    "MatrixQuery",
    "MutationRequest",
    "PageQuery",
    "RunCreate",
    "RunListQuery",
    "RunOptions",
    "ScenarioListQuery",
    "ScheduleCreate",
    "ScheduleListQuery",
    "ScheduleUpdate",
    "TokenCreate",
]

Cursor = Annotated[str, StringConstraints(min_length=1, max_length=512), AfterValidator(storable)]
Names = Annotated[list[Name], Field(max_length=1000)]
Seconds = Annotated[float, Field(ge=0, le=86_400)]
Cron = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128),
    AfterValidator(storable),
    Field(description='Five cron fields or a macro, e.g. "0 2 * * *" or "@daily".'),
]
TimeZone = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    AfterValidator(storable),
    Field(description="An IANA time zone name, e.g. Europe/Berlin."),
]


# --- query parameters -------------------------------------------------------------------


class PageQuery(Query):
    cursor: Cursor | None = Field(default=None, description="next_cursor of the previous page.")
    limit: Limit = 100


class ScenarioListQuery(PageQuery):
    name: Name | None = Field(default=None, description="Scenarios whose name contains this.")


class DeleteScenarioQuery(Query):
    force: bool = Field(
        default=False, description="Delete even while runs of the scenario are open."
    )


class RunListQuery(PageQuery):
    scenario_id: Id | None = None
    scenario: Name | None = Field(default=None, description="The scenario's name.")
    status: list[RunStatus] | None = None
    trigger: list[Trigger] | None = None
    backend: list[Backend] | None = None
    schedule_id: Id | None = None
    created_after: AwareDatetime | None = Field(
        default=None, description="Runs created at or after this time (RFC 3339 with offset)."
    )
    created_before: AwareDatetime | None = Field(
        default=None, description="Runs created before this time (RFC 3339 with offset)."
    )


class CellFilters(Query):
    verdict: list[Verdict] | None = Field(default=None, description="Observed verdicts.")
    expected: list[Verdict] | None = Field(default=None, description="Expected verdicts.")
    regression: bool | None = None
    flaky: bool | None = None
    loopback: bool | None = None
    version: list[Name] | None = Field(default=None, description="Policy version names.")
    source: list[Name] | None = Field(default=None, description="Source names (label sets).")
    source_namespace: list[Name] | None = None
    target: list[Name] | None = Field(default=None, description="Target names.")
    target_namespace: list[Name] | None = None
    protocol: list[Protocol] | None = None


class CellListQuery(CellFilters):
    cursor: Cursor | None = Field(default=None, description="next_cursor of the previous page.")
    limit: Limit = 100


class MatrixQuery(Query):
    version: Name = Field(description="The policy version.")
    keys: bool = Field(default=False, description="Include every position's cell key.")


class FlakesQuery(Query):
    window: int = Field(
        default=10, ge=2, le=100, description="The last N finished runs on the cluster."
    )
    min_switches: int = Field(default=2, ge=1, le=100)
    cluster: Name | None = Field(
        default=None,
        description=(
            "The cluster whose runs are counted: a run's cluster.key (a Kubernetes"
            " cluster), or its backend for a run without one (simulated). Default: the"
            " cluster of the scenario's newest finished run."
        ),
    )


class CompareRunsQuery(PageQuery):
    head: Id = Field(description="The run to look at.")
    base: Id | None = Field(
        default=None,
        description=(
            "An earlier run of the same scenario. Default: the newest earlier run that"
            " finished (succeeded or failed) on the same cluster as head."
        ),
    )
    mark: list[DriftMark] | None = None
    group: list[DriftGroup] | None = None


class CompareVersionsQuery(Query):
    ref1: Name = Field(description="The first policy version.")
    ref2: Name = Field(description="The second policy version.")
    run_id: Id | None = Field(
        default=None, description="Compare within this run's cells (or give scenario_id)."
    )
    side: VerdictSide = Field(
        default=VerdictSide.EXPECTED, description="With run_id: expected or observed verdicts."
    )
    scenario_id: Id | None = Field(
        default=None, description="Compare as the engine plans the scenario (no run needed)."
    )
    revision_id: Id | None = Field(
        default=None, description="With scenario_id: this revision (default: the newest)."
    )
    all_ports: bool = Field(
        default=False, description="With scenario_id: every port, not only the probed cells."
    )


class ScheduleListQuery(PageQuery):
    scenario_id: Id | None = None
    enabled: bool | None = None


# --- bodies ---------------------------------------------------------------------------


class WindowOptions(Body):
    version: Name
    mode: WindowMode
    start_s: Seconds = 0.0
    duration_s: Seconds | None = None


class FaultOptions(Body):
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    probe_loss_rate: float = Field(default=0.0, ge=0, le=1)
    exec_failure_rate: float = Field(default=0.0, ge=0, le=1)
    enforcement_delay_s: float = Field(default=0.0, ge=0, le=3600)
    windows: list[WindowOptions] = Field(default_factory=list, max_length=100)
    refusing_targets: Names = Field(default_factory=list)


class SimulatorOptions(Body):
    """The simulated cluster of a run (backend ``simulated``)."""

    faults: FaultOptions | None = None
    timeout_ms: float = Field(default=1000.0, ge=0, le=600_000)
    exec_overhead_ms: float = Field(default=20.0, ge=0, le=60_000)
    pace_s: float = Field(
        default=0.0, ge=0, le=10, description="Real seconds each probe batch takes (demos)."
    )


class RunOptions(Body):
    """How a run probes; every field has a default."""

    attempts: int = Field(default=3, ge=1, le=20, description="Probes per cell at most.")
    retry_interval_s: float = Field(default=1.0, ge=0, le=600)
    sources_per_shard: int = Field(default=8, ge=1, le=10_000)
    deadline_s: float = Field(
        default=6 * 3600.0, gt=0, le=30 * 86_400, description="Closed as failed after this."
    )
    simulator: SimulatorOptions | None = None


class Narrowing(Body):
    versions: Names = Field(default_factory=list, description="Only these versions (default all).")
    sources: Names = Field(default_factory=list, description="Only these sources (default all).")
    targets: Names = Field(default_factory=list, description="Only these targets (default all).")
    backend: Backend = Backend.SIMULATED
    options: RunOptions | None = None


class RunCreate(Narrowing):
    """A run of a stored scenario (``scenario_id``, optionally ``revision_id``) or of one
    given inline (``scenario``: the YAML text or the JSON object), narrowed if asked."""

    scenario_id: Id | None = None
    revision_id: Id | None = None
    scenario: str | dict[str, Any] | None = Field(
        default=None, description="An inline scenario: YAML text or a JSON object."
    )


class ScheduleCreate(Narrowing):
    scenario_id: Id
    name: Name = "nightly"
    cron: Cron
    timezone: TimeZone = "UTC"
    enabled: bool = True


class ScheduleUpdate(Body):
    """Fields to change; the others stay. A new cron or time zone moves the next fire time."""

    name: Name | None = None
    cron: Cron | None = None
    timezone: TimeZone | None = None
    enabled: bool | None = None
    backend: Backend | None = None
    versions: Names | None = None
    sources: Names | None = None
    targets: Names | None = None
    options: RunOptions | None = None


class TokenCreate(Body):
    name: Name
    role: TokenRole


class MutationRequest(Body):
    revision_id: Id | None = Field(default=None, description="Default: the newest revision.")
    versions: Names | None = Field(default=None, description="Default: every version.")
    suggestions: bool = Field(default=True, description="Search matrix additions too.")
