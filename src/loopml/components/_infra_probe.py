"""Run in a fresh interpreter by ``infra_validate``: load a package, score sample rows, write the result.

Usage: ``python -m loopml.components._infra_probe PACKAGE SAMPLE.parquet OUT.npz``
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from loopml.registry import load_model


def main(argv: list[str]) -> int:
    """Score ``SAMPLE`` with the package and save predictions (and probabilities) to ``OUT``."""
    package, sample, out = (Path(a) for a in argv)
    predictor = load_model(package)
    frame = pd.read_parquet(sample)
    arrays = {"predictions": np.asarray(predictor.predict(frame))}
    if hasattr(predictor.model, "predict_proba"):
        arrays["probabilities"] = np.asarray(predictor.predict_proba(frame))
    with open(out, "wb") as fh:
        np.savez(fh, **arrays)  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
