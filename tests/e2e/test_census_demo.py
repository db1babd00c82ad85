"""The census pipeline of the demo (``loopml demo --pipeline-only``) in a fresh home: cold run, cached
rerun, lineage, gates, serving parity. The whole lifecycle is tests/e2e/test_lifecycle_demo.py."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from loopml.artifacts import BlobStore
from loopml.cli.app import main
from loopml.components import export_artifact
from loopml.components.infra_validate import probe_in_subprocess
from loopml.examples.census import pipeline as census
from loopml.pipeline import PipelineRunner, StepState
from loopml.registry import load_model
from loopml.store import Store
from loopml.store.entities import every_item
from loopml.store.sql import open_store
from loopml.tracking import NodeKind, walk

pytestmark = pytest.mark.slow


def shuffled_labels(X: Any, y: Any, params: Mapping[str, Any]) -> LogisticRegression:
    """A deliberately worse candidate: a model fitted on permuted labels."""
    rng = np.random.default_rng(0)
    return LogisticRegression(max_iter=200).fit(X, rng.permutation(y))


def _demo(home: Path, capsys: pytest.CaptureFixture[str]) -> str:
    try:
        main(["--home", str(home), "demo", "--pipeline-only"])
    except SystemExit as exc:
        assert exc.code in (0, None), capsys.readouterr().out
    return capsys.readouterr().out


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo-home")


@pytest.fixture
def store(home: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{home / 'store.db'}")
    yield s
    s.close()


def _pushed_id(store: Store) -> str:
    artifact = store.artifacts.find_version("PushedModel", "census-employment", None)
    assert artifact is not None
    return artifact.artifact_id


def test_demo_cold_then_every_step_cached(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cold = _demo(home, capsys)
    assert "COMPLETE" in cold and "Pushed" in cold and "census-employment" in cold
    assert "metrics by slice" in cold and "SEX=2" in cold and "RAC1P=7" in cold
    assert "too small" in cold  # tiny race groups are reported, not a crash
    assert (home / "reports" / "census" / "evaluate_gbm" / "model_card" / "model_card.md").is_file()
    warm = _demo(home, capsys)
    assert "0 ran, 12 cached" in warm


def test_lineage_from_pushed_model_reaches_every_upstream_record(home: Path, store: Store) -> None:
    graph = walk(store, _pushed_id(store), direction="upstream", depth=30)
    types = {n.type for n in graph.nodes if n.kind is NodeKind.ARTIFACT}
    assert {
        "Dataset",
        "Statistics",
        "Schema",
        "Anomalies",
        "Transform",
        "Model",
        "Evaluation",
        "Blessing",
        "InfraBlessing",
    } <= types
    assert any(n.kind is NodeKind.ARTIFACT and n.label.startswith("census-ma-2015") for n in graph.nodes)
    runs = [n for n in graph.nodes if n.kind is NodeKind.RUN]
    assert runs, "the training run is not reachable from the pushed model"
    run = store.runs.get(runs[0].id)
    assert run.tags["loopml.execution_id"]


def test_every_artifact_of_the_demo_is_stored_and_verifies(
    home: Path, store: Store, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    artifacts = list(every_item(lambda token: store.artifacts.list(page_token=token)))
    assert {"Dataset", "Model", "Evaluation", "PushedModel", "ModelPackage"} <= {a.type for a in artifacts}
    for art in artifacts:
        assert not art.is_reference and art.uri.startswith("sha256/"), (art.type, art.uri)
        out = tmp_path / art.artifact_id
        for command in (["verify", art.artifact_id], ["get", art.artifact_id, "-o", str(out)]):
            try:
                main(["--home", str(home), "artifacts", *command])
            except SystemExit as exc:
                assert exc.code in (0, None), (art.type, art.name, command, capsys.readouterr())
    pushed = store.artifacts.get(_pushed_id(store))
    assert (tmp_path / pushed.artifact_id / "checksums.json").is_file()


def test_packaged_transform_scores_identically_in_a_clean_subprocess(home: Path, store: Store) -> None:
    package = export_artifact(store, BlobStore(str(home / "artifacts")), _pushed_id(store), home / "check")
    rows = pd.read_parquet(census.HERE / "data" / "year=2016.parquet").head(200)
    remote = probe_in_subprocess(package, rows, workdir=home, timeout_s=120)
    local = load_model(package)
    assert np.array_equal(remote["predictions"], local.predict(rows))
    assert np.array_equal(remote["probabilities"], local.predict_proba(rows))


def test_worse_candidate_is_not_blessed_and_reason_names_metric_and_slice(home: Path, store: Store) -> None:
    good = census.CANDIDATES["logreg"]
    pipeline = census.pipeline(
        home=home, candidates={"logreg": good, "shuffled": (f"{__name__}:shuffled_labels", {})}
    )
    runner = PipelineRunner(store, BlobStore(str(home / "artifacts")))
    result = runner.run(pipeline)
    assert result.is_ok, [s.error for s in result.steps if s.error]
    assert result.step("train_logreg").state is StepState.CACHED
    blessing = store.artifacts.get(result.step("evaluate_shuffled").outputs["blessing"]).properties
    assert blessing["blessed"] is False and blessing["has_baseline"] is True
    reasons = blessing["reasons"]
    assert any("roc_auc" in r and "SEX=2" in r for r in reasons), reasons
    assert result.step("select").outputs["model"] == result.step("train_logreg").outputs["model"]
