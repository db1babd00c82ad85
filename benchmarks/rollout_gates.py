"""Release gates under fault injection: how often bad canaries are rolled back, and how fast.

``PYTHONPATH=src .venv/bin/python benchmarks/rollout_gates.py [--seeds 1000]`` — for each
scenario of :data:`loopml.deploy.simulation.SCENARIOS` (a healthy canary; canaries that error
5 % more, add 50 ms, invert 10 % of their outputs, or shift their scores by +0.1), rolls out one
canary per seed through the real gates and rollout automaton (policy:
:func:`~loopml.deploy.simulation.simulation_policy`; traffic: 20,000 requests per 60 s analysis
interval, labels for half of them) and prints a Markdown table: runs, rolled back within 3
analyses, rolled back at all, promoted, median analyses to rollback, and which gates failed.
"""

from __future__ import annotations

import argparse
import time

from loopml.deploy.simulation import SCENARIOS, run_scenario, simulation_policy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1000, help="Runs per scenario (seeds 0..N-1).")
    args = parser.parse_args()
    policy = simulation_policy()
    print(
        f"policy: steps {list(policy.steps)} %, hold {policy.hold_s:g} s and {policy.min_requests} requests, "
        f"analysis every {policy.interval_s:g} s, alpha {policy.gates.alpha}, "
        f"confidence {policy.gates.confidence}, at most {policy.max_undecided_intervals} undecided analyses"
    )
    print()
    print(
        "| canary | runs | rolled back ≤ 3 analyses | rolled back | promoted "
        "| median analyses to rollback | gates that failed | s |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
    for name, fault in SCENARIOS.items():
        start = time.perf_counter()
        r = run_scenario(name, fault, seeds=range(args.seeds), policy=policy)
        elapsed = time.perf_counter() - start
        gates = ", ".join(f"{g} {n}" for g, n in sorted(r.failed_gates.items())) or "-"
        median = "-" if r.median_analyses_to_rollback is None else f"{r.median_analyses_to_rollback:g}"
        print(
            f"| {name} | {r.runs} | {r.rolled_back_within_3} ({r.within_3_rate:.1%}) | "
            f"{r.rolled_back} ({r.rollback_rate:.1%}) | {r.promoted} | {median} | {gates} | {elapsed:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
