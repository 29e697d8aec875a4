"""The ``netpol-drift`` command line.

Each command lives in its own module and only parses arguments, calls the core
and prints. Known failures (:class:`~service.errors.InvalidInput`) print every
problem on stderr and exit with status 2; nothing partial is printed on stdout.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from service import __version__
from service.errors import InvalidInput

EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_INVALID = 2


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="netpol-drift")
def cli() -> None:
    """Network policy regression testing for Kubernetes and Calico."""


def _register() -> None:
    # Imported here so that `netpol-drift --help` stays fast and each command
    # module can import heavier dependencies (numpy) at its own top.
    from service.cli import analyze, chaos, db, janitor, mutate, run, schedule, serve, token

    cli.add_command(analyze.analyze)
    cli.add_command(chaos.chaos_command)
    cli.add_command(db.db)
    cli.add_command(janitor.janitor_command)
    cli.add_command(mutate.mutate_command)
    cli.add_command(schedule.schedule)
    cli.add_command(serve.serve_command)
    cli.add_command(token.token)
    cli.add_command(run.run_command)
    cli.add_command(run.validate_command)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    _register()
    try:
        # Without standalone mode click returns what ctx.exit() set instead of exiting.
        code = cli.main(args=list(argv) if argv is not None else None, standalone_mode=False)
    except InvalidInput as err:
        for problem in err.problems:
            click.echo(f"error: {problem}", err=True)
        return EXIT_INVALID
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return EXIT_INVALID
    except click.Abort:
        click.echo("aborted", err=True)
        return EXIT_INVALID
    return code if isinstance(code, int) else EXIT_OK


def run_console() -> None:  # pragma: no cover - thin wrapper for `python -m service.cli`
    sys.exit(main())
