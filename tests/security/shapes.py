"""Real-world model-file shapes, benign and malicious, built at test time (nothing downloaded).

The benign set is what training code commonly saves: scikit-learn pipelines with function
transformers, column transformers and scorers (pickled and ``joblib.dump``-ed), PyTorch
checkpoints laid out as ``torch.save`` writes them (zip and legacy) with configs, an
``argparse.Namespace`` and optimizer state, NumPy and pandas objects, and the standard library's
value types, containers and enums. One file in it is expected to be flagged: a checkpoint whose
config is a dataclass from the training code's own module, which a scanner cannot vouch for
(``EXPECTED_FLAGGED``; ``--trust-global`` accepts it).

The malicious set holds the classic payloads in those same shapes, and every attempt to smuggle a
callable past the call rules (``functools.partial``, NumPy's ``_ufunc_reconstruct``) and the value
types allowed inside denied families (``pathlib``, ``http``). Malicious files are assembled opcode
by opcode and never unpickled.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import decimal
import enum
import fractions
import functools
import http
import io
import pathlib
import pickle
import pickletools
import types
import uuid
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.security.corpus import (
    b_,
    call,
    full,
    g,
    i,
    joblib_with,
    npy_object,
    s,
    torch_legacy,
    tup,
)

# -- helpers ------------------------------------------------------------------------------------


def body_of(value: object) -> bytes:
    """The opcodes that push ``value`` in a protocol-2 pickle (no PROTO, no STOP; memo trimmed)."""
    data = pickletools.optimize(pickle.dumps(value, protocol=2))
    assert data[:2] == b"\x80\x02" and data[-1:] == b"."
    return data[2:-1]


def tensor(key: str, shape: tuple[int, ...]) -> bytes:
    """A tensor as ``torch.save`` pickles it: ``_rebuild_tensor_v2`` over a persistent storage id."""
    p = 2
    numel = int(np.prod(shape)) if shape else 1
    pid = (
        b"(" + s("storage", p) + g("torch", "FloatStorage", p) + s(key, p) + s("cpu", p) + i(numel, p) + b"t"
    )
    stride = tuple(int(np.prod(shape[k + 1 :])) for k in range(len(shape)))
    size = b"(" + b"".join(i(n, p) for n in shape) + b"t"
    strides = b"(" + b"".join(i(n, p) for n in stride) + b"t"
    hooks = call(g("collections", "OrderedDict", p), [])
    return call(
        g("torch._utils", "_rebuild_tensor_v2", p), [pid + b"Q", i(0, p), size, strides, b"\x89", hooks]
    )


def dict_of(items: list[tuple[bytes, bytes]]) -> bytes:
    """A dict from already assembled (key, value) opcodes."""
    return b"}(" + b"".join(k + v for k, v in items) + b"u"


def torch_checkpoint(data_pkl: bytes, storages: dict[str, bytes]) -> bytes:
    """The zip ``torch.save`` writes (PyTorch 2.x): every member it writes, stored uncompressed."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", data_pkl)
        z.writestr("archive/.format_version", b"1")
        z.writestr("archive/.storage_alignment", b"64")
        z.writestr("archive/byteorder", b"little")
        for key, raw in storages.items():
            z.writestr(f"archive/data/{key}", raw)
        z.writestr("archive/version", b"3\n")
        z.writestr("archive/.data/serialization_id", b"15728199511854643026")
    return buf.getvalue()


def _state_dict() -> tuple[bytes, dict[str, bytes]]:
    p = 2
    layers = [("0.weight", (4, 3)), ("0.bias", (4,)), ("2.weight", (1, 4)), ("2.bias", (1,))]
    body = call(g("collections", "OrderedDict", p), []) + b"("
    storages = {}
    for key, (name, shape) in enumerate(layers):
        body += s(name, p) + tensor(str(key), shape)
        storages[str(key)] = np.ones(shape, np.float32).tobytes()
    return body + b"u", storages


def _optimizer_state(first_key: int) -> tuple[bytes, dict[str, bytes]]:
    p = 2
    state, storages, key = [], {}, first_key
    for param, shape in enumerate([(4, 3), (4,), (1, 4), (1,)]):
        slots = []
        for slot, slot_shape in (("step", ()), ("exp_avg", shape), ("exp_avg_sq", shape)):
            slots.append((s(slot, p), tensor(str(key), slot_shape)))
            storages[str(key)] = np.zeros(slot_shape or (1,), np.float32).tobytes()
            key += 1
        state.append((i(param, p), dict_of(slots)))
    groups = [
        {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False,
         "maximize": False, "foreach": None, "capturable": False, "differentiable": False,
         "fused": None, "params": [0, 1, 2, 3]}
    ]  # fmt: skip
    return dict_of([(s("state", p), dict_of(state)), (s("param_groups", p), body_of(groups))]), storages


class Activation(enum.Enum):
    RELU = "relu"
    GELU = "gelu"


@dataclass
class TrainConfig:
    """A training script's own config class: the one benign shape a scanner cannot vouch for."""

    lr: float = 1e-3
    epochs: int = 10


def _training_args() -> argparse.Namespace:
    return argparse.Namespace(
        lr=1e-3, epochs=10, batch_size=32, data_dir="/data/train", seed=0, amp=True, milestones=[5, 8]
    )


def _checkpoint(extra: list[tuple[bytes, bytes]]) -> bytes:
    model, storages = _state_dict()
    optim, optim_storages = _optimizer_state(len(storages))
    p = 2
    items = [
        (s("model", p), model),
        (s("optimizer", p), optim),
        (s("epoch", p), i(7, p)),
        (s("best_val_loss", p), body_of(0.125)),
        *extra,
    ]
    return torch_checkpoint(full(dict_of(items), 2), {**storages, **optim_storages})


# -- benign -------------------------------------------------------------------------------------


def _sklearn_objects() -> dict[str, object]:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.metrics import fbeta_score, make_scorer
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    rng = np.random.default_rng(0)
    x = np.abs(rng.normal(size=(60, 3)))
    y = (x[:, 0] > 0.8).astype(int)
    cats = rng.choice(["a", "b"], size=(60, 1)).astype(object)
    xc = np.hstack([x, cats])
    log = FunctionTransformer(np.log1p, feature_names_out="one-to-one")
    clipped = FunctionTransformer(functools.partial(np.clip, a_min=0.0, a_max=5.0))
    columns = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), log, StandardScaler()), [0, 1, 2]),
            ("cat", OneHotEncoder(), [3]),
        ]
    )
    grid = GridSearchCV(
        LogisticRegression(max_iter=200), {"C": [0.1, 1.0]}, scoring=make_scorer(fbeta_score, beta=2), cv=2
    )
    return {
        "function-transformer-log1p": log.fit(x),
        "pipeline-log1p-logreg": Pipeline([("log", log), ("clf", LogisticRegression())]).fit(x, y),
        "pipeline-partial-clip-ridge": make_pipeline(clipped, Ridge()).fit(x, y),
        "column-transformer-pipeline": Pipeline([("pre", columns), ("clf", LogisticRegression())]).fit(xc, y),
        "grid-search-fbeta-scorer": grid.fit(x, y),
    }


def _pandas_objects() -> dict[str, object]:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "age": [31, 45, 27],
            "income": [52_000.5, None, 38_250.0],
            "city": ["Paris", "Lyon", "Nice"],
            "segment": pd.Categorical(["a", "b", "a"]),
            "signup": pd.to_datetime(["2024-01-02", "2024-02-03", "2024-03-04"]),
            "clicks": pd.array([1, None, 3], dtype="Int64"),
        },
        index=pd.Index([101, 102, 103], name="user_id"),
    )
    series = pd.Series([0.1, 0.2], index=pd.date_range("2024-01-01", periods=2, tz="UTC"), name="loss")
    scalars = {
        "ts": pd.Timestamp("2024-05-01", tz="UTC"),
        "td": pd.Timedelta("2h"),
        "nat": pd.NaT,
        "na": pd.NA,
    }
    multi = pd.DataFrame({"v": [1, 2]}, index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)]))
    indexes = [
        pd.RangeIndex(3),
        pd.CategoricalIndex(["a", "b"]),
        pd.TimedeltaIndex(["1D"]),
        pd.PeriodIndex(["2024-01"], freq="M"),
        pd.IntervalIndex.from_breaks([0, 1]),
    ]
    extension = {
        "sparse": pd.Series(pd.arrays.SparseArray([0, 0, 1])),
        "period": pd.Period("2024-01", freq="M"),
        "interval": pd.Interval(0, 1),
        "flags": pd.array([True, None], dtype="boolean"),
    }
    return {
        "frame": frame,
        "series": series,
        "scalars": scalars,
        "multiindex": multi,
        "indexes": indexes,
        "extension-arrays": extension,
    }


def _stdlib_values() -> dict[str, object]:
    return {
        "http-status-and-builtins": {
            "status": http.HTTPStatus.OK,
            "retry": [http.HTTPStatus.TOO_MANY_REQUESTS, http.HTTPStatus.SERVICE_UNAVAILABLE],
            "tags": {"train", "eval"},
            "frozen": frozenset({1, 2}),
            "z": complex(1, -2),
            "window": slice(0, 100, 10),
            "raw": bytearray(b"\x00\x01"),
        },
        "containers-and-dates": {
            "ordered": collections.OrderedDict(a=1, b=2),
            "default": collections.defaultdict(list, {"k": [1]}),
            "counter": collections.Counter("mississippi"),
            "deque": collections.deque([1, 2, 3], maxlen=5),
            "when": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
            "day": datetime.date(2024, 1, 2),
            "delta": datetime.timedelta(hours=3),
            "price": decimal.Decimal("19.99"),
            "ratio": fractions.Fraction(3, 7),
            "run": uuid.UUID(int=7),
        },
        "namespaces": {"args": _training_args(), "cfg": types.SimpleNamespace(dropout=0.1, layers=4)},
        "pure-paths": [
            pathlib.PurePosixPath("/data/train/part-0.parquet"),
            pathlib.PureWindowsPath("C:/models/run-3"),
            pathlib.PosixPath("/tmp/ckpt/epoch-7.pt"),
        ],
        "partial-over-numpy-clip": functools.partial(np.clip, a_min=0, a_max=1),
    }


def _ufunc_numpy1(p: int) -> bytes:
    """A FunctionTransformer(numpy.log1p) as NumPy 1.x pickled it: the ufunc rebuilt by name."""
    ufunc = call(g("numpy.core", "_ufunc_reconstruct", p), [s("numpy", p), s("log1p", p)])
    cls = g("sklearn.preprocessing._function_transformer", "FunctionTransformer", p)
    state = dict_of([(s("func", p), ufunc), (s("validate", p), b"\x89"), (s("kw_args", p), b"N")])
    return full(
        call(g("copyreg", "_reconstructor", p), [cls, g("builtins", "object", p), b"N"]) + state + b"b", p
    )


def _old_joblib_wrapper(filename: bytes, p: int = 2) -> bytes:
    """joblib < 0.10's placeholder for an array it wrote to a sibling ``.npy`` file."""
    cls = g("joblib.numpy_pickle", "NDArrayWrapper", p)
    obj = call(g("copyreg", "_reconstructor", p), [cls, g("builtins", "object", p), b"N"])
    state = [
        (s("filename", p), filename),
        (s("subclass", p), g("numpy", "ndarray", p)),
        (s("allow_mmap", p), b"\x88"),
    ]
    return obj + dict_of(state) + b"b"


def build_benign_shapes(root: Path) -> dict[str, Path]:
    """The benign real-world shapes, by file name."""
    import joblib

    root.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {}
    for name, obj in _sklearn_objects().items():
        files[f"sklearn-{name}.pkl"] = pickle.dumps(obj, protocol=5)
        files[f"sklearn-{name}-p2.pkl"] = pickle.dumps(obj, protocol=2)
        buf = io.BytesIO()
        joblib.dump(obj, buf, compress=3)
        files[f"sklearn-{name}-z3.joblib"] = buf.getvalue()
    files["sklearn-function-transformer-numpy1-ufunc.pkl"] = _ufunc_numpy1(2)
    for name, obj in _pandas_objects().items():
        files[f"pandas-{name}.pkl"] = pickle.dumps(obj, protocol=5)
    buf = io.BytesIO()
    joblib.dump(_pandas_objects()["frame"], buf)
    files["pandas-frame.joblib"] = buf.getvalue()
    for name, obj in _stdlib_values().items():
        files[f"stdlib-{name}-p2.pkl"] = pickle.dumps(obj, protocol=2)
        files[f"stdlib-{name}-p5.pkl"] = pickle.dumps(obj, protocol=5)
    files["stdlib-namespace-p0.pkl"] = pickle.dumps(_training_args(), protocol=0)
    files["stdlib-enum-p4.pkl"] = pickle.dumps([http.HTTPStatus.NOT_FOUND, http.HTTPMethod.POST], protocol=4)
    files["numpy-object-array-of-dicts.npy"] = _npy(np.array([{"a": 1}, {"b": [1, 2]}, None], dtype=object))
    files["numpy-scalars-and-dtypes.pkl"] = pickle.dumps(
        {"f": np.float32(1.5), "i": np.int64(3), "dt": np.dtype("<M8[ns]"), "s": np.zeros(2, "U3")},
        protocol=4,
    )
    p = 2
    files["torch-checkpoint-namespace.pt"] = _checkpoint([(s("args", p), body_of(_training_args()))])
    files["torch-checkpoint-config-paths.pt"] = _checkpoint(
        [
            (
                s("config", p),
                body_of({"out": pathlib.PurePosixPath("/ckpt"), "hidden": [64, 32], "act": "relu"}),
            )
        ]
    )
    model, storages = _state_dict()
    files["torch-state-dict-only.pt"] = torch_checkpoint(full(model, 2), storages)
    files["torch-legacy-checkpoint-namespace.pt"] = torch_legacy(
        full(dict_of([(s("state_dict", p), model), (s("args", p), body_of(_training_args()))]), 2),
        keys=list(storages),
        raw=b"".join(b"\x04" + b"\x00" * 7 + raw for raw in storages.values()),
    )
    for proto in (0, 1):  # joblib.dump(protocol=0/1) builds its array wrappers through copyreg
        buf = io.BytesIO()
        joblib.dump({"w": np.arange(16.0), "o": np.array([1, "a"], dtype=object)}, buf, protocol=proto)
        files[f"joblib-arrays-p{proto}.joblib"] = buf.getvalue()
    files["joblib-0.9-model.pkl"] = full(
        dict_of([(s("coef", p), _old_joblib_wrapper(s("joblib-0.9-model.pkl_01.npy", p)))]), p
    )
    files["joblib-0.9-model.pkl_01.npy"] = _npy(np.arange(4.0))
    files["torch-checkpoint-dataclass-config.pt"] = _checkpoint([(s("config", p), body_of(TrainConfig()))])
    for name, data in files.items():
        (root / name).write_bytes(data)
    return {path.name: path for path in sorted(root.iterdir())}


#: The benign files a scanner may flag: loading them imports the training code's own module.
EXPECTED_FLAGGED = frozenset({"torch-checkpoint-dataclass-config.pt"})


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


# -- malicious ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Payload:
    """One malicious file: its bytes and the global the scanner must name (None: any unsafe finding)."""

    data: bytes
    names: str | None


def _partial_of(func: bytes, *args: bytes, p: int = 2) -> bytes:
    return call(g("functools", "partial", p), [func, *args])


def _clip(p: int = 2) -> bytes:
    return g("numpy", "clip", p)


def _ufunc(module: bytes, name: bytes, p: int = 2) -> bytes:
    return call(g("numpy.core", "_ufunc_reconstruct", p), [module, name])


def _transformer(func: bytes, p: int = 2) -> bytes:
    """A FunctionTransformer whose ``func`` (called by ``transform``) is ``func``."""
    cls = g("sklearn.preprocessing._function_transformer", "FunctionTransformer", p)
    obj = call(g("copyreg", "_reconstructor", p), [cls, g("builtins", "object", p), b"N"])
    return obj + dict_of([(s("func", p), func), (s("validate", p), b"\x89")]) + b"b"


def _partial_state(state_func: bytes, p: int = 2) -> bytes:
    """partial(numpy.clip), then BUILD with a state that swaps the callable for ``state_func``."""
    return _partial_of(_clip(p)) + b"(" + state_func + b")NNt" + b"b"


def _join(*parts: str, p: int = 4) -> bytes:
    return call(g("builtins", "str.join", p), [s("", p), b"(" + b"".join(s(x, p) for x in parts) + b"l"])


def _malicious_bodies() -> dict[str, tuple[Callable[[int], bytes], tuple[int, ...], str | None]]:
    """name -> (body builder for a protocol, protocols, global the scanner must name)."""
    system = lambda p: g("os", "system", p)  # noqa: E731
    return {
        # the classic payloads, in the shapes of the benign set
        "partial-over-os-system": (
            lambda p: _partial_of(system(p), s("id", p), p=p) + b")R",
            (2, 4),
            "os.system",
        ),
        "partial-over-posix-system-in-transformer": (
            lambda p: _transformer(_partial_of(g("posix", "system", p), s("id", p), p=p), p),
            (2, 4),
            "posix.system",
        ),
        "transformer-func-subprocess": (
            lambda p: _transformer(g("subprocess", "getoutput", p), p),
            (2, 4),
            "subprocess.getoutput",
        ),
        "namespace-holding-eval-call": (
            lambda p: (
                call(g("argparse", "Namespace", p), [])
                + dict_of([(s("x", p), call(g("builtins", "eval", p), [s("1", p)]))])
                + b"b"
            ),
            (0, 2, 4),
            "builtins.eval",
        ),
        "exec-via-builtins": (
            lambda p: call(g("builtins", "exec", p), [s("print(1)", p)]),
            (0, 2, 4),
            "builtins.exec",
        ),
        "runpy": (lambda p: call(g("runpy", "run_path", p), [s("/tmp/x.py", p)]), (2, 4), "runpy.run_path"),
        "importlib": (
            lambda p: call(g("importlib", "import_module", p), [s("os", p)]),
            (2, 4),
            "importlib.import_module",
        ),
        "import-dunder": (
            lambda p: call(g("builtins", "__import__", p), [s("os", p)]),
            (2, 4),
            "builtins.__import__",
        ),
        "getattr-chain": (
            lambda p: call(
                call(
                    g("builtins", "getattr", p),
                    [call(g("builtins", "__import__", p), [s("os", p)]), s("system", p)],
                ),
                [s("id", p)],
            ),
            (2, 4),
            "builtins.getattr",
        ),
        "nested-pickle-loads": (
            lambda p: call(g("pickle", "loads", p), [b_(full(call(system(2), [s("id", 2)]), 2), p)]),
            (2, 4),
            "pickle.loads",
        ),
        "compile-code-object": (
            lambda p: call(g("builtins", "compile", p), [s("1", p), s("x", p), s("eval", p)]),
            (2, 4),
            "builtins.compile",
        ),
        "pty-spawn": (lambda p: call(g("pty", "spawn", p), [s("/bin/sh", p)]), (2,), "pty.spawn"),
        "socket-connect": (
            lambda p: call(g("socket", "create_connection", p), [s("x", p)]),
            (2,),
            "socket.create_connection",
        ),
        "webbrowser": (
            lambda p: call(g("webbrowser", "open", p), [s("http://x", p)]),
            (2,),
            "webbrowser.open",
        ),
        "nt-system": (lambda p: call(g("nt", "system", p), [s("calc", p)]), (2, 4), "nt.system"),
        "code-interact": (lambda p: call(g("code", "interact", p), []), (2,), "code.interact"),
        # functools.partial: every way around its rule
        "partial-over-partial": (
            lambda p: _partial_of(_partial_of(_clip(p), p=p), p=p),
            (2, 4),
            "functools.partial",
        ),
        "partial-over-getattr-result": (
            lambda p: _partial_of(
                call(g("builtins", "getattr", p), [g("numpy", "clip", p), s("__call__", p)]), p=p
            ),
            (2, 4),
            "builtins.getattr",
        ),
        "partial-over-unlisted-builtin": (
            lambda p: _partial_of(g("builtins", "print", p), p=p),
            (2, 4),
            "functools.partial",
        ),
        "partial-over-allowed-class": (
            lambda p: _partial_of(g("collections", "OrderedDict", p), p=p),
            (2, 4),
            "functools.partial",
        ),
        "partial-state-swaps-callable": (
            lambda p: _partial_state(g("builtins", "print", p), p),
            (2, 4),
            "functools.partial",
        ),
        "partial-state-not-literal": (
            lambda p: _partial_of(_clip(p)) + call(g("builtins", "tuple", p), [b"]"]) + b"b",
            (2, 4),
            "functools.partial",
        ),
        "partial-newobj": (
            lambda p: g("functools", "partial", p) + tup([g("builtins", "print", p)]) + b"\x81",
            (2, 4),
            "functools.partial",
        ),
        "partial-inst": (
            lambda p: b"(" + g("builtins", "print", 0) + b"ifunctools\npartial\n",
            (0,),
            "functools.partial",
        ),
        "partial-obj": (
            lambda p: b"(" + g("functools", "partial", p) + g("builtins", "print", p) + b"o",
            (0, 2),
            "functools.partial",
        ),
        "partial-as-data-in-transformer": (
            lambda p: _transformer(g("functools", "partial", p), p),
            (2, 4),
            "functools.partial",
        ),
        "partial-through-newobj-helper": (
            lambda p: call(
                g("copyreg", "__newobj__", p), [g("functools", "partial", p), g("builtins", "print", p)]
            ),
            (2, 4),
            "functools.partial",
        ),
        "partial-memo-reused-as-data": (
            lambda p: (
                b"("
                + g("functools", "partial", p)
                + b"q\x30"
                + tup([_clip(p)])
                + b"R"
                + _transformer(b"h\x30", p)
                + b"t"
            ),
            (2,),
            "functools.partial",
        ),
        "partial-dup-left-behind": (
            lambda p: g("functools", "partial", p) + b"2" + tup([_clip(p)]) + b"R" + b"\x86",
            (2, 4),
            "functools.partial",
        ),
        "partial-spelt-functools-c-module": (
            lambda p: call(g("_functools", "partial", p), [g("builtins", "print", p)]),
            (2, 4),
            "_functools.partial",
        ),
        "partial-computed-module-name": (
            lambda p: _join("functo", "ols", p=p) + s("partial", p) + b"\x93" + tup([_clip(p)]) + b"R",
            (4,),
            None,
        ),
        # NumPy's _ufunc_reconstruct imports by name
        "ufunc-reconstruct-os-system": (
            lambda p: call(_ufunc(s("os", p), s("system", p), p), [s("id", p)]),
            (2, 4),
            "os.system",
        ),
        "ufunc-reconstruct-in-transformer": (
            lambda p: _transformer(_ufunc(s("posix", p), s("system", p), p), p),
            (2, 4),
            "posix.system",
        ),
        "ufunc-reconstruct-partial": (
            lambda p: call(_ufunc(s("functools", p), s("partial", p), p), [g("builtins", "print", p)]),
            (2, 4),
            "functools.partial",
        ),
        "ufunc-reconstruct-computed-name": (
            lambda p: _ufunc(_join("o", "s", p=p), s("system", p), p),
            (4,),
            "numpy.core._ufunc_reconstruct",
        ),
        "ufunc-reconstruct-path-object-name": (
            lambda p: _ufunc(call(g("pathlib", "PurePosixPath", p), [s("os", p)]), s("system", p), p),
            (2, 4),
            "numpy.core._ufunc_reconstruct",
        ),
        # path objects and http enums are data; nothing else of their modules is
        "path-argument-to-rmtree": (
            lambda p: call(g("shutil", "rmtree", p), [call(g("pathlib", "PosixPath", p), [s("/", p)])]),
            (2, 4),
            "shutil.rmtree",
        ),
        "path-argument-to-open": (
            lambda p: call(
                g("builtins", "open", p), [call(g("pathlib", "PurePosixPath", p), [s("/etc/passwd", p)])]
            ),
            (2, 4),
            "builtins.open",
        ),
        "path-method-write-text": (
            lambda p: call(
                g("pathlib", "Path.write_text", p),
                [call(g("pathlib", "Path", p), [s("/tmp/x", p)]), s("pwned", p)],
            ),
            (4,),
            "pathlib.Path.write_text",
        ),
        "path-module-os-attribute": (
            lambda p: call(g("pathlib", "os.system", p), [s("id", p)]),
            (4,),
            "pathlib.os.system",
        ),
        "http-client": (
            lambda p: call(g("http.client", "HTTPConnection", p), [s("x", p)]),
            (2, 4),
            "http.client.HTTPConnection",
        ),
        "http-status-dunder": (
            lambda p: g("http", "HTTPStatus.__class__", p) + b")R",
            (4,),
            "http.HTTPStatus.__class__",
        ),
        # joblib < 0.10 loads a sibling .npy with pickle allowed: the name must stay beside the pickle
        "old-joblib-wrapper-traversal": (
            lambda p: _old_joblib_wrapper(s("../../uploads/evil.npy", p), p),
            (2, 4),
            "joblib.numpy_pickle.NDArrayWrapper",
        ),
        "old-joblib-wrapper-absolute-path": (
            lambda p: _old_joblib_wrapper(s("/tmp/evil.npy", p), p),
            (2,),
            "joblib.numpy_pickle.NDArrayWrapper",
        ),
        "old-joblib-wrapper-path-object": (
            lambda p: _old_joblib_wrapper(call(g("pathlib", "PurePosixPath", p), [s("/tmp/evil.npy", p)]), p),
            (2,),
            "joblib.numpy_pickle.NDArrayWrapper",
        ),
        "old-joblib-wrapper-constructor-path": (
            lambda p: call(
                g("joblib.numpy_pickle", "NDArrayWrapper", p),
                [s("/tmp/evil.npy", p), g("numpy", "ndarray", p)],
            ),
            (2, 4),
            "joblib.numpy_pickle.NDArrayWrapper",
        ),
        "old-joblib-wrapper-reconstructor-base": (
            lambda p: call(
                g("copyreg", "_reconstructor", p),
                [
                    g("joblib.numpy_pickle", "NDArrayWrapper", p),
                    g("joblib.numpy_pickle", "NDArrayWrapper", p),
                    s("/tmp/evil.npy", p),
                ],
            ),
            (0, 2),
            "joblib.numpy_pickle.NDArrayWrapper",
        ),
        # value types over lazy dangerous calls
        "set-over-map-of-eval": (
            lambda p: call(
                g("builtins", "set", p),
                [call(g("builtins", "map", p), [g("builtins", "eval", p), b"(" + s("1", p) + b"l"])],
            ),
            (2, 4),
            "builtins.eval",
        ),
        "frozenset-over-map-of-posix-system": (
            lambda p: call(
                g("builtins", "frozenset", p),
                [call(g("builtins", "map", p), [g("posix", "system", p), b"(" + s("id", p) + b"l"])],
            ),
            (2,),
            "posix.system",
        ),
        "namespace-setstate-gadget": (
            lambda p: (
                call(g("argparse", "Namespace", p), [])
                + dict_of([(s("__setstate__", p), g("builtins", "print", p))])
                + b"b"
                + s("x", p)
                + b"b"
            ),
            (2,),
            None,
        ),
    }


#: How each payload is carried: a real file format around the payload value.
CARRIERS: dict[str, Callable[[bytes, int], bytes]] = {
    "pickle": lambda body, p: full(body, p),
    "joblib": lambda body, p: joblib_with(body),
    "joblib-z3": lambda body, p: zlib.compress(joblib_with(body), 3),
    "torch-zip": lambda body, p: torch_checkpoint(
        full(dict_of([(s("epoch", max(p, 2)), i(1, 2)), (s("args", max(p, 2)), body)]), max(p, 2)), {}
    ),
    "npy-object": lambda body, p: npy_object(full(body, max(p, 2))),
}


def build_malicious_shapes(root: Path) -> dict[str, tuple[Path, str | None]]:
    """Every payload in each of its protocols and every carrier: file name -> (path, global to name)."""
    root.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, (body, protocols, names) in _malicious_bodies().items():
        for p in protocols:
            for carrier, wrap in CARRIERS.items():
                if p == 0 and carrier != "pickle":
                    continue  # protocol 0 opcodes (INST ...) inside protocol-2 carriers would not parse alike
                path = root / f"{name}-p{p}-{carrier}.bin"
                path.write_bytes(wrap(body(p), p))
                out[path.name] = (path, names)
    return out
