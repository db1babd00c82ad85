"""Quickstart: train a scikit-learn classifier with full tracking and lineage.

Generates a classification dataset, stores it as a Dataset artifact and records it as the run's
input, tries three regularisation strengths (one nested run each, loss and accuracy per epoch),
saves the best model with skops as the run's output, then prints the run and its lineage.

Run it with ``python -m loopml.examples.quickstart.train`` or ``loopml demo --quickstart``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import skops.io
from rich.console import Console
from sklearn.datasets import make_classification
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split

from loopml.cli.lineage import render_tree
from loopml.config import Settings, load_settings
from loopml.tracking import Client, walk

EXPERIMENT = "quickstart"
SEED = 7
EPOCHS = 15
ALPHAS = (1e-4, 1e-3, 1e-2)


def make_dataset(folder: Path, *, seed: int = SEED) -> Path:
    """Write a generated binary classification table (20 features, 2,000 rows) as Parquet."""
    features, labels = make_classification(n_samples=2_000, n_features=20, n_informative=8, random_state=seed)
    frame = pd.DataFrame(features, columns=[f"f{i}" for i in range(features.shape[1])])
    frame["label"] = labels
    path = folder / "train.parquet"
    frame.to_parquet(path, index=False)
    return path


def train_candidate(
    client: Client, parent_id: str, data: pd.DataFrame, *, alpha: float
) -> tuple[float, SGDClassifier, str]:
    """Train one candidate in a nested run; return its validation accuracy, model and run id."""
    x = data.drop(columns="label").to_numpy()
    y = data["label"].to_numpy()
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.25, random_state=SEED)
    model = SGDClassifier(loss="log_loss", alpha=alpha, random_state=SEED)
    with client.start_run(EXPERIMENT, f"alpha={alpha:g}", parent_run_id=parent_id) as run:
        run.log_params({"model": "SGDClassifier", "alpha": alpha, "epochs": EPOCHS})
        for epoch in range(EPOCHS):
            model.partial_fit(x_train, y_train, classes=np.array([0, 1]))
            run.log_metrics(
                {
                    "train_loss": log_loss(y_train, model.predict_proba(x_train)),
                    "val_loss": log_loss(y_val, model.predict_proba(x_val)),
                    "val_accuracy": accuracy_score(y_val, model.predict(x_val)),
                },
                step=epoch,
            )
        accuracy = float(accuracy_score(y_val, model.predict(x_val)))
    return accuracy, model, run.run_id


def main(settings: Settings | None = None) -> str:
    """Run the quickstart; return the id of the parent run."""
    console = Console()
    client = Client(settings if settings is not None else load_settings())
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            dataset = client.create_artifact(make_dataset(folder), name="quickstart-train", type="Dataset")
            data = pd.read_parquet(folder / "train.parquet")
            with client.start_run(EXPERIMENT, "sweep", seeds={"sklearn": SEED, "data": SEED}) as parent:
                parent.log_input(dataset, role="training_data")
                parent.set_tag("example", "quickstart")
                results = [train_candidate(client, parent.run_id, data, alpha=a) for a in ALPHAS]
                accuracy, model, best_id = max(results, key=lambda r: r[0])
                parent.log_params({"best_alpha": model.alpha, "best_run": best_id})
                parent.log_metric("best_val_accuracy", accuracy)
                model_path = folder / "model.skops"
                skops.io.dump(model, model_path)
                parent.log_artifact(model_path, type="Model")
                parent.log_dict({"alphas": list(ALPHAS), "best_alpha": model.alpha}, "sweep.json")
        run = client.get_run(parent.run_id)
        console.print(f"[bold]Run {run.name}[/] {run.run_id}: {run.status}")
        console.print(f"  params: {dict(run.params)}")
        console.print(f"  metrics: {dict(run.metrics)}")
        console.print(render_tree(walk(client.store, run.run_id, direction="both"), direction="both"))
        return run.run_id
    finally:
        client.close()


if __name__ == "__main__":
    main()
