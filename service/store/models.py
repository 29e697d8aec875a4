"""The tables of netpol-drift as typed SQLAlchemy models.

Models only: no queries or rules live here. The schema itself is made by the
Alembic migrations in ``migrations/``; a test checks that they agree with
these models on SQLite and PostgreSQL.

Deleting a scenario deletes its revisions, schedules, runs and their cells
(``ON DELETE CASCADE`` in the database; the ORM deletes only children it has
already loaded and leaves the rest to the database, ``passive_deletes``);
deleting a schedule keeps the runs it started (``SET NULL``).

Cells are stored in two halves, so that a year of nightly runs stays small:
what a cell *is* (version, source, target, port, protocol, the engine's
expected verdict and its explanation) is fixed by the scenario revision and
kept once per revision in ``revision_cells``; what a run *saw* (observed
verdict, raw outcome, latency, attempts, regression, flaky) is the only thing
stored per run, in ``cell_results``. The two join on (revision, cell key); a
cell key names its policy version (:mod:`service.scenario.cells`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.policy.model import Protocol
from service.scenario.cells import RawOutcome
from service.scenario.model import Verdict
from service.store.base import (
    Base,
    UTCDateTime,
    json_default_dict,
    string_enum,
    utc_now,
)
from service.store.enums import Backend, RunStatus, TokenRole, Trigger

__all__ = [
    "ApiToken",
    "CellResult",
    "RevisionCell",
    "Run",
    "RunVersion",
    "Scenario",
    "ScenarioRevision",
    "Schedule",
]

# Lengths follow Kubernetes where it sets them (namespace names are DNS labels,
# object names DNS subdomains); elsewhere they are generous bounds.
NAME = 253
NAMESPACE = 63
SHA256_HEX = 64
# service.scenario.cells.KEY_LENGTH hex digits.
CELL_KEY = 16


class Scenario(Base):
    __tablename__ = "scenarios"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now, onupdate=utc_now)

    revisions: Mapped[list[ScenarioRevision]] = relationship(
        back_populates="scenario",
        cascade="all, delete",
        passive_deletes=True,
        order_by="ScenarioRevision.created_at",
    )
    schedules: Mapped[list[Schedule]] = relationship(
        back_populates="scenario", cascade="all, delete", passive_deletes=True
    )


class ScenarioRevision(Base):
    """One content of a scenario, kept as written and as resolved; runs point at it."""

    __tablename__ = "scenario_revisions"
    __table_args__ = (UniqueConstraint("scenario_id", "content_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"))
    # sha256 (hex) of the resolved content: the same scenario content is one revision.
    content_hash: Mapped[str] = mapped_column(String(SHA256_HEX))
    # The YAML or JSON the user gave, byte for byte, for display and download.
    source_text: Mapped[str] = mapped_column(Text)
    # The resolved scenario as the self-contained JSON document of
    # service.scenario.document (policies inlined): a worker rebuilds the Scenario
    # from it alone. Text rather than a JSON column so its bytes survive as written.
    canonical_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)

    scenario: Mapped[Scenario] = relationship(back_populates="revisions")


class RevisionCell(Base):
    """A planned cell of a scenario revision: what it is and what the engine expects of it.

    Written once per revision, when its first run is created (every version,
    source and target of the matrix, whatever that run was narrowed to). The
    expected verdict is the engine's on the simulator's pod addresses; a run on
    a real cluster whose addresses change a verdict (ipBlocks matching pod IPs)
    stores its own in ``cell_results.expected_override``.
    """

    __tablename__ = "revision_cells"
    __table_args__ = (
        # Pages of a run's cells read the revision's cells in plan order (migration 0004).
        Index(None, "revision_id", "ordinal"),
    )

    revision_id: Mapped[int] = mapped_column(
        ForeignKey("scenario_revisions.id", ondelete="CASCADE"), primary_key=True
    )
    cell_key: Mapped[str] = mapped_column(String(CELL_KEY), primary_key=True)
    # The same connection in every version (service.scenario.cells.pair_key).
    pair_key: Mapped[str] = mapped_column(String(CELL_KEY))
    # Position in plan order (versions in scenario order, then namespace, source, target, port).
    ordinal: Mapped[int] = mapped_column(Integer)
    version: Mapped[str] = mapped_column(String(NAME))
    source_namespace: Mapped[str] = mapped_column(String(NAMESPACE))
    source_name: Mapped[str] = mapped_column(String(NAME))
    # Canonical "k=v,k2=v2" (keys sorted), as str(Labels) prints them.
    source_labels: Mapped[str] = mapped_column(Text)
    target_namespace: Mapped[str] = mapped_column(String(NAMESPACE))
    target_name: Mapped[str] = mapped_column(String(NAME))
    # As the scenario names it: "8080" or a named port "http".
    port: Mapped[str] = mapped_column(String(NAMESPACE))
    # The number a named port resolved to on the target; None when it did not resolve.
    resolved_port: Mapped[int | None] = mapped_column(Integer)
    protocol: Mapped[Protocol] = mapped_column(string_enum(Protocol, name="protocol", length=8))
    # The probing pod is the target itself: a mismatch is listed apart, never a regression.
    loopback: Mapped[bool] = mapped_column(Boolean, default=False)
    expected: Mapped[Verdict] = mapped_column(string_enum(Verdict, name="expected", length=16))
    # The engine's explanation as rendered text; for an invalid cell, why it is not probed.
    explanation: Mapped[str | None] = mapped_column(Text)


class Schedule(Base):
    """A cron schedule of a scenario's runs; each due time fires one run (see ``Run``)."""

    __tablename__ = "schedules"
    __table_args__ = (UniqueConstraint("scenario_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(NAME))
    cron: Mapped[str] = mapped_column(String(128))
    # An IANA zone name (Europe/Berlin): cron fields are read in this zone.
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # What the runs it starts probe, and how (the run options of service.runs).
    backend: Mapped[Backend] = mapped_column(
        string_enum(Backend, name="backend", length=16), default=Backend.SIMULATED
    )
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=json_default_dict)
    next_fire_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now, onupdate=utc_now)

    scenario: Mapped[Scenario] = relationship(back_populates="schedules")


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        # A schedule fires once per due time, however many beat processes race
        # to enqueue it. NULLs are distinct, so unscheduled runs never collide.
        UniqueConstraint("schedule_id", "scheduled_for"),
        Index(None, "scenario_id", "created_at"),
        # The unfiltered runs list: newest first, keyset-paged on (created_at, id) (0004).
        Index(None, "created_at", "id"),
        # Lists, /metrics and the reaper filter on status (0004).
        Index(None, "status"),
        # The notifications' resume sweep: closed runs whose notifications are owed (0005).
        Index(None, "notify_prepared_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"))
    revision_id: Mapped[int] = mapped_column(
        ForeignKey("scenario_revisions.id", ondelete="CASCADE")
    )
    trigger: Mapped[Trigger] = mapped_column(string_enum(Trigger, name="trigger", length=16))
    backend: Mapped[Backend] = mapped_column(string_enum(Backend, name="backend", length=16))
    status: Mapped[RunStatus] = mapped_column(
        string_enum(RunStatus, name="status", length=16), default=RunStatus.QUEUED
    )
    # created_at is when the run was queued.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Past this, the reaper closes a run that is still queued or running.
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When shards were last sent or last stored cells: a run without progress for a
    # while has its missing shards sent again (a broker that lost its queue).
    progress_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    planned_cells: Mapped[int] = mapped_column(Integer, default=0)
    regressions: Mapped[int] = mapped_column(Integer, default=0)
    flaky: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    invalid: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    seed: Mapped[int | None] = mapped_column(BigInteger)
    # How the run was narrowed ({"versions": [...], "sources": [...], "targets": [...]})
    # and executed (attempts, shard size, the simulator's faults): service.runs.RunSettings.
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=json_default_dict)
    # What was probed: backend identity, Calico version, ...
    cluster: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedules.id", ondelete="SET NULL"))
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the run's webhook deliveries were made (or it was found to owe none), in the
    # transaction that made them (service.notify.deliveries). Empty on a closed run: its
    # notifications are still owed, and the resume sweep hands it to a sender again.
    notify_prepared_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    scenario: Mapped[Scenario] = relationship()
    revision: Mapped[ScenarioRevision] = relationship()
    schedule: Mapped[Schedule | None] = relationship()
    versions: Mapped[list[RunVersion]] = relationship(
        back_populates="run", cascade="all, delete", passive_deletes=True
    )


class RunVersion(Base):
    """A policy version as applied during one run (for convergence statistics)."""

    __tablename__ = "run_versions"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(SHA256_HEX))
    # Time from applying the version until probes saw it enforced; None if unknown.
    convergence_ms: Mapped[float | None] = mapped_column(Float)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    run: Mapped[Run] = relationship(back_populates="versions")


class CellResult(Base):
    """What one run observed of one cell; what the cell is lives in ``revision_cells``.

    The primary key (run_id, cell_key) is what makes shard writes idempotent: a
    cell key includes the policy version, so a redelivered shard inserting the
    same cells again conflicts and is ignored. No surrogate id and nothing that
    the revision already knows: at millions of rows a year every byte counts.
    """

    __tablename__ = "cell_results"
    __table_args__ = (
        # A cell's history across runs.
        Index(None, "cell_key", "run_id"),
    )

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    cell_key: Mapped[str] = mapped_column(String(CELL_KEY), primary_key=True)
    observed: Mapped[Verdict] = mapped_column(string_enum(Verdict, name="observed", length=16))
    # What the final probe saw; None for cells that were not probed (invalid).
    raw_outcome: Mapped[RawOutcome | None] = mapped_column(
        string_enum(RawOutcome, name="raw_outcome", length=16)
    )
    latency_ms: Mapped[float | None] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    # Every attempt (number, observed, raw, latency_ms, detail, at_s); None when the
    # cell took one attempt that saw what was expected: the columns above say it all.
    # (SQL NULL, not JSON null: none_as_null.)
    attempt_details: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))
    regression: Mapped[bool] = mapped_column(Boolean, default=False)
    flaky: Mapped[bool] = mapped_column(Boolean, default=False)
    # Only when this run's engine verdict differs from the revision's (see RevisionCell).
    expected_override: Mapped[Verdict | None] = mapped_column(
        string_enum(Verdict, name="expected_override", length=16)
    )
    explanation_override: Mapped[str | None] = mapped_column(Text)


class ApiToken(Base):
    """A bearer token; only its sha256 is stored, the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME), unique=True)
    role: Mapped[TokenRole] = mapped_column(string_enum(TokenRole, name="role", length=16))
    token_hash: Mapped[str] = mapped_column(String(SHA256_HEX), unique=True)
    # The first characters of the token, not secret, so people can tell tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
