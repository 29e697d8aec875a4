"""`netpol-drift janitor`: delete the namespaces of Kubernetes runs whose expiry has passed."""

from __future__ import annotations

from pathlib import Path

import click

from service.cli import EXIT_OK
from service.cli.cluster_options import target_from, target_options
from service.cluster.kubernetes import connect, sweep_expired
from service.cluster.kubernetes.api import KubeApi
from service.errors import ClusterError

__all__ = ["janitor_command"]


@click.command("janitor")
@target_options
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
    netpol-drift.io/expires-at annotation are deleted; one whose expiry cannot
    be read is reported and kept. Exit status: 0, or 2 when the cluster could
    not be used.
    """
    target = target_from(
        kubeconfig=kubeconfig,
        context=context,
        in_cluster=in_cluster,
        cluster_name=cluster_name,
        clusters_file=clusters_file,
    )
    api = KubeApi(connect(target))
    try:
        report = sweep_expired(api, dry_run=dry_run)
    except ClusterError as err:
        raise click.ClickException(f"the cluster could not be used: {err}") from err
    finally:
        api.close()
    prefix = "would have " if dry_run else ""
    for line in report.lines():
        click.echo(prefix + line if line.startswith("deleted") else line)
    if not report.lines():
        click.echo("nothing to clean up")
    ctx.exit(EXIT_OK)
