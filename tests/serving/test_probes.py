"""Probing windows shared through Redis: a probe split over workers or replicas is still caught."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from loopml.config import Settings
from loopml.inference.extraction import ExtractionCheck, ProbeDetector
from loopml.inference.inputs import ModelInput, from_columns
from loopml.inference.schema import InputSchema
from loopml.registry import ColumnSpec, ModelSignature
from loopml.serving.probes import RedisProbeStore
from loopml.serving.server import _limiter as server_limiter

REDIS_URL = "redis://127.0.0.1:6379/0"
SCHEMA = InputSchema.from_signature(
    ModelSignature(
        inputs=(
            ColumnSpec(name="a", type="double"),
            ColumnSpec(name="b", type="double"),
            ColumnSpec(name="city", type="string"),
        )
    )
)
CHECK = ExtractionCheck(window_s=10, max_probes=4, step=0.1)


def _row(a: float, *, b: float = 2.0, city: str = "paris") -> ModelInput:
    return from_columns(SCHEMA, {"a": [a], "b": [b], "city": [city]}, as_matrix=False)


@pytest.fixture
def prefix() -> Iterator[str]:
    prefix = f"loopml-test:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


def _shared(prefix: str, now: list[float]) -> ProbeDetector:
    store = RedisProbeStore(REDIS_URL, prefix=prefix, clock=lambda: now[0])
    return ProbeDetector(SCHEMA, CHECK, store=store, namespace="m:1:")


def test_a_probe_split_over_two_detectors_is_caught_only_when_they_share_redis(prefix: str) -> None:
    now = [100.0]
    probes = [_row(1.0 + 0.01 * i) for i in range(8)]
    alone = [ProbeDetector(SCHEMA, CHECK, clock=lambda: now[0]) for _ in range(2)]
    assert all(alone[i % 2].observe("tok", row).allowed for i, row in enumerate(probes))

    shared = [_shared(prefix, now), _shared(prefix, now)]
    decisions = [shared[i % 2].observe("tok", row) for i, row in enumerate(probes)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False] * 3
    assert decisions[-1].probes == 4 and 0 < decisions[-1].retry_after_s <= 10
    assert shared[0].observe("other", probes[0]).allowed  # per caller
    now[0] = 111.0
    assert shared[1].observe("tok", probes[0]).allowed  # the window moved on


def test_the_shared_decision_is_the_in_process_one(prefix: str) -> None:
    now = [0.0]
    local = ProbeDetector(
        SCHEMA, ExtractionCheck(window_s=5, max_probes=3, step=0.1, max_rows=4), clock=lambda: now[0]
    )
    shared = ProbeDetector(
        SCHEMA,
        ExtractionCheck(window_s=5, max_probes=3, step=0.1, max_rows=4),
        store=RedisProbeStore(REDIS_URL, prefix=prefix, clock=lambda: now[0]),
    )
    steps = [(1.0, "paris"), (1.05, "paris"), (9.0, "lyon"), (1.0, "lyon"), (1.0, "lyon"), (30.0, "nice")]
    seen = []
    for t in range(24):
        now[0] = t * 0.4
        a, city = steps[t % len(steps)]
        row = _row(a + 0.001 * t, city=city)
        seen.append((local.observe("tok", row), shared.observe("tok", row)))
    assert any(not d.allowed for d, _ in seen) and any(d.allowed for d, _ in seen)
    assert [d for d, _ in seen] == [d for _, d in seen]


def test_keys_expire_with_the_window_and_hold_at_most_max_rows(prefix: str) -> None:
    detector = ProbeDetector(
        SCHEMA,
        ExtractionCheck(window_s=30, max_probes=1000, max_rows=3),
        store=RedisProbeStore(REDIS_URL, prefix=prefix),
        namespace="m:1:",
    )
    for i in range(6):
        detector.observe("tok", _row(float(i * 100)))
    client = redis.Redis.from_url(REDIS_URL)
    key = f"{prefix}m:1:tok"
    assert 30_000 < client.pttl(key) <= 31_000
    assert client.get(key) is not None and list(client.scan_iter(f"{prefix}*")) == [key.encode()]
    assert len(json.loads(client.get(key) or b"{}")["r"]) == 3


def test_redis_down_counts_in_this_process_instead_of_failing() -> None:
    store = RedisProbeStore("redis://127.0.0.1:1/0", prefix="unused:")
    detector = ProbeDetector(SCHEMA, CHECK, store=store)
    decisions = [detector.observe("tok", _row(1.0 + 0.01 * i)) for i in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]


def test_the_server_shares_probing_windows_when_redis_is_configured(tmp_path: Path) -> None:
    shared = server_limiter(Settings(home=tmp_path, redis_url=REDIS_URL))
    assert isinstance(shared.probes, RedisProbeStore)
    assert server_limiter(Settings(home=tmp_path)).probes is None
