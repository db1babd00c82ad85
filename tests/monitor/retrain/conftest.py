"""A world for the retrain loop: a store, a registry of real signed models, a deployment serving the champion.

Truth: ``y = (x1 + x2 > 0)`` (with 5 % label noise) in two groups, ``g`` = 0 (85 %) and 1 (15 %).
Registered versions of ``people``:

1. the champion: a logistic regression that only sees noise in place of ``x2`` (about 75 % right);
2. a candidate better overall but worse on the ``g=1`` slice (trained with that slice's labels flipped);
3. a candidate better everywhere (trained on the truth).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from loopml.analysis import Blessing, CheckKind, CheckOutcome
from loopml.config import Settings
from loopml.deploy.policy import RolloutPolicy
from loopml.deploy.service import DeploymentService
from loopml.deploy.spec import DeploymentSpec
from loopml.monitor.alerts import AlertService
from loopml.monitor.retrain import (
    Candidate,
    ChampionChallengerEvaluator,
    Guards,
    PerformanceTrigger,
    QualityVerdict,
    RetrainLoop,
    RetrainPolicy,
    RetrainRequest,
    RetryPolicy,
    Span,
)
from loopml.registry import KeySigner, package_model, sign_package
from loopml.services import Services

FEATURES = ["x1", "x2", "g"]
CHAMPION = "models:/people@champion"
WORSE_ON_SLICE = "models:/people/2"
BETTER = "models:/people/3"
FAST = RolloutPolicy(steps=(50, 100), hold_s=0, min_requests=0, interval_s=60)


def people(n: int, *, seed: int) -> pd.DataFrame:
    """Labelled rows drawn from the truth."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    g = (rng.uniform(size=n) < 0.15).astype(int)
    y = ((x1 + x2 > 0) ^ (rng.uniform(size=n) < 0.05)).astype(int)
    return pd.DataFrame({"x1": x1, "x2": x2, "g": g, "label": y})


def _blessed() -> Blessing:
    return Blessing(
        outcomes=(
            CheckOutcome(
                metric="accuracy", slice="overall", kind=CheckKind.LOWER_BOUND, passed=True,
                value=0.9, bound=0.5, message="accuracy on overall",
            ),
        )
    )  # fmt: skip


class ScriptedRetrainer:
    """Answers each retraining with the next scripted candidate; records the requests."""

    def __init__(self, *answers: Candidate) -> None:
        self.answers = list(answers)
        self.requests: list[RetrainRequest] = []

    def retrain(self, request: RetrainRequest) -> Candidate:
        self.requests.append(request)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


class Gate:
    def __init__(self, passed: bool = True) -> None:
        self.passed = passed
        self.spans: list[Span] = []

    def __call__(self, *, deployment: str, span: Span) -> QualityVerdict:
        self.spans.append(span)
        return QualityVerdict(passed=self.passed, reasons=() if self.passed else ("12% missing `x1`",))


@dataclass
class LoopWorld:
    services: Services
    deployments: DeploymentService
    alerts: AlertService
    evaluator: ChampionChallengerEvaluator
    gate: Gate

    def loop(self, retrainer: ScriptedRetrainer, policy: RetrainPolicy | None = None) -> RetrainLoop:
        chosen = policy or RetrainPolicy(
            performance=PerformanceTrigger(tolerance=0.05, min_labels=200),
            guards=Guards(cooldown=timedelta(hours=2), max_per_day=3),
            retry=RetryPolicy(max_attempts=2, delay=timedelta(hours=1)),
        )
        return RetrainLoop(
            self.services.store.retrains,  # type: ignore[attr-defined]
            deployments=self.deployments,
            retrainer=retrainer,
            evaluator=self.evaluator,
            policies=lambda _name: chosen,
            quality_gate=self.gate,
            alerts=self.alerts,
        )


@pytest.fixture(scope="session")
def _models() -> tuple[object, object, object, pd.DataFrame]:
    train = people(4000, seed=1)
    X = train[FEATURES]
    noisy = X.assign(x2=np.random.default_rng(2).normal(size=len(X)))
    champion = LogisticRegression().fit(noisy, train["label"])
    flipped = train["label"].where(train["g"] == 0, 1 - train["label"])
    worse_on_slice = DecisionTreeClassifier(max_depth=8, random_state=0).fit(X, flipped)
    better = LogisticRegression().fit(X, train["label"])
    return champion, worse_on_slice, better, X.head(50)


@pytest.fixture
def loop_world(tmp_path: Path, _models: tuple[object, object, object, pd.DataFrame]) -> Iterator[LoopWorld]:
    *models, sample = _models
    with Services(Settings(home=tmp_path / "home")) as services:
        info = services.key_ring.generate("release")
        services.trust_store.add(services.key_ring.export_public("release"), name="release")
        for i, model in enumerate(models, start=1):
            package = package_model(model, tmp_path / f"pkg{i}", sample=sample, created_by="tests")
            sign_package(package.path, KeySigner(info.private_path))
            services.registry.register(package, "people", blessing=_blessed(), actor="ann")
        services.registry.set_alias("people", "champion", 1, actor="ann")
        deployments = DeploymentService(services.store.deployments, services.registry)  # type: ignore[attr-defined]
        deployments.create(DeploymentSpec(name="people", primary=CHAMPION), FAST, actor="ann")
        evaluator = ChampionChallengerEvaluator(
            services.registry,
            data=lambda _name, span: people(3000, seed=int(span.end.timestamp()) % 10_000),
            label="label",
            slices=["g"],
            features=FEATURES,
        )
        alerts = AlertService(services.store.alerts)  # type: ignore[attr-defined]
        yield LoopWorld(
            services=services, deployments=deployments, alerts=alerts, evaluator=evaluator, gate=Gate()
        )
