"""Celery workers: the app (Redis broker) and thin tasks that call the service layer.

- :mod:`workers.app`: ``celery_init_app(config)``, the Flask-style app factory;
- :mod:`workers.config`: settings from the environment and the Celery config;
- :mod:`workers.tasks`: the shared tasks (run_shard, finish_run, reap_runs, tick_schedules);
- :mod:`workers.dispatch`: the Celery dispatcher (one task per shard);
- :mod:`workers.context`: per-process database sessions, backends and plans;
- :mod:`workers.worker`: the entry point of ``celery -A workers.worker worker|beat``.
"""
