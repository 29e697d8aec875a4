"""``netpol-drift mutate``: the mutation score of a scenario's matrix, and what would raise it.

Generates single mutations of the scenario's policies (and namespace labels),
reports which ones the matrix detects (killed), which it misses (survived) and
which no pod could tell apart (equivalent, not counted), and suggests matrix
additions, as YAML to paste, that kill the survivors. Nothing is probed: the
engine computes every verdict. Exit status 0; 2 on invalid input (nothing on
stdout). docs/mutation.md explains the method.
"""

from __future__ import annotations

from pathlib import Path

import click

from service.mutate import mutate_scenario
from service.mutate.render import render_json, render_table
from service.scenario.load import load_scenario

__all__ = ["mutate_command"]

_RENDERERS = {"table": render_table, "json": render_json}


@click.command("mutate")
@click.argument("scenario", type=click.Path(path_type=Path), metavar="SCENARIO")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(sorted(_RENDERERS), case_sensitive=False),
    default="table",
    show_default=True,
    help="table: for a terminal; json: a document.",
)
@click.option(
    "--version",
    "versions",
    multiple=True,
    metavar="NAME",
    help="Mutate only this policy version (repeatable; default: every version).",
)
@click.option(
    "--no-suggestions",
    is_flag=True,
    help="Only score; do not search for matrix additions that kill the survivors.",
)
def mutate_command(
    scenario: Path, output_format: str, versions: tuple[str, ...], no_suggestions: bool
) -> None:
    """Score how many single policy mutations the matrix of SCENARIO would catch."""
    loaded = load_scenario(scenario)
    report = mutate_scenario(
        loaded, versions=list(versions) or None, suggestions=not no_suggestions
    )
    click.echo(_RENDERERS[output_format.lower()](report), nl=False)
