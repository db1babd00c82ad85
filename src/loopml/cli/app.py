"""Builds the Typer app: global options, one sub-app per command group, error → exit code."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from loopml import __version__
from loopml.cli import _context
from loopml.cli._errors import exit_code_for, render_error
from loopml.errors import LoopmlError

app = typer.Typer(
    name="loopml",
    help="loopml: data validation, tracking and lineage, pipelines, evaluation, registry, serving.",
    no_args_is_help=True,
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
        Path | None, typer.Option("--home", help="State folder (default ./.loopml; env LOOPML_HOME).")
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Global options."""
    _context.configure(home=home)


def _register() -> None:
    # One line per command group; each module exposes `app` (a typer.Typer) or `register(app)`.
    from loopml.cli import groups

    groups.register_all(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``loopml`` script: maps loopml errors to messages and exit codes."""
    _register()
    try:
        # With standalone_mode=False click *returns* the code of a `typer.Exit` instead of exiting.
        code = app(args=argv, standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except LoopmlError as err:
        render_error(err)
        sys.exit(exit_code_for(err))
    except typer.Exit as ex:
        sys.exit(ex.exit_code)
    except typer.Abort:
        sys.exit(130)
    except Exception as err:  # click usage errors
        import click

        if isinstance(err, click.ClickException):
            err.show()
            sys.exit(2)
        raise
    finally:
        _context.close()
