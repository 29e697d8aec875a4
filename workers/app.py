"""The Celery app of netpol-drift, made the way Flask's Celery pattern makes it.

:func:`celery_init_app` takes the configuration (see :mod:`workers.config`),
builds the app and makes it the default one, so the ``@shared_task`` functions
of :mod:`workers.tasks` bind to it wherever they are imported: in the worker
and beat processes (:mod:`workers.worker`) and in the API, which only sends
tasks. Nothing here reads the environment: the caller passes the config in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from celery import Celery

__all__ = ["celery_init_app"]


def celery_init_app(config: Mapping[str, Any]) -> Any:
    """A Celery app configured with ``config``, set as the current and default app.

    (Typed ``Any``: Celery ships no type information.)
    """
    app = Celery("netpol_drift", set_as_current=True)
    app.config_from_object(dict(config))
    app.set_default()
    # Registers the shared tasks with this app even where nothing imported them yet.
    import service.notify.tasks  # noqa: F401
    import workers.tasks  # noqa: F401

    return app
