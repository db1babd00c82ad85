"""Call rules: what a call to an allowed global may be given, judged at each call the stream makes.

The walker hands every call (REDUCE, NEWOBJ, NEWOBJ_EX, OBJ, INST) and every BUILD to a
:class:`CallJudge`, which applies the callee's :class:`~loopml.security.scan.policy.CallRule`.
The rules look at the symbolic arguments only: a literal, or a global the stream imported.
Anything computed at load time (a call's result, a memo entry past the limits) fails them.
"""

from __future__ import annotations

from collections.abc import Callable

from loopml.security.scan._sink import FindingSink
from loopml.security.scan._symbols import GuardedRef, Obj, Opaque, Ref, describe
from loopml.security.scan.policy import CallRule
from loopml.security.scan.report import FindingKind


def _reference_problem(func: object, where: str) -> str | None:
    if isinstance(func, Ref) and not isinstance(func, GuardedRef) and func.call is CallRule.REFERENCE:
        return None
    return (
        f"functools.partial over {describe(func)} ({where}): a partial is data only over an "
        f"allowlisted plain function (numpy.log1p, numpy.clip, a sklearn metric ...); calling this "
        f"one later could run anything"
    )


def partial_call_problem(args: object) -> str | None:
    """Why ``functools.partial(*args)`` is not data, or None when its callable is allowlisted.

    Example:
        >>> partial_call_problem((Ref("numpy", "clip", "numpy.clip", CallRule.REFERENCE),)) is None
        True
        >>> partial_call_problem((Ref("os", "system", "os.system"), "id")) is not None
        True
    """
    if not isinstance(args, tuple) or not args:
        return f"functools.partial called with {describe(args)}, not a literal argument tuple"
    return _reference_problem(args[0], "its callable")


def partial_state_problem(state: object) -> str | None:
    """Why BUILD of a partial with ``state`` is not data; partial's state replaces its callable.

    ``partial.__setstate__`` takes ``(func, args, kwds, namespace)``; ``func`` must pass the same
    rule as the constructor's, or a BUILD could swap ``numpy.clip`` for ``os.system``.
    """
    if not isinstance(state, tuple) or len(state) != 4:
        return f"functools.partial given the state {describe(state)}, not a literal 4-tuple"
    return _reference_problem(state[0], "set by its state")


def import_by_name_operands(args: object, kwargs: object = None) -> tuple[str, str] | None:
    """``(module, name)`` of a ``_ufunc_reconstruct(module, name)`` call, when both are literal strings.

    Example:
        >>> import_by_name_operands(("numpy", "log1p"))
        ('numpy', 'log1p')
        >>> import_by_name_operands((Ref("builtins", "str", "builtins.str"), "x")) is None
        True
    """
    if kwargs not in (None, {}) or not isinstance(args, tuple) or len(args) != 2:
        return None
    module, name = args
    if isinstance(module, str) and isinstance(name, str):
        return module, name
    return None


_LITERALS = (str, int, float, bool, type(None))
_COPYREG_CONSTRUCTORS = frozenset({"copyreg._reconstructor", "copyreg.__newobj__", "copyreg.__newobj_ex__"})


def literal_args_problem(path: str, args: object, kwargs: object = None) -> str | None:
    """Why a call of a value type from a denied family is not how pickle rebuilds one, or None.

    ``PurePosixPath('/', 'data')`` and ``HTTPStatus(200)`` are rebuilt from literal strings and
    numbers; anything else (a call's result, a global, keyword arguments) is not data.

    Example:
        >>> literal_args_problem("pathlib.PosixPath", ("/", "tmp")) is None
        True
        >>> literal_args_problem("http.HTTPStatus", (Ref("numpy", "clip", "numpy.clip"),)) is not None
        True
    """
    if kwargs in (None, {}) and isinstance(args, tuple) and all(isinstance(a, _LITERALS) for a in args):
        return None
    shown = describe(args) if kwargs in (None, {}) else f"{describe(args)} and keywords {describe(kwargs)}"
    return (
        f"{path} is data when rebuilt from literal strings and numbers, as pickle writes it; "
        f"it is called here with {shown}"
    )


def sibling_file_problem(name: object) -> str | None:
    """Why ``name`` is not a plain file name beside the pickle, or None when it is.

    Example:
        >>> sibling_file_problem("model.pkl_01.npy") is None
        True
        >>> sibling_file_problem("../../uploads/evil.npy")
        "loads '../../uploads/evil.npy' with pickle allowed: only a plain file name beside the pickle is data"
    """
    if isinstance(name, str) and name not in ("", ".", "..") and not any(c in name for c in "/\\\0:"):
        return None
    return f"loads {describe(name)} with pickle allowed: only a plain file name beside the pickle is data"


class CallJudge:
    """Judges each call and BUILD of one walk against the call rules; findings go to ``sink``.

    Args:
        sink: The member's findings.
        import_global: Imports ``(module, name)`` as a GLOBAL opcode at ``(offset, opcode)`` would.
    """

    def __init__(self, sink: FindingSink, import_global: Callable[[str, str, int, str], Ref]) -> None:
        self.sink = sink
        self.import_global = import_global

    def call(self, func: object, args: object, pos: int, op: str, *, kwargs: object = None) -> object:
        """Judge ``func(*args, **kwargs)`` made by opcode ``op``; returns the symbolic value it pushes."""
        result = Obj(func, args if kwargs is None else (args, kwargs))
        if not isinstance(func, Ref):
            self.sink.add(
                FindingKind.DYNAMIC_GLOBAL,
                f"{op} at offset {pos} calls {describe(func)}, a callable computed at load time",
                offset=pos,
                opcode=op,
            )
            return result
        if func.path in _COPYREG_CONSTRUCTORS and func.call is CallRule.ANY:
            return self._copyreg(func, args, pos, op) or result
        if isinstance(func, GuardedRef):
            func.settled += 1
        if func.call is CallRule.IMPORT_BY_NAME:
            return self._import_by_name(func, args, kwargs, pos, op)
        if func.call is CallRule.PARTIAL:
            problem = partial_call_problem(args)
            if problem is not None:
                self._add(FindingKind.MALICIOUS, func, f"{op} at offset {pos}: {problem}", pos, op)
        else:
            self._construct(func, args, kwargs, pos, op)
        return result

    def _construct(self, cls: Ref, args: object, kwargs: object, pos: int, op: str) -> None:
        """Apply the argument rules of a global called directly or through copyreg's helpers."""
        if cls.call is CallRule.LITERAL_ARGS:
            problem = literal_args_problem(cls.path, args, kwargs)
            if problem is not None:
                self._add(FindingKind.UNKNOWN_GLOBAL, cls, f"{op} at offset {pos}: {problem}", pos, op)
        elif cls.call is CallRule.SIBLING_FILE:
            named = [*(args[:1] if isinstance(args, tuple) else [args])]
            if isinstance(kwargs, dict) and "filename" in kwargs:
                named.append(kwargs["filename"])
            self._check_sibling(cls, named, pos, op)
        elif cls.call is CallRule.REFERENCE:
            message = (
                f"{op} at offset {pos} calls {cls.path} while loading; it is allowed only as a "
                f"reference kept inside data (no pickle calls it to rebuild a value)"
            )
            self._add(FindingKind.UNKNOWN_GLOBAL, cls, message, pos, op)

    def _copyreg(self, func: Ref, args: object, pos: int, op: str) -> Obj | None:
        """copyreg's helpers build an instance of ``args[0]``: judge that construction too.

        ``_reconstructor(cls, base, state)`` runs ``base.__init__(obj, state)`` unless ``base`` is
        ``object``; ``__newobj__(cls, *args)`` and ``__newobj_ex__(cls, args, kwargs)`` run
        ``cls.__new__``. The result is recorded as an instance of ``cls``, so that BUILD rules see
        its class. A guarded global among the operands is left unsettled: it escapes its rule.
        """
        if not isinstance(args, tuple) or not args or not isinstance(args[0], Ref):
            return None
        cls = args[0]
        if func.path == "copyreg._reconstructor" and len(args) == 3:
            base = args[1]
            if isinstance(base, Ref) and not isinstance(base, GuardedRef) and base.path != "builtins.object":
                self._construct(base, (args[2],), None, pos, op)
            return Obj(cls, (args[2],))
        if func.path == "copyreg.__newobj_ex__" and len(args) == 3:
            if not isinstance(cls, GuardedRef):
                self._construct(cls, args[1], args[2], pos, op)
            return Obj(cls, (args[1], args[2]))
        if func.path == "copyreg.__newobj__":
            if not isinstance(cls, GuardedRef):
                self._construct(cls, args[1:], None, pos, op)
            return Obj(cls, args[1:])
        return None

    def build(self, target: Obj, state: object, pos: int, op: str) -> None:
        """Judge BUILD of ``state`` into ``target`` (a partial's callable, a wrapper's file name)."""
        callee = target.callee
        if not isinstance(callee, Ref):
            return
        if callee.call is CallRule.PARTIAL:
            problem = partial_state_problem(state)
            if problem is not None:
                self._add(FindingKind.MALICIOUS, callee, f"{op} at offset {pos}: {problem}", pos, op)
        elif callee.call is CallRule.SIBLING_FILE:
            parts = state if isinstance(state, tuple) else (state,)
            if not all(isinstance(p, dict | None) for p in parts):
                named: list[object] = [state]  # not a literal state: the file name cannot be read
            else:
                named = [p["filename"] for p in parts if isinstance(p, dict) and "filename" in p]
            self._check_sibling(callee, named, pos, op)

    def _check_sibling(self, func: Ref, names: list[object], pos: int, op: str) -> None:
        for name in names:
            problem = sibling_file_problem(name)
            if problem is not None:
                self._add(
                    FindingKind.MALICIOUS, func, f"{op} at offset {pos}: {func.path} {problem}", pos, op
                )

    def check_settled(self, guarded: list[GuardedRef]) -> None:
        """Report every guarded global one of whose stack copies was not settled by a checked call."""
        for ref in guarded:
            if ref.pushes > ref.settled:
                self.sink.add(
                    FindingKind.MALICIOUS,
                    f"{ref.path} imported at offset {ref.offset} is used other than as the callee of a "
                    f"call whose arguments the scanner checks (stored in data, passed to another "
                    f"callable, or left on the stack): its rule cannot hold",
                    offset=ref.offset,
                    global_name=ref.path,
                )

    def _import_by_name(self, func: Ref, args: object, kwargs: object, pos: int, op: str) -> object:
        operands = import_by_name_operands(args, kwargs)
        if operands is not None:
            return self.import_global(*operands, pos, op)  # judged exactly like a GLOBAL opcode
        message = (
            f"{op} at offset {pos} calls {func.path}, which imports a module by name, with "
            f"{describe(args)}: the name is not a pair of literal strings and cannot be judged"
        )
        self._add(FindingKind.DYNAMIC_GLOBAL, func, message, pos, op)
        return Opaque("imported by a computed name")

    def _add(self, kind: FindingKind, func: Ref, message: str, pos: int, op: str) -> None:
        self.sink.add(kind, message, offset=pos, opcode=op, global_name=func.path)
