"""A shard: one policy version x a group of source pods, the unit of execution.

The in-process run executes every shard in turn; the Celery dispatcher (issue 4)
sends each shard to a worker. Both call :func:`run_shard`, so there is one code
path for probing, retrying and judging. A shard is reproducible from the plan
alone (``plan_shards`` is deterministic), so a worker given (run, version, shard
index) re-plans and executes exactly the same cells; its results are keyed by
(version, cell key), which makes storing a redelivered shard idempotent.

Precondition of ``run_shard``: the cluster has the run's layout set up and the
shard's version applied. Probing goes in rounds: every pending cell of the
shard is probed, batched per source pod (one exec per pod on a real cluster);
cells whose verdict differs from the expected one are probed again after
``retry_interval_s``, up to ``attempts`` times in all. Every attempt is kept.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from service.cluster.base import Cluster
from service.errors import FieldPath, InvalidInput, Problem
from service.runner.probing import probe_cells
from service.runner.results import Attempt, CellResult
from service.scenario.cells import verdict_of
from service.scenario.plan import VersionPlan

__all__ = ["ProgressCallback", "RunOptions", "Shard", "plan_shards", "run_shard"]

# Called with the number of cells that just got their final result.
ProgressCallback = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class RunOptions:
    """``attempts``: probes per cell at most (the first included); ``retry_interval_s``:
    the wait before re-probing mismatching cells; ``sources_per_shard``: source pods
    per shard (one exec each per round)."""

    attempts: int = 3
    retry_interval_s: float = 1.0
    sources_per_shard: int = 8

    def __post_init__(self) -> None:
        problems = []
        if not (isinstance(self.attempts, int) and self.attempts >= 1):
            problems.append(
                Problem(f"expected at least 1, got {self.attempts!r}", FieldPath(("attempts",)))
            )
        interval = self.retry_interval_s
        if not (isinstance(interval, int | float) and math.isfinite(interval) and interval >= 0):
            problems.append(
                Problem(
                    f"expected seconds >= 0, got {interval!r}", FieldPath(("retry_interval_s",))
                )
            )
        if not (isinstance(self.sources_per_shard, int) and self.sources_per_shard >= 1):
            problems.append(
                Problem(
                    f"expected at least 1, got {self.sources_per_shard!r}",
                    FieldPath(("sources_per_shard",)),
                )
            )
        InvalidInput.collect(problems)


@dataclass(frozen=True, slots=True)
class Shard:
    version: str
    index: int
    sources: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.version}#{self.index}"


def plan_shards(plan: VersionPlan, *, sources_per_shard: int) -> tuple[Shard, ...]:
    """The shards of one version: its source pods in plan order, in groups."""
    if sources_per_shard < 1:
        raise InvalidInput(
            Problem(
                f"expected at least 1, got {sources_per_shard}", FieldPath(("sources_per_shard",))
            )
        )
    sources = list(dict.fromkeys(c.source_pod for c in plan.cells))
    return tuple(
        Shard(
            version=plan.version.name,
            index=i // sources_per_shard,
            sources=tuple(sources[i : i + sources_per_shard]),
        )
        for i in range(0, len(sources), sources_per_shard)
    )


def run_shard(
    *,
    cluster: Cluster,
    plan: VersionPlan,
    shard: Shard,
    options: RunOptions | None = None,
    epoch_s: float | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[CellResult, ...]:
    """Probe, retry and judge every cell of ``shard``; results in plan order.

    ``epoch_s`` is the clock time attempts are timed from (the run's start);
    by default the start of this shard.
    """
    if shard.version != plan.version.name:
        raise ValueError(f"shard {shard.key} belongs to another version than {plan.version.name}")
    opts = options if options is not None else RunOptions()
    clock = cluster.clock
    epoch = clock.now() if epoch_s is None else epoch_s
    members = set(shard.sources)
    cells = [c for c in plan.cells if c.source_pod in members]
    attempts: dict[str, list[Attempt]] = {c.key: [] for c in cells}
    invalid = [c for c in cells if not c.probed]
    if progress is not None and invalid:
        progress(len(invalid))

    # Grouped in the shard's source order, which probe_cells then sends its batches in.
    source_order = {source: i for i, source in enumerate(shard.sources)}
    pending = sorted((c for c in cells if c.probed), key=lambda c: source_order[c.source_pod])
    for number in range(1, opts.attempts + 1):
        for cell, at, result in probe_cells(cluster, pending, epoch=epoch):
            attempts[cell.key].append(
                Attempt(
                    number=number,
                    observed=verdict_of(result.outcome),
                    raw=result.outcome,
                    latency_ms=result.latency_ms,
                    detail=result.detail,
                    at_s=at,
                )
            )
        still = [c for c in pending if attempts[c.key][-1].observed != plan.expected[c.key].verdict]
        if progress is not None and len(still) < len(pending):
            progress(len(pending) - len(still))
        pending = still
        if not pending:
            break
        if number < opts.attempts:
            clock.sleep(opts.retry_interval_s)
    if progress is not None and pending:
        progress(len(pending))

    return tuple(
        CellResult.judge(
            cell=cell,
            expected=plan.expected[cell.key].verdict,
            explanation=plan.expected[cell.key].explanation,
            attempts=tuple(attempts[cell.key]),
            expectations=plan.expectations.get(cell.key, ()),
        )
        for cell in cells
    )
