"""Progress of a pipeline run: a :class:`ProgressReporter` protocol, a silent one and a rich live table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from rich.console import Console
from rich.live import Live
from rich.table import Table

__all__ = ["NullProgress", "ProgressReporter", "RichProgress"]

_STYLES = {
    "PENDING": "dim",
    "RUNNING": "yellow",
    "COMPLETE": "green",
    "CACHED": "cyan",
    "FAILED": "bold red",
    "SKIPPED": "dim red",
}


class ProgressReporter(Protocol):
    """Receives step state changes while a pipeline runs."""

    def start(self, *, run_name: str, steps: Sequence[str], **future_kwargs: Any) -> None:
        """The run began; ``steps`` in execution order."""
        ...

    def update(
        self,
        step: str,
        state: str,
        *,
        detail: str = "",
        duration_s: float | None = None,
        **future_kwargs: Any,
    ) -> None:
        """``step`` moved to ``state`` (PENDING, RUNNING, COMPLETE, CACHED, FAILED, SKIPPED).

        ``duration_s`` is set when the step ended.
        """
        ...

    def finish(self, *, status: str, **future_kwargs: Any) -> None:
        """The run ended with ``status``."""
        ...


class NullProgress:
    """Reports nothing (tests, ``--json``)."""

    def start(self, *, run_name: str, steps: Sequence[str], **future_kwargs: Any) -> None:
        """Ignore."""

    def update(
        self,
        step: str,
        state: str,
        *,
        detail: str = "",
        duration_s: float | None = None,
        **future_kwargs: Any,
    ) -> None:
        """Ignore."""

    def finish(self, *, status: str, **future_kwargs: Any) -> None:
        """Ignore."""


class RichProgress:
    """A live table of steps with state, elapsed time and a detail column.

    Args:
        console: Where to draw (default: a new stderr console, so stdout stays clean).
    """

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self._rows: dict[str, list[str]] = {}
        self._title = ""
        self._live: Live | None = None

    def _table(self) -> Table:
        table = Table(title=self._title, title_justify="left")
        for column in ("step", "state", "time", "detail"):
            table.add_column(column, overflow="fold")
        for name, (state, elapsed, detail) in self._rows.items():
            table.add_row(name, f"[{_STYLES.get(state, '')}]{state}[/]", elapsed, detail)
        return table

    def start(self, *, run_name: str, steps: Sequence[str], **future_kwargs: Any) -> None:
        """Draw the table with every step PENDING."""
        self._title = f"pipeline run {run_name}"
        self._rows = {s: ["PENDING", "", ""] for s in steps}
        self._live = Live(self._table(), console=self.console, refresh_per_second=8, transient=False)
        self._live.start()

    def update(
        self,
        step: str,
        state: str,
        *,
        detail: str = "",
        duration_s: float | None = None,
        **future_kwargs: Any,
    ) -> None:
        """Change one row."""
        elapsed = "" if duration_s is None else f"{duration_s:.2f}s"
        self._rows[step] = [state, elapsed, detail]
        if self._live is not None:
            self._live.update(self._table())

    def finish(self, *, status: str, **future_kwargs: Any) -> None:
        """Stop the live display, leaving the final table."""
        self._title = f"{self._title}: {status}"
        if self._live is not None:
            self._live.update(self._table())
            self._live.stop()
            self._live = None
