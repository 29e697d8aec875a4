"""The backend options of `netpol-drift run` and `netpol-drift chaos`, and the cluster
options of `netpol-drift janitor`.

``run`` and ``chaos`` probe the simulator unless a Kubernetes cluster is named, by
``--kubeconfig``/``--context`` (or ``NETPOL_DRIFT_KUBECONFIG``/``NETPOL_DRIFT_CONTEXT``),
``--in-cluster`` or ``--cluster`` (a named target of ``--clusters-file``);
``--backend`` says it outright. Options of one backend given to the other are
refused rather than silently ignored. :func:`kubernetes_options` declares the
options once for both commands and :class:`ClusterArgs` holds what they were given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

import click

from service.cluster.base import Cluster
from service.cluster.kubernetes import (
    ENV_CLUSTERS,
    ENV_CONTEXT,
    ENV_KUBECONFIG,
    ClusterTarget,
    Images,
    KubernetesCluster,
    KubernetesOptions,
    ProbeMode,
)
from service.cluster.kubernetes.config import resolve_target
from service.cluster.kubernetes.options import DEFAULT_AGNHOST
from service.errors import FieldPath, InvalidInput, Problem
from service.runner.results import RunResult
from service.runs.kubernetes_settings import KubernetesSettings

__all__ = [
    "BACKENDS",
    "DEFAULT_SETTLE_S",
    "FAULT_OPTIONS",
    "KUBERNETES_OPTIONS",
    "ClusterArgs",
    "kubernetes_options",
    "refuse_options",
    "target_from",
    "target_options",
    "tell_cluster_notes",
]

BACKENDS = ("simulated", "kubernetes")
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
F = TypeVar("F", bound=Callable[..., Any])


def _apply(command: F, options: Sequence[Callable[[F], F]]) -> F:
    for option in reversed(options):
        command = option(command)
    return command


def target_options(command: F) -> F:
    """The options naming a Kubernetes cluster."""
    return _apply(
        command,
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
        ],
    )


def kubernetes_options(command: F) -> F:
    """``--backend``, the target options and how a Kubernetes run probes."""
    command = _apply(
        command,
        [
            click.option(
                "--probe-mode",
                type=click.Choice([m.value for m in ProbeMode]),
                default=ProbeMode.POD_IP.value,
                show_default=True,
                help="Kubernetes: address targets by pod IP, Service IP or Service name "
                "(names need DNS egress from the probe pods).",
            ),
            click.option(
                "--probe-timeout",
                type=float,
                default=1.0,
                show_default=True,
                help="Kubernetes: seconds before an unanswered probe counts as blocked.",
            ),
            click.option(
                "--settle",
                type=float,
                help="Seconds to poll canary cells after each apply until the dataplane "
                "matches the engine; the time is reported per version. Default: "
                f"{DEFAULT_SETTLE_S:g} on Kubernetes, off on the simulator; 0 turns it off.",
            ),
            click.option(
                "--namespace-prefix",
                default="npd",
                show_default=True,
                help="Kubernetes: prefix of the run's namespaces (PREFIX-RUNID-NAME).",
            ),
            click.option(
                "--agnhost-image",
                default=DEFAULT_AGNHOST,
                show_default=True,
                help="Kubernetes: the image of every pod (mirror it for air-gapped registries).",
            ),
            click.option(
                "--ready-timeout",
                type=float,
                default=180.0,
                show_default=True,
                help="Kubernetes: seconds pods have to become Ready; later ones make their "
                "cells errors.",
            ),
            click.option(
                "--exec-concurrency",
                type=int,
                default=16,
                show_default=True,
                help="Kubernetes: source pods probed at once (one exec each).",
            ),
        ],
    )
    command = target_options(command)
    return click.option(
        "--backend",
        type=click.Choice(BACKENDS),
        help="Where to probe. Default: kubernetes when a cluster is named (options or "
        "environment), else the simulator.",
    )(command)


def refuse_options(
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


def target_from(
    *,
    kubeconfig: Path | None,
    context: str | None,
    in_cluster: bool,
    cluster_name: str | None,
    clusters_file: Path | None,
) -> ClusterTarget:
    return resolve_target(
        kubeconfig=kubeconfig,
        context=context,
        in_cluster=in_cluster,
        cluster=cluster_name,
        clusters_file=clusters_file,
    )


@dataclass(frozen=True, slots=True)
class ClusterArgs:
    """The options :func:`kubernetes_options` adds to a command, typed: a field each."""

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
    def split(cls, values: Mapping[str, Any]) -> tuple[ClusterArgs, dict[str, Any]]:
        """These options out of a command's keyword arguments, and the command's own."""
        names = {f.name for f in fields(cls)}
        own = {name: value for name, value in values.items() if name not in names}
        return cls(**{name: values[name] for name in names}), own

    def backend_name(self) -> str:
        """``--backend``, else kubernetes when a cluster is named (options or environment)."""
        if self.backend is not None:
            return self.backend
        named = (self.kubeconfig, self.context, self.cluster_name)
        return "kubernetes" if self.in_cluster or any(v is not None for v in named) else "simulated"

    def target(self) -> ClusterTarget:
        return target_from(
            kubeconfig=self.kubeconfig,
            context=self.context,
            in_cluster=self.in_cluster,
            cluster_name=self.cluster_name,
            clusters_file=self.clusters_file,
        )

    def options(self) -> KubernetesOptions:
        """How a cluster probed from this process works: ``run --no-store`` and ``chaos``."""
        return KubernetesOptions(
            namespace_prefix=self.namespace_prefix,
            probe_mode=ProbeMode(self.probe_mode),
            probe_timeout_s=self.probe_timeout,
            ready_timeout_s=self.ready_timeout,
            exec_concurrency=self.exec_concurrency,
            images=Images(agnhost=self.agnhost_image),
        )

    def settings(self, target: ClusterTarget, *, settle: float) -> KubernetesSettings:
        """What a stored run keeps of the options: the cluster by name, never its kubeconfig."""
        return KubernetesSettings(
            cluster=target.name,
            probe_mode=self.probe_mode,
            probe_timeout_s=self.probe_timeout,
            namespace_prefix=self.namespace_prefix,
            agnhost_image=self.agnhost_image,
            ready_timeout_s=self.ready_timeout,
            exec_concurrency=self.exec_concurrency,
            settle_s=settle,
        )


# Options that mean nothing on the simulator: ``--backend`` chooses it, and ``--settle``
# polls canaries there too.
KUBERNETES_OPTIONS = tuple(
    f.name for f in fields(ClusterArgs) if f.name not in ("backend", "settle")
)


def tell_cluster_notes(cluster: Cluster | None, result: RunResult) -> None:
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
