"""``infra_validate``: load the packaged model in a clean subprocess, score sample rows, compare."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from loopml.components._splits import EVAL, read_split
from loopml.pipeline import Dataset, InfraBlessing, Model, component, scratch_dir
from loopml.registry import load_model

__all__ = ["infra_validate", "probe_in_subprocess"]

_PROBE = "loopml.components._infra_probe"
_TAIL = 2000


def probe_in_subprocess(
    package: Path, sample: pd.DataFrame, *, workdir: Path, timeout_s: float
) -> dict[str, np.ndarray]:
    """Score ``sample`` with ``package`` in a fresh Python interpreter.

    Raises:
        RuntimeError: the subprocess failed or timed out (its stderr tail in the message).
    """
    sample_path, out_path = workdir / "sample.parquet", workdir / "scored.npz"
    sample.to_parquet(sample_path, index=False)
    cmd = [sys.executable, "-m", _PROBE, str(package), str(sample_path), str(out_path)]
    try:
        done = subprocess.run(
            cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired as err:
        raise RuntimeError(f"loading and scoring took longer than {timeout_s:g}s") from err
    if done.returncode != 0:
        raise RuntimeError(f"exit code {done.returncode}: {done.stderr.strip()[-_TAIL:]}")
    with np.load(out_path) as data:
        return {k: data[k] for k in data.files}


def _compare(local: dict[str, np.ndarray], remote: dict[str, np.ndarray], atol: float) -> str | None:
    for key, value in local.items():
        other = remote.get(key)
        if other is None or other.shape != value.shape:
            got = None if other is None else other.shape
            return f"{key}: the subprocess returned shape {got}, in-process {value.shape}"
        same = (
            np.array_equal(value, other)
            if value.dtype.kind not in "fc"
            else np.allclose(value, other, rtol=0.0, atol=atol)
        )
        if not same:
            return f"{key} differ between the subprocess and in-process scoring"
    return None


@component
def infra_validate(
    model: Model, examples: Dataset, *, rows: int = 50, timeout_s: float = 120.0, atol: float = 0.0
) -> InfraBlessing:
    """Check the package loads and serves in a clean interpreter exactly as it scores in process.

    The package (model + transform) is verified and loaded in a new ``python -m`` process that
    imports nothing of the pipeline, scores ``rows`` eval rows, and its predictions (and
    probabilities) must equal the in-process ones (within ``atol``).

    Args:
        model: A model package.
        examples: Split examples (the first ``rows`` eval rows are scored).
        rows: Sample size.
        timeout_s: Limit for loading and scoring in the subprocess.
        atol: Tolerance on probabilities (0: identical).

    Returns:
        The verdict: ``passed`` and, when refused, ``reason``.
    """
    package = model.local_path()
    sample = read_split(examples, EVAL).head(rows)
    predictor = load_model(package)
    local = {"predictions": np.asarray(predictor.predict(sample))}
    if hasattr(predictor.model, "predict_proba"):
        local["probabilities"] = np.asarray(predictor.predict_proba(sample))
    facts = {"rows": len(sample), "model_artifact_id": model.artifact_id, "python": sys.executable}
    try:
        remote = probe_in_subprocess(package, sample, workdir=scratch_dir("infra"), timeout_s=timeout_s)
    except RuntimeError as err:
        return InfraBlessing.from_properties(
            {**facts, "passed": False, "reason": f"the package failed to serve: {err}"}
        )
    mismatch = _compare(local, remote, atol)
    if mismatch is not None:
        return InfraBlessing.from_properties({**facts, "passed": False, "reason": mismatch})
    return InfraBlessing.from_properties({**facts, "passed": True, "reason": ""})
