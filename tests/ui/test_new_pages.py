"""Evaluation by slice, artifact previews, model cards with candidate vs champion, deployments."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from loopml.security.auth import AuthService, Resource, ResourceKind
from tests.ui._world import MODEL, World, login


@pytest.fixture
def root(world: World) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.url) as client:
        login(client, world.tokens["root"])
        yield client


@pytest.fixture
def viewer(world: World) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.url) as client:
        login(client, world.tokens["vi"])
        yield client


def _inert(html: str) -> bool:
    return "<script>" not in html and "<img src=x" not in html


def test_evaluation_page_shows_slices_thresholds_and_verdict(root: httpx.Client, world: World) -> None:
    html = root.get(f"/ui/evaluations/{world.ids['evaluation']}").text
    assert "Not blessed" in html and "1 of 3 checks failed" in html  # accuracy fails on one city slice
    assert "city=paris" in html and "city=&lt;img src=x" in html and _inert(html)
    assert 'class="num fail"' in html  # the failing cell is flagged
    assert "roc_auc" in html and "accuracy" in html and "lower_bound" in html
    data = root.get(f"/ui/evaluations/{world.ids['evaluation']}/evaluation.json").json()
    assert data["task"] == "binary" and {s["key"] for s in data["slices"]} >= {"city=paris"}


def test_evaluation_page_filters_slices_and_metrics(root: httpx.Client, world: World) -> None:
    html = root.get(f"/ui/evaluations/{world.ids['evaluation']}?spec=nope&metric=accuracy").text
    assert "0 of 0 slices" in html
    table = html.split("Metrics by slice")[1]
    assert ">accuracy</th>" in table and ">roc_auc</th>" not in table


def test_a_viewer_cannot_open_an_evaluation_of_a_hidden_experiment(
    viewer: httpx.Client, world: World
) -> None:
    hidden = world.store.artifacts.create(
        type="Evaluation", name="secret-eval", uri="x", sha256=None, size=None, run_id=world.ids["hidden"]
    )
    for path in (f"/ui/evaluations/{hidden.artifact_id}", f"/ui/artifacts/{hidden.artifact_id}"):
        refused = viewer.get(path)
        assert refused.status_code == 404 and "secret-eval" not in refused.text


def test_artifact_page_previews_a_dataset_head_and_folder_files(root: httpx.Client, world: World) -> None:
    dataset = world.store.artifacts.list(type="Dataset", name="census").items[0]
    html = root.get(f"/ui/artifacts/{dataset.artifact_id}").text
    assert "First 20 rows of 40" in html and ">age <" in html and "int64" in html and _inert(html)
    assert "&lt;img src=x onerror=window.__xss=3&gt;" in html  # a city value, escaped
    folder = root.get(f"/ui/artifacts/{world.ids['evaluation']}").text
    assert "evaluation.json" in folder and "notes.txt" in folder and "Pick a file" in folder
    notes = root.get(f"/ui/artifacts/{world.ids['evaluation']}?path=notes.txt").text
    assert "notes &lt;script&gt;" in notes and _inert(notes)
    stats = world.store.artifacts.list(type="Statistics").items[0]
    assert (
        "\n      &#34;approximate&#34;: []" in root.get(f"/ui/artifacts/{stats.artifact_id}").text
    )  # JSON, indented


def test_model_card_shows_lineage_evaluation_and_champion_link(root: httpx.Client, world: World) -> None:
    html = root.get(f"/ui/models/{quote(MODEL)}/versions/2").text
    assert "Model card" in html and "Training lineage" in html and "training-rows" in html
    assert "/ui/evaluations/" in html and "compare?candidate=2&amp;champion=1" in html and _inert(html)
    assert (
        "This version is the <strong>champion</strong>"
        in root.get(f"/ui/models/{quote(MODEL)}/versions/1").text
    )


def test_candidate_and_champion_side_by_side(root: httpx.Client) -> None:
    html = root.get(f"/ui/models/{quote(MODEL)}/compare").text
    assert "Candidate v2 vs champion v1" in html and _inert(html)
    assert "not blessed" in html and "blessed" in html
    rows = html.split("Overall metrics")[1]
    assert ">roc_auc</th>" in rows and ">accuracy</th>" in rows


def test_deployment_pages_show_routes_rollout_gates_and_verdicts(root: httpx.Client) -> None:
    listing = root.get("/ui/deployments").text
    assert "churn-live" in listing and "progressing" in listing and "models:/churn/2 (25%)" in listing
    html = root.get("/ui/deployments/churn-live").text
    assert "75% of requests" in html and "25% of requests" in html and "mirrors 50%" in html
    assert 'class="step current"' in html and "step 2 of 4" in html
    assert "p99_latency" in html and "verdict-fail" in html and "inconclusive" in html and _inert(html)
    assert "Canary rolled back: p99 latency &lt;script&gt;" in html
    assert '<a href="/ui/models/churn/versions/2">' in html
    assert root.get("/ui/deployments/nope").status_code == 404


def test_a_deployment_of_a_restricted_model_is_hidden_without_a_grant(world: World) -> None:
    auth = AuthService(world.store)
    churn = Resource(kind=ResourceKind.MODEL, key="churn")  # churn-live routes to models:/churn/1 and /2
    auth.grant("ed", churn, "read")
    try:
        with httpx.Client(base_url=world.url) as client:
            login(client, world.tokens["vi"])
            assert "churn-live" not in client.get("/ui/deployments").text
            refused = client.get("/ui/deployments/churn-live")
            missing = client.get("/ui/deployments/nope")
        assert refused.status_code == missing.status_code == 404  # answered as if it did not exist
        assert (
            "No deployment named &#39;churn-live&#39;" in refused.text
            and "75% of requests" not in refused.text
        )
        with httpx.Client(base_url=world.url) as client:
            login(client, world.tokens["ed"])  # the grant holder sees it
            assert "churn-live" in client.get("/ui/deployments").text
            assert client.get("/ui/deployments/churn-live").status_code == 200
    finally:
        auth.revoke_grant("ed", churn)


def test_compare_draws_parallel_coordinates_with_its_csv(root: httpx.Client, world: World) -> None:
    ids = f"run={world.ids['parent']}&run={world.ids['child']}"
    html = root.get(f"/ui/compare?{ids}").text
    assert 'class="parallel"' in html and "params.lr" in html and "metrics.loss" in html
    assert html.count('class="run pc-') == 2 and _inert(html)
    csv_text = root.get(f"/ui/compare/parallel.csv?{ids}").text.splitlines()
    assert csv_text[0].startswith("run_id,run_name,params.lr,metrics.loss") and len(csv_text) == 3


def test_run_page_links_its_artifacts_to_previews_and_evaluations(root: httpx.Client, world: World) -> None:
    html = root.get(f"/ui/runs/{world.ids['parent']}").text
    assert f'href="/ui/artifacts/{world.ids["evaluation"]}"' in html
    assert f'href="/ui/evaluations/{world.ids["evaluation"]}">by slice</a>' in html
