"""Deliveries: made once per (webhook, run), sent with retries and backoff.

:func:`prepare_deliveries` looks at what a closed run found
(:mod:`service.notify.findings`) and, in one transaction, marks the run
prepared (``runs.notify_prepared_at``, a conditional UPDATE) and, when it
found something a webhook listens for, inserts one delivery per webhook with
``ON CONFLICT DO NOTHING`` on (webhook, run). Only the call whose UPDATE
marked the run inserts, and (webhook, run) is unique besides: a run seen
closing twice, by two processes, or by a sender and the resume sweep at once,
notifies once. The body is rendered then and stored.

What is owed is therefore in the database from the moment a run closes:
:func:`owed_runs` (closed, not prepared) and :func:`due_deliveries` (pending,
next attempt due) are what :mod:`service.notify.resume` hands to a sender
again when the first hand-over was lost.

:func:`attempt_delivery` sends one attempt. It first claims the delivery: a
conditional UPDATE that holds only while the delivery is pending, due and at
the attempt count read, and that pushes its next attempt past the request
timeout (a lease). So two senders never post the same attempt, and a second
sender handed a delivery whose attempt is under way (a resume racing a retry)
finds it not due and leaves it. Then it posts and records the outcome:
delivered on a 2xx answer, pending with the next attempt after a doubling
backoff otherwise, failed after the last attempt. Nothing here logs or stores
the URL whole: errors are scrubbed (:func:`service.notify.urls.scrub`).
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from service.notify.findings import Reason, RunFindings, run_findings
from service.notify.payloads import render_body
from service.notify.settings import NotifySettings
from service.notify.urls import redact_url, scrub
from service.notify.webhooks import webhooks_for_run
from service.runs.transactions import updated, writing
from service.store.base import utc_now
from service.store.enums import RunStatus
from service.store.models import Run
from service.store.notify_models import DeliveryStatus, Webhook, WebhookDelivery
from service.store.writes import insert_ignoring_duplicates

__all__ = [
    "USER_AGENT",
    "AttemptOutcome",
    "PostResult",
    "Poster",
    "attempt_delivery",
    "due_deliveries",
    "http_post",
    "owed_runs",
    "prepare_deliveries",
    "wanted_reasons",
]

log = logging.getLogger(__name__)

USER_AGENT: Final = "netpol-drift-webhook/1"
# An error text kept on a delivery is cut here.
_ERROR_MAX: Final = 500
# Every closed status: a cancelled run owes nothing, but is marked like the others so
# that the resume sweep stops looking at it.
_CLOSED: Final = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)
# Runs handed on per resume pass: a backlog (a notifier down for days) is worked off
# over a few passes rather than in one.
OWED_BATCH: Final = 100


@dataclass(frozen=True, slots=True)
class PostResult:
    """What one POST got: an HTTP status, or an error before any answer (status None)."""

    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


Poster = Callable[[str, bytes, float], PostResult]


def http_post(url: str, body: bytes, timeout_s: float) -> PostResult:
    """POST ``body`` as JSON to ``url``. Never follows a redirect (a 3xx is a failure)."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
    )
    opener = urllib.request.build_opener(_NoRedirect())
    try:
        with opener.open(request, timeout=timeout_s) as response:
            return PostResult(status=int(response.status))
    except urllib.error.HTTPError as err:
        return PostResult(status=err.code, error=f"HTTP {err.code}")
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        return PostResult(status=None, error=scrub(f"{type(err).__name__}: {reason}", url))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect would send the body (and its findings) somewhere nobody configured.
    def redirect_request(self, *_args: object, **_kwargs: object) -> None:
        return None


def wanted_reasons(webhook: Webhook, reasons: tuple[Reason, ...]) -> tuple[Reason, ...]:
    """The reasons of a run that ``webhook`` listens for."""
    listens = {
        Reason.REGRESSIONS: webhook.on_regressions,
        Reason.ALARM_DRIFT: webhook.on_alarm_drift,
        Reason.NEW_FLAKES: webhook.on_new_flakes,
    }
    return tuple(r for r in reasons if listens[r])


def prepare_deliveries(
    sessions: sessionmaker[Session],
    run_id: int,
    settings: NotifySettings,
    *,
    findings: RunFindings | None = None,
    now: datetime | None = None,
) -> list[int]:
    """Make a closed run's deliveries and mark it prepared, in one transaction; the ids of
    the deliveries this call inserted (none when another call prepared the run first).

    A run still open is left alone: it owes nothing yet.
    """
    at = now if now is not None else utc_now()
    if findings is None:
        with sessions() as session:
            found = session.execute(
                select(Run.status, Run.notify_prepared_at).where(Run.id == run_id)
            ).first()
            if found is None or not found.status.finished or found.notify_prepared_at is not None:
                return []
            # The findings read the run's history: worth it only when someone listens.
            if webhooks_for_run(session, run_id):
                findings = run_findings(session, run_id, window=settings.flake_window)
    link = settings.run_link(run_id)
    inserted: list[int] = []
    with writing(sessions) as session:
        marked = updated(
            session,
            update(Run)
            .where(
                Run.id == run_id,
                Run.status.in_(_CLOSED),
                Run.notify_prepared_at.is_(None),
            )
            .values(notify_prepared_at=at),
        )
        if marked != 1 or findings is None or not findings.reasons:
            return []
        for webhook in webhooks_for_run(session, run_id):
            reasons = wanted_reasons(webhook, findings.reasons)
            if not reasons:
                continue
            row = {
                "webhook_id": webhook.id,
                "run_id": run_id,
                "status": DeliveryStatus.PENDING,
                "reasons": [r.value for r in reasons],
                "body": render_body(webhook.format, findings, link),
                "attempts": 0,
                "next_attempt_at": at,
                "created_at": at,
            }
            if insert_ignoring_duplicates(session, WebhookDelivery, [row]):
                delivery_id = session.scalar(
                    select(WebhookDelivery.id).where(
                        WebhookDelivery.webhook_id == webhook.id,
                        WebhookDelivery.run_id == run_id,
                    )
                )
                if delivery_id is not None:
                    inserted.append(delivery_id)
    return inserted


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """What :func:`attempt_delivery` did. ``retry_in_s``: when to try again (pending only)."""

    delivery_id: int
    status: DeliveryStatus | None
    attempt: int = 0
    http_status: int | None = None
    retry_in_s: float | None = None
    skipped: str = ""


def attempt_delivery(
    sessions: sessionmaker[Session],
    delivery_id: int,
    settings: NotifySettings,
    *,
    post: Poster = http_post,
    now: Callable[[], datetime] = utc_now,
) -> AttemptOutcome:
    """Send the next attempt of a pending delivery and record how it went."""
    with writing(sessions) as session:
        found = session.execute(
            select(WebhookDelivery, Webhook.url)
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(WebhookDelivery.id == delivery_id)
        ).first()
        if found is None:
            return AttemptOutcome(delivery_id, None, skipped="no such delivery (deleted?)")
        delivery, url = found
        if delivery.status is not DeliveryStatus.PENDING:
            return AttemptOutcome(
                delivery_id,
                delivery.status,
                delivery.attempts,
                skipped=f"already {delivery.status}",
            )
        at = now()
        due = delivery.next_attempt_at
        if due is not None and due > at:
            # Another sender holds this attempt (the lease), or its backoff is not over:
            # whoever made it wait sends it then, and the resume sweep if they are gone.
            return AttemptOutcome(
                delivery_id, None, delivery.attempts, skipped=f"not due until {due.isoformat()}"
            )
        attempt = delivery.attempts + 1
        lease = at + timedelta(seconds=settings.timeout_s * 2 + 1)
        claimed = updated(
            session,
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.status == DeliveryStatus.PENDING,
                WebhookDelivery.attempts == delivery.attempts,
                or_(
                    WebhookDelivery.next_attempt_at.is_(None),
                    WebhookDelivery.next_attempt_at <= at,
                ),
            )
            .values(attempts=attempt, next_attempt_at=lease),
        )
        if claimed != 1:
            return AttemptOutcome(delivery_id, None, skipped="another sender has this attempt")
        body = delivery.body.encode("utf-8")
    result = post(url, body, settings.timeout_s)
    shown = redact_url(url)
    values: dict[str, object] = {"last_status_code": result.status}
    retry_in: float | None = None
    if result.ok:
        status = DeliveryStatus.DELIVERED
        values.update(status=status, delivered_at=now(), next_attempt_at=None, last_error=None)
        log.info(
            "webhook delivery %s to %s: delivered (HTTP %s)", delivery_id, shown, result.status
        )
    else:
        error = scrub(result.error or f"HTTP {result.status}", url)[:_ERROR_MAX]
        values["last_error"] = error
        if attempt >= settings.attempts:
            status = DeliveryStatus.FAILED
            values.update(status=status, next_attempt_at=None)
            log.warning(
                "webhook delivery %s to %s failed for good after %s attempts: %s",
                delivery_id,
                shown,
                attempt,
                error,
            )
        else:
            status = DeliveryStatus.PENDING
            retry_in = settings.backoff(attempt)
            values["next_attempt_at"] = now() + timedelta(seconds=retry_in)
            log.info(
                "webhook delivery %s to %s: attempt %s failed (%s); again in %.1f s",
                delivery_id,
                shown,
                attempt,
                error,
                retry_in,
            )
    with writing(sessions) as session:
        session.execute(
            update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(**values)
        )
    return AttemptOutcome(
        delivery_id, status, attempt, http_status=result.status, retry_in_s=retry_in
    )


def owed_runs(sessions: sessionmaker[Session], *, limit: int = OWED_BATCH) -> list[int]:
    """Closed runs whose deliveries were never made (their hand-over was lost), oldest first."""
    with sessions() as session:
        return list(
            session.scalars(
                select(Run.id)
                .where(Run.notify_prepared_at.is_(None), Run.status.in_(_CLOSED))
                .order_by(Run.id)
                .limit(limit)
            )
        )


def due_deliveries(sessions: sessionmaker[Session], *, now: datetime | None = None) -> list[int]:
    """Pending deliveries whose next attempt is due (a sender that died or lost them left them)."""
    at = now if now is not None else utc_now()
    with sessions() as session:
        return list(
            session.scalars(
                select(WebhookDelivery.id)
                .where(
                    WebhookDelivery.status == DeliveryStatus.PENDING,
                    WebhookDelivery.next_attempt_at <= at,
                )
                .order_by(WebhookDelivery.id)
            )
        )
