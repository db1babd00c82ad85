"""The reproducibility record: captured fields, git state, resources, and the steps to re-run."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from loopml.tracking import Client, capture, reproduction_steps
from loopml.tracking.reproducibility import finalise, git_state


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q")
    (root / "train.py").write_text("print('hi')\n")
    _git(root, "add", "train.py")
    _git(root, "commit", "-q", "-m", "first")
    return root


def test_record_has_every_field(tmp_path: Path) -> None:
    record = capture(seeds={"numpy": 3}, cwd=tmp_path, argv=["train.py", "--lr", "0.1"])
    assert record["git"] is None  # tmp_path is not in a repository
    assert record["entry_point"] == "train.py"
    assert record["argv"] == ["train.py", "--lr", "0.1"]
    assert record["python"]["version"].count(".") == 2
    assert record["python"]["implementation"]
    assert record["python"]["executable"]
    assert any(p.lower().startswith("scikit-learn==") for p in record["packages"])
    names = [p.split("==")[0].lower() for p in record["packages"]]
    assert names == sorted(names)
    assert record["platform"]["system"]
    assert record["host"]["hostname"]
    assert record["host"]["cpu_count"] >= 1
    assert isinstance(record["host"]["gpus"], list)
    assert record["seeds"] == {"numpy": 3}
    assert record["datasets"] == []


def test_clean_repository(repo: Path) -> None:
    state = git_state(repo)
    assert state is not None
    assert state["commit"] == _git(repo, "rev-parse", "HEAD").strip()
    assert state["is_dirty"] is False
    assert state["diff_sha256"] is None


def test_dirty_repository_hashes_the_diff(repo: Path) -> None:
    (repo / "train.py").write_text("print('changed')\n")
    state = git_state(repo)
    assert state is not None
    assert state["is_dirty"] is True
    diff = subprocess.run(["git", "diff", "HEAD"], cwd=repo, check=True, capture_output=True).stdout
    assert state["diff_sha256"] == hashlib.sha256(diff).hexdigest()


def test_run_records_git_of_working_folder(
    client: Client, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    with client.start_run("exp", seeds={"torch": 1}) as run:
        sum(range(100_000))
    record = client.get_run(run.run_id).reproducibility
    assert record["git"]["commit"] == _git(repo, "rev-parse", "HEAD").strip()
    assert record["seeds"] == {"torch": 1}
    resources = record["resources"]
    assert resources["wall_seconds"] >= 0
    assert resources["cpu_seconds"] >= 0
    assert resources["peak_rss_bytes"] > 0


def test_seeds_logged_as_params_join_the_record(client: Client) -> None:
    with client.start_run("exp", seeds={"torch": 1}) as run:
        client.log_params(run.run_id, {"model.random_state": 42, "seed": "7", "depth": 3})
    assert client.get_run(run.run_id).reproducibility["seeds"] == {
        "torch": 1,
        "model.random_state": 42,
        "seed": 7,
    }


def test_finalise_adds_resources() -> None:
    record = finalise(capture())
    assert {"wall_seconds", "cpu_seconds", "peak_rss_bytes"} <= set(record["resources"])


def test_reproduction_steps(repo: Path) -> None:
    (repo / "train.py").write_text("print('changed')\n")
    record = capture(seeds={"numpy": 5}, cwd=repo, argv=["train.py", "--epochs", "3"])
    record["datasets"] = [{"name": "d.csv", "artifact_id": "a" * 32, "sha256": "b" * 64, "size": 9}]
    plan = reproduction_steps(record)
    text = "\n".join(plan.steps)
    assert f"git checkout {record['git']['commit']}" in text
    assert record["python"]["version"] in text
    assert "pip install" in text and "scikit-learn==" in text.lower()
    assert "numpy=5" in text
    assert "b" * 64 in text
    assert "python train.py --epochs 3" in text
    assert any("uncommitted changes" in w and record["git"]["diff_sha256"] in w for w in plan.warnings)
    assert plan.requirements.splitlines() == record["packages"]
    with_file = reproduction_steps(record, requirements_file="reqs.txt")
    assert "pip install -r reqs.txt" in with_file.steps


def test_reproduction_steps_without_git() -> None:
    plan = reproduction_steps({"argv": ["x.py"]})
    assert any("code version is unknown" in w for w in plan.warnings)
