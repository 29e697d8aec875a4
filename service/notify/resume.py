"""Picking up what is owed: runs closed without their deliveries, deliveries due with no sender.

A run's closing hands it to a sender at once (:mod:`service.notify.hooks`),
but that hand-over lives in memory: the in-process sender's queue is dropped
when it stops, a Celery task is gone when Redis restarts empty, a process may
die between closing a run and calling its hooks. What is owed lives in the
database, though, from the moment the run closes:

- a closed run whose ``notify_prepared_at`` is empty has not had its
  deliveries made (:func:`~service.notify.deliveries.owed_runs`);
- a pending delivery whose next attempt is due has nobody on it, or someone
  about to take it (:func:`~service.notify.deliveries.due_deliveries`).

:func:`resume_notifications` hands both to a sender again. It is run by the
in-process notifier when it starts and every ``resume_interval_s`` after
(:class:`~service.notify.senders.InProcessSender`), and with a broker by
Celery beat's ``netpol_drift.resume_notifications`` task
(:mod:`service.notify.tasks`). Handing something on twice does no harm:
preparing marks the run in the transaction that makes its deliveries, and a
delivery's attempts are claimed one by one
(:func:`~service.notify.deliveries.attempt_delivery`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from service.notify.deliveries import due_deliveries, owed_runs

__all__ = ["NotificationSender", "Resumed", "resume_notifications"]


class NotificationSender(Protocol):
    def run_closed(self, run_id: int) -> None:
        """Notify about run ``run_id`` (which just closed), without blocking the caller."""
        ...

    def deliver(self, delivery_id: int, *, delay_s: float = 0.0) -> None:
        """Send the next attempts of a pending delivery, starting in ``delay_s``."""
        ...


@dataclass(frozen=True, slots=True)
class Resumed:
    """What one pass handed on: owed runs (to prepare) and due deliveries (to send)."""

    runs: tuple[int, ...] = ()
    deliveries: tuple[int, ...] = ()


def resume_notifications(
    sessions: sessionmaker[Session], sender: NotificationSender, *, now: datetime | None = None
) -> Resumed:
    """Hand ``sender`` every owed run and every due delivery of ``sessions``' database."""
    runs = tuple(owed_runs(sessions))
    deliveries = tuple(due_deliveries(sessions, now=now))
    for run_id in runs:
        sender.run_closed(run_id)
    for delivery_id in deliveries:
        sender.deliver(delivery_id)
    return Resumed(runs=runs, deliveries=deliveries)
