"""`netpol-drift chaos`: run a scenario's chaos steps while probing, and report each step.

On the simulator by default, whose perturbation delays are set here (seeded:
``--seed``); on a Kubernetes cluster with the same options as ``run``. Each
step's convergence, fail-open and fail-closed windows and its rollback are
printed (a table or JSON) and, unless ``--no-store``, stored in the database of
``$NETPOL_DRIFT_DATABASE_URL`` (else the embedded SQLite file) for the
dashboard. Exit status: 0 when every step's hypothesis held, 1 when one did
not, 2 on invalid input or a cluster that could not be used (nothing on
stdout). docs/chaos.md explains the method.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from service.chaos.execute import ChaosOptions, run_experiment
from service.chaos.render import render_json, render_table
from service.chaos.results import ExperimentResult
from service.chaos.storing import store_experiment
from service.cli.cluster_options import (
    KUBERNETES_OPTIONS,
    ClusterArgs,
    kubernetes_options,
    refuse_options,
)
from service.cli.report_output import (
    emit_report,
    format_option,
    output_option,
    scenario_source_text,
)
from service.cli.storing import open_database
from service.cluster.base import Cluster
from service.cluster.faults import BlackoutMode, Delay, FaultConfig, PerturbationFaults
from service.cluster.kubernetes.perturb import KubernetesChaosCluster
from service.cluster.kubernetes.policies import reserved_label_problems
from service.cluster.simulated import SimulatedCluster
from service.errors import ClusterError, FieldPath, InvalidInput, Problem
from service.scenario.load import load_scenario
from service.scenario.model import Scenario

__all__ = ["SIMULATED_PROBE_TIMEOUT_MS", "chaos_command"]

RENDERERS = {"table": render_table, "json": render_json}
# A simulated round probes its batches one after the other; blocked probes answering
# within 0.1 s keep a round of a few dozen cells inside a sub-second interval.
SIMULATED_PROBE_TIMEOUT_MS = 100.0
SIMULATED_EXEC_MS = 5.0
SIMULATOR_OPTIONS = (
    "programming_delay",
    "relabel_delay",
    "pod_start",
    "isolation_delay",
    "restart_blackout",
    "blackout_mode",
)
_DELAY_HELP = "seconds, constant:S, uniform:LOW,HIGH or lognormal:MEDIAN,SIGMA"


@click.command("chaos")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--step",
    "steps",
    multiple=True,
    metavar="NAME",
    help="Run only this step (repeatable); steps run in scenario order.",
)
@click.option(
    "--interval", type=float, help="Seconds between probe rounds (default: chaos.interval)."
)
@click.option("--timeout", type=float, help="Per phase, seconds to wait for convergence.")
@click.option("--hold", type=float, help="Seconds observed must stay == expected.")
@click.option("--max-watch", type=int, help="Watch at most this many cells.")
@format_option(RENDERERS)
@output_option
@click.option("--no-store", is_flag=True, help="Do not store the experiment.")
@click.option(
    "--allow-calico-restart",
    is_flag=True,
    help="Allow restart_calico steps (the scenario must allow them as well).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the simulator.")
@click.option(
    "--programming-delay",
    default="0",
    metavar="DELAY",
    help=f"Simulator: per cell, how long a policy change takes to program ({_DELAY_HELP}).",
)
@click.option(
    "--relabel-delay",
    metavar="DELAY",
    help="Simulator: the same after a label change (default: --programming-delay).",
)
@click.option(
    "--pod-start", default="0", metavar="DELAY", help="Simulator: how long a new pod takes."
)
@click.option(
    "--isolation-delay",
    default="0",
    metavar="DELAY",
    help="Simulator: how long a new pod stays un-isolated after it is Ready.",
)
@click.option(
    "--restart-blackout",
    default="0",
    metavar="DELAY",
    help="Simulator: how long a calico-node restart lasts.",
)
@click.option(
    "--blackout-mode",
    type=click.Choice([m.value for m in BlackoutMode]),
    default=BlackoutMode.FROZEN.value,
    show_default=True,
    help="Simulator: during a restart nothing new is programmed (frozen), or everything "
    "is blocked, or everything is open.",
)
@kubernetes_options
@click.pass_context
def chaos_command(ctx: click.Context, /, scenario: Path, **kwargs: Any) -> None:
    """Run the chaos steps of SCENARIO while probing its watched cells, and report.

    By default on the simulated cluster; on a real cluster with --kubeconfig (or
    NETPOL_DRIFT_KUBECONFIG), --context, --in-cluster or --cluster. Exit status: 0
    when every step's steady-state hypothesis held, 1 when one did not, 2 on invalid
    input or a cluster that could not be used.
    """
    cluster_args, own = ClusterArgs.split(kwargs)
    args = _Args.of(own)
    loaded = load_scenario(scenario)
    options = ChaosOptions(
        interval_s=args.interval,
        timeout_s=args.timeout,
        hold_s=args.hold,
        max_watched=args.max_watch,
        steps=args.steps,
        allow_calico_restart=args.allow_calico_restart,
    )
    refuse_options(ctx, ("settle",), "`netpol-drift run`")
    backend = cluster_args.backend_name()
    cluster: Cluster
    stored_options: dict[str, Any] = {
        "steps": list(args.steps),
        "interval_s": args.interval,
        "timeout_s": args.timeout,
        "hold_s": args.hold,
        "max_watched": args.max_watch,
        "allow_calico_restart": args.allow_calico_restart,
    }
    if backend == "kubernetes":
        refuse_options(ctx, (*SIMULATOR_OPTIONS, "seed"), "the simulator")
        InvalidInput.collect(
            p for v in loaded.versions for p in reserved_label_problems(v.policies, version=v.name)
        )
        cluster = KubernetesChaosCluster(
            target=cluster_args.target(),
            options=cluster_args.options(),
            allow_calico_restart=args.allow_calico_restart,
        )
    else:
        refuse_options(ctx, KUBERNETES_OPTIONS, "a Kubernetes cluster", explicit_only=True)
        perturbations = _perturbations(args)
        cluster = SimulatedCluster(
            faults=FaultConfig(seed=args.seed),
            perturbations=perturbations,
            timeout_ms=SIMULATED_PROBE_TIMEOUT_MS,
            exec_overhead_ms=SIMULATED_EXEC_MS,
        )
        stored_options |= {"seed": args.seed, "perturbations": str(perturbations)}
    try:
        result = run_experiment(
            loaded, cluster=cluster, options=options, progress=lambda t: click.echo(t, err=True)
        )
    except ClusterError as err:
        raise click.ClickException(f"the cluster could not be used: {err}") from err
    if not args.no_store:
        _store(result, loaded, scenario, stored_options)
    emit_report(ctx, RENDERERS[args.fmt](result), output=args.output, ok=result.ok)


@dataclass(frozen=True, slots=True)
class _Args:
    """The command's own options, typed (the backend's are a :class:`ClusterArgs`)."""

    steps: tuple[str, ...]
    interval: float | None
    timeout: float | None
    hold: float | None
    max_watch: int | None
    fmt: str
    output: Path | None
    no_store: bool
    allow_calico_restart: bool
    seed: int
    programming_delay: str
    relabel_delay: str | None
    pod_start: str
    isolation_delay: str
    restart_blackout: str
    blackout_mode: str

    @classmethod
    def of(cls, values: dict[str, Any]) -> _Args:
        return cls(**values)


def _perturbations(args: _Args) -> PerturbationFaults:
    problems: list[Problem] = []

    def delay(option: str, text: str) -> Delay:
        try:
            return Delay.parse(text, path=FieldPath((option,)))
        except InvalidInput as err:
            problems.extend(err.problems)
            return Delay()

    faults = PerturbationFaults(
        programming=delay("--programming-delay", args.programming_delay),
        relabel=delay("--relabel-delay", args.relabel_delay) if args.relabel_delay else None,
        pod_start=delay("--pod-start", args.pod_start),
        isolation=delay("--isolation-delay", args.isolation_delay),
        blackout=delay("--restart-blackout", args.restart_blackout),
        blackout_mode=BlackoutMode(args.blackout_mode),
    )
    InvalidInput.collect(problems)
    return faults


def _store(
    result: ExperimentResult, scenario: Scenario, path: Path, options: dict[str, Any]
) -> None:
    with open_database() as database:
        experiment = store_experiment(
            database.sessions,
            result,
            scenario=scenario,
            source_text=scenario_source_text(path),
            options=options,
        )
    click.echo(f"stored as chaos experiment {experiment} in {database.shown}", err=True)
