"""The rollout state machine: from an analysis, hold, advance a step, promote or roll back.

Each analysis looks at the window since the current step started. A ``fail`` rolls back at once
(canary weight 0). A ``pass`` advances once the step was held ``hold_s`` and served
``min_requests``; passing the step before 100 % promotes the canary (at 100 % no primary
traffic would be left to compare with, so that step is the promotion itself). ``no-data`` and ``inconclusive``
hold the step, and once the hold time is over they count: more than ``max_undecided_intervals``
of them in a row fail the rollout. Never a silent pass.

Example:
    >>> from loopml.deploy.gates import Analysis
    >>> from loopml.deploy.observations import Window
    >>> policy = RolloutPolicy(steps=(50, 100), hold_s=0, min_requests=0)
    >>> status = start_rollout(policy, now_ms=0)
    >>> empty = Analysis(window=Window(start_ms=0, end_ms=1), gates=())
    >>> decide(status, policy, empty, now_ms=1, canary_requests=0).action
    <Action.HOLD: 'hold'>
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from loopml.deploy.gates import Analysis, Verdict
from loopml.deploy.policy import RolloutPolicy
from loopml.errors import InvalidState

__all__ = ["Action", "Decision", "Phase", "RolloutStatus", "decide", "start_rollout"]


class Phase(enum.StrEnum):
    PROGRESSING = "progressing"
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled_back"


class Action(enum.StrEnum):
    HOLD = "hold"
    ADVANCE = "advance"
    PROMOTE = "promote"
    ROLLBACK = "rollback"


@dataclass(frozen=True, slots=True, kw_only=True)
class RolloutStatus:
    """Where a rollout stands.

    Attributes:
        phase: progressing, promoted or rolled_back.
        step: Index into the policy's steps.
        weight: The canary's current weight (percent).
        step_started_ms: When the current step started.
        undecided: Consecutive undecided analyses after the hold time.
        analyses: Analyses run since the rollout started.
        reason: Why it ended (for promoted / rolled_back).
    """

    phase: Phase
    step: int
    weight: float
    step_started_ms: int
    undecided: int = 0
    analyses: int = 0
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    action: Action
    status: RolloutStatus
    reason: str


def start_rollout(policy: RolloutPolicy, *, now_ms: int) -> RolloutStatus:
    """A rollout at its first step."""
    return RolloutStatus(phase=Phase.PROGRESSING, step=0, weight=policy.steps[0], step_started_ms=now_ms)


def _failed_reason(analysis: Analysis) -> str:
    return "; ".join(f"{g.gate} failed: {g.detail}" for g in analysis.failed())


def decide(
    status: RolloutStatus, policy: RolloutPolicy, analysis: Analysis, *, now_ms: int, canary_requests: int
) -> Decision:
    """The next state after ``analysis`` of the window since the step started.

    Args:
        status: The rollout now (must be progressing).
        policy: Its policy.
        analysis: The gates over ``[status.step_started_ms, now_ms)``.
        now_ms: The time of the analysis.
        canary_requests: Requests the canary answered in that window.

    Raises:
        InvalidState: the rollout already ended.
    """
    if status.phase is not Phase.PROGRESSING:
        raise InvalidState(f"The rollout is {status.phase.value}; start a new canary to analyse again.")
    counted = replace(status, analyses=status.analyses + 1)
    verdict = analysis.verdict
    if verdict is Verdict.FAIL:
        reason = _failed_reason(analysis)
        ended = replace(counted, phase=Phase.ROLLED_BACK, weight=0.0, reason=reason)
        return Decision(action=Action.ROLLBACK, status=ended, reason=reason)
    held_time = now_ms - status.step_started_ms >= policy.hold_s * 1000
    held = held_time and canary_requests >= policy.min_requests
    if verdict is Verdict.PASS:
        if not held:
            why = f"step {status.step + 1} held until {policy.hold_s:g} s and {policy.min_requests} requests"
            return Decision(action=Action.HOLD, status=replace(counted, undecided=0), reason=why)
        if status.step + 1 >= len(policy.steps) or policy.steps[status.step + 1] >= 100:
            reason = f"every gate passed at each of the {len(policy.steps)} steps"
            ended = replace(counted, phase=Phase.PROMOTED, weight=100.0, undecided=0, reason=reason)
            return Decision(action=Action.PROMOTE, status=ended, reason=reason)
        nxt = status.step + 1
        moved = replace(counted, step=nxt, weight=policy.steps[nxt], step_started_ms=now_ms, undecided=0)
        return Decision(
            action=Action.ADVANCE, status=moved, reason=f"gates passed; weight {policy.steps[nxt]:g} %"
        )
    undecided = [g for g in analysis.gates if g.verdict in (Verdict.NO_DATA, Verdict.INCONCLUSIVE)]
    what = ", ".join(f"{g.gate} {g.verdict.value}" for g in undecided) or f"no gates ({verdict.value})"
    if not held_time:
        return Decision(action=Action.HOLD, status=counted, reason=f"holding: {what}")
    count = status.undecided + 1
    if count > policy.max_undecided_intervals:
        reason = f"no decision after {count} analyses past the hold time ({what})"
        ended = replace(counted, phase=Phase.ROLLED_BACK, weight=0.0, undecided=count, reason=reason)
        return Decision(action=Action.ROLLBACK, status=ended, reason=reason)
    reason = f"holding ({count}/{policy.max_undecided_intervals} undecided): {what}"
    return Decision(action=Action.HOLD, status=replace(counted, undecided=count), reason=reason)
