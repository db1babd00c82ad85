"""One table from error type to exit code (0 ok, 1 a check failed, 2 bad usage or input)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from loopml.errors import IntegrityError, LoopmlError, PolicyViolation, UnsafeArtifact

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2

_CHECK_FAILURES: tuple[type[LoopmlError], ...] = (IntegrityError, UnsafeArtifact, PolicyViolation)


def exit_code_for(err: LoopmlError) -> int:
    """Exit code for an error: 1 when a check failed (integrity, safety), 2 otherwise."""
    return EXIT_CHECK_FAILED if isinstance(err, _CHECK_FAILURES) else EXIT_BAD_INPUT


def render_error(err: LoopmlError | OSError) -> None:
    """Print the error's message on stderr, without a traceback.

    An ``OSError`` (a file that cannot be read or written, a full disk) is the user's to fix, so
    it is told the same way: what failed and on which path.
    """
    if isinstance(err, OSError) and err.strerror:
        where = f": {err.filename!r}" if err.filename else ""
        message = f"{err.strerror}{where}. Check the path and its permissions."
    else:
        message = str(err)
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"[bold red]Error[/] ({type(err).__name__}): {escape(message)}", markup=True
    )
