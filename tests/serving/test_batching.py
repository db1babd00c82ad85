"""Adaptive micro-batching: concurrent requests share batches; answers stay per request."""

from __future__ import annotations

import asyncio
import dataclasses

import numpy as np

from loopml.errors import InvalidInput
from loopml.inference.inputs import ModelInput, from_matrix
from loopml.inference.outputs import PROBABILITIES, SCORES, OutputPolicy
from loopml.serving import Batching, ModelSource, load_served_model
from loopml.serving.batching import Arrivals, MicroBatcher
from tests.serving.conftest import Models


def _batcher(models: Models, batching: Batching) -> tuple[MicroBatcher, list[tuple[int, int]]]:
    served = load_served_model(
        ModelSource(uri="models:/numeric/1", batching=batching), registry=models.registry
    )
    seen: list[tuple[int, int]] = []
    return MicroBatcher(served, observer=lambda requests, rows, _s: seen.append((requests, rows))), seen


def test_concurrent_requests_are_batched_and_answered_separately(models: Models) -> None:
    batcher, seen = _batcher(models, Batching(max_batch_rows=64, max_wait_ms=5))
    x = models.numeric_x[:40]

    async def run() -> list[dict[str, np.ndarray]]:
        rows = [from_matrix(batcher.model.schema, x[i : i + 2]) for i in range(0, 40, 2)]
        answers = await asyncio.gather(*(batcher.predict(r) for r in rows))
        await batcher.close()
        return answers

    answers = asyncio.run(run())
    got = np.concatenate([a["predict"] for a in answers])
    np.testing.assert_array_equal(got, models.numeric.predict(x))
    assert all(len(a["predict"]) == 2 for a in answers)
    assert max(requests for requests, _ in seen) > 1
    assert sum(rows for _, rows in seen) == 40
    assert all(rows <= 64 for _, rows in seen)


def _arriving(models: Models, arrivals: Arrivals) -> tuple[MicroBatcher, list[tuple[int, int]]]:
    """A batcher that would wait a second for a batch to fill, counting ``arrivals``."""
    served = load_served_model(
        ModelSource(uri="models:/numeric/1", batching=Batching(max_batch_rows=64, max_wait_ms=1_000)),
        registry=models.registry,
    )
    seen: list[tuple[int, int]] = []
    batcher = MicroBatcher(
        served, observer=lambda requests, rows, _s: seen.append((requests, rows)), arrivals=arrivals
    )
    return batcher, seen


async def _concurrency_seen(batcher: MicroBatcher, rows: ModelInput) -> None:
    """Eight requests at once: the batcher has seen concurrency and will wait for batches to fill."""
    await asyncio.gather(*(batcher.predict(rows) for _ in range(8)))


def test_a_filling_batch_waits_for_a_request_already_inside_the_server(models: Models) -> None:
    arrivals = Arrivals()
    batcher, seen = _arriving(models, arrivals)
    rows = from_matrix(batcher.model.schema, models.numeric_x[:1])

    async def request(delay: float) -> dict[str, np.ndarray]:
        with arrivals.request():  # read by the protocol adapter: on its way to the batcher
            await asyncio.sleep(delay)  # still parsing when the batch starts filling
            return await batcher.predict(rows)

    async def run() -> None:
        await _concurrency_seen(batcher, rows)
        seen.clear()
        # Eight is as large as the recent batch: only the ninth, on its way, keeps the batch waiting.
        await asyncio.gather(*(request(0) for _ in range(8)), request(0.05))
        assert arrivals.upstream == 0
        await batcher.close()

    asyncio.run(run())
    assert seen == [(9, 9)]


def test_a_batch_as_large_as_the_recent_ones_goes_at_once_when_no_request_is_on_its_way(
    models: Models,
) -> None:
    arrivals = Arrivals()
    batcher, seen = _arriving(models, arrivals)
    rows = from_matrix(batcher.model.schema, models.numeric_x[:1])

    async def clients(delay: float) -> None:
        await asyncio.sleep(delay)  # not sent yet: they will form the next batch
        with arrivals.request():
            await asyncio.gather(*(batcher.predict(rows) for _ in range(8)))

    async def run() -> None:
        await _concurrency_seen(batcher, rows)
        seen.clear()
        # Waiting for the batch to fill (up to a second) would put all 16 requests in one batch.
        await asyncio.gather(clients(0), clients(0.05))
        await batcher.close()

    asyncio.run(run())
    assert seen == [(8, 8), (8, 8)]


def test_a_batch_smaller_than_the_recent_ones_waits_for_more(models: Models) -> None:
    arrivals = Arrivals()
    batcher, seen = _arriving(models, arrivals)
    rows = from_matrix(batcher.model.schema, models.numeric_x[:1])

    async def request(delay: float) -> None:
        await asyncio.sleep(delay)
        with arrivals.request():
            await batcher.predict(rows)

    async def run() -> None:
        await _concurrency_seen(batcher, rows)
        seen.clear()
        await asyncio.gather(request(0), request(0.05))  # the second comes within the longest wait
        await batcher.close()

    asyncio.run(run())
    assert seen == [(2, 2)]


def test_a_filling_batch_stops_waiting_when_the_request_on_its_way_goes_to_another_model(
    models: Models,
) -> None:
    arrivals = Arrivals()
    waiting, other = _arriving(models, arrivals)[0], _arriving(models, arrivals)[0]
    rows = from_matrix(waiting.model.schema, models.numeric_x[:1])
    finished: list[str] = []

    async def eight() -> None:
        with arrivals.request():
            await asyncio.gather(*(waiting.predict(rows) for _ in range(8)))
        finished.append("waiting")

    async def elsewhere() -> None:
        with arrivals.request():  # on its way while the eight fill their batch ...
            await asyncio.sleep(0.01)
            await other.predict(rows)  # ... but for the other model
        finished.append("other")

    async def bystander() -> None:
        await asyncio.sleep(0.5)  # half of the batch's longest wait (1 s)
        finished.append("bystander")

    async def run() -> None:
        await _concurrency_seen(waiting, rows)
        await asyncio.gather(eight(), elsewhere(), bystander())
        await waiting.close()
        await other.close()

    asyncio.run(run())
    assert finished.index("waiting") < finished.index("bystander")


def test_requests_taken_by_another_model_count_towards_the_recent_batch_size(models: Models) -> None:
    """A deployment's canary takes one of the eight requests its primary's batches used to hold: the
    primary's batch of seven does not wait for an eighth that went elsewhere."""
    arrivals = Arrivals()
    (primary, seen), (canary, _) = _arriving(models, arrivals), _arriving(models, arrivals)
    rows = from_matrix(primary.model.schema, models.numeric_x[:1])
    finished: list[str] = []

    async def cycle() -> None:
        with arrivals.request():
            await asyncio.gather(*(primary.predict(rows) for _ in range(7)), canary.predict(rows))
        finished.append("cycle")

    async def bystander() -> None:
        await asyncio.sleep(0.5)  # half of the batch's longest wait (1 s)
        finished.append("bystander")

    async def run() -> None:
        await _concurrency_seen(primary, rows)
        seen.clear()
        await asyncio.gather(cycle(), bystander())
        await primary.close()
        await canary.close()

    asyncio.run(run())
    assert seen == [(7, 7)]
    assert finished.index("cycle") < finished.index("bystander")


def test_a_request_refused_before_the_batcher_stops_counting_as_on_its_way() -> None:
    arrivals = Arrivals()
    try:
        with arrivals.request():
            raise InvalidInput("bad body")
    except InvalidInput:
        pass
    assert arrivals.upstream == 0


def test_a_bad_request_fails_alone(models: Models) -> None:
    batcher, _ = _batcher(models, Batching(max_batch_rows=64, max_wait_ms=5))
    good = from_matrix(batcher.model.schema, models.numeric_x[:3])
    bad = ModelInput(n_rows=1, matrix=np.array([[np.nan, 1.0, 2.0, 3.0]]))  # LogisticRegression refuses NaN

    async def run() -> list[object]:
        answers = await asyncio.gather(
            batcher.predict(good), batcher.predict(bad), batcher.predict(good), return_exceptions=True
        )
        await batcher.close()
        return answers

    first, failed, third = asyncio.run(run())
    assert isinstance(failed, InvalidInput) and "refused the input" in str(failed)
    assert isinstance(first, dict) and isinstance(third, dict)
    np.testing.assert_array_equal(first["predict"], models.numeric.predict(models.numeric_x[:3]))


def test_batching_off_predicts_each_request(models: Models) -> None:
    batcher, seen = _batcher(models, Batching(enabled=False))

    async def run() -> None:
        await asyncio.gather(
            *(batcher.predict(from_matrix(batcher.model.schema, models.numeric_x[:1])) for _ in range(5))
        )

    asyncio.run(run())
    assert seen == [(1, 1)] * 5


def test_predictions_run_on_one_single_threaded_native_pool(models: Models) -> None:
    from threadpoolctl import threadpool_info

    from loopml.serving import DataPlane, ModelRepository

    served = load_served_model(ModelSource(uri="models:/numeric/1"), registry=models.registry)
    plane = DataPlane(ModelRepository([served]))
    pools = plane._executor.submit(threadpool_info).result()
    asyncio.run(plane.close())
    assert pools and all(pool["num_threads"] == 1 for pool in pools)


def test_kept_scores_are_the_raw_positive_probabilities_whatever_the_policy_hides(models: Models) -> None:
    served = load_served_model(
        ModelSource(uri="models:/numeric/1", batching=Batching(max_batch_rows=64, max_wait_ms=5)),
        registry=models.registry,
    )
    assert len(models.numeric.classes_) == 2
    x = models.numeric_x[:40]
    expected = models.numeric.predict_proba(x)[:, 1]
    for policy in (OutputPolicy(label_only=True), OutputPolicy(decimals=0)):
        kept = MicroBatcher(dataclasses.replace(served, policy=policy), keep_scores=True)
        plain = MicroBatcher(dataclasses.replace(served, policy=policy))

        async def run(batcher: MicroBatcher) -> list[dict[str, np.ndarray]]:
            rows = [from_matrix(batcher.model.schema, x[i : i + 2]) for i in range(0, 40, 2)]
            answers = await asyncio.gather(*(batcher.predict(r) for r in rows))
            await batcher.close()
            return answers

        answers = asyncio.run(run(kept))
        np.testing.assert_allclose(np.concatenate([a[SCORES] for a in answers]), expected)
        if policy.label_only:
            assert all(PROBABILITIES not in a for a in answers)
        assert all(SCORES not in a for a in asyncio.run(run(plain)))  # only when asked for
