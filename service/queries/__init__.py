"""The read side: paged, filtered queries returning JSON-ready values.

The REST API (:mod:`service.api`) and the dashboard both read through these
functions; each takes a SQLAlchemy session and plain arguments and returns
``TypedDict`` values (or frozen dataclasses of them) with times as RFC 3339
strings, label sets as objects and ports as written. Lists page by cursor
(:mod:`~service.queries.paging`).

- :mod:`~service.queries.scenarios`: scenarios, revisions;
- :mod:`~service.queries.runs`: runs with filters, one run with its progress;
- :mod:`~service.queries.cells`: a run's cells with filters, one cell, a cell's history;
- :mod:`~service.queries.matrix`: the matrix of one policy version of a run;
- :mod:`~service.queries.compare`: run vs run (drift), version vs version, flakes;
- :mod:`~service.queries.schedules`: schedules with their next fire times;
- :mod:`~service.queries.metrics`: the aggregates behind /metrics;
- :mod:`~service.queries.exports`: a run's cells as JUnit XML, JSON and CSV;
- :mod:`~service.queries.records`: stored runs as :mod:`service.compare` values.
"""
