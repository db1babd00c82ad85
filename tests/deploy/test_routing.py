"""Routing decisions: stable hashing, weights, sticky A/B arms, shadow mirroring."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest

from loopml.deploy.routing import CANARY, PRIMARY, bucket, choose_route, mirrored_shadows, route_rows
from loopml.deploy.spec import ABArm, ABSplit, Canary, DeploymentSpec, Shadow


def test_bucket_is_stable_across_processes() -> None:
    code = "from loopml.deploy.routing import bucket; print(repr(bucket('alice', salt='shop:ab')))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(other.stdout) == bucket("alice", salt="shop:ab")
    assert bucket("alice", salt="shop:ab") == pytest.approx(70.72427401080944)  # pinned: restarts agree
    assert bucket("alice", salt="other:ab") != bucket("alice", salt="shop:ab")


@pytest.mark.parametrize("weight", [0, 5, 50, 100])
def test_canary_takes_its_weight(weight: float) -> None:
    spec = DeploymentSpec(
        name="churn", primary="models:/churn@champion", canary=Canary(target="models:/churn/2", weight=weight)
    )
    routes = Counter(choose_route(spec, key=None, request_id=f"r{i}").route for i in range(20_000))
    assert routes[CANARY] / 20_000 == pytest.approx(weight / 100, abs=0.01)
    assert set(routes) <= {PRIMARY, CANARY}


def test_ab_arms_are_sticky_and_split_by_weight() -> None:
    arms = (
        ABArm(name="a", target="models:/m/1", weight=20),
        ABArm(name="b", target="models:/m/2", weight=30),
        ABArm(name="c", target="models:/m/3", weight=50),
    )
    spec = DeploymentSpec(name="shop", primary="models:/m/1", ab=ABSplit(key="user", arms=arms))
    first = {u: choose_route(spec, key=f"u{u}", request_id="x").route for u in range(10_000)}
    again = {u: choose_route(spec, key=f"u{u}", request_id=f"other{u}").route for u in range(10_000)}
    assert first == again
    shares = Counter(first.values())
    for arm in arms:
        assert shares[arm.name] / 10_000 == pytest.approx(arm.weight / 100, abs=0.02)
    assert choose_route(spec, key="u1", request_id="x").sticky
    assert not choose_route(spec, key=None, request_id="x").sticky


def test_shadows_mirror_their_percentage() -> None:
    spec = DeploymentSpec(
        name="churn",
        primary="models:/churn@champion",
        shadows=(
            Shadow(name="all", target="models:/churn/2"),
            Shadow(name="some", target="models:/churn/3", mirror_percent=10),
        ),
    )
    counts = Counter(s.name for i in range(10_000) for s in mirrored_shadows(spec, request_id=f"r{i}"))
    assert counts["all"] == 10_000
    assert counts["some"] / 10_000 == pytest.approx(0.10, abs=0.015)


def test_rows_of_several_keys_are_grouped_by_arm() -> None:
    arms = (
        ABArm(name="a", target="models:/churn/1", weight=30),
        ABArm(name="b", target="models:/churn/2", weight=30),
        ABArm(name="c", target="models:/churn/3", weight=40),
    )
    spec = DeploymentSpec(name="churn", primary="models:/churn/1", ab=ABSplit(key="user", arms=arms))
    keys = [f"user-{i % 17}" for i in range(100)]
    parts = route_rows(spec, keys, request_id="r")
    assert sorted(p for _, positions in parts for p in positions.tolist()) == list(range(100))
    for choice, positions in parts:
        assert {choose_route(spec, key=keys[i], request_id="-").route for i in positions} == {choice.route}
    assert len(parts) == 3 and parts[0][1][0] == 0  # in the order of their first row
    one = route_rows(spec, ["user-1"] * 5, request_id="r")
    assert len(one) == 1 and one[0][1].tolist() == [0, 1, 2, 3, 4]
