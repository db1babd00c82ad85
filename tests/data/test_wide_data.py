"""Wide data (thousands of columns): the chunked CSV reader and the per-slab numeric kernels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from loopml.data import StatisticsAccumulator, _numeric, _wide_csv, compute_statistics
from loopml.data._numeric import NumericAccumulator
from loopml.data.sources import open_source


def _wide_table(columns: int, rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    arrays: dict[str, pa.Array] = {}
    for i in range(columns):
        kind = i % 5
        if kind == 0:
            arrays[f"f{i}"] = pa.array(rng.normal(size=rows).round(3))
        elif kind == 1:
            arrays[f"i{i}"] = pa.array(rng.integers(-50, 50, rows))
        elif kind == 2:
            values = rng.normal(size=rows)
            values[rng.random(rows) < 0.05] = np.inf
            arrays[f"x{i}"] = pa.array(values, mask=rng.random(rows) < 0.1)  # nulls and ±inf
        elif kind == 3:
            arrays[f"s{i}"] = pa.array(np.char.add("v", rng.integers(0, 30, rows).astype(str)))
        else:
            arrays[f"b{i}"] = pa.array(rng.random(rows) < 0.5)
    return pa.table(arrays)


def _write_wide_csv(path: Path, columns: int = 3_000, rows: int = 200, seed: int = 3) -> pa.Table:
    table = _wide_table(columns, rows, seed)
    pacsv.write_csv(table, path)
    return table


def test_wide_csv_is_read_in_row_chunks_with_every_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "wide.csv"
    _write_wide_csv(path)
    chunks: list[int] = []
    real = _wide_csv._row_chunks

    def spy(*args: object, **kwargs: object) -> object:
        for chunk in real(*args, **kwargs):  # type: ignore[arg-type]
            chunks.append(len(chunk))
            yield chunk

    monkeypatch.setattr(_wide_csv, "_row_chunks", spy)
    source = open_source(path)
    batches = list(source.units[0].batches())
    assert len(chunks) > 1  # the file is larger than one chunk: several chunks, cut at newlines
    expected = pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            column_types={f.name: f.type for f in source.schema}, strings_can_be_null=True
        ),
    )
    got = pa.Table.from_batches(batches).combine_chunks()
    assert got.equals(expected.combine_chunks())


def test_narrow_csv_keeps_the_streaming_reader(tmp_path: Path) -> None:
    head = b"a,b\n" + b"1,2\n" * 300_000
    assert not _wide_csv.is_wide(head[: 1 << 20], pacsv.ParseOptions())
    assert not _wide_csv.is_wide((b"9" * 8_000 + b"\n") * 200, pacsv.ParseOptions())
    assert _wide_csv.is_wide((b"9" * 20_000 + b"\n") * 60, pacsv.ParseOptions())
    assert not _wide_csv.is_wide((b"9" * 20_000 + b"\n") * 60, pacsv.ParseOptions(newlines_in_values=True))


def test_wide_csv_statistics_match_the_same_table_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    _write_wide_csv(path, columns=3_000, rows=150, seed=5)
    from_csv = compute_statistics(path)
    source = open_source(path)
    table = pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            column_types={f.name: f.type for f in source.schema}, strings_can_be_null=True
        ),
    )
    in_memory = compute_statistics(table)
    assert [f.name for f in from_csv.features] == table.column_names
    for a, b in zip(from_csv.features, in_memory.features, strict=True):
        if a.num_stats is None:
            assert a == b
            continue
        assert b.num_stats is not None
        # batches differ (chunks vs one table): moments agree to rounding, everything else exactly
        assert a.num_stats.mean == pytest.approx(b.num_stats.mean, rel=1e-12, abs=1e-15)
        assert a.num_stats.std_dev == pytest.approx(b.num_stats.std_dev, rel=1e-12)
        for field in ("min", "max", "median", "quantiles", "histograms", "sketch", "num_zeros", "num_nan"):
            assert getattr(a.num_stats, field) == getattr(b.num_stats, field), (a.name, field)
        assert (a.num_missing, a.num_non_missing) == (b.num_missing, b.num_non_missing)


@pytest.mark.parametrize("seed", range(4))
def test_update_columns_gives_the_bits_of_one_update_per_column(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = int(rng.integers(1, _numeric.SLAB_ROWS))
    arrays: list[pa.Array] = []
    for i in range(40):
        values = rng.normal(size=rows) * 10.0 ** float(rng.integers(-6, 6))
        if i % 7 == 3:
            values[rng.integers(0, rows)] = [np.nan, np.inf, -np.inf][i % 3]
        if i % 5 == 0:
            values[: rows // 2] = -0.0
        arrays.append(pa.array(values.astype(np.float32) if i % 4 == 1 else values))
        if i % 6 == 2:
            arrays[-1] = pa.array(rng.integers(-(2**40), 2**40, rows))
        if i % 9 == 4:  # small integers, buffered as int8 / int16 / int32
            arrays[-1] = pa.array(rng.integers(-(10 ** (i % 4 + 1)), 10 ** (i % 4 + 1), rows))
    each = [NumericAccumulator() for _ in arrays]
    together = [NumericAccumulator() for _ in arrays]
    for _ in range(2):  # two batches: the merge of moments is exercised too
        for acc, array in zip(each, arrays, strict=True):
            acc.update(array)
        _numeric.update_columns(together, arrays)
    for a, b in zip(each, together, strict=True):
        assert a.result() == b.result()


def test_consuming_result_frees_features_and_gives_the_same_statistics() -> None:
    table = _wide_table(200, 500, seed=9)
    kept, consumed = StatisticsAccumulator(), StatisticsAccumulator()
    for batch in table.to_batches(max_chunksize=120):
        kept.update(batch)
        consumed.update(batch)
    first = kept.result()
    assert kept.result() == first  # a plain result leaves the accumulator as it was
    assert consumed.result(consume=True) == first
    assert consumed.result().features == ()


def test_narrowest_rows_gives_every_row_back_exactly_in_its_narrowest_dtype() -> None:
    rng = np.random.default_rng(8)
    rows = [
        rng.integers(-128, 128, 50).astype(np.float64),
        rng.integers(-30_000, 30_000, 50).astype(np.float64),
        rng.integers(-(2**31), 2**31, 50).astype(np.float64),
        rng.integers(0, 2**40, 50).astype(np.float64),  # integers past int32: float64
        rng.normal(size=50).astype(np.float32).astype(np.float64),
        rng.normal(size=50),
        np.r_[0.5, rng.normal(size=49)],  # the first value passes the float32 check, the rest do not
        np.r_[3.0, np.full(49, 0.25)],  # the first value looks like an integer, the rest do not
        rng.integers(-5, 5, 50).astype(np.float64),
    ]
    values = np.stack(rows)
    kept = _numeric.narrowest_rows(values, values.min(axis=1), values.max(axis=1))
    dtypes = [k.dtype.name for k in kept]
    assert dtypes == ["int8", "int16", "int32", "float64", "float32", "float64", "float64", "float32", "int8"]
    for row, narrow in zip(rows, kept, strict=True):
        assert narrow.astype(np.float64).tobytes() == row.tobytes()
    assert kept[0].base is kept[8].base  # rows of one dtype share one block


def test_slab_values_stay_buffered_in_blocks_and_are_copied_when_a_column_gets_nulls() -> None:
    rows = 100
    accs = [NumericAccumulator() for _ in range(6)]
    arrays = [pa.array(np.arange(rows) % (i + 2)) for i in range(6)]
    _numeric.update_columns(accs, arrays)
    borrowed = [acc.summary._borrowed for acc in accs]
    assert all(len(b) == 1 and b[0].dtype == np.int8 for b in borrowed)
    assert borrowed[0][0].base is borrowed[5][0].base  # one int8 block for the slab
    accs[0].update(pa.array([1, None] * 50))  # nulls: the column leaves the slab and copies its view
    assert accs[0].summary._borrowed == []
    reference = NumericAccumulator()
    reference.update(arrays[0])
    reference.update(pa.array([1, None] * 50))
    assert accs[0].result() == reference.result()


def test_string_batches_are_counted_every_few_arrays_with_the_same_statistics(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from loopml.data import _categorical
    from loopml.data._categorical import CategoricalAccumulator

    rng = np.random.default_rng(2)
    batches = [pa.array(np.char.add("v", rng.integers(0, 40, 100).astype(str))) for _ in range(11)]
    monkeypatch.setattr(_categorical, "RAW_ARRAYS", 1 << 30)
    buffered = CategoricalAccumulator()
    for array in batches:
        buffered.update(array)
    assert len(buffered._raw) == 11
    monkeypatch.setattr(_categorical, "RAW_ARRAYS", 4)
    counted = CategoricalAccumulator()
    for array in batches:
        counted.update(array)
        assert len(counted._raw) < 4  # never more arrays buffered than the bound
    assert counted.result() == buffered.result()
