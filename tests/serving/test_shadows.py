"""The shadow mirror: bounded, never blocking, drops counted, failures observed and never raised."""

from __future__ import annotations

import asyncio

import numpy as np

from loopml.deploy.collector import ObservationCollector
from loopml.inference.inputs import ModelInput
from loopml.serving.shadows import MirrorJob, ShadowMirror


def _job(collector: ObservationCollector, predict: object, released: list[int]) -> MirrorJob:
    return MirrorJob(
        deployment="churn",
        shadow="slow",
        predict=predict,  # type: ignore[arg-type]
        rows=ModelInput(n_rows=1, matrix=np.zeros((1, 3))),
        primary=[1.0],
        collector=collector,
        done=lambda: released.append(1),
    )


def test_a_slow_shadow_drops_copies_and_never_blocks() -> None:
    async def scenario() -> tuple[int, float, int, int]:
        gate = asyncio.Event()

        async def slow(rows: ModelInput) -> dict[str, np.ndarray]:
            await gate.wait()
            return {"predict": np.asarray([1])}

        drops: list[tuple[str, str]] = []
        mirror = ShadowMirror(capacity=5, workers=2, on_drop=lambda d, s: drops.append((d, s)))
        collector = ObservationCollector(start_ms=0)
        released: list[int] = []
        started = asyncio.get_running_loop().time()
        accepted = sum(mirror.offer(_job(collector, slow, released)) for _ in range(100))
        elapsed = asyncio.get_running_loop().time() - started
        await asyncio.sleep(0.01)
        gate.set()
        await asyncio.sleep(0.05)
        await mirror.close()
        assert len(drops) == mirror.dropped
        assert len(released) == 100  # every copy, answered or dropped, released its model
        return accepted, elapsed, mirror.dropped, collector.observations(now_ms=1).route("slow").requests

    accepted, elapsed, dropped, answered = asyncio.run(scenario())
    assert accepted == 5 and dropped == 95 and answered == 5
    assert elapsed < 0.05  # offering never waits for the shadow


def test_a_failing_shadow_is_observed_not_raised() -> None:
    async def scenario() -> ObservationCollector:
        async def broken(rows: ModelInput) -> dict[str, np.ndarray]:
            raise RuntimeError("shadow exploded")

        mirror = ShadowMirror(capacity=10, workers=1)
        collector = ObservationCollector(start_ms=0)
        for _ in range(3):
            mirror.offer(_job(collector, broken, []))
        await asyncio.sleep(0.05)
        await mirror.close()
        return collector

    route = asyncio.run(scenario()).observations(now_ms=1).route("slow")
    assert (route.requests, route.errors) == (3, 3)
