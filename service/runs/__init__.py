"""Runs as the service keeps them: created, dispatched, executed shard by shard, closed.

The application layer between the adapters (CLI, REST API, Celery tasks) and
the core (scenario planning, the runner, the store). Adapters call these
functions with ids and plain values; none of them knows Flask or Celery.

- :mod:`~service.runs.settings`: how a run is narrowed and executed (stored with it);
- :mod:`~service.runs.revisions`: scenarios, revisions and revision cells in the store;
- :mod:`~service.runs.planning`: a stored run planned again, its shards, a plan cache;
- :mod:`~service.runs.create`: creating a queued run;
- :mod:`~service.runs.backends`: the cluster a shard probes (the backend seam);
- :mod:`~service.runs.kubernetes`, :mod:`~service.runs.kubernetes_settings`: the
  Kubernetes backend of stored runs (clusters by name), cleanup, the janitor;
- :mod:`~service.runs.convergence`: waiting for a version to be enforced, once per
  run and version, and storing how long it took;
- :mod:`~service.runs.history`: the previous run to compare with (same cluster);
- :mod:`~service.runs.execute`: executing one shard: the one code path of every dispatcher;
- :mod:`~service.runs.lifecycle`: finishing by counting, cancelling, failing, reaping, resuming;
- :mod:`~service.runs.dispatch`: the in-process dispatcher and the dispatcher protocol;
- :mod:`~service.runs.cron`, :mod:`~service.runs.schedules`: cron schedules and the beat tick;
- :mod:`~service.runs.results`: a stored run read back as result values.
"""
