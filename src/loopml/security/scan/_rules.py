"""Argument rules for the guarded callables: what a call to one may be given.

The walker asks these at each call (REDUCE, NEWOBJ, NEWOBJ_EX, OBJ, INST) of a global whose
:class:`~loopml.security.scan.policy.CallRule` is not ``ANY``, and at each BUILD of an object such a
call made. They look at the symbolic arguments only: a literal, or a global the stream imported.
Anything computed at load time (a call's result, a memo entry past the limits) fails the rule.
"""

from __future__ import annotations

from loopml.security.scan._symbols import GuardedRef, Ref, describe
from loopml.security.scan.policy import CallRule


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
