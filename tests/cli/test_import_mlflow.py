"""``loopml import mlflow --from URL`` against a real ``mlflow server``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Invoke
from tests.server.mlflow.conftest import mlflow_interpreter, mlflow_server_running, run_mlflow

LOG = r"""
import json, mlflow
mlflow.set_experiment("cli-import")
with mlflow.start_run(run_name="one") as run:
    mlflow.log_metric("loss", 0.5, step=1)
    mlflow.log_text("hi", "notes.txt")
print(json.dumps(run.info.run_id))
"""


@pytest.mark.slow
def test_import_prints_a_summary_and_copies_nothing_twice(invoke: Invoke, tmp_path: Path) -> None:
    python = mlflow_interpreter()
    with mlflow_server_running(python, tmp_path / "mlflow") as url:
        run_mlflow(python, LOG, uri=url)
        first = invoke("import", "mlflow", "--from", url)
        again = invoke("import", "mlflow", "--from", url)
    assert first.code == 0, first.err
    assert "1 runs copied (0 already imported)" in first.out and "1 artifacts" in first.out
    assert "0 runs copied (1 already imported)" in again.out
    assert "Registered models: 0 models, 0 versions copied" in first.out
    listed = invoke("runs", "list", "--experiment", "cli-import")
    assert "one" in listed.out


def test_a_store_path_is_refused_with_the_way_to_import_it(invoke: Invoke) -> None:
    result = invoke("import", "mlflow", "--from", "sqlite:///mlflow.db")
    assert result.code != 0 and "mlflow server --backend-store-uri" in result.err
