"""``loopml predict``: batch scoring from the command line, recorded as a tracked run with lineage."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from loopml.config import Settings
from loopml.data.versions import DatasetVersions
from loopml.registry import ColumnSpec, ModelSignature, package_model
from loopml.services import Services
from loopml.tracking import Client
from tests.cli.conftest import Invoke
from tests.inference.conftest import write_partitions
from tests.serving.conftest import Models, models

__all__ = ["models"]

_SIGNATURE = ModelSignature(inputs=tuple(ColumnSpec(name=n, type="double") for n in "abcd"))


@pytest.fixture
def registered(models: Models, home: Path, tmp_path: Path) -> Path:
    with Services(Settings(home=home)) as services:
        services.registry.register(
            package_model(models.numeric, tmp_path / "pkg", signature=_SIGNATURE), "clf"
        )
    return write_partitions(tmp_path / "in", models.numeric_x, bad_rows=(3,))


def test_predict_writes_output_and_records_the_run(
    invoke: Invoke, registered: Path, home: Path, tmp_path: Path
) -> None:
    out = tmp_path / "scored"
    result = invoke("predict", "models:/clf/1", str(registered), "--out", str(out), "--workers", "1")
    assert result.code == 0, result.err
    assert "Scored 199 of 200 rows in 2 partition(s)" in result.out
    assert "Rejected 1 row(s)" in result.err and "infinite values" in result.err
    assert ds.dataset(out, format="parquet", partitioning="hive").count_rows() == 199
    client = Client(Settings(home=home))
    (run,) = client.search_runs("batch-inference").items
    assert run.params["model_version"] == "1" and run.params["model_name"] == "clf"
    assert run.metrics["rows_rejected"] == 1 and run.metrics["rows_scored"] == 199
    assert run.tags["output_version"] == "clf-predictions@1"
    assert len(run.tags["input_sha256"]) == 64
    versions = DatasetVersions(client.store, client.blobs)
    assert versions.get("clf-predictions@1").num_rows == 199
    lineage = invoke("lineage", versions.get("clf-predictions@1").artifact_id)
    assert lineage.code == 0, lineage.err
    client.close()


def test_dataset_version_input(invoke: Invoke, registered: Path, home: Path, tmp_path: Path) -> None:
    client = Client(Settings(home=home))
    DatasetVersions(client.store, client.blobs).add("features", registered)
    client.close()
    result = invoke(
        "predict", "models:/clf/1", "features@1", "--out", str(tmp_path / "o"), "--columns", "label"
    )
    assert result.code == 0, result.err
    summary = json.loads((tmp_path / "o" / "_predict.json").read_text())
    assert summary["input"] == "features@1" and summary["rows_scored"] == 199
    names = ds.dataset(tmp_path / "o", format="parquet", partitioning="hive").schema.names
    assert "prediction" in names and not any(n.startswith("score_") for n in names)


def test_bad_input_exits_2_and_verification_failure_exits_1(
    invoke: Invoke, registered: Path, models: Models, tmp_path: Path
) -> None:
    (tmp_path / "taken").mkdir()
    result = invoke("predict", "models:/clf/1", str(registered), "--out", str(tmp_path / "taken"))
    assert result.code == 2 and "--overwrite" in result.err
    result = invoke(
        "predict", "models:/clf/1", str(tmp_path / "missing.parquet"), "--out", str(tmp_path / "o")
    )
    assert result.code == 2 and "does not exist" in result.err
    result = invoke(
        "predict", "models:/clf/1", str(registered), "--out", str(tmp_path / "o"), "--fail-on-bad-rows"
    )
    assert result.code == 2 and "row 3 was refused" in result.err
    assert not (tmp_path / "o").exists()
    pkg = package_model(models.numeric, tmp_path / "tampered", signature=_SIGNATURE)
    weights = max((p for p in pkg.path.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    weights.write_bytes(weights.read_bytes()[:-1] + bytes([weights.read_bytes()[-1] ^ 1]))
    result = invoke("predict", str(pkg.path), str(registered), "--out", str(tmp_path / "o"))
    assert result.code == 1, result.err
    assert "Traceback" not in result.err and not (tmp_path / "o").exists()


def test_guard_options(invoke: Invoke, registered: Path, tmp_path: Path) -> None:
    flagged = tmp_path / "flagged"
    result = invoke(
        "predict",
        "models:/clf/1",
        str(registered),
        "--out",
        str(flagged),
        "--atypical",
        "flag",
        "--workers",
        "1",
    )
    assert result.code == 0, result.err
    table = ds.dataset(flagged, format="parquet", partitioning="hive").to_table()
    assert {"atypical", "atypical_reasons"} <= set(table.column_names)
    result = invoke("predict", "models:/clf/1", str(registered), "--out", str(tmp_path / "c"), "--clip")
    assert result.code == 2
    assert "needs the package's training statistics" in result.err
    result = invoke(
        "predict", "models:/clf/1", str(registered), "--out", str(tmp_path / "f"), "--fallback", "a"
    )
    assert result.code == 2 and "--fallback takes COLUMN=CATEGORY" in result.err
    result = invoke(
        "predict", "models:/clf/1", str(registered), "--out", str(tmp_path / "x"), "--atypical", "warn"
    )
    assert result.code == 2 and "--atypical.policy must be log, flag or reject" in result.err
