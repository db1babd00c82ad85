"""The allowlist tables of the scanner's policy: exact ``module.name`` globals, by what they do.

Data tables only; :mod:`loopml.security.scan.policy` decides with them. Every entry is one exact
symbol: nothing here allows a package family.
"""

from __future__ import annotations


def _names(text: str) -> list[str]:
    return text.split()


#: Value types whose module also holds code-running or I/O functions (``http``, ``pathlib``): only
#: these exact classes are data; every other name of those modules stays denied. Building one runs
#: no I/O: a path object is a tuple of strings until a method is called, and no method can be
#: called while unpickling without ``getattr`` (denied).
VALUE_TYPES_IN_DENIED_FAMILIES: frozenset[str] = frozenset(
    {
        "http.HTTPStatus",
        "http.HTTPMethod",
        *(
            f"{module}.{cls}"
            for module in ("pathlib", "pathlib._local")  # 3.13 moved the classes to pathlib._local
            for cls in ("PurePath", "PurePosixPath", "PureWindowsPath", "Path", "PosixPath", "WindowsPath")
        ),
    }
)

#: Plain functions that compute on their arguments and never call back into them, import or do
#: I/O: safe as a *reference* inside data (``FunctionTransformer(func=numpy.log1p)``, a scorer's
#: metric, the callable of an allowed ``functools.partial``). A stream never calls them while it
#: loads, so a call to one from the stream is reported (see ``policy.CallRule.REFERENCE``).
_NUMPY_UFUNCS = _names(
    "abs absolute fabs sign negative positive reciprocal square sqrt cbrt exp exp2 expm1 log log2 "
    "log10 log1p sin cos tan arcsin arccos arctan sinh cosh tanh arcsinh arccosh arctanh deg2rad "
    "rad2deg degrees radians floor ceil trunc rint add subtract multiply divide true_divide "
    "floor_divide power float_power maximum minimum fmax fmin hypot arctan2 logaddexp logaddexp2 "
    "mod fmod remainder isnan isinf isfinite signbit"
)
_NUMPY_FUNCTIONS = _names(
    "clip round around nan_to_num sum mean median std var amin amax min max cumsum cumprod prod "
    "nansum nanmean nanmedian nanstd nanvar nanmin nanmax argmax argmin sort argsort"
)
_SKLEARN_METRICS = {
    "sklearn.metrics._classification": _names(
        "accuracy_score balanced_accuracy_score f1_score fbeta_score precision_score recall_score "
        "log_loss matthews_corrcoef brier_score_loss jaccard_score"
    ),
    "sklearn.metrics._ranking": _names("roc_auc_score average_precision_score top_k_accuracy_score"),
    "sklearn.metrics._regression": _names(
        "mean_squared_error mean_absolute_error r2_score median_absolute_error explained_variance_score "
        "mean_absolute_percentage_error mean_squared_log_error root_mean_squared_error"
    ),
}
CALLABLE_REFERENCES: frozenset[str] = frozenset(
    {
        *(
            f"{module}.{name}"
            for module in ("numpy", "numpy.core.umath", "numpy._core.umath")
            for name in _NUMPY_UFUNCS
        ),
        *(f"numpy.{name}" for name in _NUMPY_FUNCTIONS),
        *(f"{module}.{name}" for module, names in _SKLEARN_METRICS.items() for name in names),
    }
)

#: pandas objects (DataFrame, Series, indexes, extension arrays, dtypes, scalars) as pandas 2.x
#: pickles them, with the reconstruction helpers it names. Not ``pandas.io`` (HDFStore, readers).
_PANDAS_PUBLIC = _names(
    "DataFrame Series Index RangeIndex MultiIndex DatetimeIndex TimedeltaIndex PeriodIndex "
    "CategoricalIndex IntervalIndex Categorical CategoricalDtype DatetimeTZDtype PeriodDtype "
    "IntervalDtype SparseDtype StringDtype BooleanDtype Int8Dtype Int16Dtype Int32Dtype Int64Dtype "
    "UInt8Dtype UInt16Dtype UInt32Dtype UInt64Dtype Float32Dtype Float64Dtype Timestamp Timedelta "
    "Period Interval NA NaT"
)
_PANDAS_ARRAYS = _names(
    "DatetimeArray TimedeltaArray PeriodArray IntervalArray IntegerArray FloatingArray BooleanArray "
    "StringArray ArrowStringArray SparseArray NumpyExtensionArray ArrowExtensionArray"
)
_PANDAS_OFFSETS = _names(
    "Day Hour Minute Second Milli Micro Nano Week MonthEnd MonthBegin QuarterEnd QuarterBegin YearEnd "
    "YearBegin BusinessDay BusinessHour BusinessMonthEnd BusinessMonthBegin DateOffset Tick"
)
PANDAS: frozenset[str] = frozenset(
    {
        *(f"pandas.{n}" for n in _PANDAS_PUBLIC),
        *(f"pandas.arrays.{n}" for n in _PANDAS_ARRAYS),
        *(f"pandas._libs.tslibs.offsets.{n}" for n in _PANDAS_OFFSETS),
        "pandas.core.frame.DataFrame",
        "pandas.core.series.Series",
        "pandas.core.internals.managers.BlockManager",
        "pandas.core.internals.managers.SingleBlockManager",
        "pandas._libs.internals._unpickle_block",
        "pandas._libs.arrays.__pyx_unpickle_NDArrayBacked",
        "pandas.core.indexes.base._new_Index",
        "pandas.core.indexes.base.Index",
        "pandas.core.indexes.range.RangeIndex",
        "pandas.core.indexes.multi.MultiIndex",
        "pandas.core.indexes.datetimes._new_DatetimeIndex",
        "pandas.core.indexes.datetimes.DatetimeIndex",
        "pandas.core.indexes.period._new_PeriodIndex",
        "pandas.core.arrays.categorical.Categorical",
        "pandas.core.dtypes.dtypes.CategoricalDtype",
        "pandas.core.dtypes.dtypes.DatetimeTZDtype",
        "pandas._libs.tslibs.timestamps._unpickle_timestamp",
        "pandas._libs.tslibs.timestamps.Timestamp",
        "pandas._libs.tslibs.timedeltas._timedelta_unpickle",
        "pandas._libs.tslibs.timedeltas.Timedelta",
        "pandas._libs.tslibs.nattype._nat_unpickle",
        "pandas._libs.missing.NAType",
        "pandas._libs.missing.NA",
        "pandas._libs.tslibs.nattype.__nat_unpickle",
        "pandas._libs.tslibs.period.Period",
        "pandas._libs.interval.Interval",
        "pandas._libs.interval.__pyx_unpickle_IntervalMixin",
        "pandas._libs.sparse.IntIndex",
        "pandas._libs.sparse.BlockIndex",
        "pandas.core.indexes.interval._new_IntervalIndex",
        "pandas.core.indexes.timedeltas._new_TimedeltaIndex",
        # pandas 2.x spells its classes by their defining modules
        *(
            f"pandas.core.{path}"
            for path in _names(
                "arrays.datetimes.DatetimeArray arrays.timedeltas.TimedeltaArray arrays.period.PeriodArray "
                "arrays.interval.IntervalArray arrays.integer.IntegerArray arrays.floating.FloatingArray "
                "arrays.boolean.BooleanArray arrays.string_.StringArray arrays.string_arrow.ArrowStringArray "
                "arrays.sparse.array.SparseArray arrays.numpy_.NumpyExtensionArray "
                "arrays.boolean.BooleanDtype arrays.string_.StringDtype arrays.floating.Float32Dtype "
                "arrays.floating.Float64Dtype arrays.integer.Int8Dtype arrays.integer.Int16Dtype "
                "arrays.integer.Int32Dtype arrays.integer.Int64Dtype arrays.integer.UInt8Dtype "
                "arrays.integer.UInt16Dtype arrays.integer.UInt32Dtype arrays.integer.UInt64Dtype "
                "dtypes.dtypes.PeriodDtype dtypes.dtypes.IntervalDtype dtypes.dtypes.SparseDtype "
                "indexes.category.CategoricalIndex indexes.interval.IntervalIndex indexes.period.PeriodIndex "
                "indexes.timedeltas.TimedeltaIndex"
            )
        ),
        # pytz time zones, rebuilt by name from its bundled database (names are checked against it)
        "pytz._p",
        "pytz._UTC",
        # Arrow-backed string columns (pandas 3 default): rebuilt from buffers by name and bytes
        "pyarrow.lib._restore_array",
        "pyarrow.lib.type_for_alias",
        "pyarrow.lib.py_buffer",
    }
)

#: Exact ``module.name`` globals that only rebuild data.
ALLOWED_GLOBALS: frozenset[str] = frozenset(
    {
        *VALUE_TYPES_IN_DENIED_FAMILIES,
        *PANDAS,
        *CALLABLE_REFERENCES,
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
        # plain attribute bags (training configs, CLI arguments)
        "argparse.Namespace",
        "types.SimpleNamespace",
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
        "numpy.ma.MaskedArray",
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
        "joblib.numpy_pickle.NDArrayWrapper",  # joblib < 0.10: an array in a sibling .npy file
        "joblib.numpy_pickle_compat.NDArrayWrapper",
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
