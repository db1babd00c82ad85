"""Generated tabular data and a helper that runs steps and reads their outputs back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from loopml.components import export_artifact
from loopml.pipeline import Pipeline, PipelineRunner, PipelineRunResult, Step


def make_frame(n: int = 800, *, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    """People with an age, a colour, a group (group 4 is tiny) and a label that depends on them."""
    rng = np.random.default_rng(seed)
    age = rng.uniform(18, 80, n) + shift
    color = rng.choice(["red", "green", "blue"], n)
    group = rng.choice([1, 2, 3, 4], n, p=[0.45, 0.3, 0.23, 0.02])
    logit = 0.08 * (age - 45) + 1.5 * (color == "red") - 1.0 * (group == 2)
    label = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "age": age,
            "color": color,
            "group": group,
            "year": 2020 + np.arange(n) % 3,
            "label": label,
        }
    )


class Harness:
    """Runs steps and reads their outputs back."""

    def __init__(self, runner: PipelineRunner, tmp_path: Path) -> None:
        self.runner, self.tmp = runner, tmp_path
        self.store, self.blobs = runner.store, runner.blobs

    def run(self, *steps: Step, **kwargs: Any) -> PipelineRunResult:
        return self.runner.run(Pipeline("test", steps=list(steps)), **kwargs)

    def props(self, result: PipelineRunResult, step: str, output: str) -> dict[str, Any]:
        return dict(self.store.artifacts.get(result.step(step).outputs[output]).properties)

    def export(self, result: PipelineRunResult, step: str, output: str) -> Path:
        artifact_id = result.step(step).outputs[output]
        return export_artifact(self.store, self.blobs, artifact_id, self.tmp / "export" / step / output)
