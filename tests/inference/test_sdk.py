"""``loopml.predict``: the SDK facade over batch scoring, with the default client's settings."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import loopml
from loopml.config import Settings
from loopml.inference.predict import BatchReport
from loopml.registry import ColumnSpec, ModelSignature, package_model
from loopml.services import Services
from tests.inference.conftest import Models, write_partitions


@pytest.fixture
def home(models: Models, tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "home"
    signature = ModelSignature(inputs=tuple(ColumnSpec(name=n, type="double") for n in "abcd"))
    with Services(Settings(home=home)) as services:
        services.registry.register(
            package_model(models.numeric, tmp_path / "pkg", signature=signature), "sdk"
        )
    loopml.set_settings(home=home)
    yield home
    loopml.reset()


def test_predict_an_in_memory_table(home: Path, models: Models) -> None:
    x = models.numeric_x[:10].copy()
    x[4, 2] = np.inf
    table = pa.table({n: x[:, i] for i, n in enumerate("abcd")})
    scored = loopml.predict("models:/sdk/1", table)
    assert isinstance(scored, pa.Table) and scored.num_rows == 9
    kept = np.delete(np.arange(10), 4)
    np.testing.assert_allclose(
        scored.column("score_1").to_numpy(), models.numeric.predict_proba(x[kept])[:, 1]
    )
    assert [r["row"] for r in json.loads(scored.schema.metadata[b"loopml.rejected"])] == [4]


def test_predict_files_records_a_run(home: Path, models: Models, tmp_path: Path) -> None:
    src = write_partitions(tmp_path / "in", models.numeric_x)
    report = loopml.predict("models:/sdk/1", src, out=tmp_path / "o", max_workers=1)
    assert isinstance(report, BatchReport) and report.rows_scored == 200
    assert report.output_version == "sdk-predictions@1"
    assert loopml.get_run(report.run_id or "").metrics["rows_in"] == 200
