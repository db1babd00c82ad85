"""infra_validate (clean subprocess, identical predictions) and push (signing, refusals, champion)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from loopml.components import infra_validate
from loopml.components.infra_validate import probe_in_subprocess
from loopml.registry import TrustStore, load_model

from ._harness import Harness
from ._pipeline import steps


def test_subprocess_scores_identically_to_in_process(
    harness: Harness, data_file: Path, tmp_path: Path
) -> None:
    s = steps(data_file, home=tmp_path / "home")
    result = harness.run(s["infra_validate"])
    assert harness.props(result, "infra_validate", "infra_blessing")["passed"] is True
    package = harness.export(result, "train", "model")
    sample = pd.read_parquet(data_file).head(40)
    remote = probe_in_subprocess(package, sample, workdir=tmp_path, timeout_s=120)
    local = load_model(package)
    assert np.array_equal(remote["predictions"], local.predict(sample))
    assert np.array_equal(remote["probabilities"], local.predict_proba(sample))


def test_a_package_that_fails_to_load_is_refused(harness: Harness, data_file: Path, tmp_path: Path) -> None:
    s = steps(data_file, home=tmp_path / "home")
    trained = harness.run(s["train"])
    package = harness.export(trained, "train", "model")
    sample = pd.read_parquet(data_file).head(5)
    (package / "model.yaml").write_text((package / "model.yaml").read_text() + "\n# tampered\n")
    try:
        probe_in_subprocess(package, sample, workdir=tmp_path, timeout_s=120)
    except RuntimeError as err:
        assert "IntegrityError" in str(err) or "checksum" in str(err).lower()
    else:
        raise AssertionError("a tampered package was served")
    assert infra_validate.name == "infra_validate"


def test_push_signs_with_a_trusted_project_key(harness: Harness, data_file: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = harness.run(steps(data_file, home=home)["push"])
    props = harness.props(result, "push", "pushed_model")
    assert props["pushed"] is True and props["signature"] == "verified"
    assert (home / "keys" / "project.key").is_file()
    package = harness.export(result, "push", "pushed_model")
    predictor = load_model(package, trust_store=TrustStore(home / "trust"), require_signature=True)
    assert predictor.package.is_trusted
    pushed = harness.store.artifacts.get(result.step("push").outputs["pushed_model"])
    assert pushed.name == "people" and pushed.version == 1
    champion = harness.store.models.find_alias("people", "champion")  # type: ignore[attr-defined]
    assert champion is not None and champion.version == props["registry_version"] == 1


def test_push_refuses_an_unblessed_model_with_the_reason(
    harness: Harness, data_file: Path, tmp_path: Path
) -> None:
    s = steps(
        data_file,
        home=tmp_path / "home",
        thresholds=[{"metric": "accuracy", "lower": 0.99, "slices": ["overall"]}],
    )
    result = harness.run(s["push"])
    props = harness.props(result, "push", "pushed_model")
    assert props["pushed"] is False
    assert "not blessed" in props["reason"] and "accuracy" in props["reason"]
    assert harness.store.artifacts.find_version("PushedModel", "people", None) is None
