"""The tables of netpol-drift as typed SQLAlchemy models.

Models only: no queries or rules live here. The schema itself is made by the
Alembic migrations in ``migrations/``; a test checks that they agree with
these models on SQLite and PostgreSQL.

Deleting a scenario deletes its revisions, schedules, runs and their cells
(``ON DELETE CASCADE`` in the database; the ORM deletes only children it has
already loaded and leaves the rest to the database, ``passive_deletes``);
deleting a schedule keeps the runs it started (``SET NULL``).
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
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.policy.model import Protocol
from service.scenario.model import Verdict
from service.store.base import (
    Base,
    UTCDateTime,
    json_default_dict,
    json_default_list,
    string_enum,
    utc_now,
)
from service.store.enums import Backend, RunStatus, TokenRole, Trigger

__all__ = [
    "ApiToken",
    "CellResult",
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
CELL_KEY = 32


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
    # The resolved scenario (policy files inlined) as canonical JSON text; kept as
    # text rather than a JSON column so its bytes, and thus its hash, survive.
    canonical_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)

    scenario: Mapped[Scenario] = relationship(back_populates="revisions")


class Schedule(Base):
    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(NAME))
    cron: Mapped[str] = mapped_column(String(128))
    # An IANA zone name (Europe/Berlin): cron fields are read in this zone.
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
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
    planned_cells: Mapped[int] = mapped_column(Integer, default=0)
    regressions: Mapped[int] = mapped_column(Integer, default=0)
    flaky: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    invalid: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    seed: Mapped[int | None] = mapped_column(BigInteger)
    # How the run was narrowed: {"versions": [...], "sources": [...], "targets": [...]}.
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=json_default_dict)
    # What was probed: backend identity, Calico version, ...
    cluster: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedules.id", ondelete="SET NULL"))
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime())

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
    """The stored outcome of one cell in one run.

    The primary key (run_id, cell_key) is what makes shard writes idempotent: a
    cell key includes the policy version, so a redelivered shard inserting the
    same cells again conflicts and is ignored. No surrogate id: at hundreds of
    millions of rows a second unique index would cost more than it gives.
    """

    __tablename__ = "cell_results"
    __table_args__ = (
        # A cell's history across runs.
        Index(None, "cell_key", "run_id"),
        # A run's cells by verdict.
        Index(None, "run_id", "observed"),
    )

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    cell_key: Mapped[str] = mapped_column(String(CELL_KEY), primary_key=True)
    version: Mapped[str] = mapped_column(String(NAME))
    version_hash: Mapped[str] = mapped_column(String(SHA256_HEX))
    source_namespace: Mapped[str] = mapped_column(String(NAMESPACE))
    source_name: Mapped[str] = mapped_column(String(NAME))
    # Canonical "k=v,k2=v2" (keys sorted), as str(Labels) prints them.
    source_labels: Mapped[str] = mapped_column(Text)
    target_name: Mapped[str] = mapped_column(String(NAME))
    target_namespace: Mapped[str] = mapped_column(String(NAMESPACE))
    # As the scenario names it: "8080" or a named port "http".
    port: Mapped[str] = mapped_column(String(NAMESPACE))
    # The number a named port resolved to on the target; None when it did not resolve.
    resolved_port: Mapped[int | None] = mapped_column(Integer)
    protocol: Mapped[Protocol] = mapped_column(string_enum(Protocol, name="protocol", length=8))
    expected: Mapped[Verdict] = mapped_column(string_enum(Verdict, name="expected", length=16))
    observed: Mapped[Verdict] = mapped_column(string_enum(Verdict, name="observed", length=16))
    # What the probe saw (connected, timeout, refused, dns-error, exec-error);
    # None for cells that were not probed (invalid).
    raw_outcome: Mapped[str | None] = mapped_column(String(32))
    latency_ms: Mapped[float | None] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    attempt_details: Mapped[list[Any]] = mapped_column(JSON, default=json_default_list)
    explanation: Mapped[str | None] = mapped_column(Text)
    regression: Mapped[bool] = mapped_column(Boolean, default=False)
    flaky: Mapped[bool] = mapped_column(Boolean, default=False)
    loopback: Mapped[bool] = mapped_column(Boolean, default=False)


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
