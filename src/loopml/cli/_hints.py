"""Readable value hints in ``--help``: ``TEXT``, ``PATH``, ``INTEGER``, ``[a|b]``; none for flags.

Typer renders a parameter's Python annotation (``<bool>``, ``<list[str]>``, ``<path>``); a user
reads the kind of value to type. Parameters that name their own ``metavar`` keep it.
"""

from __future__ import annotations

import re
from typing import Any, cast

import typer.core

__all__ = ["readable_hints"]

_KINDS = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "path": "PATH", "bool": "BOOLEAN"}


def _hint(shown: str) -> str:
    """``<list[Path]>`` → ``PATH``, ``<int range>`` → ``INTEGER``, ``<a|b>`` → ``[a|b]``."""
    inner = shown.strip("<>")
    inner = re.sub(r"^list\[(.*)\]$", r"\1", inner).removesuffix(" range")
    if "|" in inner:
        return f"[{inner}]"
    return _KINDS.get(inner.lower(), inner.upper())


class _HintedArgument(typer.core.TyperArgument):
    """An argument whose type column shows its readable hint (typer has no setting for it)."""

    readable_hint: str = ""

    def display_type_rich(self, ctx: Any) -> str | None:
        return self.readable_hint


def readable_hints(command: Any) -> None:
    """Give every parameter of ``command`` and its sub-commands a readable hint, in place."""
    ctx = typer.Context(command)
    for param in command.get_params(ctx):  # with the cached --help option
        if isinstance(param, typer.core.TyperOption) and param.metavar is None:
            param.metavar = "" if param.is_flag else _hint(param.display_type_rich(ctx) or "")
        elif type(param) is typer.core.TyperArgument:
            hint = _hint(param.display_type(ctx))
            if param.metavar is None:
                param.metavar = (param.name or "").upper()
            param.__class__ = _HintedArgument  # same fields; only the type column differs
            cast(_HintedArgument, param).readable_hint = hint
    for sub in getattr(command, "commands", {}).values():
        readable_hints(sub)
