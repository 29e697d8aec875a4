"""``netpol-drift analyze``: what the policies in a set of manifests allow, without a cluster.

Reads the manifests (Kubernetes NetworkPolicies and Calico's own policies, in
any mix), computes every workload pair's connections and prints them as a
table, netpol-analyzer's connlist or a JSON document; or, with ``--explain``,
why one connection is allowed or blocked (naming tier, policy, rule and action).
Calico staged policies are never enforced: what they would change is printed
after the table, or on stderr beside the connlist and JSON formats. Kinds the
analysis does not use are named on stderr. Everything is computed before
anything is printed, so invalid input leaves stdout empty (exit 2).
"""

from __future__ import annotations

import shutil
from enum import StrEnum
from pathlib import Path

import click

from service.manifests import load_manifests
from service.report.analysis import render_json, render_table, skipped_note
from service.report.connlist import (
    compute_connlist,
    has_staged,
    render_connlist,
    render_staged_diff,
    staged_diff,
)
from service.report.explain import explain_connection

# Used when stdout is not a terminal and COLUMNS is unset.
DEFAULT_WIDTH = 120


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CONNLIST = "connlist"


@click.command()
@click.argument(
    "paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="PATH..."
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice([f.value for f in OutputFormat], case_sensitive=False),
    default=OutputFormat.TABLE.value,
    show_default=True,
    help="table: a matrix for the terminal; connlist: netpol-analyzer's list; json: a document.",
)
@click.option(
    "--explain",
    nargs=3,
    type=str,
    default=None,
    metavar="SRC DST PORT/PROTO",
    help=(
        "Explain one connection instead: SRC and DST are namespace/name of a pod or "
        "workload, or an IP address; PORT/PROTO is e.g. 80/TCP, 53/udp or http/TCP."
    ),
)
@click.option(
    "--width",
    type=click.IntRange(min=20),
    default=None,
    help="Width for the table format (default: the terminal's); wider matrices become lists.",
)
def analyze(
    paths: tuple[Path, ...],
    output_format: str,
    explain: tuple[str, str, str] | None,
    width: int | None,
) -> None:
    """Analyse the Kubernetes and Calico policies of manifest files and folders statically.

    PATH is a YAML or JSON file or a folder of them (read recursively).
    """
    result = load_manifests(paths)
    staged = ""
    if explain is not None:
        source, destination, port = explain
        text = explain_connection(result.state, source, destination, port).render() + "\n"
    else:
        connlist = compute_connlist(result.state)
        fmt = OutputFormat(output_format.lower())
        match fmt:
            case OutputFormat.CONNLIST:
                text = render_connlist(connlist)
            case OutputFormat.JSON:
                text = render_json(connlist, skipped=result.skipped, files=result.files)
            case OutputFormat.TABLE:
                columns = width or shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
                text = render_table(connlist, width=columns)
        if has_staged(result.state):
            staged = render_staged_diff(staged_diff(result.state))
            if fmt is OutputFormat.TABLE:
                # Beside the table for a reader; the machine formats stay unchanged on stdout.
                text, staged = f"{text}\n{staged}", ""
    note = skipped_note(result.skipped)
    if note is not None:
        click.echo(note, err=True)
    if staged:
        click.echo(staged, err=True, nl=False)
    click.echo(text, nl=False)
