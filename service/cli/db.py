"""`netpol-drift db ...`: make and inspect the database schema.

``db upgrade`` applies the Alembic migrations (the only way the schema is
made); ``db current`` says which revision a database is at. Both default to the
database the service uses (``$NETPOL_DRIFT_DATABASE_URL`` or the embedded
SQLite file).
"""

from __future__ import annotations

import click
from sqlalchemy.exc import OperationalError

from service.store.engine import DATABASE_URL_ENV, default_database_url, parse_database_url
from service.store.migrate import current_revision, head_revision, upgrade

_URL_HELP = "Database URL (default: $NETPOL_DRIFT_DATABASE_URL, else the embedded SQLite file)."


@click.group()
def db() -> None:
    """Create, upgrade and inspect the database schema."""


@db.command(name="upgrade")
@click.option("--url", "url", metavar="URL", help=_URL_HELP)
def upgrade_command(url: str | None) -> None:
    """Upgrade the database schema to the newest revision."""
    target = url or default_database_url()
    shown = _shown(target, given=url is not None)
    try:
        upgrade(target)
    except OperationalError as err:
        raise click.ClickException(f"cannot upgrade {shown}: {err.orig}") from err
    click.echo(f"{shown}: at revision {head_revision()} (head)")


@db.command(name="current")
@click.option("--url", "url", metavar="URL", help=_URL_HELP)
def current_command(url: str | None) -> None:
    """Print the revision the database schema is at."""
    target = url or default_database_url()
    shown = _shown(target, given=url is not None)
    try:
        revision = current_revision(target)
    except OperationalError as err:
        raise click.ClickException(f"cannot read {shown}: {err.orig}") from err
    head = head_revision()
    if revision == head:
        click.echo(f"{shown}: at revision {revision} (head)")
        return
    state = "empty" if revision is None else f"at revision {revision}"
    click.echo(f"{shown}: {state} (head is {head}; run `netpol-drift db upgrade`)")


def _shown(url: str, *, given: bool) -> str:
    """The URL for messages, without its password; a bad URL names where it came from."""
    field = "--url" if given else DATABASE_URL_ENV
    return parse_database_url(url, field=field).render_as_string(hide_password=True)
