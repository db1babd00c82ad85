"""Builds the Typer app: global options, the lazily loaded command groups, error → exit code."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, ClassVar

import typer

from loopml import __version__
from loopml.cli import _context
from loopml.cli._errors import EXIT_BAD_INPUT, exit_code_for, render_error
from loopml.cli._lazy import LazyCommand, LazyGroup
from loopml.cli.groups import COMMANDS
from loopml.errors import LoopmlError


class _Root(LazyGroup):
    lazy_commands: ClassVar[Mapping[str, LazyCommand]] = COMMANDS


app = typer.Typer(
    name="loopml",
    help="loopml: data validation, tracking and lineage, pipelines, evaluation, registry, serving.",
    cls=_Root,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"loopml {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    home: Annotated[
        Path | None,
        typer.Option("--home", metavar="DIR", help="State folder (default ./.loopml; env LOOPML_HOME)."),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Global options."""
    _context.configure(home=home)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``loopml`` script: maps loopml errors to messages and exit codes.

    Usage errors (a missing argument, an unknown option or command) print the usage line and the
    reason and exit 2; ``loopml`` or ``loopml GROUP`` alone print their help and exit 0.
    """
    try:
        app(args=argv, prog_name="loopml")
    except LoopmlError as err:
        render_error(err)
        sys.exit(exit_code_for(err))
    except OSError as err:  # a path that cannot be read or written: the user's to fix
        render_error(err)
        sys.exit(EXIT_BAD_INPUT)
    finally:
        _context.close()
