"""`netpol-drift token ...`: API tokens for the REST API.

``create --role ROLE --name NAME`` prints the new token once, on stdout alone
(so it can be captured: ``TOKEN=$(netpol-drift token create ...)``); only its
hash is stored. ``list`` shows tokens without them; ``revoke`` refuses a token
from then on. The first admin token of a deployment is made here; later ones
can be made over the API by an admin. Works on ``$NETPOL_DRIFT_DATABASE_URL``
or the embedded SQLite file (its schema is made on first use).
"""

from __future__ import annotations

import click

from service.auth import (
    find_token,
    get_token,
    issue_token,
    list_tokens,
    parse_role,
    revoke_token,
)
from service.cli.storing import open_database
from service.errors import FieldPath

__all__ = ["token"]


@click.group()
def token() -> None:
    """Create, list and revoke API tokens (roles: viewer, operator, admin)."""


@token.command("create")
@click.option(
    "--role",
    required=True,
    metavar="ROLE",
    help="viewer (read), operator (runs, scenarios, schedules) or admin (also tokens).",
)
@click.option("--name", required=True, help="Unique; says whose token it is.")
def create_command(role: str, name: str) -> None:
    """Issue a token and print it (the only time it is shown)."""
    parsed = parse_role(role, path=FieldPath(("--role",)))
    with open_database() as database, database.sessions.begin() as session:
        issued = issue_token(session, name=name, role=parsed)
    click.echo(
        f"token {issued.info.id} ({issued.info.name}, {issued.info.role}) created; it is shown"
        " once, store it now:",
        err=True,
    )
    click.echo(issued.token)


@token.command("list")
def list_command() -> None:
    """List tokens (never the tokens themselves)."""
    with open_database() as database, database.sessions() as session:
        found = list_tokens(session, limit=100_000)
    if not found:
        click.echo("no tokens")
        return
    for info in found:
        state = "active" if info.active else f"revoked {info.revoked_at:%Y-%m-%d %H:%M}"
        used = f"{info.last_used_at:%Y-%m-%d %H:%M}" if info.last_used_at else "never"
        click.echo(
            f"{info.id}\t{info.name}\t{info.role}\t{info.prefix}…\tlast used {used}\t{state}"
        )


@token.command("revoke")
@click.argument("token_ref", metavar="ID_OR_NAME")
def revoke_command(token_ref: str) -> None:
    """Revoke a token by id or name: it is refused from now on."""
    with open_database() as database, database.sessions.begin() as session:
        info = get_token(session, int(token_ref)) if token_ref.isdigit() else None
        if info is None:
            info = find_token(session, token_ref)
        if info is None:
            raise click.ClickException(f"no token {token_ref!r}")
        revoked = revoke_token(session, info.id)
    assert revoked is not None
    click.echo(f"token {revoked.id} ({revoked.name}) revoked")
