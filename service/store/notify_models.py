"""The notification tables: webhooks per scenario or schedule, and their deliveries per run.

A webhook belongs to exactly one scenario or one schedule (a CHECK says so);
deleting either deletes its webhooks. Its URL is stored as given, since it
is needed to send, but is never shown back or logged whole: the secret parts
of a URL (the path of a Slack incoming webhook, tokens in the query) are
redacted by :mod:`service.notify.urls` wherever a URL leaves the store.

A delivery is one run's notification through one webhook. (webhook, run) is
unique: whichever process finishes a run first inserts the delivery, any
other insert for the same pair does nothing, so a run notifies each webhook
at most once however many processes see it finish. The body is rendered when
the delivery is made and stored, so every retry sends the same bytes.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.store.base import Base, UTCDateTime, json_default_list, string_enum, utc_now
from service.store.models import NAME, Run, Scenario, Schedule

__all__ = ["DeliveryStatus", "Webhook", "WebhookDelivery", "WebhookFormat"]


class WebhookFormat(StrEnum):
    """The body a webhook is sent: our JSON document, or a Slack incoming-webhook message."""

    GENERIC = "generic"
    SLACK = "slack"


class DeliveryStatus(StrEnum):
    """pending (waiting for its first or next attempt) -> delivered | failed (gave up)."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class Webhook(Base):
    __tablename__ = "webhooks"
    __table_args__ = (
        CheckConstraint(
            "(scenario_id IS NULL AND schedule_id IS NOT NULL)"
            " OR (scenario_id IS NOT NULL AND schedule_id IS NULL)",
            name="one_scope",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Free text chosen by its author: shown escaped, like every user-provided word.
    name: Mapped[str] = mapped_column(String(NAME))
    scenario_id: Mapped[int | None] = mapped_column(
        ForeignKey("scenarios.id", ondelete="CASCADE"), index=True
    )
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("schedules.id", ondelete="CASCADE"), index=True
    )
    format: Mapped[WebhookFormat] = mapped_column(
        string_enum(WebhookFormat, name="format", length=16), default=WebhookFormat.GENERIC
    )
    # Secret: never shown or logged whole (service.notify.urls.redact_url).
    url: Mapped[str] = mapped_column(Text)
    on_regressions: Mapped[bool] = mapped_column(Boolean, default=True)
    on_alarm_drift: Mapped[bool] = mapped_column(Boolean, default=True)
    on_new_flakes: Mapped[bool] = mapped_column(Boolean, default=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now, onupdate=utc_now)

    scenario: Mapped[Scenario | None] = relationship()
    schedule: Mapped[Schedule | None] = relationship()


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # The dedup: one delivery per webhook and run.
        UniqueConstraint("webhook_id", "run_id"),
        # The retry sweep: pending deliveries due by now.
        Index(None, "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    status: Mapped[DeliveryStatus] = mapped_column(
        string_enum(DeliveryStatus, name="status", length=16), default=DeliveryStatus.PENDING
    )
    # Why the run notified: "regressions", "alarm-drift", "new-flakes".
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=json_default_list)
    # The exact body sent on every attempt (JSON text).
    body: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    # What went wrong last, with any URL in it redacted.
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    webhook: Mapped[Webhook] = relationship()
    run: Mapped[Run] = relationship()
