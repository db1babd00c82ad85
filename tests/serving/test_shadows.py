"""The shadow mirror: bounded, never blocking, drops counted, failures observed and never raised."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from loopml.deploy.collector import ObservationCollector
from loopml.inference.inputs import ModelInput
from loopml.serving.shadows import MirrorJob, ShadowMirror, predict_copies


class _Model:
    """A shadow model: sums each row, slowly or failing on request."""

    def __init__(self, *, delay: float = 0.0, fail_on: float | None = None) -> None:
        self.delay, self.fail_on, self.calls = delay, fail_on, 0

    def predict(self, rows: ModelInput) -> dict[str, np.ndarray]:
        self.calls += 1
        time.sleep(self.delay)
        assert rows.matrix is not None
        if self.fail_on is not None and (rows.matrix == self.fail_on).any():
            raise ValueError("cannot predict that")
        return {"predict": rows.matrix.sum(axis=1)}

    def postprocess(self, outputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return outputs


def _rows(value: float) -> ModelInput:
    return ModelInput(n_rows=1, matrix=np.full((1, 3), value))


def _job(
    model: _Model, collector: ObservationCollector, released: list[int], value: float = 1.0
) -> MirrorJob:
    return MirrorJob(
        deployment="churn",
        shadow="slow",
        model=model,  # type: ignore[arg-type]
        rows=_rows(value),
        primary=[3.0 * value],
        collector=collector,
        done=lambda: released.append(1),
    )


def test_a_slow_shadow_drops_copies_and_never_blocks() -> None:
    model = _Model(delay=0.2)
    executor = ThreadPoolExecutor(1)

    async def scenario() -> tuple[int, float, ShadowMirror, list[int], list[tuple[str, str]]]:
        drops: list[tuple[str, str]] = []
        mirror = ShadowMirror(executor=executor, capacity=5, on_drop=lambda d, s: drops.append((d, s)))
        collector = ObservationCollector(start_ms=0)
        released: list[int] = []
        started = time.perf_counter()
        accepted = 0
        for _ in range(100):
            accepted += mirror.offer(_job(model, collector, released))
            await asyncio.sleep(0)
        elapsed = time.perf_counter() - started
        await asyncio.sleep(0.6)
        await mirror.close()
        return accepted, elapsed, mirror, released, drops

    accepted, elapsed, mirror, released, drops = asyncio.run(scenario())
    executor.shutdown()
    assert elapsed < 0.1  # offering never waits for the shadow, however slow
    assert mirror.dropped == len(drops) == 100 - accepted and 5 <= accepted < 20
    assert len(released) == 100  # every copy, answered, dropped or discarded, released its model


def test_copies_are_predicted_in_bulk_and_compared() -> None:
    model = _Model()
    gate = threading.Event()
    executor = ThreadPoolExecutor(1)
    executor.submit(gate.wait)  # hold the shadow thread while copies queue up

    async def scenario() -> ObservationCollector:
        mirror = ShadowMirror(executor=executor, capacity=100)
        collector = ObservationCollector(start_ms=0)
        for i in range(50):
            mirror.offer(_job(model, collector, [], value=float(i)))
        gate.set()
        await asyncio.sleep(0.2)
        await mirror.close()
        return collector

    route = asyncio.run(scenario()).observations(now_ms=1).route("slow")
    executor.shutdown()
    assert route.requests == 50 and route.errors == 0
    assert all(p == s for p, s in route.mirrored)  # the shadow agrees with the primary on every copy
    assert model.calls <= 2  # one batch (or the first copy, then the rest)


def test_a_failing_copy_fails_alone() -> None:
    answers = predict_copies(_Model(fail_on=2.0), [_rows(1.0), _rows(2.0), _rows(3.0)])  # type: ignore[arg-type]
    assert isinstance(answers[1], ValueError)
    assert [a["predict"].tolist() for a in (answers[0], answers[2])] == [[3.0], [9.0]]  # type: ignore[index]
