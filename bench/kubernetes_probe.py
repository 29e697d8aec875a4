"""Benchmark: one step of the e2e model probed by the Kubernetes backend vs a per-cell exec loop.

Run: ``.venv/bin/python -m bench.kubernetes_probe [--step deny-all-ingress-x] [--timeout 1.0]
[--exec-cost 0.02] [--workers 3]``

Both sides run against the same protocol-level fake API server
(tests/cluster/kubernetes/fakeapi) through the real kubernetes client, on the
same pods, after the same policy version was applied. The fake answers a
blocked probe after agnhost's ``--timeout`` (1 s) and charges every exec 20 ms.

- netpol-drift: one shard holding every source pod, one round (``run_shard``):
  one exec per source pod, each probing all its targets in parallel inside the
  pod, the source pods probed concurrently.
- baseline (the upstream e2e approach): one exec of ``agnhost connect`` per
  cell, three workers.

The step is the e2e model (namespaces x, y, z; pods a, b, c) on ports 80 and
81 over TCP: 81 pod pairs x 2 ports = 162 cells. Printed: both wall times,
execs, whether both saw the same verdicts, and the ratio (the issue's target:
at least 10x).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from service.cluster.kubernetes import ClusterTarget, KubernetesCluster, KubernetesOptions
from service.cluster.kubernetes.execs import PodExec
from service.cluster.kubernetes.manifests import exec_container
from service.cluster.kubernetes.probe import ProbeLine, ScriptProbe, agnhost_command, outcome_of
from service.policy.model import Protocol
from service.runner.shard import RunOptions, plan_shards, run_shard
from service.scenario.cells import Cell, verdict_of
from service.scenario.load import load_scenario
from service.scenario.model import ProbeSpec, Verdict
from service.scenario.plan import Layout, Matrix, plan_matrix, plan_version
from tests.cluster.kubernetes.fakeapi import Behaviour, FakeApiServer

REPO = Path(__file__).resolve().parents[1]
TARGET_RATIO = 10.0
PROBES = (ProbeSpec(80, Protocol.TCP), ProbeSpec(81, Protocol.TCP))


def _matrix(step: str) -> Matrix:
    scenario = load_scenario(REPO / "scenarios" / "e2e-model.yaml")
    # The step probes TCP 80 and 81 only; expectations on other ports do not apply.
    scenario = replace(scenario, matrix=replace(scenario.matrix, probes=PROBES), expectations=())
    return plan_matrix(scenario, versions=[step])


def _per_cell(
    cluster: KubernetesCluster,
    layout: Layout,
    cells: Sequence[Cell],
    addresses: dict[str, str],
    *,
    timeout_s: float,
    workers: int,
) -> dict[str, Verdict]:
    """The upstream way: an exec of ``agnhost connect`` per cell, ``workers`` at a time."""
    execs = PodExec(cluster.connection)
    pods = {p.ref: p for p in layout.pods}

    def one(cell: Cell) -> tuple[str, Verdict]:
        assert cell.port_number is not None
        source = pods[cell.source_pod]
        probe = ScriptProbe(0, addresses[cell.target_pod], cell.port_number, cell.protocol)
        ran = execs.run(
            namespace=cluster.naming.namespace(source.namespace),
            pod=source.name,
            container=exec_container(source),
            command=agnhost_command(probe, timeout_s=timeout_s),
            timeout_s=timeout_s + 10,
        )
        if not ran.ok or ran.exit_code is None:
            return cell.key, Verdict.ERROR
        line = ProbeLine(0, ran.exit_code, ran.duration_ms, ran.stderr.strip())
        return cell.key, verdict_of(outcome_of(line)[0])

    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return dict(pool.map(one, cells))
    finally:
        execs.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--step", default="deny-all-ingress-x", help="policy version of the step")
    parser.add_argument("--timeout", type=float, default=1.0, help="agnhost timeout (s)")
    parser.add_argument("--exec-cost", type=float, default=0.02, help="fake cost per exec (s)")
    parser.add_argument("--workers", type=int, default=3, help="baseline workers")
    args = parser.parse_args(argv)

    matrix = _matrix(args.step)
    version = matrix.versions[0]
    behaviour = Behaviour(exec_latency_s=args.exec_cost)
    print("netpol-drift Kubernetes probing benchmark (fake API server, real client)")
    print(f"Python {sys.version.split()[0]}; step {version.name!r} of the e2e model")
    with tempfile.TemporaryDirectory() as tmp, FakeApiServer(behaviour) as fake:
        target = ClusterTarget("bench", fake.write_kubeconfig(Path(tmp) / "kubeconfig"))
        options = KubernetesOptions(
            probe_timeout_s=args.timeout, poll_interval_s=0.02, exec_concurrency=16
        )
        with KubernetesCluster(target=target, options=options) as cluster:
            ips = cluster.set_up(layout=matrix.layout)
            cluster.apply_version(version=version)
            plan = plan_version(matrix, version.name, addresses=ips)
            probed = [c for c in plan.cells if c.probed]
            sources = len({c.source_pod for c in probed})
            pairs = len({(c.source_pod, c.target_pod) for c in probed})
            ports = len({(c.port_number, c.protocol) for c in probed})
            blocked = sum(1 for c in probed if plan.expected[c.key].verdict is Verdict.BLOCKED)
            print(
                f"{pairs} pod pairs x {ports} ports = {len(probed)} cells, {blocked} blocked "
                f"(each costs the {args.timeout:g} s timeout), {args.exec_cost * 1000:g} ms "
                f"per exec\n"
            )

            (shard,) = plan_shards(plan, sources_per_shard=sources)
            before = fake.exec_count()
            start = time.monotonic()
            results = run_shard(
                cluster=cluster, plan=plan, shard=shard, options=RunOptions(attempts=1)
            )
            ours_s = time.monotonic() - start
            ours_execs = fake.exec_count() - before
            ours = {r.cell.key: r.observed for r in results}

            before = fake.exec_count()
            start = time.monotonic()
            theirs = _per_cell(
                cluster,
                matrix.layout,
                probed,
                {ref: str(ip) for ref, ip in ips.items()},
                timeout_s=args.timeout,
                workers=args.workers,
            )
            theirs_s = time.monotonic() - start
            theirs_execs = fake.exec_count() - before

    agree = sum(1 for key, verdict in theirs.items() if ours.get(key) == verdict)
    expected = sum(1 for c in probed if ours[c.key] == plan.expected[c.key].verdict)
    ratio = theirs_s / ours_s
    print(f"  {'netpol-drift (exec per source pod)':<40} {ours_s:8.2f} s  {ours_execs:4d} execs")
    print(
        f"  {f'per-cell exec loop, {args.workers} workers':<40} {theirs_s:8.2f} s  "
        f"{theirs_execs:4d} execs"
    )
    print(f"  {'same verdicts':<40} {agree}/{len(probed)}")
    print(f"  {'as the engine expects':<40} {expected}/{len(probed)}")
    print(f"  {'speed-up':<40} {ratio:8.1f}x  (target >= {TARGET_RATIO:g}x)")
    return 0 if ratio >= TARGET_RATIO and agree == len(probed) else 1


if __name__ == "__main__":
    sys.exit(main())
