"""The report of `netpol-drift run` and `netpol-drift chaos`: its options and where it goes.

Both commands render one report in a ``--format`` of their own renderers, print it
on stdout or write it to ``--output`` (saying so on stderr, where stdout stays
empty), and exit 0 when it held and 1 when it did not. Both also store the scenario
file as the user wrote it next to what they stored. :func:`format_option` and
:func:`output_option` are separate decorators because ``run`` lists ``--seed``
between the two in its help.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from service.cli import EXIT_OK, EXIT_REGRESSION
from service.errors import FieldPath, InvalidInput, Problem

__all__ = ["emit_report", "format_option", "output_option", "scenario_source_text"]

F = TypeVar("F", bound=Callable[..., Any])


def format_option(formats: Iterable[str]) -> Callable[[F], F]:
    """``--format`` (into the parameter ``fmt``): one of ``formats``, ``table`` by default."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(sorted(formats)),
        default="table",
        show_default=True,
        help="Output format.",
    )


def output_option(command: F) -> F:
    """``--output``: the file the report goes to instead of stdout."""
    return click.option(
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write the report to this file instead of stdout.",
    )(command)


def emit_report(ctx: click.Context, text: str, *, output: Path | None, ok: bool) -> NoReturn:
    """Print ``text`` or write it to ``output``, then exit 0 when ``ok``, else 1."""
    if output is None:
        click.echo(text, nl=False)
    else:
        _write(output, text)
        click.echo(f"wrote {output}: {'OK' if ok else 'FAILED'}", err=True)
    ctx.exit(EXIT_OK if ok else EXIT_REGRESSION)


def scenario_source_text(path: Path) -> str | None:
    """The scenario file as written; ``None`` where it cannot be read back as UTF-8 text."""
    # The scenario is already loaded by now; without this text the store keeps its
    # canonical document instead, so a file gone or changed meanwhile is no error.
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise InvalidInput(
            Problem(f"cannot write the report: {err.strerror}", path=FieldPath(("--output",)))
        ) from err
