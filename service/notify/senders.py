"""Who does the work after a run closes: a thread in this process, or Celery.

A sender is told that a run closed (:meth:`NotificationSender.run_closed`)
and from then on owns the notification: it prepares the deliveries
(:func:`~service.notify.deliveries.prepare_deliveries`) and sends each
attempt, waiting the backoff between failed attempts.

- :class:`InProcessSender` (the embedded default, no broker): one background
  thread working through a queue ordered by due time, which also resumes
  (:func:`~service.notify.resume.resume_notifications`) every
  ``resume_interval_s``: what its queue dropped when a process stopped, and
  what runs closed by other processes (a CLI run, a process that died) owe,
  is in the database and sent by the next pass of a notifier on it.
- :class:`CelerySender`: sends the ``netpol_drift.notify_run`` task by name
  (:mod:`service.notify.tasks` registers it in the workers), which prepares
  and delivers, retrying with backoff as Celery countdowns; Celery beat's
  ``netpol_drift.resume_notifications`` picks up what a lost task left.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Final

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from service.notify.deliveries import Poster, attempt_delivery, http_post, prepare_deliveries
from service.notify.resume import NotificationSender, resume_notifications
from service.notify.settings import NotifySettings
from service.store.notify_models import DeliveryStatus

__all__ = [
    "DELIVER_TASK",
    "NOTIFY_RUN_TASK",
    "RESUME_TASK",
    "CelerySender",
    "InProcessSender",
    "NotificationSender",
]

log = logging.getLogger(__name__)

NOTIFY_RUN_TASK: Final = "netpol_drift.notify_run"
DELIVER_TASK: Final = "netpol_drift.deliver_webhook"
RESUME_TASK: Final = "netpol_drift.resume_notifications"


class InProcessSender:
    """Notifications on one background thread of this process (see the module docstring).

    The periodic resume is not a queued job: :meth:`idle` means nothing queued or
    running, whatever the next resume.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: NotifySettings,
        *,
        post: Poster = http_post,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.post = post
        self._clock = clock
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._busy = 0
        self._closed = False
        self._next_resume = clock() + settings.resume_interval_s
        self._thread = threading.Thread(target=self._loop, name="netpol-drift-notify", daemon=True)
        self._thread.start()

    def run_closed(self, run_id: int) -> None:
        self._put(0.0, lambda: self._prepare(run_id))

    def deliver(self, delivery_id: int, *, delay_s: float = 0.0) -> None:
        self._put(delay_s, lambda: self._attempt(delivery_id))

    def idle(self, timeout_s: float) -> bool:
        """Wait until nothing is queued or running (tests, shutdown); False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._wake:
            while self._queue or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._wake.wait(min(left, 0.05))
        return True

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify_all()
        self._thread.join(timeout=5)

    def _put(self, delay_s: float, job: Callable[[], None]) -> None:
        with self._wake:
            if self._closed:
                return
            heapq.heappush(self._queue, (self._clock() + delay_s, next(self._order), job))
            self._wake.notify_all()

    def _prepare(self, run_id: int) -> None:
        for delivery_id in prepare_deliveries(self.sessions, run_id, self.settings):
            self.deliver(delivery_id)

    def _attempt(self, delivery_id: int) -> None:
        outcome = attempt_delivery(self.sessions, delivery_id, self.settings, post=self.post)
        if outcome.status is DeliveryStatus.PENDING and outcome.retry_in_s is not None:
            self.deliver(delivery_id, delay_s=outcome.retry_in_s)

    def _resume(self) -> None:
        try:
            resume_notifications(self.sessions, self)
        except SQLAlchemyError:
            # The database away, or not migrated yet: the next pass tries again.
            log.warning("owed webhook notifications could not be read", exc_info=True)

    def _next_job(self) -> Callable[[], None] | None:
        """The next job once it is due (None when closed); called holding ``_wake``."""
        while not self._closed:
            at = self._clock()
            if self._queue and self._queue[0][0] <= at:
                return heapq.heappop(self._queue)[2]
            if self._next_resume <= at:
                self._next_resume = at + self.settings.resume_interval_s
                return self._resume
            wake = min(self._queue[0][0], self._next_resume) if self._queue else self._next_resume
            self._wake.wait(wake - at)
        return None

    def _loop(self) -> None:
        while True:
            with self._wake:
                job = self._next_job()
                if job is None:
                    return
                self._busy += 1
            try:
                job()
            except Exception:
                # The database was away, say: the delivery stays pending in the store.
                log.exception("notification job failed")
            finally:
                with self._wake:
                    self._busy -= 1
                    self._wake.notify_all()


class CelerySender:
    """Sends the notification tasks by name through ``app``'s broker.

    ``expires_s``: tasks not started that long after sending are dropped. The resume
    sweep sends with its interval there: its next pass sends again whatever is still
    owed, so tasks never pile up behind workers that are busy or down.
    """

    def __init__(self, app: Any, *, expires_s: float | None = None) -> None:
        self.app = app
        self.expires_s = expires_s

    def _options(self, delay_s: float) -> dict[str, Any]:
        options: dict[str, Any] = {"countdown": delay_s} if delay_s > 0 else {}
        if self.expires_s is not None:
            options["expires"] = delay_s + self.expires_s
        return options

    def run_closed(self, run_id: int) -> None:
        self.app.send_task(NOTIFY_RUN_TASK, args=(run_id,), **self._options(0.0))

    def deliver(self, delivery_id: int, *, delay_s: float = 0.0) -> None:
        self.app.send_task(DELIVER_TASK, args=(delivery_id,), **self._options(max(0.0, delay_s)))
