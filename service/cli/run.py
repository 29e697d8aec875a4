"""`netpol-drift run`, `netpol-drift validate` and `netpol-drift janitor`.

``run`` executes a scenario in this process, on the simulated cluster (the
embedded default) or on a Kubernetes cluster (``--kubeconfig``/``--context``,
``NETPOL_DRIFT_KUBECONFIG``, ``--in-cluster`` or a named ``--cluster``), and
prints, per policy version, the truth table with every regression explained.
Exit status: 0 when every expected verdict and every expectation held, 1 when
a regression was found, 2 on invalid input or a cluster that could not be used
(with nothing on stdout). ``validate`` checks a scenario and its policies and
plans its matrix without probing anything. ``janitor`` deletes the namespaces
of Kubernetes runs whose expiry has passed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from service.cli import EXIT_OK, EXIT_REGRESSION
from service.cluster.base import Cluster
from service.cluster.faults import EnforcementWindow, FaultConfig, WindowMode
from service.cluster.kubernetes import (
    ENV_CLUSTERS,
    ENV_CONTEXT,
    ENV_KUBECONFIG,
    Images,
    KubernetesCluster,
    KubernetesOptions,
    ProbeMode,
    sweep_expired,
)
from service.cluster.kubernetes.config import resolve_target
from service.cluster.kubernetes.options import DEFAULT_AGNHOST
from service.cluster.kubernetes.policies import reserved_label_problems
from service.cluster.simulated import SimulatedCluster
from service.errors import ClusterError, FieldPath, InvalidInput, Problem
from service.report.results import render_json, render_junit, render_table
from service.runner.convergence import ConvergenceOptions
from service.runner.results import RunResult
from service.runner.run import run_matrix
from service.runner.shard import RunOptions
from service.scenario.cells import CellKind
from service.scenario.load import load_scenario
from service.scenario.model import Scenario, Verdict
from service.scenario.plan import Matrix, plan_matrix, plan_version

__all__ = ["janitor_command", "run_command", "validate_command"]

RENDERERS = {"table": render_table, "json": render_json, "junit": render_junit}
BACKENDS = ("simulated", "kubernetes")
F = TypeVar("F", bound=Callable[..., Any])
# Canary polling after each apply on a real cluster; Calico usually programs in seconds.
DEFAULT_SETTLE_S = 60.0
FAULT_OPTIONS = (
    "probe_loss",
    "exec_failures",
    "enforcement_delay",
    "fail_open",
    "over_enforce",
    "refuse",
)
KUBERNETES_OPTIONS = (
    "kubeconfig",
    "context",
    "in_cluster",
    "cluster_name",
    "clusters_file",
    "probe_mode",
    "probe_timeout",
    "namespace_prefix",
    "agnhost_image",
    "ready_timeout",
    "exec_concurrency",
)


def _target_options(command: F) -> F:
    """The options naming a Kubernetes cluster, shared by ``run`` and ``janitor``."""
    for option in reversed(
        [
            click.option(
                "--kubeconfig",
                type=click.Path(dir_okay=False, path_type=Path),
                envvar=ENV_KUBECONFIG,
                help=f"Kubeconfig of the cluster to run on (or {ENV_KUBECONFIG}).",
            ),
            click.option(
                "--context",
                metavar="NAME",
                envvar=ENV_CONTEXT,
                help=f"Context of the kubeconfig (or {ENV_CONTEXT}; default: its current one).",
            ),
            click.option(
                "--in-cluster",
                is_flag=True,
                help="Use the service account of the pod this runs in.",
            ),
            click.option(
                "--cluster",
                "cluster_name",
                metavar="NAME",
                help="A named cluster target from the clusters file.",
            ),
            click.option(
                "--clusters-file",
                type=click.Path(dir_okay=False, path_type=Path),
                envvar=ENV_CLUSTERS,
                help=f"YAML file of named cluster targets (or {ENV_CLUSTERS}).",
            ),
        ]
    ):
        command = option(command)
    return command


@click.command("run")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--version",
    "versions",
    multiple=True,
    metavar="NAME",
    help="Run only this policy version (repeatable); versions run in scenario order.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(RENDERERS)),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the simulator.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report to this file instead of stdout.",
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
@click.option(
    "--backend",
    type=click.Choice(BACKENDS),
    help="Where to probe. Default: kubernetes when a cluster is named (options or "
    "environment), else the simulator.",
)
@_target_options
@click.option(
    "--probe-mode",
    type=click.Choice([m.value for m in ProbeMode]),
    default=ProbeMode.POD_IP.value,
    show_default=True,
    help="Kubernetes: address targets by pod IP, Service IP or Service name "
    "(names need DNS egress from the probe pods).",
)
@click.option(
    "--probe-timeout",
    type=float,
    default=1.0,
    show_default=True,
    help="Kubernetes: seconds before an unanswered probe counts as blocked.",
)
@click.option(
    "--settle",
    type=float,
    help="Seconds to poll canary cells after each apply until the dataplane matches the "
    f"engine; the time is reported per version. Default: {DEFAULT_SETTLE_S:g} on "
    "Kubernetes, off on the simulator; 0 turns it off.",
)
@click.option(
    "--namespace-prefix",
    default="npd",
    show_default=True,
    help="Kubernetes: prefix of the run's namespaces (PREFIX-RUNID-NAME).",
)
@click.option(
    "--agnhost-image",
    default=DEFAULT_AGNHOST,
    show_default=True,
    help="Kubernetes: the image of every pod (mirror it for air-gapped registries).",
)
@click.option(
    "--ready-timeout",
    type=float,
    default=180.0,
    show_default=True,
    help="Kubernetes: seconds pods have to become Ready; later ones make their cells errors.",
)
@click.option(
    "--exec-concurrency",
    type=int,
    default=16,
    show_default=True,
    help="Kubernetes: source pods probed at once (one exec each).",
)
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
    args = _RunArgs.of(kwargs)
    loaded = load_scenario(scenario)
    backend = _backend(ctx, args)
    options = RunOptions(attempts=args.attempts, retry_interval_s=args.retry_interval)
    matrix = plan_matrix(loaded, versions=args.versions)
    cluster: Cluster
    if backend == "kubernetes":
        _refuse_options(ctx, FAULT_OPTIONS, "the simulator")
        InvalidInput.collect(
            p for v in matrix.versions for p in reserved_label_problems(v.policies, version=v.name)
        )
        cluster = _kubernetes_cluster(args)
        settle = DEFAULT_SETTLE_S if args.settle is None else args.settle
    else:
        _refuse_options(ctx, KUBERNETES_OPTIONS, "a Kubernetes cluster", explicit_only=True)
        cluster = SimulatedCluster(faults=_faults(loaded, args))
        settle = args.settle or 0.0
    convergence = ConvergenceOptions(settle_s=settle) if settle > 0 else None
    try:
        result = _execute(matrix, loaded, cluster, options, convergence)
    except ClusterError as err:
        raise click.ClickException(f"the cluster could not be used: {err}") from err
    _tell_cluster_notes(cluster, result)
    text = RENDERERS[args.fmt](result)
    if args.output is None:
        click.echo(text, nl=False)
    else:
        _write(args.output, text)
        click.echo(f"wrote {args.output}: {'OK' if result.ok else 'FAILED'}", err=True)
    ctx.exit(EXIT_OK if result.ok else EXIT_REGRESSION)


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


@click.command("janitor")
@_target_options
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
@click.pass_context
def janitor_command(
    ctx: click.Context,
    kubeconfig: Path | None,
    context: str | None,
    in_cluster: bool,
    cluster_name: str | None,
    clusters_file: Path | None,
    dry_run: bool,
) -> None:
    """Delete the namespaces of Kubernetes runs whose expiry has passed.

    Only namespaces carrying netpol-drift's ownership label and an expired
    netpol-drift.io/expires-at annotation are deleted. Exit status: 0, or 2 when
    the cluster could not be used.
    """
    target = resolve_target(
        kubeconfig=kubeconfig,
        context=context,
        in_cluster=in_cluster,
        cluster=cluster_name,
        clusters_file=clusters_file,
    )
    cluster = KubernetesCluster(target=target)
    try:
        report = sweep_expired(cluster.api, dry_run=dry_run)
    except ClusterError as err:
        raise click.ClickException(f"the cluster could not be used: {err}") from err
    prefix = "would have " if dry_run else ""
    for line in report.lines():
        click.echo(prefix + line if line.startswith("deleted") else line)
    if not report.lines():
        click.echo("nothing to clean up")
    ctx.exit(EXIT_OK)


# --- helpers ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _RunArgs:
    """The ``run`` command's options, typed."""

    versions: tuple[str, ...]
    fmt: str
    seed: int
    output: Path | None
    attempts: int
    retry_interval: float
    probe_loss: float
    exec_failures: float
    enforcement_delay: float
    fail_open: tuple[str, ...]
    over_enforce: tuple[str, ...]
    refuse: tuple[str, ...]
    backend: str | None
    kubeconfig: Path | None
    context: str | None
    in_cluster: bool
    cluster_name: str | None
    clusters_file: Path | None
    probe_mode: str
    probe_timeout: float
    settle: float | None
    namespace_prefix: str
    agnhost_image: str
    ready_timeout: float
    exec_concurrency: int

    @classmethod
    def of(cls, values: dict[str, object]) -> _RunArgs:
        return cls(**values)  # type: ignore[arg-type]


def _backend(ctx: click.Context, args: _RunArgs) -> str:
    if args.backend is not None:
        return args.backend
    named = (args.kubeconfig, args.context, args.cluster_name)
    return "kubernetes" if args.in_cluster or any(v is not None for v in named) else "simulated"


def _refuse_options(
    ctx: click.Context, names: Sequence[str], what: str, *, explicit_only: bool = False
) -> None:
    """Options that only apply to the other backend are an error, not silently ignored."""
    problems = []
    for param in ctx.command.params:
        if param.name not in names:
            continue
        source = ctx.get_parameter_source(param.name)
        given = source is click.core.ParameterSource.COMMANDLINE
        if not explicit_only:
            given = given or source is click.core.ParameterSource.ENVIRONMENT
        if given:
            flag = param.opts[0] if param.opts else param.name
            problems.append(Problem(f"only applies to {what}", path=FieldPath((flag,))))
    InvalidInput.collect(problems)


def _kubernetes_cluster(args: _RunArgs) -> KubernetesCluster:
    target = resolve_target(
        kubeconfig=args.kubeconfig,
        context=args.context,
        in_cluster=args.in_cluster,
        cluster=args.cluster_name,
        clusters_file=args.clusters_file,
    )
    options = KubernetesOptions(
        namespace_prefix=args.namespace_prefix,
        probe_mode=ProbeMode(args.probe_mode),
        probe_timeout_s=args.probe_timeout,
        ready_timeout_s=args.ready_timeout,
        exec_concurrency=args.exec_concurrency,
        images=Images(agnhost=args.agnhost_image),
    )
    return KubernetesCluster(target=target, options=options)


def _tell_cluster_notes(cluster: Cluster, result: RunResult) -> None:
    """Convergence times and cleanup leftovers go to stderr; stdout keeps the report."""
    for version in result.versions:
        settled = version.convergence
        if settled is None or not settled.canaries:
            continue
        if settled.settled and settled.seconds is not None:
            text = f"converged in {settled.seconds:.2f} s ({settled.polls} polls)"
        else:
            text = f"did not converge: {settled.note}"
        click.echo(f"{version.version}: {text}", err=True)
    if isinstance(cluster, KubernetesCluster):
        for leftover in cluster.leftovers:
            click.echo(f"warning: not cleaned up (the janitor will): {leftover}", err=True)


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


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise InvalidInput(
            Problem(f"cannot write the report: {err.strerror}", path=FieldPath(("--output",)))
        ) from err


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
