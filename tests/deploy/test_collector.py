"""The observation collector: exact counts, bounded uniform samples, thread safety."""

from __future__ import annotations

import threading

from loopml.deploy.collector import ObservationCollector
from loopml.deploy.gates import Verdict, compare_shadow, error_rate_gate
from loopml.deploy.policy import GateThresholds


def test_counts_are_exact_and_samples_bounded() -> None:
    c = ObservationCollector(start_ms=100, sample_size=50, seed=1)
    for i in range(1_000):
        c.record(
            "primary", error=i % 100 == 0, latency_ms=float(i), predictions=(i % 2,), atypical=i % 10 == 0
        )
    obs = c.observations(now_ms=200)
    p = obs.route("primary")
    assert (p.requests, p.errors, p.atypical_flags) == (1_000, 10, 90)
    assert len(p.latencies_ms) == 50 and len(p.predictions) == 50
    assert max(p.latencies_ms) > 500  # a uniform sample, not the first 50
    assert (obs.window.start_ms, obs.window.end_ms) == (100, 200)


def test_concurrent_records_are_all_counted() -> None:
    c = ObservationCollector(start_ms=0)

    def work() -> None:
        for _ in range(2_000):
            c.record("canary", error=False, latency_ms=1.0)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert c.observations(now_ms=1).route("canary").requests == 8_000


def test_collected_facts_feed_the_gates() -> None:
    c = ObservationCollector(start_ms=0, seed=2)
    t = GateThresholds(min_samples=100)
    for i in range(2_000):
        c.record("primary", error=i % 500 == 0, latency_ms=5.0, predictions=(1.0,))
        c.record("canary", error=i % 10 == 0, latency_ms=5.0, predictions=(1.0,))
        c.record_mirror("twin", error=False, latency_ms=5.0, pairs=((1.0, 1.0),))
    obs = c.observations(now_ms=10)
    assert error_rate_gate(obs, t).verdict is Verdict.FAIL
    agreement = next(g for g in compare_shadow(obs, "twin", t).gates if g.gate == "agreement")
    assert agreement.verdict is Verdict.PASS and agreement.value == 1.0
