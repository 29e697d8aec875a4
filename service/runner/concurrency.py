"""Probing the batches of one round, one after the other or several at once.

A round is one batch per source pod. The simulator probes them in turn on its
simulated clock (deterministic). A backend that can probe several source pods
at once (the Kubernetes backend: one exec each, the probes of a batch already
in parallel inside the pod) says so with a ``probe_concurrency`` above 1, and
its batches go out together: a round then costs its slowest exec, not the sum.
Results come back in batch order either way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar, runtime_checkable

from service.cluster.base import Cluster

__all__ = ["ConcurrentProbing", "probe_concurrency", "probe_round"]

B = TypeVar("B")
R = TypeVar("R")


@runtime_checkable
class ConcurrentProbing(Protocol):
    """A cluster whose ``probe`` may be called from several threads at once."""

    @property
    def probe_concurrency(self) -> int: ...


def probe_concurrency(cluster: Cluster) -> int:
    """How many batches ``cluster`` takes at once (1 unless it says more)."""
    if isinstance(cluster, ConcurrentProbing):
        return max(1, int(cluster.probe_concurrency))
    return 1


def probe_round(
    cluster: Cluster,
    batches: Sequence[B],
    probe: Callable[[B], R],
    *,
    epoch: float,
) -> list[tuple[float, R]]:
    """``probe`` every batch; per batch, (seconds since ``epoch`` when it started, result).

    Sequential batches are timed one by one; concurrent ones all start at the
    round's start.
    """
    clock = cluster.clock
    workers = min(probe_concurrency(cluster), len(batches))
    if workers <= 1:
        out = []
        for batch in batches:
            at = clock.now() - epoch
            out.append((at, probe(batch)))
        return out
    at = clock.now() - epoch
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="probe") as pool:
        return [(at, result) for result in pool.map(probe, batches)]
