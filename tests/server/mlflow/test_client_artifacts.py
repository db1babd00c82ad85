"""MLflow's artifact client uploads, lists and downloads run files through ``loopml server``."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from loopml.security.uploads import SCAN_PROPERTY
from tests.server.mlflow.conftest import MlflowRunner

pytestmark = pytest.mark.slow

TREE = r"""
import json, os, tempfile, mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
src = tempfile.mkdtemp()
os.makedirs(os.path.join(src, "plots", "deep"))
files = {"a.txt": b"alpha", "plots/roc.svg": b"<svg/>" * 1000, "plots/deep/x.bin": bytes(range(256)) * 4000}
for rel, data in files.items():
    with open(os.path.join(src, rel), "wb") as f:
        f.write(data)
mlflow.set_experiment("artifacts")
with mlflow.start_run() as run:
    mlflow.log_artifacts(src)
    mlflow.log_artifact(os.path.join(src, "a.txt"), artifact_path="single")
    mlflow.log_text("hello", "notes/readme.md")
    mlflow.log_dict({"k": 1}, "config.json")
client = MlflowClient()
rid = run.info.run_id
top = sorted((f.path, f.is_dir, f.file_size) for f in client.list_artifacts(rid))
plots = sorted((f.path, f.is_dir, f.file_size) for f in client.list_artifacts(rid, "plots"))
out = mlflow.artifacts.download_artifacts(run_id=rid, dst_path=tempfile.mkdtemp())
back = {}
for root, _, names in os.walk(out):
    for n in names:
        p = os.path.join(root, n)
        back[os.path.relpath(p, out)] = open(p, "rb").read().hex()
try:
    client.list_artifacts("f" * 32)
    missing = None
except MlflowException as err:
    missing = err.error_code
print(json.dumps({"run_id": rid, "top": top, "plots": plots, "back": back, "missing": missing,
                  "text": mlflow.artifacts.load_text(f"runs:/{rid}/notes/readme.md")}))
"""


def test_artifact_tree_round_trips_content_addressed(mlflow: MlflowRunner, loopml_url: str) -> None:
    out = mlflow(TREE)
    assert out["top"] == [
        ["a.txt", False, 5],
        ["config.json", False, 12],
        ["notes", True, None],
        ["plots", True, None],
        ["single", True, None],
    ]
    assert out["plots"] == [["plots/deep", True, None], ["plots/roc.svg", False, 6000]]
    big = bytes(range(256)) * 4000
    assert bytes.fromhex(out["back"]["plots/deep/x.bin"]) == big
    assert bytes.fromhex(out["back"]["single/a.txt"]) == b"alpha"
    assert out["text"] == "hello" and out["missing"] == "RESOURCE_DOES_NOT_EXIST"
    listed = httpx.get(f"{loopml_url}/api/v1/artifacts", params={"run_id": out["run_id"]}).json()
    by_name = {a["name"]: a for a in listed["artifacts"]}
    assert by_name["plots/deep/x.bin"]["sha256"] == hashlib.sha256(big).hexdigest()
    assert by_name["a.txt"]["properties"][SCAN_PROPERTY]["verdict"] == "safe"  # scanned on upload
