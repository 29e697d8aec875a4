"""Dispatchers: who executes a run's shards. Two of them, one shard code path.

A dispatcher is handed a run id and shard keys and sees that each shard is
executed by :func:`service.runs.execute.execute_shard`, somewhere:

- :class:`InProcessDispatcher` (the embedded default, used when no broker is
  configured): a thread pool in this process;
- the Celery dispatcher in ``workers/``: one task per shard on the broker,
  executed by worker processes on any machine.

Neither tells the run it is finished: the shard that stores the last cell
does (counting in the database), so the two behave the same.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from service.runner.shard import ProgressCallback
from service.runs.backends import Backends, default_backends
from service.runs.create import CreatedRun, RunRequest, create_run
from service.runs.execute import ShardOutcome, execute_shard
from service.runs.lifecycle import fail_run, finish_if_complete, stalled_shards
from service.runs.planning import PlanCache

__all__ = ["Dispatcher", "InProcessDispatcher", "resume_stalled_runs", "start_run"]


class Dispatcher(Protocol):
    def dispatch(self, run_id: int, shard_keys: Sequence[str]) -> None:
        """See that every shard is executed; returns without waiting for them."""
        ...


def start_run(
    sessions: sessionmaker[Session],
    dispatcher: Dispatcher,
    request: RunRequest,
    *,
    plans: PlanCache | None = None,
) -> CreatedRun:
    """Create a run and hand its shards to ``dispatcher``."""
    created = create_run(sessions, request, plans=plans)
    dispatcher.dispatch(created.run_id, created.shard_keys)
    return created


def resume_stalled_runs(
    sessions: sessionmaker[Session],
    dispatcher: Dispatcher,
    *,
    plans: PlanCache,
    stalled_after: timedelta,
    now: datetime | None = None,
) -> dict[int, tuple[str, ...]]:
    """Send again the missing shards of runs without progress; by run id, what was sent."""
    sent = {}
    for stalled in stalled_shards(sessions, plans=plans, stalled_after=stalled_after, now=now):
        if stalled.shard_keys:
            dispatcher.dispatch(stalled.run_id, stalled.shard_keys)
            sent[stalled.run_id] = stalled.shard_keys
        else:
            finish_if_complete(sessions, stalled.run_id)
    return sent


class InProcessDispatcher:
    """Shards on a thread pool in this process.

    ``dispatch`` returns at once; :meth:`run` dispatches and waits, returning
    every shard's outcome (the CLI renders them). A shard that raises fails its
    run with the error: in-process there is no one to retry it.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        backends: Backends | None = None,
        plans: PlanCache | None = None,
        workers: int = 2,
        progress: ProgressCallback | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        """``on_close``: called once the pool is shut down (undoes what came with the
        backends, such as a run-closed hook)."""
        self.sessions = sessions
        self.backends = backends if backends is not None else default_backends()
        self.plans = plans if plans is not None else PlanCache()
        self.progress = progress
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="shard")
        self._lock = threading.Lock()
        self._futures: dict[int, list[Future[ShardOutcome]]] = {}
        self._on_close = on_close

    def dispatch(self, run_id: int, shard_keys: Sequence[str]) -> None:
        futures = [self._pool.submit(self._execute, run_id, key) for key in shard_keys]
        with self._lock:
            self._futures.setdefault(run_id, []).extend(futures)

    def wait(self, run_id: int) -> list[ShardOutcome]:
        """Wait for the run's dispatched shards; their outcomes in dispatch order."""
        with self._lock:
            futures = self._futures.pop(run_id, [])
        return [f.result() for f in futures]

    def run(self, run_id: int, shard_keys: Sequence[str]) -> list[ShardOutcome]:
        self.dispatch(run_id, shard_keys)
        return self.wait(run_id)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._on_close is not None:
            self._on_close()
            self._on_close = None

    def __enter__(self) -> InProcessDispatcher:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _execute(self, run_id: int, shard_key: str) -> ShardOutcome:
        try:
            return execute_shard(
                self.sessions,
                run_id,
                shard_key,
                backends=self.backends,
                plans=self.plans,
                progress=self.progress,
            )
        except Exception as err:
            fail_run(self.sessions, run_id, f"shard {shard_key} failed: {err}")
            raise
