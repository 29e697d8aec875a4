"""`netpol-drift serve`: the REST API (and, later, the dashboard) on the embedded default.

One process: the database of ``$NETPOL_DRIFT_DATABASE_URL`` or the embedded
SQLite file (its schema made on first use), runs executed in this process on
the simulated cluster unless ``$NETPOL_DRIFT_BROKER_URL`` sends them to Celery
workers. Runs a previous ``serve`` left unfinished are picked up again at
start. For production, run the same app in gunicorn
(``gunicorn 'service.api:create_app()'``, see docs/deploy.md).
"""

from __future__ import annotations

from datetime import timedelta

import click
from werkzeug.serving import make_server

from service.api import create_app
from service.api.context import services
from service.api.heap import freeze_startup_objects
from service.runs.dispatch import InProcessDispatcher, resume_stalled_runs
from service.runs.lifecycle import reap_runs

__all__ = ["serve_command"]


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--anonymous-read",
    is_flag=True,
    help="Let clients read without a token (else $NETPOL_DRIFT_ANONYMOUS_READ; default off).",
)
def serve_command(host: str, port: int, anonymous_read: bool) -> None:
    """Serve the REST API on HOST:PORT until interrupted."""
    config = {"anonymous_read": True} if anonymous_read else {}
    app = create_app(config)
    context = services(app)
    if isinstance(context.dispatcher, InProcessDispatcher):
        # This process is the only executor of the embedded default: what an earlier one
        # left open is closed if overdue, else its missing shards run here.
        reap_runs(context.sessions)
        resume_stalled_runs(
            context.sessions, context.dispatcher, plans=context.plans, stalled_after=timedelta(0)
        )
    server = make_server(host, port, app, threaded=True)
    freeze_startup_objects()
    shown_host = f"[{host}]" if ":" in host else host
    click.echo(
        f"netpol-drift API on http://{shown_host}:{server.server_port}/api/v1"
        f" (docs: /api/v1/docs); Ctrl-C to stop",
        err=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopping: waiting for in-process shards to finish", err=True)
    finally:
        server.server_close()
        context.close()
