"""Fault injection for rollout policies: synthetic traffic through the gates and the state machine.

A simulated binary classifier answers ``requests_per_interval`` requests per analysis interval;
the canary takes its step's share. A :class:`Fault` makes the canary worse (errors, latency,
flipped outputs, shifted scores). :func:`simulate_rollout` drives :func:`~loopml.deploy.rollout.decide`
until the rollout is promoted or rolled back, and says after how many analyses.

Example:
    >>> policy = RolloutPolicy(hold_s=60, interval_s=60, min_requests=100)
    >>> run = simulate_rollout(policy, Fault(error_rate=0.05), seed=1)
    >>> run.action.value, run.analyses
    ('rollback', 1)
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from loopml.deploy.gates import analyze_canary
from loopml.deploy.observations import Observations, Outcome, RouteObservations, Window
from loopml.deploy.policy import GateThresholds, OnlineMetric, RolloutPolicy
from loopml.deploy.rollout import Action, Phase, decide, start_rollout

__all__ = [
    "SCENARIOS",
    "Fault",
    "ScenarioResult",
    "SimulatedRun",
    "Traffic",
    "run_scenario",
    "simulate_rollout",
    "simulation_policy",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """What is wrong with the canary (all zero: a healthy canary).

    Attributes:
        error_rate: Extra share of failed requests.
        latency_ms: Added to every request's latency.
        flip_rate: Share of requests whose output is inverted (score ``1 - s``).
        score_shift: Added to every score (clipped to [0, 1]).
    """

    error_rate: float = 0.0
    latency_ms: float = 0.0
    flip_rate: float = 0.0
    score_shift: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Traffic:
    """The simulated service: volume, base error rate, latency, labels and logging sample."""

    requests_per_interval: int = 20_000
    base_error_rate: float = 0.002
    positive_rate: float = 0.3
    label_rate: float = 0.5
    sample_per_interval: int = 4_000


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulatedRun:
    action: Action
    analyses: int
    reason: str
    weights: tuple[float, ...] = field(default_factory=tuple)


@dataclass(slots=True)
class _Acc:
    requests: int = 0
    errors: int = 0
    latencies: list[np.ndarray] = field(default_factory=list)
    scores: list[np.ndarray] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)

    def observations(self) -> RouteObservations:
        lat = np.concatenate(self.latencies) if self.latencies else np.empty(0)
        scores = np.concatenate(self.scores) if self.scores else np.empty(0)
        outcomes = tuple(self.outcomes)
        return RouteObservations(
            requests=self.requests,
            errors=self.errors,
            latencies_ms=tuple(lat.tolist()),
            predictions=tuple(scores.tolist()),
            outcomes=outcomes,
        )


def _serve(rng: np.random.Generator, acc: _Acc, n: int, traffic: Traffic, fault: Fault) -> None:
    """``n`` requests of one interval on one route."""
    acc.requests += n
    acc.errors += int(rng.binomial(n, min(1.0, traffic.base_error_rate + fault.error_rate)))
    k = min(n, traffic.sample_per_interval)
    acc.latencies.append(10.0 + rng.lognormal(2.0, 0.5, k) + fault.latency_ms)
    labels = rng.random(k) < traffic.positive_rate
    scores = np.where(labels, rng.beta(5, 2, k), rng.beta(2, 5, k))
    flipped = rng.random(k) < fault.flip_rate
    scores = np.clip(np.where(flipped, 1 - scores, scores) + fault.score_shift, 0.0, 1.0)
    acc.scores.append(scores)
    known = rng.random(k) < traffic.label_rate * n / k if k else np.zeros(0, dtype=bool)
    predicted = (scores[known] >= 0.5).astype(int).tolist()
    acc.outcomes += [
        Outcome(prediction=p, label=y)
        for p, y in zip(predicted, labels[known].astype(int).tolist(), strict=True)
    ]


def simulate_rollout(
    policy: RolloutPolicy,
    fault: Fault,
    *,
    seed: int,
    traffic: Traffic | None = None,
    max_analyses: int = 200,
) -> SimulatedRun:
    """Run one rollout of a canary with ``fault`` until it is promoted or rolled back.

    Args:
        policy: The rollout policy under test (its ``interval_s`` is the simulated interval).
        fault: What is wrong with the canary.
        seed: Seed of the random traffic.
        traffic: The simulated service (defaults: :class:`Traffic`).
        max_analyses: Stop (as a hold) after this many analyses.
    """
    traffic = traffic or Traffic()
    rng = np.random.default_rng(seed)
    interval_ms = int(policy.interval_s * 1000)
    status = start_rollout(policy, now_ms=0)
    now, weights = 0, [status.weight]
    primary, canary = _Acc(), _Acc()
    for _ in range(max_analyses):
        n_canary = int(rng.binomial(traffic.requests_per_interval, status.weight / 100))
        _serve(rng, canary, n_canary, traffic, fault)
        _serve(rng, primary, traffic.requests_per_interval - n_canary, traffic, Fault())
        now += interval_ms
        obs = Observations(
            window=Window(start_ms=status.step_started_ms, end_ms=now),
            routes={"primary": primary.observations(), "canary": canary.observations()},
        )
        decision = decide(
            status, policy, analyze_canary(obs, policy.gates), now_ms=now, canary_requests=canary.requests
        )
        status = decision.status
        if decision.action is Action.ADVANCE:
            primary, canary = _Acc(), _Acc()
            weights.append(status.weight)
        if status.phase is not Phase.PROGRESSING:
            return SimulatedRun(
                action=decision.action,
                analyses=status.analyses,
                reason=decision.reason,
                weights=tuple(weights),
            )
    return SimulatedRun(
        action=Action.HOLD, analyses=status.analyses, reason="still progressing", weights=tuple(weights)
    )


#: The fault-injection scenarios: a healthy canary and four kinds of bad ones.
SCENARIOS: dict[str, Fault] = {
    "healthy": Fault(),
    "errors +5 %": Fault(error_rate=0.05),
    "latency +50 ms": Fault(latency_ms=50.0),
    "10 % of outputs flipped": Fault(flip_rate=0.10),
    "scores shifted +0.1": Fault(score_shift=0.10),
}


def simulation_policy() -> RolloutPolicy:
    """The policy of the fault-injection table: 60 s analyses, 3-minute steps, 10 undecided analyses."""
    return RolloutPolicy(
        hold_s=180,
        interval_s=60,
        min_requests=500,
        max_undecided_intervals=10,
        gates=GateThresholds(metric=OnlineMetric.ACCURACY),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioResult:
    """One row of the fault-injection table."""

    scenario: str
    runs: int
    rolled_back: int
    rolled_back_within_3: int
    promoted: int
    median_analyses_to_rollback: float | None
    failed_gates: dict[str, int] = field(default_factory=dict)

    @property
    def rollback_rate(self) -> float:
        return self.rolled_back / self.runs

    @property
    def within_3_rate(self) -> float:
        return self.rolled_back_within_3 / self.runs


def run_scenario(
    scenario: str,
    fault: Fault,
    *,
    seeds: Iterable[int],
    policy: RolloutPolicy,
    traffic: Traffic | None = None,
) -> ScenarioResult:
    """Roll out a canary with ``fault`` once per seed and count the outcomes."""
    runs = [simulate_rollout(policy, fault, seed=s, traffic=traffic) for s in seeds]
    back = [r.analyses for r in runs if r.action is Action.ROLLBACK]
    return ScenarioResult(
        scenario=scenario,
        runs=len(runs),
        rolled_back=len(back),
        rolled_back_within_3=sum(a <= 3 for a in back),
        promoted=sum(r.action is Action.PROMOTE for r in runs),
        median_analyses_to_rollback=statistics.median(back) if back else None,
        failed_gates=dict(Counter(g for r in runs for g in set(re.findall(r"(\w+) failed", r.reason)))),
    )
