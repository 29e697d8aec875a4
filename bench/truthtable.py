"""Benchmark: the vectorised truth table at the issue's target size, and against per-cell.

Run: ``.venv/bin/python -m bench.truthtable [--pods N --namespaces N --policies N --seed N]
[--calico-fraction 0.3]``

1. Target size (default 10,000 pods / 200 namespaces / 2,000 policies / 3 probes):
   wall time of ``compute_truth_table`` (best of ``--repeat``), of expanding
   every probe's (P x P) pod matrix, classes found, cells per second, and peak
   memory two ways: the process's peak RSS (``resource.getrusage``
   ``ru_maxrss``, everything the process ever held) and the peak traced by
   ``tracemalloc`` during one table-plus-expansion run (Python and numpy
   allocations made by that run only).
2. With ``--calico-fraction F``: the same cluster with F of its policies
   Calico's (three tiers, admin policies, network sets; bench.synthetic_calico),
   best time beside the pure Kubernetes one, and their ratio (target <= 2x).
3. Baseline: on a cluster both finish (``--compare-pods``, same pods per
   namespace and policies per namespace as the target), the same table
   computed by a straightforward loop of ``Evaluator.is_allowed`` over every
   cell, the ratio of the two times, and whether every cell agrees.
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bench.synthetic import DEFAULT_PROBES, generate_cluster
from service.policy.calico.model import CalicoEntry, CalicoPolicy
from service.policy.evaluate import Evaluator
from service.policy.model import ClusterState, Protocol
from service.policy.truthtable import PortProbe, TruthTable, compute_truth_table

TARGET_SECONDS = 10.0
TARGET_BYTES = 2 * 1024**3
MIB = 1024**2


@dataclass(frozen=True, slots=True)
class Size:
    pods: int
    namespaces: int
    policies: int

    def __str__(self) -> str:
        return f"{self.pods:,} pods, {self.namespaces:,} namespaces, {self.policies:,} policies"


def _probe(text: str) -> PortProbe:
    port, _, protocol = text.partition("/")
    try:
        proto = Protocol((protocol or "TCP").upper())
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r}: protocol must be TCP, UDP or SCTP") from err
    return PortProbe(int(port) if port.isdigit() else port, proto)


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.truthtable", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--namespaces", type=int, default=200)
    parser.add_argument("--policies", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--probes",
        type=lambda text: tuple(_probe(p) for p in text.split(",")),
        default=DEFAULT_PROBES,
        help="comma-separated PORT/PROTOCOL, a port being a number or a name "
        "(default: 80/TCP,http/TCP,53/UDP)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs at the target size")
    parser.add_argument(
        "--calico-fraction",
        type=float,
        default=0.0,
        help="also time the target size with this fraction of Calico policies over three tiers,"
        " beside the pure Kubernetes figure, and print the ratio (the issue's target: <= 2x)",
    )
    parser.add_argument(
        "--compare-pods",
        type=int,
        default=400,
        help="pods in the cluster timed against the per-cell loop (0 skips it)",
    )
    return parser.parse_args(argv)


def _peak_rss() -> int:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _expand(table: TruthTable) -> tuple[float, int]:
    """Seconds to build every probe's (P x P) matrix, one at a time, and allowed cells."""
    seconds, allowed = 0.0, 0
    for k in range(len(table.probes)):
        start = time.perf_counter()
        matrix = table.pod_matrix(k)
        seconds += time.perf_counter() - start
        allowed += int(np.count_nonzero(matrix))
        del matrix
    return seconds, allowed


def _row(label: str, value: str, note: str = "", *, detail: str = "") -> None:
    print(f"  {label:<36} {value:>14}  {note}".rstrip())
    if detail:
        print(f"  {'':<36} {'':>14}  ({detail})")


def _status(ok: bool) -> str:
    return "met" if ok else "MISSED"


def run_target(size: Size, seed: int, probes: tuple[PortProbe, ...], repeat: int) -> None:
    print(f"Target: {size}, {len(probes)} probes ({', '.join(map(str, probes))}), seed {seed}")
    start = time.perf_counter()
    state = generate_cluster(
        pods=size.pods, namespaces=size.namespaces, policies=size.policies, seed=seed
    )
    _row("generate synthetic cluster", f"{time.perf_counter() - start:.2f} s", "(not counted)")
    gc.collect()
    rss_before = _peak_rss()

    timings: list[float] = []
    table: TruthTable | None = None
    for _ in range(max(1, repeat)):
        table = None
        gc.collect()
        start = time.perf_counter()
        table = compute_truth_table(state, probes)
        timings.append(time.perf_counter() - start)
    assert table is not None
    expand_seconds, allowed = _expand(table)
    rss_after = _peak_rss()

    best = min(timings)
    total = best + expand_seconds
    cells = len(state.pods) ** 2 * len(probes)
    runs = ", ".join(f"{t:.3f}" for t in timings)
    _row(
        "compute_truth_table (best)",
        f"{best:.3f} s",
        f"runs: {runs}; median {statistics.median(timings):.3f} s",
    )
    _row(f"expand {len(probes)} pod matrices (P x P)", f"{expand_seconds:.3f} s")
    _row(
        "full table: compute + expand",
        f"{total:.3f} s",
        f"target <= {TARGET_SECONDS:.0f} s: {_status(total <= TARGET_SECONDS)}",
    )
    _row("equivalence classes", f"{table.class_count:,}", f"from {len(state.pods):,} pods")
    _row(
        "cells (P x P x probes)",
        f"{cells:,}",
        f"{allowed:,} allowed ({allowed / max(cells, 1):.1%})",
    )
    _row("cells per second (compute + expand)", f"{cells / total:,.0f}")
    _row(
        "peak RSS, whole process",
        f"{rss_after / MIB:,.0f} MiB",
        f"target <= 2 GiB: {_status(rss_after <= TARGET_BYTES)}",
        detail=f"resource.getrusage ru_maxrss; {rss_before / MIB:,.0f} MiB before the first table",
    )
    del table
    gc.collect()
    tracemalloc.start()
    traced_table = compute_truth_table(state, probes)
    _expand(traced_table)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    _row(
        "peak traced, one compute + expand",
        f"{peak / MIB:,.0f} MiB",
        detail="tracemalloc: Python and numpy allocations of that run only",
    )


def _best(state: ClusterState, probes: tuple[PortProbe, ...], repeat: int) -> tuple[float, int]:
    """Best wall time of compute_truth_table over ``repeat`` runs, and the classes found."""
    timings = []
    classes = 0
    for _ in range(max(1, repeat)):
        gc.collect()
        start = time.perf_counter()
        table = compute_truth_table(state, probes)
        timings.append(time.perf_counter() - start)
        classes = table.class_count
        del table
    return min(timings), classes


def run_calico(
    size: Size, seed: int, probes: tuple[PortProbe, ...], repeat: int, fraction: float
) -> None:
    """The same cluster with ``fraction`` of its policies Calico's, against pure Kubernetes."""
    print(
        f"\nCalico: {size}, {fraction:.0%} of the policies Calico's over three tiers, seed {seed}"
    )
    pure = generate_cluster(
        pods=size.pods, namespaces=size.namespaces, policies=size.policies, seed=seed
    )
    mixed = generate_cluster(
        pods=size.pods,
        namespaces=size.namespaces,
        policies=size.policies,
        seed=seed,
        calico_fraction=fraction,
    )
    calico = sum(1 for p in mixed.policies if isinstance(p, CalicoEntry))
    tiers = {p.calico.tier for p in mixed.policies if isinstance(p, CalicoEntry)
             and isinstance(p.calico, CalicoPolicy)}  # fmt: skip
    # Alternated, so both figures see the same load on a shared machine.
    kubernetes_runs, calico_runs = [], []
    kubernetes_classes = calico_classes = 0
    for _ in range(max(1, repeat)):
        seconds, kubernetes_classes = _best(pure, probes, 1)
        kubernetes_runs.append(seconds)
        seconds, calico_classes = _best(mixed, probes, 1)
        calico_runs.append(seconds)
    kubernetes_s, calico_s = min(kubernetes_runs), min(calico_runs)
    ratio = calico_s / kubernetes_s
    _row("pure Kubernetes (best)", f"{kubernetes_s:.3f} s", f"{kubernetes_classes:,} classes")
    _row(
        f"{fraction:.0%} Calico (best)",
        f"{calico_s:.3f} s",
        f"{calico_classes:,} classes; {calico:,} Calico objects; tiers {', '.join(sorted(tiers))}",
    )
    _row("ratio Calico / Kubernetes", f"{ratio:.2f}x", f"target <= 2x: {_status(ratio <= 2.0)}")


def _per_cell(state: ClusterState, probes: tuple[PortProbe, ...]) -> list[np.ndarray]:
    """The straightforward way: one Evaluator.is_allowed call per (source, destination, probe)."""
    evaluator = Evaluator(state)
    pods = state.pods
    out = []
    for probe in probes:
        matrix = np.zeros((len(pods), len(pods)), dtype=np.bool_)
        for j, dst in enumerate(pods):
            number = (
                probe.port
                if isinstance(probe.port, int)
                else dst.named_port(probe.port, probe.protocol)
            )
            if number is None:
                continue  # nothing to probe on this destination
            for i, src in enumerate(pods):
                matrix[i, j] = i == j or evaluator.is_allowed(
                    src, dst, port=number, protocol=probe.protocol
                )
        out.append(matrix)
    return out


def run_compare(
    size: Size,
    seed: int,
    probes: tuple[PortProbe, ...],
    *,
    target_cells: int,
    calico_fraction: float = 0.0,
) -> None:
    mix = f", {calico_fraction:.0%} Calico" if calico_fraction else ""
    print(f"\nBaseline: {size}{mix}, {len(probes)} probes, seed {seed}")
    state = generate_cluster(
        pods=size.pods,
        namespaces=size.namespaces,
        policies=size.policies,
        seed=seed,
        calico_fraction=calico_fraction,
    )
    cells = len(state.pods) ** 2 * len(probes)

    start = time.perf_counter()
    table = compute_truth_table(state, probes)
    vectorised = [table.pod_matrix(k) for k in range(len(probes))]
    fast = time.perf_counter() - start

    start = time.perf_counter()
    reference = _per_cell(state, probes)
    slow = time.perf_counter() - start

    differ = sum(int(np.count_nonzero(a != b)) for a, b in zip(vectorised, reference, strict=True))
    _row("vectorised table + expansion", f"{fast:.3f} s", f"{table.class_count:,} classes")
    _row(
        "per-cell Evaluator.is_allowed loop",
        f"{slow:.3f} s",
        f"{cells:,} cells, {cells / slow:,.0f} cells/s",
    )
    _row("speed-up (per-cell / vectorised)", f"{slow / fast:,.0f}x")
    _row(
        "per-cell loop at the target size",
        f"~{target_cells / (cells / slow):,.0f} s",
        "extrapolated from its cells/s above, not run",
    )
    _row("cells that differ", f"{differ:,}", "(must be 0)")


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    target = Size(args.pods, args.namespaces, args.policies)
    print("netpol-drift truth-table benchmark")
    print(f"numpy {np.__version__}, Python {sys.version.split()[0]}\n")
    run_target(target, args.seed, args.probes, args.repeat)
    if args.calico_fraction > 0:
        run_calico(target, args.seed, args.probes, args.repeat, args.calico_fraction)
    if args.compare_pods > 0:
        # Keep the target's density: pods per namespace and policies per namespace.
        per_ns = max(1.0, args.pods / max(args.namespaces, 1))
        namespaces = max(1, round(args.compare_pods / per_ns))
        policies = round(namespaces * args.policies / max(args.namespaces, 1))
        run_compare(
            Size(args.compare_pods, namespaces, policies),
            args.seed,
            args.probes,
            target_cells=args.pods**2 * len(args.probes),
            calico_fraction=args.calico_fraction,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
