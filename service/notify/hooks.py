"""Notifications hooked where runs close (:func:`service.runs.lifecycle.add_run_closed_hook`).

:func:`install_notifications` registers a hook that hands every run this
process closes to a sender. The hook runs in whatever thread closed the run
(a shard thread, a Celery task) and only queues work, so closing a run never
waits for a webhook.

The hook is process-wide, but a process may talk to several databases (the
tests do): a :class:`Notifications` answers only for runs closed through its
own database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from service.notify.deliveries import due_deliveries
from service.notify.senders import NotificationSender
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

    def resume(self) -> list[int]:
        """Hand the sender every delivery still pending and due (left by a stopped process)."""
        try:
            due = due_deliveries(self.sessions)
        except SQLAlchemyError:
            # A database not migrated yet, or away: nothing to resume from it now.
            log.warning("pending webhook deliveries could not be read", exc_info=True)
            return []
        for delivery_id in due:
            self.sender.deliver(delivery_id)
        return due

    def install(self) -> None:
        self._remove = add_run_closed_hook(self)

    def uninstall(self) -> None:
        self._remove()
        self._remove = lambda: None


def install_notifications(
    sessions: sessionmaker[Session], sender: NotificationSender, *, resume: bool = True
) -> Notifications:
    """Notify through ``sender`` about every run this process closes in ``sessions``' database.

    With ``resume``, deliveries left pending by an earlier process are handed on too.
    """
    notifications = Notifications(sessions, sender)
    notifications.install()
    if resume:
        notifications.resume()
    return notifications
