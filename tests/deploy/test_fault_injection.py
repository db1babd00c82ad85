"""Fault injection: bad canaries are rolled back within 3 analyses in >= 99 % of runs, healthy ones in <= 1 %.

Synthetic traffic (``loopml.deploy.simulation``) goes through the real gates and the real rollout
automaton; ``benchmarks/rollout_gates.py`` prints the same table over more seeds.
"""

from __future__ import annotations

import pytest

from loopml.deploy.simulation import SCENARIOS, Fault, run_scenario, simulation_policy

SEEDS = range(150)
BAD = [name for name in SCENARIOS if name != "healthy"]


@pytest.mark.parametrize("scenario", BAD)
def test_bad_canaries_are_rolled_back_within_three_analyses(scenario: str) -> None:
    result = run_scenario(scenario, SCENARIOS[scenario], seeds=SEEDS, policy=simulation_policy())
    assert result.promoted == 0
    assert result.within_3_rate >= 0.99, result


def test_healthy_canaries_are_promoted_and_almost_never_rolled_back() -> None:
    result = run_scenario("healthy", SCENARIOS["healthy"], seeds=SEEDS, policy=simulation_policy())
    assert result.rollback_rate <= 0.01, result
    assert result.promoted == result.runs - result.rolled_back


def test_each_fault_is_caught_by_the_gate_that_watches_it() -> None:
    policy = simulation_policy()
    expected = {
        "errors": (Fault(error_rate=0.05), "error_rate"),
        "latency": (Fault(latency_ms=50.0), "p99_latency"),
        "flips": (Fault(flip_rate=0.10), "online_metric"),
        "shift": (Fault(score_shift=0.10), "prediction_shift"),
    }
    for name, (fault, gate) in expected.items():
        result = run_scenario(name, fault, seeds=range(20), policy=policy)
        assert result.failed_gates.get(gate, 0) >= 19, (name, result.failed_gates)
