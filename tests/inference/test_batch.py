"""Batch scoring: the same verified model and data plane as serving, bad rows set aside, atomic output."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from loopml.errors import IntegrityError, InvalidInput, InvalidState
from loopml.inference.batch import BatchScorer
from loopml.inference.predict import predict, score_table
from tests.inference.conftest import Models, write_partitions
from tests.serving.conftest import NUMERIC_COLUMNS


def _scored(out: Path) -> pa.Table:
    return ds.dataset(out, format="parquet", partitioning="hive").to_table().sort_by("id")


def test_scores_match_the_model_and_bad_rows_go_aside(
    models: Models, numeric_input: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    report = predict(
        "models:/numeric@champion",
        numeric_input,
        out=out,
        registry=models.registry,
        max_workers=1,
        batch_rows=64,
    )
    assert (report.rows_in, report.rows_scored, report.rows_rejected, report.partitions) == (200, 198, 2, 2)
    assert sorted(p.relative_to(out).as_posix() for p in out.glob("year=*/part-0.parquet")) == [
        "year=2015/part-0.parquet",
        "year=2016/part-0.parquet",
    ]
    table = _scored(out)
    ids = table.column("id").to_numpy()
    assert 7 not in ids and 150 not in ids
    expected = models.numeric.predict_proba(models.numeric_x[ids])
    np.testing.assert_allclose(table.column("score_1").to_numpy(), expected[:, 1])
    np.testing.assert_array_equal(table.column("prediction").to_numpy(), expected.argmax(axis=1))
    rejected = ds.dataset(out / "_rejected", format="parquet").to_table().to_pylist()
    assert sorted(json.loads(r["values"])["id"] for r in rejected) == [7, 150]
    assert all("infinite values are not allowed" in r["reason"] for r in rejected)
    stats = json.loads((out / "_statistics" / "predictions.json").read_text())
    assert stats["num_examples"] == 198
    assert json.loads((out / "_statistics" / "inputs.json").read_text())["num_examples"] == 200


def test_process_pool_gives_the_same_output_as_one_process(
    models: Models, numeric_input: Path, tmp_path: Path
) -> None:
    one = predict(
        "models:/numeric/1", numeric_input, out=tmp_path / "one", registry=models.registry, max_workers=1
    )
    pool = predict(
        "models:/numeric/1", numeric_input, out=tmp_path / "pool", registry=models.registry, max_workers=2
    )
    assert one.rows_scored == pool.rows_scored
    assert _scored(tmp_path / "one").equals(_scored(tmp_path / "pool"))


def test_record_batches_are_bounded_by_batch_rows(
    models: Models, numeric_input: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    score = BatchScorer.score

    def spy(self: BatchScorer, batch: pa.RecordBatch, *, offset: int = 0) -> object:
        seen.append(batch.num_rows)
        return score(self, batch, offset=offset)

    monkeypatch.setattr(BatchScorer, "score", spy)
    predict(
        "models:/numeric@champion",
        numeric_input,
        out=tmp_path / "o",
        registry=models.registry,
        max_workers=1,
        batch_rows=16,
    )
    assert sum(seen) == 200 and max(seen) <= 16


def test_csv_blocks_are_gathered_into_batches_of_batch_rows(
    models: Models, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the CSV reader yields ~1 MiB blocks (about 8,000 of these rows): scored one by one, a large
    # file paid the model's per-call cost hundreds of times
    x = np.tile(models.numeric_x, (150, 1))
    src = tmp_path / "rows.csv"
    pa.csv.write_csv(pa.table({n: x[:, j] for j, n in enumerate(NUMERIC_COLUMNS)}), src)
    assert src.stat().st_size > 2 * (1 << 20)
    seen: list[int] = []
    score = BatchScorer.score

    def spy(self: BatchScorer, batch: pa.RecordBatch, *, offset: int = 0) -> object:
        seen.append(batch.num_rows)
        return score(self, batch, offset=offset)

    monkeypatch.setattr(BatchScorer, "score", spy)
    report = predict(
        "models:/numeric@champion", src, out=tmp_path / "o", registry=models.registry, batch_rows=7_000
    )
    assert seen == [7_000] * 4 + [2_000] and report.rows_scored == 30_000
    scored = pq.read_table(tmp_path / "o" / "rows.parquet")
    np.testing.assert_allclose(scored.column("score_1").to_numpy(), models.numeric.predict_proba(x)[:, 1])


def test_string_column_model_and_csv_output(models: Models, tmp_path: Path) -> None:
    frame = models.mixed_frame.copy()
    src = tmp_path / "mixed.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), src)
    report = predict(
        "models:/mixed@champion",
        src,
        out=tmp_path / "o",
        registry=models.registry,
        out_format="csv",
        outputs=("label",),
        keep=("city",),
    )
    assert report.rows_scored == len(frame)
    out = pa.csv.read_csv(tmp_path / "o" / "mixed.csv")
    assert out.column_names == ["city", "prediction"]
    expected = models.mixed.predict(models.mixed_transform.transform(frame))
    assert out.column("prediction").to_pylist() == list(expected)


def test_in_memory_table(models: Models) -> None:
    x = models.numeric_x[:5]
    table = pa.table({n: x[:, i] for i, n in enumerate("abcd")})
    scored, rejected = score_table("models:/numeric@champion", table, registry=models.registry)
    np.testing.assert_allclose(scored.column("score_0").to_numpy(), models.numeric.predict_proba(x)[:, 0])
    assert rejected.num_rows == 0


def _no_leftovers(parent: Path, name: str) -> None:
    assert not (parent / name).exists()
    assert [p.name for p in parent.iterdir() if p.name.startswith(f".{name}.")] == []


def test_schema_mismatch_names_the_column_and_writes_nothing(models: Models, tmp_path: Path) -> None:
    src = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"a": [1.0], "b": [2.0], "c": [3.0]}), src)
    with pytest.raises(InvalidInput, match=r"lacks the model input column\(s\) \['d'\]"):
        predict("models:/numeric@champion", src, out=tmp_path / "o", registry=models.registry)
    _no_leftovers(tmp_path, "o")
    pq.write_table(pa.table({"a": [1.0], "b": [2.0], "c": [3.0], "d": ["x"]}), src)
    with pytest.raises(InvalidInput, match=r"column 'd' is string, but the model's signature takes double"):
        predict("models:/numeric@champion", src, out=tmp_path / "o", registry=models.registry)
    _no_leftovers(tmp_path, "o")


def test_missing_input_existing_output_and_fail_on_bad_rows(
    models: Models, numeric_input: Path, tmp_path: Path
) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        predict("models:/numeric@champion", tmp_path / "nope", out=tmp_path / "o", registry=models.registry)
    (tmp_path / "o").mkdir()
    with pytest.raises(InvalidInput, match="already exists; pass --overwrite"):
        predict("models:/numeric@champion", numeric_input, out=tmp_path / "o", registry=models.registry)
    with pytest.raises(InvalidInput, match="row 7 was refused"):
        predict(
            "models:/numeric@champion",
            numeric_input,
            out=tmp_path / "o",
            registry=models.registry,
            overwrite=True,
            fail_on_bad_rows=True,
            max_workers=1,
        )
    assert list((tmp_path / "o").iterdir()) == []  # the old output is untouched
    predict(
        "models:/numeric@champion",
        numeric_input,
        out=tmp_path / "o",
        registry=models.registry,
        overwrite=True,
        max_workers=1,
    )
    assert (tmp_path / "o" / "_predict.json").exists()


def test_tampered_package_is_refused(models: Models, tmp_path: Path) -> None:
    import shutil

    from loopml.registry import ColumnSpec, ModelSignature, package_model

    signature = ModelSignature(inputs=tuple(ColumnSpec(name=n, type="double") for n in "abcd"))
    pkg = package_model(models.numeric, tmp_path / "pkg", signature=signature)
    shutil.copy(pkg.path / "model.yaml", tmp_path / "keep.yaml")
    model_file = next(
        p
        for p in pkg.path.rglob("*")
        if p.is_file()
        and p.name not in {"model.yaml", "MANIFEST.json"}
        and p.suffix not in {".yaml", ".json", ".txt"}
    )
    model_file.write_bytes(model_file.read_bytes() + b"x")
    src = write_partitions(tmp_path / "in", models.numeric_x)
    with pytest.raises(IntegrityError):
        predict(str(pkg.path), src, out=tmp_path / "o")
    _no_leftovers(tmp_path, "o")


@pytest.mark.slow
def test_a_killed_worker_fails_cleanly_and_a_rerun_works(models: Models, tmp_path: Path) -> None:
    import psutil

    x = np.random.default_rng(0).normal(size=(400_000, 4))
    src = write_partitions(tmp_path / "in", x, parts=4)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            predict(
                "models:/numeric@champion",
                src,
                out=tmp_path / "o",
                registry=models.registry,
                max_workers=2,
                batch_rows=250,
            )
        except BaseException as err:
            errors.append(err)

    thread = threading.Thread(target=run)
    thread.start()
    me, deadline = psutil.Process(os.getpid()), time.monotonic() + 120
    while thread.is_alive() and time.monotonic() < deadline:
        # workers fork from the pool's fork server, a child of this process (Ray's may run beside it)
        servers = [c for c in me.children() if "forkserver" in " ".join(c.cmdline())]
        children = [w for server in servers for w in server.children()]
        if children:
            time.sleep(0.2)  # the workers are scoring: the run takes seconds
            children[0].kill()
            break
        time.sleep(0.05)
    thread.join(180)
    assert errors and isinstance(errors[0], InvalidState), errors
    assert "worker process died" in str(errors[0])
    _no_leftovers(tmp_path, "o")
    report = predict(
        "models:/numeric@champion", src, out=tmp_path / "o", registry=models.registry, max_workers=1
    )
    assert report.rows_scored == 400_000


@pytest.mark.ray
def test_ray_engine_matches_local(
    ray_cluster: None, models: Models, numeric_input: Path, tmp_path: Path
) -> None:
    local = predict(
        "models:/numeric/1", numeric_input, out=tmp_path / "local", registry=models.registry, max_workers=1
    )
    on_ray = predict(
        "models:/numeric/1", numeric_input, out=tmp_path / "ray", registry=models.registry, engine="ray"
    )
    assert (on_ray.rows_scored, on_ray.rows_rejected) == (local.rows_scored, local.rows_rejected) == (198, 2)
    assert _scored(tmp_path / "local").equals(_scored(tmp_path / "ray"))
    src = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"a": [1.0], "b": [2.0], "c": [3.0]}), src)
    with pytest.raises(InvalidInput, match=r"\['d'\]"):
        predict("models:/numeric/1", src, out=tmp_path / "o", registry=models.registry, engine="ray")
    _no_leftovers(tmp_path, "o")
