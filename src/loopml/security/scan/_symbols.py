"""The symbolic values a pickle walk pushes: imported globals, call results, skipped payloads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loopml.security.scan.policy import CallRule

CONTAINER_CAP = 32  # items kept per symbolic list/dict/set; the rest are dropped, not needed


@dataclass(eq=False, slots=True)
class Ref:
    """A global the stream imports, with the policy's rule for calling it."""

    module: str
    name: str
    path: str
    call: CallRule = CallRule.ANY


@dataclass(eq=False, slots=True)
class GuardedRef(Ref):
    """A global allowed only where the walker checks its call (``functools.partial`` ...).

    Every copy the stream puts on its stack (the import, each memo fetch, DUP) must be *settled*:
    consumed as the callee of a checked call, or discarded. A copy that is left anywhere else
    (inside a tuple, a list, an object's state, the loaded value) escapes the check.
    """

    offset: int = 0
    pushes: int = 1
    settled: int = 0


@dataclass(eq=False, slots=True)
class Obj:
    """The symbolic result of a call (REDUCE, NEWOBJ, OBJ, INST) or a persistent id."""

    callee: object
    args: object
    state: object = None


@dataclass(eq=False, slots=True)
class Blob:
    """A payload too large to keep; only its length is known."""

    length: int


class Opaque:
    """A value the walker does not model (out-of-band buffer, forgotten memo entry ...)."""

    __slots__ = ("why",)

    def __init__(self, why: str) -> None:
        self.why = why


FORGOTTEN = Opaque("memo entry past ScanLimits.max_memo_entries")


def extend(target: object, items: list[Any]) -> None:
    """APPEND(S)/ADDITEMS: add ``items`` to a symbolic list, keeping at most CONTAINER_CAP."""
    if isinstance(target, list):
        room = CONTAINER_CAP - len(target)
        if room > 0:
            target.extend(items[:room])


def update(target: object, items: list[Any]) -> None:
    """SETITEM(S)/DICT: add key/value pairs to a symbolic dict, keeping at most CONTAINER_CAP."""
    if not isinstance(target, dict):
        return
    for i in range(0, len(items) - 1, 2):
        if len(target) >= CONTAINER_CAP:
            return
        try:
            target[items[i]] = items[i + 1]
        except TypeError:
            continue  # unhashable symbolic key (a list): not needed for any decision


def describe(value: object) -> str:
    """A short human description of a symbolic value, for finding messages."""
    if isinstance(value, Ref):
        return f"global {value.path}"
    if isinstance(value, Obj):
        return f"the result of calling {describe(value.callee)}"
    if isinstance(value, Opaque):
        return f"<{value.why}>"
    if isinstance(value, Blob):
        return f"<{value.length}-byte payload>"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
