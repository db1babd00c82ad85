"""Generated evaluation data shared by the analysis tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest


@dataclass(frozen=True)
class BinaryData:
    features: pd.DataFrame
    y_true: np.ndarray
    good_score: np.ndarray  # informative everywhere
    bad_score: np.ndarray  # same as good, but labels flipped on SEX=2


def make_binary(n: int = 4000, seed: int = 7) -> BinaryData:
    rng = np.random.default_rng(seed)
    features = pd.DataFrame(
        {
            "SEX": rng.integers(1, 3, n),
            "RAC1P": rng.choice([1, 2, 6, 9], n, p=[0.7, 0.15, 0.14, 0.01]),
            "AGEP": rng.integers(18, 90, n).astype(float),
        }
    )
    y = rng.integers(0, 2, n)
    logit = 2.5 * (2 * y - 1) + rng.normal(0, 1.5, n)
    good = 1 / (1 + np.exp(-logit))
    bad = good.copy()
    women = features["SEX"].to_numpy() == 2
    bad[women] = 1 - bad[women]
    return BinaryData(features=features, y_true=y, good_score=good, bad_score=bad)


@pytest.fixture(scope="session")
def binary() -> BinaryData:
    return make_binary()
