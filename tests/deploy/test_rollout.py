"""The rollout automaton: advance on pass after the hold, roll back on fail, bounded undecided holds."""

from __future__ import annotations

import pytest

from loopml.deploy.gates import Analysis, GateResult, Verdict
from loopml.deploy.observations import Window
from loopml.deploy.policy import RolloutPolicy
from loopml.deploy.rollout import Action, Phase, decide, start_rollout
from loopml.errors import InvalidState

POLICY = RolloutPolicy(
    steps=(5, 25, 50, 100), hold_s=60, min_requests=100, interval_s=60, max_undecided_intervals=2
)
W = Window(start_ms=0, end_ms=1)


def analysis(*verdicts: Verdict) -> Analysis:
    gates = tuple(
        GateResult(
            gate=f"g{i}",
            verdict=v,
            value=0.0,
            threshold=1.0,
            primary_n=1,
            canary_n=1,
            window=W,
            detail=f"d{i}",
        )
        for i, v in enumerate(verdicts)
    )
    return Analysis(window=W, gates=gates)


def test_passes_walk_the_steps_then_promote() -> None:
    status = start_rollout(POLICY, now_ms=0)
    weights, now = [status.weight], 0
    while status.phase is Phase.PROGRESSING:
        now += 60_000
        d = decide(status, POLICY, analysis(Verdict.PASS), now_ms=now, canary_requests=1000)
        status = d.status
        weights.append(status.weight)
    assert weights == [5, 25, 50, 100]
    assert status.phase is Phase.PROMOTED and status.analyses == 3


def test_pass_before_the_hold_is_over_holds() -> None:
    status = start_rollout(POLICY, now_ms=0)
    assert (
        decide(status, POLICY, analysis(Verdict.PASS), now_ms=30_000, canary_requests=1000).action
        is Action.HOLD
    )
    assert (
        decide(status, POLICY, analysis(Verdict.PASS), now_ms=60_000, canary_requests=50).action
        is Action.HOLD
    )


def test_fail_rolls_back_at_once_with_the_reason() -> None:
    d = decide(
        start_rollout(POLICY, now_ms=0),
        POLICY,
        analysis(Verdict.PASS, Verdict.FAIL),
        now_ms=1,
        canary_requests=0,
    )
    assert (d.action, d.status.weight, d.status.phase) == (Action.ROLLBACK, 0.0, Phase.ROLLED_BACK)
    assert "g1 failed: d1" in d.reason
    with pytest.raises(InvalidState, match="rolled_back"):
        decide(d.status, POLICY, analysis(Verdict.PASS), now_ms=2, canary_requests=0)


@pytest.mark.parametrize("verdict", [Verdict.NO_DATA, Verdict.INCONCLUSIVE])
def test_undecided_holds_then_fails_after_the_limit(verdict: Verdict) -> None:
    status = start_rollout(POLICY, now_ms=0)
    actions = []
    for now in (30_000, 60_000, 120_000, 180_000):
        d = decide(status, POLICY, analysis(Verdict.PASS, verdict), now_ms=now, canary_requests=1000)
        status = d.status
        actions.append(d.action)
    assert actions == [Action.HOLD, Action.HOLD, Action.HOLD, Action.ROLLBACK]
    assert "no decision after 3 analyses" in d.reason and verdict.value in d.reason
