"""gunicorn's settings for the API's workers: ``gunicorn -c python:service.api.gunicorn_config``.

The command line (docker-compose.yml) says where to bind and how many threaded
workers to run; this module adds what a command line cannot: once a worker has
loaded the app, its start-up objects are frozen out of the garbage collector's
way (:mod:`service.api.heap`).
"""

from __future__ import annotations

from typing import Protocol

from service.api.heap import freeze_startup_objects

__all__ = ["post_worker_init"]


class _Log(Protocol):
    def info(self, msg: str, *args: object) -> None: ...


class _Worker(Protocol):
    log: _Log


def post_worker_init(worker: _Worker) -> None:
    """gunicorn's hook, called in each worker once it has loaded the app."""
    frozen = freeze_startup_objects()
    worker.log.info("froze %d start-up objects out of the garbage collector's way", frozen)
