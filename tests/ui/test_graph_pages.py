"""Lineage and pipeline pages: server-rendered SVG graphs, grants applied like the API's walk."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.ui._world import World, login


@pytest.fixture
def root(world: World) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.url) as client:
        login(client, world.tokens["root"])
        yield client


def test_lineage_of_a_model_artifact_shows_its_evaluation_both_ways(root: httpx.Client, world: World) -> None:
    html = root.get(f"/ui/lineage/{world.ids['model_artifact']}").text
    assert '<svg class="graph"' in html and "evaluate" in html and "Blessing" in html
    upstream = root.get(f"/ui/lineage/{world.ids['model_artifact']}", params={"direction": "upstream"}).text
    assert "Blessing" not in upstream  # the blessing is downstream of the model only


def test_lineage_of_a_hidden_run_is_a_404_for_a_viewer(world: World) -> None:
    with httpx.Client(base_url=world.url) as client:
        login(client, world.tokens["vi"])
        assert client.get(f"/ui/lineage/{world.ids['hidden']}").status_code == 404
        assert client.get(f"/ui/lineage/{world.ids['model_artifact']}").status_code == 200


def test_pipeline_pages_show_states_cache_hits_and_the_dag(root: httpx.Client, world: World) -> None:
    listing = root.get("/ui/pipelines").text
    assert "FAILED" in listing and "nightly &lt;img" in listing and "<img src" not in listing
    html = root.get(f"/ui/pipelines/{world.ids['pipeline_run']}").text
    assert html.count('<g class="node') == 3  # ingest, train (cached) and push (skipped)
    assert 'class="node cached"' in html and 'class="node skipped"' in html and "hit (" in html
    assert html.count('class="edge"') == 2
