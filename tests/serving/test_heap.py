"""What start-up loaded is frozen out of cyclic garbage collection once the app is ready (and again
after a hot swap), while garbage made by requests is still collected."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopml.deploy.spec import DeploymentSpec
from loopml.serving import ModelSource
from loopml.serving.heap import freeze_loaded
from tests.serving.conftest import Models
from tests.serving.deploy_world import make_world, serve_deployments
from tests.serving.test_deployments import eventually, version_of
from tests.serving.test_guards import _serve, _v2


class _Node:
    other: object = None


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the test session collects as before


def _collected_by_the_cycle_collector() -> bool:
    node = _Node()
    node.other = node  # a reference cycle: only the cyclic collector frees it
    ref = weakref.ref(node)
    del node
    gc.collect()
    return ref() is None


def _is_tracked_for_collection(obj: object) -> bool:
    return any(o is obj for o in gc.get_objects())


def test_the_ready_app_freezes_what_start_up_loaded_and_requests_are_still_collected(models: Models) -> None:
    loaded = [object()]  # stands for anything start-up made that lives on
    assert gc.get_freeze_count() == 0 and _is_tracked_for_collection(loaded)
    with _serve(models, ModelSource(uri="models:/numeric@champion")) as client:
        assert gc.get_freeze_count() > 0
        assert not _is_tracked_for_collection(loaded)
        answer = client.post("/v2/models/numeric/infer", json=_v2(models.numeric_x[:2]))
        assert answer.status_code == 200, answer.text
        assert gc.isenabled()
        assert _collected_by_the_cycle_collector()


def test_a_hot_swap_freezes_the_models_it_loaded(tmp_path: Path) -> None:
    for world in make_world(tmp_path):
        world.services.deployments.create(
            DeploymentSpec(name="churn", primary="models:/churn@champion"), actor="ann"
        )
        with serve_deployments(world, "churn") as replica:
            assert version_of(replica.client) == "1"
            ready = gc.get_freeze_count()
            gc.unfreeze()  # a swap must freeze by itself
            world.services.deployments.start_canary("churn", "models:/churn/2", actor="ann")
            world.services.deployments.set_traffic("churn", weight=100, actor="ann")
            eventually(lambda: all(version_of(replica.client, i) == "2" for i in range(5)))
            assert gc.get_freeze_count() >= ready  # start-up's objects and the new model's
            assert _collected_by_the_cycle_collector()


def test_objects_made_after_a_freeze_are_collected() -> None:
    freeze_loaded()
    assert _collected_by_the_cycle_collector()
