"""`netpol-drift analyze`: STUB, owned by the analyze helper."""

from __future__ import annotations

import click


@click.command()
def analyze() -> None:
    """Analyse manifests statically (not implemented yet)."""
    raise click.ClickException("not implemented yet")
