"""Which globals a pickle may import: an allowlist of safe ones, a denylist of code-running ones.

A global is judged on its full dotted path (``module.name``; names may be dotted in protocol 4+).
Denied → ``malicious``; allowed or trusted → no finding; anything else → ``unknown_global``.
Python 2 names are mapped first, as the unpickler does with ``fix_imports``.

Every decision is on one exact symbol. A few exact classes are data although their module is a
denied family (``pathlib.PurePosixPath``, ``http.HTTPStatus``); everything else in the family stays
denied, and those classes must be built from literal strings and numbers. An allowed global also
carries a :class:`CallRule`: how the stream may use it. Most may be called freely; plain
functions kept as references (``numpy.log1p`` in a ``FunctionTransformer``) must not be called
while loading; and two callables that are dangerous in general are allowed only where the walker
checks the arguments of the call (``functools.partial`` over an allowlisted function; NumPy's
``_ufunc_reconstruct``, which imports a module by name).
"""

from __future__ import annotations

import _compat_pickle
import enum
import functools
import re
from dataclasses import dataclass

from loopml.security.scan._allowed import ALLOWED_GLOBALS, CALLABLE_REFERENCES, VALUE_TYPES_IN_DENIED_FAMILIES
from loopml.security.scan.report import FindingKind

__all__ = [
    "ALLOWED_GLOBALS",
    "DENIED_PREFIXES",
    "CallRule",
    "Judgement",
    "judge_global",
    "map_python2_name",
]


class CallRule(enum.StrEnum):
    """How the stream may use an allowed global."""

    ANY = "any"  # a constructor of data: may be called with any arguments
    LITERAL_ARGS = "literal_args"  # a value type of a denied family: built from literal strings/numbers only
    REFERENCE = "reference"  # a plain function kept inside data; calling it while loading is a finding
    PARTIAL = "partial"  # functools.partial: only over a CALLABLE_REFERENCES function, checked per call
    IMPORT_BY_NAME = "import_by_name"  # returns getattr(import(module), name): judged like GLOBAL
    SIBLING_FILE = "sibling_file"  # names a file loaded with pickle allowed: a plain name beside the pickle


#: joblib's old-format array placeholder: on load, ``numpy.load(join(folder, filename),
#: allow_pickle=True)``. Its file name must stay inside the pickle's folder.
SIBLING_FILE_READERS = frozenset(
    {"joblib.numpy_pickle.NDArrayWrapper", "joblib.numpy_pickle_compat.NDArrayWrapper"}
)

#: Callables that are dangerous in general and allowed only under a rule the walker checks at the
#: call; any other use of them (stored as data, passed as an argument) is ``malicious``.
GUARDED_GLOBALS: dict[str, CallRule] = {
    "functools.partial": CallRule.PARTIAL,
    "numpy.core._ufunc_reconstruct": CallRule.IMPORT_BY_NAME,
    "numpy._core._ufunc_reconstruct": CallRule.IMPORT_BY_NAME,
}

#: Module prefixes whose classes (CamelCase names) rebuild estimators and their parts.
_CLASS_PREFIXES = ("sklearn.", "torch.nn.modules.", "numpy.dtypes")
#: Modules under those prefixes that are never data (test helpers, vendored code).
_CLASS_PREFIX_EXCLUDED = ("sklearn.utils._testing", "sklearn.externals", "sklearn.utils._show_versions")
_CLASS_NAME = re.compile(r"_?[A-Z][A-Za-z0-9]*\Z")
#: Cython reconstruction helpers generated for extension types in allowed packages.
_CYTHON_HELPER = re.compile(r"(__pyx_unpickle_[A-Za-z0-9_]+|newObj)\Z")

#: Dotted paths (a module, or module.attribute) known to run code, spawn processes, touch the
#: network or filesystem, or deserialise further untrusted data. Matching is on path segments.
DENIED_PREFIXES: tuple[str, ...] = (
    # processes and the OS
    "os", "posix", "nt", "_posixsubprocess", "subprocess", "commands", "pty", "signal", "_winapi",
    "multiprocessing", "asyncio", "_thread", "sys", "ctypes", "_ctypes",
    # code execution and import machinery
    "builtins.eval", "builtins.exec", "builtins.compile", "builtins.getattr", "builtins.setattr",
    "builtins.delattr", "builtins.__import__", "builtins.open", "builtins.globals", "builtins.locals",
    "builtins.vars", "builtins.breakpoint", "builtins.input", "builtins.help", "builtins.exit",
    "builtins.quit", "builtins.memoryview", "builtins.classmethod", "builtins.staticmethod",
    "builtins.property", "builtins.super", "builtins.type",
    "importlib", "imp", "runpy", "pkgutil", "zipimport", "site", "code", "codeop", "marshal",
    "types.FunctionType", "types.CodeType", "types.LambdaType", "types.MethodType",
    "types.ModuleType", "functools", "_functools", "operator.attrgetter", "operator.methodcaller",
    "operator.itemgetter", "_operator.attrgetter", "_operator.methodcaller", "_operator.itemgetter",
    # nested deserialisation
    "pickle", "_pickle", "cPickle", "dill", "cloudpickle", "joblib.load", "joblib.numpy_pickle.load",
    "numpy.load", "numpy.lib.npyio", "numpy.lib._npyio_impl", "pandas.read_pickle", "pandas.io.pickle",
    "torch.load", "torch.serialization", "torch.hub", "torch.jit", "torch.package", "shelve", "yaml",
    # debuggers, profilers and tools that run code strings
    "pdb", "bdb", "timeit", "cProfile", "profile", "trace", "doctest", "idlelib", "pydoc",
    "lib2to3", "venv", "ensurepip", "distutils", "setuptools", "pip", "_osx_support", "IPython",
    "numpy.testing", "numpy.f2py", "numpy.distutils",
    # files and network
    "shutil", "tempfile", "io.open", "io.FileIO", "_io", "codecs.open", "pathlib", "glob",
    "socket", "_socket", "ssl", "select", "selectors", "webbrowser", "urllib", "urllib3", "http",
    "ftplib", "smtplib", "telnetlib", "poplib", "imaplib", "nntplib", "xmlrpc", "socketserver",
    "requests", "aiohttp", "httpx",
)  # fmt: skip

#: Attribute names that reach interpreter internals from any object.
_DENIED_ATTRIBUTES = frozenset(
    {"__globals__", "__builtins__", "__subclasses__", "__import__", "__code__", "__getattribute__",
     "__reduce__", "__reduce_ex__", "__loader__", "__spec__", "__dict__", "__class__", "__init__"}
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class Judgement:
    """The policy's word on one global: ``kind`` is None when the global is allowed."""

    global_name: str
    kind: FindingKind | None
    reason: str
    call: CallRule = CallRule.ANY


def map_python2_name(module: str, name: str) -> tuple[str, str]:
    """Map a Python 2 ``(module, name)`` the way the unpickler does with ``fix_imports``.

    Example:
        >>> map_python2_name("__builtin__", "eval")
        ('builtins', 'eval')
        >>> map_python2_name("commands", "getoutput")
        ('subprocess', 'getoutput')
    """
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


_DENIED_SET = frozenset(DENIED_PREFIXES)


def _denied_prefix(path: str) -> str | None:
    """The shortest denied dotted prefix of ``path`` (whole segments), or None."""
    end = path.find(".")
    while end != -1:
        if path[:end] in _DENIED_SET:
            return path[:end]
        end = path.find(".", end + 1)
    return path if path in _DENIED_SET else None


def _is_allowed(module: str, name: str, path: str) -> bool:
    if path in ALLOWED_GLOBALS:
        return True
    if module.startswith(_CLASS_PREFIXES) and not module.startswith(_CLASS_PREFIX_EXCLUDED):
        return "." not in name and bool(_CLASS_NAME.match(name) or _CYTHON_HELPER.match(name))
    return module.startswith("numpy.random.") and bool(_CYTHON_HELPER.match(name))


@functools.lru_cache(maxsize=8192)
def judge_global(module: str, name: str, *, trusted: frozenset[str] = frozenset()) -> Judgement:
    """Judge the global a ``GLOBAL``/``STACK_GLOBAL``/``INST`` would import.

    Both the name as written and its Python 3 mapping are judged; the worse wins. A name in
    ``trusted`` is allowed unless it is denied (a trust list cannot re-enable ``os.system``).

    Args:
        module: The module operand, as written in the stream.
        name: The name operand (dotted for nested attributes in protocol 4+).
        trusted: Extra ``module.name`` globals the caller vouches for.

    Returns:
        The judgement; ``kind`` is None when the global is allowed.

    Example:
        >>> judge_global("posix", "system").kind
        <FindingKind.MALICIOUS: 'malicious'>
        >>> judge_global("collections", "OrderedDict").kind is None
        True
    """
    mapped_module, mapped_name = map_python2_name(module, name)
    path = f"{mapped_module}.{mapped_name}"
    written = f"{module}.{name}"
    parts = {*mapped_module.split("."), *mapped_name.split(".")}
    if parts & _DENIED_ATTRIBUTES:
        bad = sorted(parts & _DENIED_ATTRIBUTES)[0]
        return Judgement(
            global_name=path,
            kind=FindingKind.MALICIOUS,
            reason=f"{path} reaches interpreter internals through {bad!r}",
        )
    if path in GUARDED_GLOBALS:
        return Judgement(
            global_name=path, kind=None, reason="allowed under a call rule", call=GUARDED_GLOBALS[path]
        )
    for candidate in dict.fromkeys((path, written)):
        if candidate in VALUE_TYPES_IN_DENIED_FAMILIES:
            continue  # this exact class is data; its module's other names stay denied
        prefix = _denied_prefix(candidate)
        if prefix is not None:
            return Judgement(
                global_name=path,
                kind=FindingKind.MALICIOUS,
                reason=f"{candidate} is in the denied family {prefix!r} (runs code or touches the system)",
            )
    if path in VALUE_TYPES_IN_DENIED_FAMILIES:
        return Judgement(global_name=path, kind=None, reason="allowed", call=CallRule.LITERAL_ARGS)
    if _is_allowed(mapped_module, mapped_name, path) or path in trusted or written in trusted:
        call = CallRule.ANY
        if path in CALLABLE_REFERENCES:
            call = CallRule.REFERENCE
        elif path in SIBLING_FILE_READERS:
            call = CallRule.SIBLING_FILE
        return Judgement(global_name=path, kind=None, reason="allowed", call=call)
    return Judgement(
        global_name=path,
        kind=FindingKind.UNKNOWN_GLOBAL,
        reason=(
            f"{path} is neither allowed nor denied; loading would import and may call it. "
            f"If you trust it, pass --trust-global {path}"
        ),
    )
