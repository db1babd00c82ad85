"""Generated datasets with known answers for the data tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def make_frame(n: int, seed: int = 0) -> pd.DataFrame:
    """Mixed features: normal, skewed, discrete ints, categoricals of several cardinalities, bools."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "normal": rng.normal(10.0, 2.0, n),
            "skewed": rng.lognormal(0.0, 1.5, n),
            "discrete": rng.poisson(3.0, n).astype("int64"),
            "color": rng.choice(["red", "green", "blue", "yellow"], n, p=[0.4, 0.3, 0.2, 0.1]),
            "city": np.char.add("c", rng.zipf(1.5, n).clip(max=5000).astype(str)),
            "flag": rng.random(n) < 0.3,
        }
    )


@pytest.fixture()
def frame() -> pd.DataFrame:
    return make_frame(20_000, seed=1)
