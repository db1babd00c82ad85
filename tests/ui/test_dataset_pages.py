"""Dataset pages: versions, statistics per feature with distributions and top values, schema, anomalies."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from loopml.security.auth import AuthService, Resource, ResourceKind
from tests.ui._world import DATASET, World, login


@pytest.fixture
def root(world: World) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.url) as client:
        login(client, world.tokens["root"])
        yield client


def test_dataset_listing_and_versions(root: httpx.Client) -> None:
    assert f"/ui/datasets/{DATASET}/versions/2" in root.get("/ui/datasets").text
    versions = root.get(f"/ui/datasets/{DATASET}").text
    assert versions.index(">v2<") < versions.index(">v1<")


def test_statistics_show_every_feature_with_its_distribution_and_top_values(root: httpx.Client) -> None:
    html = root.get(f"/ui/datasets/{DATASET}/versions/1").text
    for feature in ("age", "income", "zeros", "city"):
        assert f'<th scope="row">{feature}</th>' in html
    assert html.count('<svg class="bars"') == 4  # three histograms and the city's top values
    assert "Top values" in html and "&lt;img src=x" in html and "<img src" not in html
    assert 'class="num warn"' in html  # missing incomes and zeros stand out
    assert "Schema" in html and "income" in html.split("<h2>Schema</h2>")[1]


def test_the_validated_version_lists_its_anomalies(root: httpx.Client) -> None:
    html = root.get(f"/ui/datasets/{DATASET}/versions/2").text
    assert "anomalies (" in html


def test_a_restricted_dataset_is_hidden_from_a_viewer(world: World) -> None:
    auth = AuthService(world.store)
    auth.grant("ed", Resource(kind=ResourceKind.DATASET, key=DATASET), "read")
    try:
        with httpx.Client(base_url=world.url) as client:
            login(client, world.tokens["vi"])
            assert DATASET not in client.get("/ui/datasets").text
            page = client.get(f"/ui/datasets/{DATASET}/versions/1")
        api = httpx.get(
            f"{world.url}/api/v1/datasets/{DATASET}@1",
            headers={"Authorization": f"Bearer {world.tokens['vi']}"},
        )
        assert page.status_code == api.status_code in (403, 404)  # refused exactly as the API refuses it
        assert "text/html" in page.headers["content-type"]
    finally:
        auth.revoke_grant("ed", Resource(kind=ResourceKind.DATASET, key=DATASET))
