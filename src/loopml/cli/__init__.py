"""The ``loopml`` command line: a thin Typer skin over the domain packages."""

from loopml.cli.app import app, main

__all__ = ["app", "main"]
