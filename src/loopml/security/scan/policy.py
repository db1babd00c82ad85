"""Which globals a pickle may import: an allowlist of safe ones, a denylist of code-running ones.

A global is judged on its full dotted path (``module.name``; names may be dotted in protocol 4+).
Denied → ``malicious``; allowed or trusted → no finding; anything else → ``unknown_global``.
Python 2 names are mapped first, as the unpickler does with ``fix_imports``.
"""

from __future__ import annotations

import _compat_pickle
import re
from dataclasses import dataclass

from loopml.security.scan.report import FindingKind

__all__ = ["ALLOWED_GLOBALS", "DENIED_PREFIXES", "Judgement", "judge_global", "map_python2_name"]

#: Exact ``module.name`` globals that only rebuild data.
ALLOWED_GLOBALS: frozenset[str] = frozenset(
    {
        # builtins that build plain values (Python 2 spellings are mapped before the lookup)
        *(
            f"builtins.{n}"
            for n in [
                "set",
                "frozenset",
                "slice",
                "complex",
                "bytearray",
                "range",
                "object",
                "list",
                "dict",
                "tuple",
                "int",
                "float",
                "str",
                "bytes",
                "bool",
            ]
        ),
        # pickle's own helpers for protocol 0-2 objects and bytes
        "copyreg._reconstructor",
        "copyreg.__newobj__",
        "copyreg.__newobj_ex__",
        "_codecs.encode",
        # collections
        "collections.OrderedDict",
        "collections.defaultdict",
        "collections.deque",
        "collections.Counter",
        # value types of the standard library
        "datetime.date",
        "datetime.time",
        "datetime.datetime",
        "datetime.timedelta",
        "datetime.timezone",
        "decimal.Decimal",
        "fractions.Fraction",
        "uuid.UUID",
        # NumPy array, dtype, scalar and random-state reconstruction (numpy 1.x and 2.x paths)
        *(
            f"{m}.{n}"
            for m in ("numpy.core.multiarray", "numpy._core.multiarray")
            for n in ("_reconstruct", "scalar")
        ),
        "numpy.core.numeric._frombuffer",
        "numpy._core.numeric._frombuffer",
        "numpy.ndarray",
        "numpy.dtype",
        # NumPy scalar types (estimators keep them as ``dtype=`` parameters)
        *(
            f"numpy.{t}"
            for t in [
                "bool_",
                "int8",
                "int16",
                "int32",
                "int64",
                "uint8",
                "uint16",
                "uint32",
                "uint64",
                "intc",
                "uintc",
                "intp",
                "uintp",
                "longlong",
                "ulonglong",
                "float16",
                "float32",
                "float64",
                "longdouble",
                "half",
                "single",
                "double",
                "complex64",
                "complex128",
                "clongdouble",
                "object_",
                "str_",
                "bytes_",
                "void",
                "datetime64",
                "timedelta64",
            ]
        ),
        "numpy.ma.core._mareconstruct",
        "numpy.ma.core.MaskedArray",
        "numpy.random._pickle.__randomstate_ctor",
        "numpy.random._pickle.__bit_generator_ctor",
        "numpy.random._pickle.__generator_ctor",
        "numpy.random.mtrand.RandomState",
        "numpy.random._generator.Generator",
        "numpy.random._mt19937.MT19937",
        "numpy.random._pcg64.PCG64",
        "numpy.random._pcg64.PCG64DXSM",
        "numpy.random._philox.Philox",
        "numpy.random._sfc64.SFC64",
        "numpy.random.bit_generator.SeedSequence",
        "numpy.random.bit_generator.__pyx_unpickle_SeedSequence",
        # joblib's placeholders for arrays streamed after the pickle
        "joblib.numpy_pickle.NumpyArrayWrapper",
        "joblib.numpy_pickle.NDArrayWrapper",
        # PyTorch tensors, parameters and storages (zip and legacy checkpoints)
        *(
            f"torch._utils.{n}"
            for n in [
                "_rebuild_tensor",
                "_rebuild_tensor_v2",
                "_rebuild_tensor_v3",
                "_rebuild_parameter",
                "_rebuild_parameter_with_state",
                "_rebuild_sparse_tensor",
                "_rebuild_qtensor",
            ]
        ),
        *(
            f"torch.{t}Storage"
            for t in [
                "Float",
                "Double",
                "Half",
                "BFloat16",
                "Long",
                "Int",
                "Short",
                "Char",
                "Byte",
                "Bool",
                "ComplexFloat",
                "ComplexDouble",
                "Untyped",
            ]
        ),
        *(
            f"torch.{t}"
            for t in [
                "float32",
                "float64",
                "float16",
                "bfloat16",
                "int64",
                "int32",
                "int16",
                "int8",
                "uint8",
                "bool",
                "complex64",
                "complex128",
                "Size",
                "device",
            ]
        ),
        "torch.storage.TypedStorage",
        "torch.storage.UntypedStorage",
        "torch.nn.parameter.Parameter",
    }
)

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
    "types.ModuleType", "functools.partial", "functools.partialmethod", "functools.reduce",
    "operator.attrgetter", "operator.methodcaller", "operator.itemgetter",
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


def _denied_prefix(path: str) -> str | None:
    for prefix in DENIED_PREFIXES:
        if path == prefix or path.startswith(prefix + "."):
            return prefix
    return None


def _is_allowed(module: str, name: str, path: str) -> bool:
    if path in ALLOWED_GLOBALS:
        return True
    if module.startswith(_CLASS_PREFIXES) and not module.startswith(_CLASS_PREFIX_EXCLUDED):
        return "." not in name and bool(_CLASS_NAME.match(name) or _CYTHON_HELPER.match(name))
    return module.startswith("numpy.random.") and bool(_CYTHON_HELPER.match(name))


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
    for candidate in dict.fromkeys((path, written)):
        prefix = _denied_prefix(candidate)
        if prefix is not None:
            return Judgement(
                global_name=path,
                kind=FindingKind.MALICIOUS,
                reason=f"{candidate} is in the denied family {prefix!r} (runs code or touches the system)",
            )
    parts = {*mapped_module.split("."), *mapped_name.split(".")}
    if parts & _DENIED_ATTRIBUTES:
        bad = sorted(parts & _DENIED_ATTRIBUTES)[0]
        return Judgement(
            global_name=path,
            kind=FindingKind.MALICIOUS,
            reason=f"{path} reaches interpreter internals through {bad!r}",
        )
    if _is_allowed(mapped_module, mapped_name, path) or path in trusted or written in trusted:
        return Judgement(global_name=path, kind=None, reason="allowed")
    return Judgement(
        global_name=path,
        kind=FindingKind.UNKNOWN_GLOBAL,
        reason=(
            f"{path} is neither allowed nor denied; loading would import and may call it. "
            f"If you trust it, pass --trust-global {path}"
        ),
    )
