"""``loopml predict --out s3://...`` against a real S3 API (moto's server on 127.0.0.1).

The output is uploaded under a temporary prefix, copied into place and committed by its manifest,
written last; these tests check what a reader of the bucket sees, and the dataset version recorded.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import pyarrow.parquet as pq
import pytest
from moto.server import ThreadedMotoServer

import loopml
from loopml.config import Settings
from loopml.data.versions import DatasetVersions
from loopml.errors import InvalidInput
from loopml.inference.destinations import MANIFEST
from loopml.inference.predict import BatchReport
from loopml.registry import ColumnSpec, ModelSignature, package_model
from loopml.services import Services
from loopml.tracking.fluent import get_client
from tests.inference.conftest import Models, write_partitions


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    """An S3 filesystem on the moto server (configured as a user would: AWS_* variables) and a bucket."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    fsspec.filesystem("s3").clear_instance_cache()
    fs = fsspec.filesystem("s3")
    bucket = f"scores-{uuid.uuid4().hex[:8]}"
    fs.mkdir(bucket)
    yield fs, bucket
    fs.rm(bucket, recursive=True)


@pytest.fixture
def home(models: Models, tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "home"
    signature = ModelSignature(inputs=tuple(ColumnSpec(name=n, type="double") for n in "abcd"))
    with Services(Settings(home=home)) as services:
        services.registry.register(
            package_model(models.numeric, tmp_path / "pkg", signature=signature), "s3m"
        )
    loopml.set_settings(home=home)
    yield home
    loopml.reset()


def _listing(fs: Any, bucket: str) -> list[str]:
    fs.invalidate_cache()
    return sorted(f.removeprefix(f"{bucket}/") for f in fs.find(bucket))


def test_output_to_s3_has_the_rows_of_a_local_output_and_is_a_dataset_version(
    home: Path, models: Models, s3: tuple[Any, str], tmp_path: Path
) -> None:
    fs, bucket = s3
    src = write_partitions(tmp_path / "in", models.numeric_x, bad_rows=(7,))
    local = loopml.predict("models:/s3m/1", src, out=tmp_path / "local", max_workers=1, record=False)
    remote = loopml.predict("models:/s3m/1", src, out=f"s3://{bucket}/scored", max_workers=1)
    assert isinstance(local, BatchReport) and isinstance(remote, BatchReport)
    assert remote.output == f"s3://{bucket}/scored" and remote.rows_scored == 199 == local.rows_scored

    files = _listing(fs, bucket)
    assert all(f.startswith("scored/") for f in files)  # nothing left beside it (no temporary prefix)
    manifest = json.loads(fs.cat_file(f"{bucket}/scored/{MANIFEST}"))
    listed = {e["path"]: e for e in manifest["files"]}
    assert sorted(f"scored/{p}" for p in listed) == [f for f in files if not f.endswith(MANIFEST)]
    for part in (
        "year=2015/part-0.parquet",
        "year=2016/part-0.parquet",
        "_rejected/year=2015/part-0.parquet",
    ):
        with fs.open(f"{bucket}/scored/{part}", "rb") as fh:
            assert pq.read_table(fh).equals(pq.read_table(tmp_path / "local" / part))
        assert listed[part]["size"] == fs.size(f"{bucket}/scored/{part}")

    version = DatasetVersions(get_client().store, get_client().blobs).get(remote.output_version or "")
    assert version.name == "s3m-predictions" and version.num_rows == 199 and version.source == remote.output
    registered = {f.path: f for f in version.files}
    assert sorted(registered) == ["year=2015/part-0.parquet", "year=2016/part-0.parquet"]
    for path, entry in registered.items():
        assert entry.is_reference and entry.uri == f"s3://{bucket}/scored/{path}"
        assert entry.sha256 == listed[path]["sha256"]  # hashed where it lies: the bytes uploaded
    run = loopml.get_run(remote.run_id or "")
    assert run.tags["output_version"] == remote.output_version and run.tags["output_uri"] == remote.output

    rescored = loopml.predict(
        "models:/s3m/1", remote.output_version or "", out=tmp_path / "again", max_workers=1, record=False
    )
    assert isinstance(rescored, BatchReport) and rescored.rows_in == 199  # the version reads back verified


def test_a_failure_mid_run_leaves_nothing_under_the_output_prefix(
    home: Path, models: Models, s3: tuple[Any, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fs, bucket = s3
    src = write_partitions(tmp_path / "in", models.numeric_x, bad_rows=(150,))
    url = f"s3://{bucket}/scored"
    with pytest.raises(InvalidInput, match="row 50 was refused"):  # the second partition fails
        loopml.predict("models:/s3m/1", src, out=url, max_workers=1, fail_on_bad_rows=True)
    assert _listing(fs, bucket) == []

    seen: list[list[str]] = []

    def fail(*args: object, **kwargs: object) -> None:
        seen.append(_listing(fs, bucket))
        raise OSError("connection reset while writing the manifest")

    # every data file is already copied into the prefix when the commit itself fails
    monkeypatch.setattr(fs, "pipe_file", fail)  # the instance loopml opens (fsspec caches it)
    with pytest.raises(InvalidInput, match=r"Cannot write the output to .*connection reset"):
        loopml.predict("models:/s3m/1", src, out=url, max_workers=1)
    assert "scored/year=2016/part-0.parquet" in seen[0]  # copied in, then removed with the rest
    assert _listing(fs, bucket) == []
    monkeypatch.undo()

    report = loopml.predict("models:/s3m/1", src, out=url, max_workers=1)  # a rerun works
    assert isinstance(report, BatchReport) and report.rows_scored == 199
    assert f"scored/{MANIFEST}" in _listing(fs, bucket)


def test_an_existing_output_is_refused_without_overwrite(
    home: Path, models: Models, s3: tuple[Any, str], tmp_path: Path
) -> None:
    fs, bucket = s3
    src = write_partitions(tmp_path / "in", models.numeric_x)
    url = f"s3://{bucket}/scored"
    loopml.predict("models:/s3m/1", src, out=url, max_workers=1, record=False)
    first = fs.cat_file(f"{bucket}/scored/{MANIFEST}")
    with pytest.raises(InvalidInput, match="already exists; pass --overwrite"):
        loopml.predict("models:/s3m/1", src, out=url, max_workers=1, record=False)

    fs.pipe_file(f"{bucket}/scored/year=2099/stale.parquet", b"left by another run")
    one = write_partitions(tmp_path / "one", models.numeric_x[:50], parts=1)
    loopml.predict("models:/s3m/1", one, out=url, max_workers=1, record=False, overwrite=True)
    files = _listing(fs, bucket)
    assert "scored/year=2099/stale.parquet" not in files and "scored/year=2016/part-0.parquet" not in files
    assert fs.cat_file(f"{bucket}/scored/{MANIFEST}") != first

    fs.pipe_file(f"{bucket}/raw/data.parquet", b"someone's data")  # files, but no manifest
    with pytest.raises(InvalidInput, match=f"holds files but no {MANIFEST}"):
        loopml.predict("models:/s3m/1", src, out=f"s3://{bucket}/raw", max_workers=1, record=False)
    assert fs.cat_file(f"{bucket}/raw/data.parquet") == b"someone's data"


def test_an_output_at_a_bucket_root_is_refused(
    home: Path, models: Models, s3: tuple[Any, str], tmp_path: Path
) -> None:
    fs, bucket = s3
    fs.rm(bucket, recursive=True)
    fs.mkdir(bucket)
    src = write_partitions(tmp_path / "in", models.numeric_x)
    with pytest.raises(InvalidInput, match="names a bucket or root; give a prefix under it"):
        loopml.predict("models:/s3m/1", src, out=f"s3://{bucket}", max_workers=1, record=False)
