"""`netpol-drift run` and `netpol-drift validate`.

``run`` executes a scenario in this process, on the simulated cluster (the
embedded default) or on a Kubernetes cluster (``--kubeconfig``/``--context``,
``NETPOL_DRIFT_KUBECONFIG``, ``--in-cluster`` or a named ``--cluster``), and
prints, per policy version, the truth table with every regression explained.
Exit status: 0 when every expected verdict and every expectation held, 1 when
a regression was found, 2 on invalid input or a cluster that could not be used
(with nothing on stdout). Runs are stored (unless ``--no-store``), on either
backend; a Kubernetes run records the cluster by the name it was given, never
its kubeconfig. ``validate`` checks a scenario and its policies and plans its
matrix without probing anything. The backend options live in
:mod:`service.cli.cluster_options`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from service.cli import EXIT_OK, EXIT_REGRESSION
from service.cli.cluster_options import (
    DEFAULT_SETTLE_S,
    FAULT_OPTIONS,
    KUBERNETES_OPTIONS,
    ClusterArgs,
    kubernetes_options,
    refuse_options,
    tell_cluster_notes,
)
from service.cli.report_output import (
    emit_report,
    format_option,
    output_option,
    scenario_source_text,
)
from service.cli.storing import StoredRun, run_and_store
from service.cluster.base import Cluster
from service.cluster.faults import EnforcementWindow, FaultConfig, WindowMode
from service.cluster.kubernetes import KubernetesCluster
from service.cluster.kubernetes.calico_rewrite import calico_problems
from service.cluster.kubernetes.config import connect
from service.cluster.kubernetes.policies import reserved_label_problems
from service.cluster.simulated import SimulatedCluster
from service.errors import ClusterError, FieldPath, InvalidInput, Problem
from service.report.results import render_json, render_junit, render_table
from service.runner.convergence import ConvergenceOptions
from service.runner.results import RunResult
from service.runner.run import run_matrix
from service.runner.shard import RunOptions
from service.runs.kubernetes import KubernetesBackend
from service.runs.kubernetes_settings import KubernetesSettings
from service.scenario.cells import CellKind
from service.scenario.load import load_scenario
from service.scenario.model import Scenario, Verdict
from service.scenario.plan import Matrix, plan_matrix, plan_version

__all__ = ["run_command", "validate_command"]

RENDERERS = {"table": render_table, "json": render_json, "junit": render_junit}


@click.command("run")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--version",
    "versions",
    multiple=True,
    metavar="NAME",
    help="Run only this policy version (repeatable); versions run in scenario order.",
)
@format_option(RENDERERS)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the simulator.")
@output_option
@click.option(
    "--no-store",
    is_flag=True,
    help="Do not store the run (by default runs are stored in the database of "
    "$NETPOL_DRIFT_DATABASE_URL, else the embedded SQLite file).",
)
@click.option("--attempts", type=int, default=3, show_default=True, help="Probes per cell at most.")
@click.option(
    "--retry-interval",
    type=float,
    default=1.0,
    show_default=True,
    help="Seconds before re-probing cells that differ from the expected verdict.",
)
@click.option("--probe-loss", type=float, default=0.0, help="Fault: rate of lost probes (0-1).")
@click.option(
    "--exec-failures", type=float, default=0.0, help="Fault: rate of failing execs (0-1)."
)
@click.option(
    "--enforcement-delay",
    type=float,
    default=0.0,
    help="Fault: seconds the previous version stays in force after each change.",
)
@click.option(
    "--fail-open", multiple=True, metavar="VERSION", help="Fault: VERSION is not enforced."
)
@click.option(
    "--over-enforce", multiple=True, metavar="VERSION", help="Fault: VERSION blocks everything."
)
@click.option(
    "--refuse", multiple=True, metavar="TARGET", help="Fault: TARGET refuses every connection."
)
@kubernetes_options
@click.pass_context
def run_command(ctx: click.Context, /, scenario: Path, **kwargs: object) -> None:
    """Run SCENARIO and report every policy version.

    By default on the simulated cluster; on a real cluster with --kubeconfig
    (or NETPOL_DRIFT_KUBECONFIG), --context, --in-cluster or --cluster. Exit
    status: 0 when everything held, 1 when a regression was found, 2 on invalid
    input or a cluster that could not be used. The fault options inject
    deterministic faults (from --seed) into the simulator to rehearse how
    regressions, retries and flakes are reported.
    """
    cluster_args, own = ClusterArgs.split(kwargs)
    args = _RunArgs.of(own)
    loaded = load_scenario(scenario)
    backend = cluster_args.backend_name()
    options = RunOptions(attempts=args.attempts, retry_interval_s=args.retry_interval)
    matrix = plan_matrix(loaded, versions=args.versions)
    cluster: Cluster | None
    kubernetes: tuple[KubernetesSettings, KubernetesBackend] | None = None
    if backend == "kubernetes":
        refuse_options(ctx, FAULT_OPTIONS, "the simulator")
        InvalidInput.collect(
            p
            for v in matrix.versions
            for p in (
                *reserved_label_problems(v.policies, version=v.name),
                *calico_problems(v.policies, version=v.name),
            )
        )
        settle = DEFAULT_SETTLE_S if cluster_args.settle is None else cluster_args.settle
        target = cluster_args.target()
        # A kubeconfig that cannot be used is exit 2 before anything is stored.
        connection = connect(target)
        if args.no_store:
            cluster = KubernetesCluster(target=target, options=cluster_args.options())
        else:
            cluster = None
            kubernetes = (
                cluster_args.settings(target, settle=settle),
                KubernetesBackend(
                    targets={target.name: target}, connections={target.name: connection}
                ),
            )
    else:
        refuse_options(ctx, KUBERNETES_OPTIONS, "a Kubernetes cluster", explicit_only=True)
        cluster = SimulatedCluster(faults=_faults(loaded, args))
        settle = cluster_args.settle or 0.0
    convergence = ConvergenceOptions(settle_s=settle) if settle > 0 else None
    stored: StoredRun | None = None
    try:
        # Stored runs go shard by shard through the in-process dispatcher (a Kubernetes
        # run's shards poll their canaries there); canary polling on the simulator still
        # runs on one cluster here, unstored.
        if kubernetes is not None:
            stored = _execute_stored(
                loaded, scenario, args, options, FaultConfig(), kubernetes=kubernetes
            )
            result = stored.result
        elif isinstance(cluster, SimulatedCluster) and convergence is None and not args.no_store:
            stored = _execute_stored(loaded, scenario, args, options, cluster.faults)
            result = stored.result
        else:
            assert cluster is not None
            result = _execute(matrix, loaded, cluster, options, convergence)
    except ClusterError as err:
        raise click.ClickException(f"the cluster could not be used: {err}") from err
    tell_cluster_notes(cluster, result)
    if stored is not None:
        click.echo(f"stored as run {stored.run_id} in {stored.database}", err=True)
    emit_report(ctx, RENDERERS[args.fmt](result), output=args.output, ok=result.ok)


@click.command("validate")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def validate_command(ctx: click.Context, scenario: Path) -> None:
    """Check SCENARIO and its policies and plan its matrix, without probing.

    Prints the versions, the cells planned and the invalid cells, and what the
    engine predicts. Exit status: 0 when valid, 1 when the engine predicts that
    an explicit expectation will fail, 2 on invalid input.
    """
    loaded = load_scenario(scenario)
    matrix = plan_matrix(loaded)
    lines, predicted_failures = _validation_summary(loaded, matrix)
    click.echo("\n".join(lines))
    ctx.exit(EXIT_REGRESSION if predicted_failures else EXIT_OK)


# --- helpers ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _RunArgs:
    """The ``run`` command's own options, typed (the backend's are a :class:`ClusterArgs`)."""

    versions: tuple[str, ...]
    fmt: str
    seed: int
    output: Path | None
    no_store: bool
    attempts: int
    retry_interval: float
    probe_loss: float
    exec_failures: float
    enforcement_delay: float
    fail_open: tuple[str, ...]
    over_enforce: tuple[str, ...]
    refuse: tuple[str, ...]

    @classmethod
    def of(cls, values: dict[str, Any]) -> _RunArgs:
        return cls(**values)


def _execute(
    matrix: Matrix,
    scenario: Scenario,
    cluster: Cluster,
    options: RunOptions,
    convergence: ConvergenceOptions | None = None,
) -> RunResult:
    total = len(matrix.cells)
    if not sys.stderr.isatty():
        return run_matrix(
            matrix,
            cluster=cluster,
            scenario_hash=scenario.content_hash,
            options=options,
            convergence=convergence,
        )
    with click.progressbar(length=total, label=f"running {scenario.name}", file=sys.stderr) as bar:
        return run_matrix(
            matrix,
            cluster=cluster,
            scenario_hash=scenario.content_hash,
            options=options,
            progress=bar.update,
            convergence=convergence,
        )


def _execute_stored(
    scenario: Scenario,
    path: Path,
    args: _RunArgs,
    options: RunOptions,
    faults: FaultConfig,
    *,
    kubernetes: tuple[KubernetesSettings, KubernetesBackend] | None = None,
) -> StoredRun:
    def run(progress: Callable[[int], None] | None) -> StoredRun:
        return run_and_store(
            scenario,
            versions=args.versions,
            options=options,
            faults=faults,
            source_text=scenario_source_text(path),
            progress=progress,
            kubernetes=kubernetes,
        )

    if not sys.stderr.isatty():
        return run(None)
    total = len(plan_matrix(scenario, versions=args.versions).cells)
    with click.progressbar(length=total, label=f"running {scenario.name}", file=sys.stderr) as bar:
        return run(bar.update)


def _faults(scenario: Scenario, args: _RunArgs) -> FaultConfig:
    seed = args.seed
    probe_loss, exec_failures = args.probe_loss, args.exec_failures
    enforcement_delay, refuse = args.enforcement_delay, args.refuse
    fail_open, over_enforce = args.fail_open, args.over_enforce
    problems: list[Problem] = []
    version_names = [v.name for v in scenario.versions]
    windows = []
    for option, names, mode in (
        ("--fail-open", fail_open, WindowMode.FAIL_OPEN),
        ("--over-enforce", over_enforce, WindowMode.OVER_ENFORCED),
    ):
        for name in names:
            if name not in version_names:
                problems.append(
                    Problem(
                        f"unknown policy version {name!r}: expected one of "
                        f"{', '.join(version_names)}",
                        path=FieldPath((option,)),
                    )
                )
            windows.append(EnforcementWindow(version=name, mode=mode))
    refusing = set()
    for name in refuse:
        try:
            refusing.add(scenario.target(name).ref)
        except KeyError:
            known = ", ".join(t.name for t in scenario.targets)
            problems.append(
                Problem(
                    f"unknown target {name!r}: expected one of {known}",
                    path=FieldPath(("--refuse",)),
                )
            )
    try:
        faults = FaultConfig(
            seed=seed,
            probe_loss_rate=probe_loss,
            exec_failure_rate=exec_failures,
            enforcement_delay_s=enforcement_delay,
            windows=tuple(windows),
            refusing_targets=frozenset(refusing),
        )
    except InvalidInput as err:
        problems.extend(err.problems)
        faults = FaultConfig()
    InvalidInput.collect(problems)
    return faults


def _validation_summary(scenario: Scenario, matrix: Matrix) -> tuple[list[str], int]:
    """The lines ``validate`` prints and how many expectations the engine predicts to fail."""
    # The simulator's pod addresses, so ipBlock policies are judged as a run would.
    addresses = SimulatedCluster().set_up(layout=matrix.layout)
    probe_pods = len(matrix.layout.probe_pods)
    per_version = len(matrix.cells) // max(len(matrix.versions), 1)
    first = matrix.cells_of(matrix.versions[0].name) if matrix.versions else ()
    loopback = sum(1 for c in first if c.kind is CellKind.LOOPBACK)
    invalid = [c for c in first if c.kind is CellKind.INVALID]
    where = f" ({scenario.path})" if scenario.path else ""
    lines = [
        f"scenario {scenario.name}{where}: valid",
        f"  namespaces: {len(scenario.namespaces)}; targets: {len(scenario.targets)}; "
        f"probe pods: {probe_pods}; expectations: {len(scenario.expectations)}",
        f"  cells: {len(matrix.cells)} planned, {per_version} per version "
        f"({per_version - len(invalid)} probed, {loopback} loopback, {len(invalid)} invalid)",
        f"  versions ({len(matrix.versions)}):",
    ]
    failures: list[str] = []
    for version in matrix.versions:
        plan = plan_version(matrix, version.name, addresses=addresses)
        verdicts = [e.verdict for e in plan.expected.values()]
        allowed = verdicts.count(Verdict.ALLOWED)
        blocked = verdicts.count(Verdict.BLOCKED)
        count = len(version.policies)
        lines.append(
            f"    {version.name}: {count} polic{'y' if count == 1 else 'ies'}; "
            f"the engine expects {allowed} allowed, {blocked} blocked"
        )
        for key, expectations in plan.expectations.items():
            predicted = plan.expected[key].verdict
            for expectation in expectations:
                if expectation.verdict != predicted:
                    note = f" ({expectation.description})" if expectation.description else ""
                    line = f", line {expectation.line}" if expectation.line else ""
                    failures.append(
                        f"    {version.name}: {plan.cell(key)}: expected {expectation.verdict}, "
                        f"the policies give {predicted}{note}{line}"
                    )
    if invalid:
        lines.append("  invalid cells (never probed):")
        lines.extend(f"    {c}: {c.invalid_reason}" for c in invalid)
    if failures:
        lines.append(f"  expectations the engine predicts to fail ({len(failures)}):")
        lines.extend(failures)
    return lines, len(failures)
