"""Walks pickle opcodes (protocols 0-5) symbolically: resolves every global, executes nothing.

The walker reads opcodes itself (the opcode table comes from :mod:`pickletools`), keeps a
symbolic stack and memo so that ``STACK_GLOBAL`` operands can be traced back to the literal
strings that built them, and skips large payloads without holding them in memory.
"""

from __future__ import annotations

import codecs
import pickletools
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from loopml.security.scan._joblib import JOBLIB_WRAPPERS, joblib_array_payload
from loopml.security.scan._rules import CallJudge
from loopml.security.scan._sink import FindingSink
from loopml.security.scan._source import ByteSource, StreamProblem
from loopml.security.scan._symbols import (
    CONTAINER_CAP,
    FORGOTTEN,
    Blob,
    GuardedRef,
    Obj,
    Opaque,
    Ref,
    describe,
    extend,
    update,
)
from loopml.security.scan.limits import ScanLimits
from loopml.security.scan.policy import CallRule
from loopml.security.scan.report import FindingKind

#: opcode byte -> (opcode name, argument kind name or None)
OPCODES: dict[int, tuple[str, str | None]] = {
    ord(op.code): (op.name, op.arg.name if op.arg is not None else None) for op in pickletools.opcodes
}
HIGHEST_PROTOCOL = 5
_LINE_CAP = 1 << 16
_IMPORTABLE = re.compile(r"[^\s,]+\Z")
_DUNDER_STATE_KEYS = frozenset(
    {"__setstate__", "__reduce__", "__reduce_ex__", "__getattr__", "__getattribute__", "__class__",
     "__init__", "__call__", "__new__", "__dict__", "__globals__", "__code__", "__builtins__"}
)  # fmt: skip


@dataclass(slots=True)
class _State:
    stack: list[Any]
    metastack: list[list[Any]]
    memo: dict[int, Any]
    memo_len: int = 0
    proto: int = 0
    guarded: list[GuardedRef] = field(default_factory=list)


class PickleWalker:
    """Walks one stream of one or more concatenated pickles into a :class:`FindingSink`.

    Args:
        src: The stream.
        sink: Where findings and globals go.
        limits: Argument, memo and stack bounds.
    """

    def __init__(self, src: ByteSource, sink: FindingSink, limits: ScanLimits) -> None:
        self.src = src
        self.sink = sink
        self.limits = limits
        self.looks_like_pickle = False
        self.pickles = 0
        self._st = _State(stack=[], metastack=[], memo={})
        self._nesting = 0
        self._judge = CallJudge(sink, self._global)
        self._ops: dict[str, Callable[[Any, int, str], None]] = {
            name[4:]: getattr(self, name) for name in dir(self) if name.startswith("_op_")
        }
        self._args: dict[str, Callable[[], Any]] = {
            "uint1": lambda: src.read(1, what="an opcode argument")[0],
            "uint2": lambda: struct.unpack("<H", src.read(2, what="an opcode argument"))[0],
            "uint4": lambda: struct.unpack("<I", src.read(4, what="an opcode argument"))[0],
            "uint8": lambda: struct.unpack("<Q", src.read(8, what="an opcode argument"))[0],
            "int4": lambda: struct.unpack("<i", src.read(4, what="an opcode argument"))[0],
            "float8": lambda: struct.unpack(">d", src.read(8, what="an opcode argument"))[0],
            "long1": lambda: self._long(src.read(1)[0]),
            "long4": lambda: self._long(self._length("<i", 4)),
            "string1": lambda: self._payload(src.read(1)[0], text="latin-1"),
            "string4": lambda: self._payload(self._length("<i", 4), text="latin-1"),
            "bytes1": lambda: self._payload(src.read(1)[0]),
            "bytes4": lambda: self._payload(self._length("<I", 4)),
            "bytes8": lambda: self._payload(self._length("<Q", 8)),
            "bytearray8": lambda: self._payload(self._length("<Q", 8)),
            "unicodestring1": lambda: self._payload(src.read(1)[0], text="utf-8"),
            "unicodestring4": lambda: self._payload(self._length("<I", 4), text="utf-8"),
            "unicodestring8": lambda: self._payload(self._length("<Q", 8), text="utf-8"),
            "stringnl": lambda: self._line("a STRING argument"),
            "stringnl_noescape": lambda: self._line("a PERSID argument"),
            "decimalnl_short": lambda: self._line("an INT argument"),
            "decimalnl_long": lambda: self._line("a LONG argument"),
            "floatnl": lambda: self._line("a FLOAT argument"),
            "unicodestringnl": lambda: self._line("a UNICODE argument"),
            "stringnl_noescape_pair": lambda: (self._line("a module name"), self._line("a global name")),
        }
        # opcode byte -> (name, argument reader, handler); handler None marks STOP
        self._table: list[tuple[str, Callable[[], Any] | None, Callable[[Any, int, str], None] | None] | None]
        self._table = [None] * 256
        for code, (name, kind) in OPCODES.items():
            reader = self._args[kind] if kind is not None else None
            self._table[code] = (name, reader, None if name == "STOP" else self._ops[name])

    # -- argument readers -------------------------------------------------------------------
    def _length(self, fmt: str, size: int) -> int:
        n: int = struct.unpack(fmt, self.src.read(size, what="a length prefix"))[0]
        if n < 0:
            raise StreamProblem(FindingKind.PARSE_ERROR, f"negative length {n}", offset=self.src.pos)
        return n

    def _payload(self, n: int, *, text: str | None = None) -> object:
        if n > self.limits.max_arg_bytes:
            self.src.skip(n, what=f"a {n}-byte payload")
            return Blob(n)
        raw = self.src.read(n, what=f"a {n}-byte payload")
        if text is None:
            return raw
        return raw.decode(text, errors="surrogatepass" if text == "utf-8" else "strict")

    def _long(self, n: int) -> object:
        if n > 4096:
            self.src.skip(n, what="a long integer")
            return Blob(n)
        return int.from_bytes(self.src.read(n, what="a long integer"), "little", signed=True)

    def _line(self, what: str) -> bytes | None:
        return self.src.readline(_LINE_CAP, what=what)

    # -- driving -----------------------------------------------------------------------------
    def walk_stream(self, *, max_pickles: int | None = None) -> None:
        """Walk pickles until the end of the stream (or ``max_pickles``); problems raise."""
        while not self.src.at_eof():
            if self.pickles and not _plausible_start(self.src.peek(2)):
                n = self.src.drain()
                raise StreamProblem(
                    FindingKind.PARSE_ERROR,
                    f"{n} bytes after pickle #{self.pickles} are not a pickle; a loader that reads "
                    f"on could run them, so they are not passed",
                    offset=self.src.pos - n,
                )
            self.walk_one()
            self.pickles += 1
            if max_pickles is not None and self.pickles >= max_pickles:
                return

    def walk_one(self) -> object:
        """Walk one pickle up to its STOP; returns the symbolic value it would load."""
        outer, self._st = self._st, _State(stack=[], metastack=[], memo={})
        try:
            value = self._run()
            # Only a pickle that loads to its end hands its objects to anyone.
            self._judge.check_settled(self._st.guarded)
            return value
        finally:
            self._st = outer

    def _run(self) -> object:
        src, table = self.src, self._table
        read_byte = src.read_byte
        checked = 0
        while True:
            pos = src.pos
            code = read_byte()
            if code < 0:
                raise StreamProblem(
                    FindingKind.TRUNCATED, "stream ends before the pickle's STOP opcode", offset=pos
                )
            entry = table[code]
            if entry is None:
                raise StreamProblem(
                    FindingKind.PARSE_ERROR, f"unknown opcode byte 0x{code:02x} at offset {pos}", offset=pos
                )
            name, read_arg, handler = entry
            if handler is None:  # STOP
                self.looks_like_pickle = True
                return self._pop(pos, name)
            try:
                handler(read_arg() if read_arg is not None else None, pos, name)
            except StreamProblem as problem:
                if problem.opcode is None:
                    problem.opcode = name
                raise
            checked += 1
            if checked >= 1024:
                checked = 0
                self._check_depth(pos, name)

    def _check_depth(self, pos: int, op: str) -> None:
        st = self._st
        if len(st.stack) + len(st.metastack) > self.limits.max_stack:
            raise StreamProblem(
                FindingKind.RESOURCE_LIMIT,
                f"symbolic stack deeper than ScanLimits.max_stack={self.limits.max_stack}",
                offset=pos,
                opcode=op,
            )

    # -- stack helpers -----------------------------------------------------------------------
    def _fail(self, msg: str, pos: int, op: str) -> StreamProblem:
        return StreamProblem(FindingKind.PARSE_ERROR, f"{op} at offset {pos}: {msg}", offset=pos, opcode=op)

    def _pop(self, pos: int, op: str) -> Any:
        stack = self._st.stack
        if not stack:
            raise self._fail("pops an empty stack (or crosses a MARK)", pos, op)
        return stack.pop()

    def _top(self, pos: int, op: str) -> Any:
        if not self._st.stack:
            raise self._fail("needs a value on an empty stack", pos, op)
        return self._st.stack[-1]

    def _pop_mark(self, pos: int, op: str) -> list[Any]:
        st = self._st
        if not st.metastack:
            raise self._fail("has no MARK to pop to", pos, op)
        items = st.stack
        st.stack = st.metastack.pop()
        return items

    def _push(self, value: object) -> None:
        self._st.stack.append(value)

    # -- opcodes: literals -------------------------------------------------------------------
    def _op_PROTO(self, arg: int, pos: int, op: str) -> None:
        if not 0 <= arg <= HIGHEST_PROTOCOL:
            raise self._fail(f"unsupported protocol {arg}", pos, op)
        self._st.proto = arg
        self.looks_like_pickle = True

    def _op_FRAME(self, arg: int, pos: int, op: str) -> None:
        """Frames only group opcodes for buffering; their content is walked like any other."""

    def _op_INT(self, arg: bytes | None, pos: int, op: str) -> None:
        if arg == b"00" or arg == b"01":
            self._push(arg == b"01")
        else:
            self._push(_parse_int(arg, pos, op, self))

    def _op_LONG(self, arg: bytes | None, pos: int, op: str) -> None:
        text = arg[:-1] if arg is not None and arg.endswith(b"L") else arg
        self._push(_parse_int(text, pos, op, self))

    def _op_FLOAT(self, arg: bytes | None, pos: int, op: str) -> None:
        try:
            self._push(float(arg) if arg is not None else Opaque("long float"))
        except ValueError as err:
            raise self._fail(f"bad float literal {arg[:40]!r}", pos, op) from err  # type: ignore[index]

    def _push_arg(self, arg: object, pos: int, op: str) -> None:
        self._st.stack.append(arg)

    _op_BININT = _op_BININT1 = _op_BININT2 = _op_LONG1 = _op_LONG4 = _op_BINFLOAT = _push_arg
    _op_BINBYTES = _op_SHORT_BINBYTES = _op_BINBYTES8 = _op_BYTEARRAY8 = _push_arg
    _op_BINUNICODE = _op_SHORT_BINUNICODE = _op_BINUNICODE8 = _push_arg
    _op_BINSTRING = _op_SHORT_BINSTRING = _push_arg

    def _op_STRING(self, arg: bytes | None, pos: int, op: str) -> None:
        if arg is None:
            self._push(Opaque("long string"))
            return
        if len(arg) < 2 or arg[0] != arg[-1] or arg[:1] not in (b"'", b'"'):
            raise self._fail(f"STRING argument is not quoted: {arg[:40]!r}", pos, op)
        try:
            self._push(codecs.escape_decode(arg[1:-1])[0].decode("latin-1"))
        except ValueError as err:
            raise self._fail(f"bad escape in STRING {arg[:40]!r}", pos, op) from err

    def _op_UNICODE(self, arg: bytes | None, pos: int, op: str) -> None:
        self._push(Opaque("long string") if arg is None else arg.decode("raw-unicode-escape"))

    def _op_NONE(self, arg: None, pos: int, op: str) -> None:
        self._push(None)

    def _op_NEWTRUE(self, arg: None, pos: int, op: str) -> None:
        self._push(True)

    def _op_NEWFALSE(self, arg: None, pos: int, op: str) -> None:
        self._push(False)

    def _op_NEXT_BUFFER(self, arg: None, pos: int, op: str) -> None:
        self._push(Opaque("out-of-band buffer"))

    def _op_READONLY_BUFFER(self, arg: None, pos: int, op: str) -> None:
        self._top(pos, op)

    # -- opcodes: containers -----------------------------------------------------------------
    def _op_MARK(self, arg: None, pos: int, op: str) -> None:
        st = self._st
        st.metastack.append(st.stack)
        st.stack = []

    def _op_POP(self, arg: None, pos: int, op: str) -> None:
        if self._st.stack:
            _discard([self._st.stack.pop()])
        else:
            _discard(self._pop_mark(pos, op))

    def _op_POP_MARK(self, arg: None, pos: int, op: str) -> None:
        _discard(self._pop_mark(pos, op))

    def _op_DUP(self, arg: None, pos: int, op: str) -> None:
        value = self._top(pos, op)
        if type(value) is GuardedRef:
            value.pushes += 1
        self._push(value)

    def _op_EMPTY_TUPLE(self, arg: None, pos: int, op: str) -> None:
        self._push(())

    def _op_TUPLE(self, arg: None, pos: int, op: str) -> None:
        self._push(tuple(self._pop_mark(pos, op)))

    def _op_TUPLE1(self, arg: None, pos: int, op: str) -> None:
        self._push((self._pop(pos, op),))

    def _op_TUPLE2(self, arg: None, pos: int, op: str) -> None:
        b = self._pop(pos, op)
        self._push((self._pop(pos, op), b))

    def _op_TUPLE3(self, arg: None, pos: int, op: str) -> None:
        c = self._pop(pos, op)
        b = self._pop(pos, op)
        self._push((self._pop(pos, op), b, c))

    def _op_EMPTY_LIST(self, arg: None, pos: int, op: str) -> None:
        self._push([])

    _op_EMPTY_SET = _op_EMPTY_LIST

    def _op_LIST(self, arg: None, pos: int, op: str) -> None:
        self._push(self._pop_mark(pos, op)[:CONTAINER_CAP])

    _op_FROZENSET = _op_LIST

    def _op_APPEND(self, arg: None, pos: int, op: str) -> None:
        value = self._pop(pos, op)
        extend(self._top(pos, op), [value])

    def _op_APPENDS(self, arg: None, pos: int, op: str) -> None:
        items = self._pop_mark(pos, op)
        extend(self._top(pos, op), items)

    _op_ADDITEMS = _op_APPENDS

    def _op_EMPTY_DICT(self, arg: None, pos: int, op: str) -> None:
        self._push({})

    def _op_DICT(self, arg: None, pos: int, op: str) -> None:
        items = self._pop_mark(pos, op)
        d: dict[Any, Any] = {}
        update(d, items)
        self._push(d)

    def _op_SETITEM(self, arg: None, pos: int, op: str) -> None:
        value = self._pop(pos, op)
        key = self._pop(pos, op)
        update(self._top(pos, op), [key, value])

    def _op_SETITEMS(self, arg: None, pos: int, op: str) -> None:
        items = self._pop_mark(pos, op)
        update(self._top(pos, op), items)

    # -- opcodes: memo -----------------------------------------------------------------------
    def _memo_put(self, index: int, value: object) -> None:
        st = self._st
        if index in st.memo:
            st.memo[index] = value
        elif len(st.memo) < self.limits.max_memo_entries:
            st.memo[index] = value
            st.memo_len += 1
        else:
            st.memo_len += 1
            if isinstance(value, GuardedRef):
                self.sink.add(
                    FindingKind.RESOURCE_LIMIT,
                    f"{value.path} is memoized past ScanLimits.max_memo_entries; its later uses "
                    f"cannot be followed",
                    global_name=value.path,
                )

    def _memo_get(self, index: int, pos: int, op: str) -> None:
        st = self._st
        if index in st.memo:
            value = st.memo[index]
            if type(value) is GuardedRef:
                value.pushes += 1
            self._push(value)
        elif len(st.memo) >= self.limits.max_memo_entries:
            self._push(FORGOTTEN)
        else:
            raise self._fail(f"memo key {index} was never stored", pos, op)

    def _op_PUT(self, arg: bytes | None, pos: int, op: str) -> None:
        self._memo_put(_parse_index(arg, pos, op, self), self._top(pos, op))

    def _op_BINPUT(self, arg: int, pos: int, op: str) -> None:
        self._memo_put(arg, self._top(pos, op))

    _op_LONG_BINPUT = _op_BINPUT

    def _op_MEMOIZE(self, arg: None, pos: int, op: str) -> None:
        st = self._st
        if st.stack and st.memo_len < self.limits.max_memo_entries and st.memo_len not in st.memo:
            st.memo[st.memo_len] = st.stack[-1]  # the common case, inlined
            st.memo_len += 1
        else:
            self._memo_put(st.memo_len, self._top(pos, op))

    def _op_GET(self, arg: bytes | None, pos: int, op: str) -> None:
        self._memo_get(_parse_index(arg, pos, op, self), pos, op)

    def _op_BINGET(self, arg: int, pos: int, op: str) -> None:
        st = self._st
        value = st.memo.get(arg, _MISSING)
        if value is _MISSING or type(value) is GuardedRef:
            self._memo_get(arg, pos, op)
        else:
            st.stack.append(value)

    _op_LONG_BINGET = _op_BINGET

    # -- opcodes: globals and calls ----------------------------------------------------------
    def _global(self, module: str, name: str, pos: int, op: str) -> Ref:
        if _could_be_imported(module) and _could_be_imported(name):
            self.looks_like_pickle = True
        judgement = self.sink.add_global(module, name, opcode=op, offset=pos)
        if judgement.call in _GUARDED_RULES:
            ref = GuardedRef(module, name, judgement.global_name, judgement.call, offset=pos)
            self._st.guarded.append(ref)
            return ref
        return Ref(module, name, judgement.global_name, judgement.call)

    def _inline_global(self, arg: tuple[bytes | None, bytes | None], pos: int, op: str) -> Ref:
        module, name = arg
        if module is None or name is None:
            raise self._fail("module or name longer than 64 KiB", pos, op)
        # The unpickler decodes these lines as UTF-8.
        try:
            return self._global(module.decode("utf-8"), name.decode("utf-8"), pos, op)
        except UnicodeDecodeError as err:
            raise self._fail("module or name is not UTF-8", pos, op) from err

    def _op_GLOBAL(self, arg: tuple[bytes | None, bytes | None], pos: int, op: str) -> None:
        self._push(self._inline_global(arg, pos, op))

    def _op_STACK_GLOBAL(self, arg: None, pos: int, op: str) -> None:
        name = self._pop(pos, op)
        module = self._pop(pos, op)
        if isinstance(module, str) and isinstance(name, str):
            self._push(self._global(module, name, pos, op))
            return
        forgotten = module is FORGOTTEN or name is FORGOTTEN
        kind = FindingKind.RESOURCE_LIMIT if forgotten else FindingKind.DYNAMIC_GLOBAL
        self.sink.add(
            kind,
            f"STACK_GLOBAL at offset {pos} imports a name computed at load time "
            f"(module {describe(module)}, name {describe(name)}); it cannot be judged",
            offset=pos,
            opcode=op,
        )
        self._push(Opaque("dynamic global"))

    def _call(self, func: object, args: object, pos: int, op: str, *, kwargs: object = None) -> object:
        self.looks_like_pickle = True  # a call the unpickler would make: this is a pickle
        return self._judge.call(func, args, pos, op, kwargs=kwargs)

    def _op_REDUCE(self, arg: None, pos: int, op: str) -> None:
        args = self._pop(pos, op)
        func = self._pop(pos, op)
        self._push(self._call(func, args, pos, op))

    def _op_NEWOBJ(self, arg: None, pos: int, op: str) -> None:
        args = self._pop(pos, op)
        cls = self._pop(pos, op)
        self._push(self._call(cls, args, pos, op))

    def _op_NEWOBJ_EX(self, arg: None, pos: int, op: str) -> None:
        kwargs = self._pop(pos, op)
        args = self._pop(pos, op)
        cls = self._pop(pos, op)
        self._check_state(kwargs, pos, op)  # keyword arguments become attributes as BUILD's do
        self._push(self._call(cls, args, pos, op, kwargs=kwargs))

    def _op_OBJ(self, arg: None, pos: int, op: str) -> None:
        items = self._pop_mark(pos, op)
        if not items:
            raise self._fail("OBJ needs a class after the MARK", pos, op)
        self._push(self._call(items[0], tuple(items[1:]), pos, op))

    def _op_INST(self, arg: tuple[bytes | None, bytes | None], pos: int, op: str) -> None:
        cls = self._inline_global(arg, pos, op)
        self._push(self._call(cls, tuple(self._pop_mark(pos, op)), pos, op))

    def _op_BUILD(self, arg: None, pos: int, op: str) -> None:
        state = self._pop(pos, op)
        target = self._top(pos, op)
        self._check_state(state, pos, op)
        if isinstance(target, Obj):
            target.state = state
            self._judge.build(target, state, pos, op)
            if isinstance(target.callee, Ref) and target.callee.path in JOBLIB_WRAPPERS:
                self._skip_joblib_array(target, pos)

    def _check_state(self, state: object, pos: int, op: str) -> None:
        dicts = [s for s in (state if isinstance(state, tuple) else (state,)) if isinstance(s, dict)]
        for d in dicts:
            bad = sorted(k for k in d if isinstance(k, str) and k in _DUNDER_STATE_KEYS)
            if bad:
                self.sink.add(
                    FindingKind.MALICIOUS,
                    f"{op} at offset {pos} sets {bad[0]!r} on an object: a __setstate__/attribute "
                    f"gadget that makes a later call run code",
                    offset=pos,
                    opcode=op,
                )

    def _op_PERSID(self, arg: bytes | None, pos: int, op: str) -> None:
        self._push(Obj(Opaque("persistent id"), arg))

    def _op_BINPERSID(self, arg: None, pos: int, op: str) -> None:
        self._push(Obj(Opaque("persistent id"), self._pop(pos, op)))

    def _extension(self, code: int, pos: int, op: str) -> None:
        self.sink.add(
            FindingKind.UNKNOWN_GLOBAL,
            f"{op} at offset {pos} imports copyreg extension code {code}, whose global depends on "
            f"the loading process's registry",
            offset=pos,
            opcode=op,
            global_name=f"copyreg.extension[{code}]",
        )
        self._push(Opaque("extension"))

    _op_EXT1 = _op_EXT2 = _op_EXT4 = _extension

    # -- joblib arrays -------------------------------------------------------------------------
    def _skip_joblib_array(self, wrapper: Obj, pos: int) -> None:
        payload = joblib_array_payload(wrapper.state)
        if payload is None:
            raise StreamProblem(
                FindingKind.PARSE_ERROR,
                f"joblib NumpyArrayWrapper at offset {pos} has a state whose array size cannot be "
                f"read literally ({describe(wrapper.state)}); the bytes after it cannot be located",
                offset=pos,
                opcode="BUILD",
            )
        if payload.is_pickle:
            if self._nesting >= self.limits.max_depth:
                raise StreamProblem(
                    FindingKind.RESOURCE_LIMIT, "joblib object arrays nest too deeply", offset=pos
                )
            self._nesting += 1
            try:
                self.walk_one()
            finally:
                self._nesting -= 1
        else:
            if payload.aligned:
                pad = self.src.read(1, what="joblib array padding")[0]
                self.src.skip(pad, what="joblib array padding")
            self.src.skip(payload.nbytes, what=f"a {payload.nbytes}-byte joblib array")


_GUARDED_RULES = (CallRule.PARTIAL, CallRule.IMPORT_BY_NAME)
_MISSING = Opaque("missing memo entry")


def _discard(values: list[Any]) -> None:
    """POP / POP_MARK: a discarded copy of a guarded global is settled (it can no longer be used)."""
    for value in values:
        if type(value) is GuardedRef:
            value.settled += 1


def _parse_int(text: bytes | None, pos: int, op: str, walker: PickleWalker) -> object:
    if text is None or len(text) > 4000:
        return Opaque("long integer")
    try:
        return int(text)
    except ValueError as err:
        raise walker._fail(f"bad integer literal {text[:40]!r}", pos, op) from err


def _parse_index(text: bytes | None, pos: int, op: str, walker: PickleWalker) -> int:
    value = _parse_int(text, pos, op, walker)
    if not isinstance(value, int) or value < 0:
        raise walker._fail(f"bad memo index {text!r:.40}", pos, op)
    return value


def _could_be_imported(text: str) -> bool:
    # ``__import__`` accepts any file name, e.g. "my-mod": only whitespace and commas (text, CSV)
    # rule a line out as a module or attribute name.
    return bool(_IMPORTABLE.match(text))


def _plausible_start(head: bytes) -> bool:
    """True when ``head`` could begin another pickle (protocol 2+ header or a protocol 0/1 opcode)."""
    if not head:
        return False
    if head[0] == 0x80:
        return len(head) > 1 and head[1] <= HIGHEST_PROTOCOL
    return head[0] in OPCODES and head[:1] in b"(]}c)NIJKLMSUVXGFTq"
