"""Bootstrap confidence intervals: seeded Poisson resampling as per-example weights, in chunks.

Each replicate draws an independent Poisson(1) weight per example (the Poisson bootstrap, as
TFMA does): the same distribution as drawing n examples with replacement when n is large, but
cheap to generate and free of the fixed-total constraint.
"""

from __future__ import annotations

import functools
import math
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from loopml.analysis._outcomes import FloatArray
from loopml.errors import InvalidInput

__all__ = ["BootstrapConfig", "ConfidenceInterval", "bootstrap_intervals", "resample_weights"]

_CELLS_PER_CHUNK = 1_000_000  # replicates x examples held in memory at once


@functools.cache
def _poisson_table(size: int = 1 << 16) -> FloatArray:
    """Poisson(1) quantiles at ``size`` evenly spaced probabilities: indexing it with uniform
    16-bit integers draws Poisson(1) weights several times faster than ``Generator.poisson``."""
    pmf = [math.exp(-1.0) / math.factorial(k) for k in range(24)]
    return np.searchsorted(np.cumsum(pmf), (np.arange(size) + 0.5) / size).astype(np.float64)


@dataclass(frozen=True, slots=True, kw_only=True)
class BootstrapConfig:
    """How to resample: ``n`` replicates, a two-sided ``confidence`` level, a ``seed``.

    Example:
        >>> BootstrapConfig(n=100).confidence
        0.95
    """

    n: int = 200
    confidence: float = 0.95
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n < 2:
            raise InvalidInput(f"`bootstrap.n` must be at least 2 replicates. Got {self.n}.")
        if not 0.0 < self.confidence < 1.0:
            raise InvalidInput(f"`bootstrap.confidence` must be in (0, 1). Got {self.confidence}.")

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "confidence": self.confidence, "seed": self.seed}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BootstrapConfig:
        return cls(n=int(data["n"]), confidence=float(data["confidence"]), seed=int(data["seed"]))


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfidenceInterval:
    """A percentile bootstrap interval."""

    lower: float
    upper: float
    confidence: float


def resample_weights(n_examples: int, config: BootstrapConfig, *, key: str = "") -> Iterator[FloatArray]:
    """Yield chunks of bootstrap weights, shape ``(replicates, n_examples)``, ``config.n`` rows in all.

    Row ``b`` holds how often each example counts in replicate ``b``. ``key`` (e.g. a slice key)
    is mixed into the seed, so each slice gets its own reproducible stream.
    """
    rng = np.random.default_rng([config.seed, zlib.crc32(key.encode())])
    per_chunk = max(1, _CELLS_PER_CHUNK // max(n_examples, 1))
    done = 0
    while done < config.n:
        b = min(per_chunk, config.n - done)
        table = _poisson_table()
        yield table[rng.integers(0, table.size, size=(b, n_examples), dtype=np.uint16)]
        done += b


def bootstrap_intervals(
    compute: Callable[[FloatArray], Mapping[str, FloatArray]],
    n_examples: int,
    config: BootstrapConfig,
    *,
    key: str = "",
) -> dict[str, ConfidenceInterval | None]:
    """Percentile intervals of every statistic ``compute(weights)`` returns.

    Args:
        compute: Maps a weight matrix to one array of replicate values per statistic name.
        n_examples: Number of examples being resampled.
        config: Replicates, confidence and seed.
        key: Mixed into the seed (a slice key).

    Returns:
        One interval per statistic; ``None`` where fewer than half the replicates were defined.

    Example:
        >>> ci = bootstrap_intervals(lambda w: {"mean": w @ np.arange(10.0) / 10}, 10, BootstrapConfig())
        >>> ci["mean"].lower < 4.5 < ci["mean"].upper
        True
    """
    values: dict[str, list[FloatArray]] = {}
    for weights in resample_weights(n_examples, config, key=key):
        for name, arr in compute(weights).items():
            values.setdefault(name, []).append(arr)
    alpha = (1.0 - config.confidence) / 2.0
    out: dict[str, ConfidenceInterval | None] = {}
    for name, parts in values.items():
        arr = np.concatenate(parts)
        arr = arr[np.isfinite(arr)]
        if arr.size < max(2, config.n // 2):
            out[name] = None
            continue
        lo, hi = np.quantile(arr, [alpha, 1.0 - alpha])
        out[name] = ConfidenceInterval(lower=float(lo), upper=float(hi), confidence=config.confidence)
    return out
