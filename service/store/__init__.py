"""Persistence: typed SQLAlchemy models, engines, migrations and idempotent writes.

Models hold no business logic. The schema is made only by the Alembic
migrations in ``migrations/`` (:func:`upgrade`, :func:`ensure_schema`).
"""

from __future__ import annotations

from service.store.base import NAMING_CONVENTION, Base, UTCDateTime, utc_now
from service.store.chaos_models import ChaosExperiment, ChaosPhase, ChaosStep
from service.store.engine import (
    DATABASE_URL_ENV,
    SQLITE_BEGIN,
    default_database_url,
    make_engine,
    make_session_factory,
    parse_database_url,
)
from service.store.enums import Backend, RunStatus, TokenRole, Trigger
from service.store.migrate import (
    current_revision,
    downgrade,
    ensure_schema,
    head_revision,
    upgrade,
)
from service.store.models import (
    ApiToken,
    CellResult,
    RevisionCell,
    Run,
    RunVersion,
    Scenario,
    ScenarioRevision,
    Schedule,
)
from service.store.notify_models import (
    DeliveryStatus,
    Webhook,
    WebhookDelivery,
    WebhookFormat,
)
from service.store.writes import insert_ignoring_duplicates

__all__ = [
    "DATABASE_URL_ENV",
    "NAMING_CONVENTION",
    "SQLITE_BEGIN",
    "ApiToken",
    "Backend",
    "Base",
    "CellResult",
    "ChaosExperiment",
    "ChaosPhase",
    "ChaosStep",
    "DeliveryStatus",
    "RevisionCell",
    "Run",
    "RunStatus",
    "RunVersion",
    "Scenario",
    "ScenarioRevision",
    "Schedule",
    "TokenRole",
    "Trigger",
    "UTCDateTime",
    "Webhook",
    "WebhookDelivery",
    "WebhookFormat",
    "current_revision",
    "default_database_url",
    "downgrade",
    "ensure_schema",
    "head_revision",
    "insert_ignoring_duplicates",
    "make_engine",
    "make_session_factory",
    "parse_database_url",
    "upgrade",
    "utc_now",
]
