"""Notifications hooked where runs close (:func:`service.runs.lifecycle.add_run_closed_hook`).

:func:`install_notifications` registers a hook that hands every run this
process closes to a sender. The hook runs in whatever thread closed the run
(a shard thread, a Celery task) and only queues work, so closing a run never
waits for a webhook.

The hook is process-wide, but a process may talk to several databases (the
tests do): a :class:`Notifications` answers only for runs closed through its
own database.

The hand-over is in memory only; what it would have done is owed in the
database until done, and :meth:`Notifications.resume` (at install) hands that
on too (:mod:`service.notify.resume`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from service.notify.resume import NotificationSender, Resumed, resume_notifications
from service.runs.lifecycle import add_run_closed_hook
from service.store.enums import RunStatus

__all__ = ["Notifications", "install_notifications"]

log = logging.getLogger(__name__)

# Cancelled runs found nothing anyone asked for; failed and succeeded runs may have.
_NOTIFIED: Final = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED})


def _database(sessions: sessionmaker[Session]) -> str:
    bind = sessions.kw.get("bind")
    url = getattr(bind, "url", None)
    return url.render_as_string(hide_password=True) if url is not None else repr(bind)


class Notifications:
    """An installed hook; :meth:`uninstall` removes it."""

    def __init__(self, sessions: sessionmaker[Session], sender: NotificationSender) -> None:
        self.sessions = sessions
        self.sender = sender
        self._database = _database(sessions)
        self._remove: Callable[[], None] = lambda: None

    def __call__(self, sessions: sessionmaker[Session], run_id: int, status: RunStatus) -> None:
        if status not in _NOTIFIED:
            return
        if sessions is not self.sessions and _database(sessions) != self._database:
            return
        self.sender.run_closed(run_id)

    def resume(self) -> Resumed:
        """Hand the sender every owed run and every due delivery (a lost hand-over left them)."""
        try:
            return resume_notifications(self.sessions, self.sender)
        except SQLAlchemyError:
            # A database not migrated yet, or away: nothing to resume from it now.
            log.warning("owed webhook notifications could not be read", exc_info=True)
            return Resumed()

    def install(self) -> None:
        self._remove = add_run_closed_hook(self)

    def uninstall(self) -> None:
        self._remove()
        self._remove = lambda: None


def install_notifications(
    sessions: sessionmaker[Session], sender: NotificationSender, *, resume: bool = True
) -> Notifications:
    """Notify through ``sender`` about every run this process closes in ``sessions``' database.

    With ``resume``, what is owed (runs closed without their deliveries made, deliveries
    due) is handed on too: left by an earlier process, or by one that closed runs
    without notifying.
    """
    notifications = Notifications(sessions, sender)
    notifications.install()
    if resume:
        notifications.resume()
    return notifications
