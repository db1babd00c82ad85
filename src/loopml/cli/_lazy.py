"""A command group whose sub-commands are imported when they run, not when ``loopml`` starts.

Each entry names a module path and an attribute (a ``typer.Typer`` group or a command function),
plus the one-line help shown in listings, so ``loopml --help`` lists every group without importing
one and ``loopml scan FILE`` imports the scanner alone, not the analysis stack behind ``demo``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn, Protocol

import typer
import typer.core
import typer.main

from loopml.cli._hints import readable_hints

__all__ = ["LazyCommand", "LazyGroup", "load_command"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LazyCommand:
    """Where a command lives: ``module:attr``, and the line ``--help`` lists it with."""

    module: str
    attr: str
    help: str


def load_command(name: str, spec: LazyCommand) -> typer.core.TyperCommand | typer.core.TyperGroup:
    """Import ``spec.module`` and turn its Typer app or command function into a click command."""
    target: Any = getattr(importlib.import_module(spec.module), spec.attr)
    command: typer.core.TyperCommand | typer.core.TyperGroup
    if isinstance(target, typer.Typer):  # a group, as `add_typer` would make it
        command = typer.main.get_group(target)
    else:  # a command function
        single = typer.Typer(add_completion=False)
        single.command(name)(target)
        command = typer.main.get_command(single)  # type: ignore[assignment]
    command.name = name
    readable_hints(command)
    return command


class LazyGroup(typer.core.TyperGroup):
    """A Typer group that resolves the commands of ``lazy_commands`` on first use.

    Subclasses set ``lazy_commands``. Help listings use the table's one-line help, so printing the
    group's help imports none of its commands; running one, or asking for its help, imports it.
    A group given without its sub-command prints that group's help and exits 0, as ``loopml``
    alone does (``kubectl``, ``gh``).
    """

    lazy_commands: ClassVar[Mapping[str, LazyCommand]] = {}
    _listing: bool = False

    def list_commands(self, ctx: typer.Context) -> list[str]:  # type: ignore[override]
        return [*self.lazy_commands, *(n for n in self.commands if n not in self.lazy_commands)]

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Any:  # type: ignore[override]
        if cmd_name in self.commands or cmd_name not in self.lazy_commands:
            return self.commands.get(cmd_name)
        spec = self.lazy_commands[cmd_name]
        if self._listing:  # a stand-in carrying the listed help; nothing imported
            return typer.core.TyperCommand(name=cmd_name, help=spec.help, short_help=spec.help)
        command = load_command(cmd_name, spec)
        self.commands[cmd_name] = command
        return command

    def format_help(self, ctx: typer.Context, formatter: Any) -> None:  # type: ignore[override]
        readable_hints(self)
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        if not args and not ctx.resilient_parsing:
            _help_and_exit(ctx)
        return super().parse_args(ctx, args)

    def resolve_command(self, ctx: typer.Context, args: list[str]) -> Any:  # type: ignore[override]
        name, command, rest = super().resolve_command(ctx, args)
        if (
            not rest
            and not ctx.resilient_parsing
            and isinstance(command, typer.core.TyperGroup)
            and command.no_args_is_help
        ):
            _help_and_exit(command.context_class(command, info_name=name, parent=ctx))
        return name, command, rest


class _HelpContext(Protocol):
    def get_help(self) -> str: ...
    def exit(self, code: int = 0) -> NoReturn: ...


def _help_and_exit(ctx: _HelpContext) -> None:
    typer.echo(ctx.get_help())
    ctx.exit(0)
