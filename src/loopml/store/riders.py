"""Statements that commit with the next write transaction of a context, or not at all: :class:`Rider`.

The platform server audits every mutating request. Writing its audit row in a transaction of its
own, after the handler committed the mutation, costs a second commit per request, and a crash
between the two commits keeps the mutation without its row. A rider closes both: while a request
carries one (:meth:`Rider.carried`), the first write transaction of that request on the rider's
database runs the rider's statements (the audit row's ``INSERT``) just before it commits, so the
mutation and its row are committed together or neither is.

"That request" is a :mod:`contextvars` context: the task that set the rider and the worker threads
it starts (``anyio.to_thread.run_sync`` and Starlette's ``run_in_threadpool`` copy the context).
Writes on another database, and threads that do not copy the context, never carry it.

States: *waiting* (no transaction has it), *aboard* (a transaction runs it), *committed* (that
transaction committed: :attr:`Rider.result` holds what the statements returned), *taken* (its
owner ended it uncommitted, to write it its own way). A transaction that rolls back puts it back
to *waiting*, for the next one.

Example:
    >>> rider = Rider(owner="db", statements=lambda conn: 42)
    >>> rider.board(owner="db"), rider.board(owner="db")  # one transaction at a time
    (True, False)
    >>> rider.land(committed=True, result=42)
    >>> rider.committed, rider.result, rider.take()
    (True, 42, False)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["Rider", "current_rider"]

_WAITING, _ABOARD, _COMMITTED, _TAKEN = "waiting", "aboard", "committed", "taken"

_CARRIED: ContextVar[Rider | None] = ContextVar("loopml_store_rider", default=None)


def current_rider() -> Rider | None:
    """The rider the current context carries (None when it carries none)."""
    return _CARRIED.get()


class Rider:
    """Statements to run in the first write transaction of one context on one database.

    Args:
        owner: The database whose write transactions may carry it (compared by identity).
        statements: Run on the transaction's connection, after the transaction's own statements
            and before its commit; what it returns is kept as :attr:`result`.
    """

    def __init__(self, *, owner: object, statements: Callable[[Any], Any]) -> None:
        self.owner = owner
        self.statements = statements
        self.result: Any = None
        self._state = _WAITING
        self._changed = threading.Condition()

    @contextmanager
    def carried(self) -> Iterator[Rider]:
        """Within the block, the first write transaction of this context on ``owner`` carries it."""
        token = _CARRIED.set(self)
        try:
            yield self
        finally:
            _CARRIED.reset(token)

    @property
    def committed(self) -> bool:
        """Whether a write transaction committed the statements."""
        return self._state == _COMMITTED

    def board(self, *, owner: object) -> bool:
        """Called by a write transaction on ``owner``: whether it is to run the statements."""
        if owner is not self.owner:
            return False
        with self._changed:
            if self._state != _WAITING:
                return False
            self._state = _ABOARD
            return True

    def land(self, *, committed: bool, result: Any = None) -> None:
        """Called by the transaction that boarded it, once it committed or rolled back."""
        with self._changed:
            if committed:
                self._state, self.result = _COMMITTED, result
            else:
                self._state = _WAITING
            self._changed.notify_all()

    def take(self) -> bool:
        """End it: True when no transaction committed it (then none will), False when one did.

        Waits while a transaction that boarded it is still running (from a worker thread, when
        :meth:`try_take` answered None).
        """
        with self._changed:
            while self._state == _ABOARD:
                self._changed.wait()
            return self._take()

    def try_take(self) -> bool | None:
        """:meth:`take` without waiting: None while a transaction that boarded it is running."""
        with self._changed:
            return None if self._state == _ABOARD else self._take()

    def _take(self) -> bool:
        if self._state == _COMMITTED:
            return False
        self._state = _TAKEN
        return True
