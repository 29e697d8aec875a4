"""One round of probes: cells batched per source pod, one exec per batch.

Shards (retries), convergence polls and chaos observation all probe a set of
cells the same way, so they share this: a batch that fails as a whole, or an
answer the backend drops, is an error for its cells, never "blocked".
"""

from __future__ import annotations

from collections.abc import Sequence

from service.cluster.base import Cluster, ProbeRequest, ProbeResult
from service.errors import ClusterError
from service.runner.concurrency import probe_round
from service.scenario.cells import Cell, RawOutcome

__all__ = ["probe_batch", "probe_cells"]


def probe_cells(
    cluster: Cluster, cells: Sequence[Cell], *, epoch: float
) -> list[tuple[Cell, float, ProbeResult]]:
    """Probe every cell once, batched per source pod in order of first appearance.

    Per cell, in batch order: (the cell, seconds since ``epoch`` when its batch
    started, its result).
    """
    sources = list(dict.fromkeys(c.source_pod for c in cells))
    batches = [(s, [c for c in cells if c.source_pod == s]) for s in sources]
    rounds = probe_round(
        cluster, batches, lambda sb: probe_batch(cluster, sb[0], sb[1]), epoch=epoch
    )
    return [
        (cell, at, result)
        for (_, batch), (at, results) in zip(batches, rounds, strict=True)
        for cell, result in zip(batch, results, strict=True)
    ]


def probe_batch(cluster: Cluster, source: str, batch: Sequence[Cell]) -> tuple[ProbeResult, ...]:
    """One exec's worth of probes; a failure of the batch or a missing answer is an error."""
    requests = []
    for cell in batch:
        # Planning gives every probed cell a number; only invalid cells lack one.
        assert cell.port_number is not None, cell
        requests.append(ProbeRequest(cell.key, cell.target_pod, cell.port_number, cell.protocol))
    try:
        results = cluster.probe(source=source, requests=requests)
    except ClusterError as err:
        return tuple(
            ProbeResult(r.key, RawOutcome.EXEC_ERROR, 0.0, f"probe from {source} failed: {err}")
            for r in requests
        )
    by_key = {r.key: r for r in results}
    # A backend that drops or mangles an answer must not turn a cell into "blocked".
    return tuple(
        by_key.get(r.key)
        or ProbeResult(
            r.key, RawOutcome.EXEC_ERROR, 0.0, f"the cluster returned no result from {source}"
        )
        for r in requests
    )
