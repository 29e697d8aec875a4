"""A serving process's start-up objects, kept out of the garbage collector's way.

A process serving the API and dashboard holds 150,000-220,000 objects the collector
tracks from its start (modules, SQLAlchemy's, Flask's and pydantic's machinery,
the app, its routes) until it exits. Every full collection walks them all, and
a 10,000-cell page allocates enough to set off full collections: on the run
page that was 80-90 ms of ~270 (``bench/dashboard_render.py``, the collector
as it is vs these objects frozen, alternated in one process: medians 264-336
vs 179-259 ms). :func:`gc.freeze` moves them to the permanent generation,
which collections never walk; they were never going to be freed anyway.

Called once the app is made, by whatever serves it: ``netpol-drift serve``
and each gunicorn worker (:mod:`service.api.gunicorn_config`).
"""

from __future__ import annotations

import gc

__all__ = ["freeze_startup_objects"]


def freeze_startup_objects() -> int:
    """Collect what start-up left as garbage, freeze the rest; the number frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
