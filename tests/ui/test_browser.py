"""The UI in a real browser: Playwright driving Debian's Chromium.

Every page loads with no console error and no failed request (CSP violations included), the
main flows work, markup in names stays inert, and axe-core finds no serious accessibility
violation. Screenshots of each page land in ``out/ui-screenshots/`` for review.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.ui._world import DATASET, MODEL, World

sync_api = pytest.importorskip("playwright.sync_api", reason="the dev extra installs playwright")

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).with_name("axe.min.js")
SHOTS = Path(__file__).resolve().parents[2] / "out" / "ui-screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: `apt-get install -y chromium` (.ci/run does it).")
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


class Watched:
    """A page that records console errors, uncaught exceptions and failed requests."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.problems: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"exception: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url} {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and self.problems.append(f"{r.status}: {r.url}"))


def _session(browser: Any, world: World, user: str) -> Watched:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    watched = Watched(context.new_page())
    page = watched.page
    page.goto(world.url + "/ui/experiments")
    assert "/ui/login" in page.url
    page.fill("#token", world.tokens[user])
    page.click("button[type=submit]")
    page.wait_for_url("**/ui/experiments")
    return watched


@pytest.fixture(scope="module")
def admin(browser: Any, world: World) -> Iterator[Watched]:
    watched = _session(browser, world, "root")
    yield watched
    watched.page.context.close()


def _pages(world: World) -> dict[str, str]:
    model = quote(MODEL)
    return {
        "experiments": "/ui/experiments",
        "runs": f"/ui/experiments/{world.ids['experiment']}",
        "run": f"/ui/runs/{world.ids['parent']}",
        "compare": f"/ui/compare?run={world.ids['parent']}&run={world.ids['child']}",
        "models": "/ui/models",
        "model": f"/ui/models/{model}",
        "model-version": f"/ui/models/{model}/versions/1",
        "admin-users": "/ui/admin/users",
        "admin-tokens": "/ui/admin/tokens",
        "admin-audit": "/ui/admin/audit",
        "lineage": f"/ui/lineage/{world.ids['model_artifact']}",
        "pipelines": "/ui/pipelines",
        "pipeline-run": f"/ui/pipelines/{world.ids['pipeline_run']}",
        "datasets": "/ui/datasets",
        "dataset": f"/ui/datasets/{DATASET}",
        "dataset-version": f"/ui/datasets/{DATASET}/versions/1",
        "dataset-anomalies": f"/ui/datasets/{DATASET}/versions/2",
        "evaluation": f"/ui/evaluations/{world.ids['evaluation']}",
        "artifact-folder": f"/ui/artifacts/{world.ids['evaluation']}?path=notes.txt",
        "artifact-dataset": f"/ui/artifacts/{world.ids['dataset_version']}",
        "model-compare": f"/ui/models/{model}/compare",
        "deployments": "/ui/deployments",
        "deployment": "/ui/deployments/churn-live",
        "monitoring": "/ui/monitoring",
        "deployment-monitoring": "/ui/deployments/churn-live/monitoring",
    }


def _axe(page: Any) -> list[dict[str, Any]]:
    # evaluated over DevTools: the page's own CSP stays enforced for everything it loads
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


PAGE_NAMES = (
    "experiments",
    "runs",
    "run",
    "compare",
    "models",
    "model",
    "model-version",
    "admin-users",
    "admin-tokens",
    "admin-audit",
    "lineage",
    "pipelines",
    "pipeline-run",
    "datasets",
    "dataset",
    "dataset-version",
    "dataset-anomalies",
    "evaluation",
    "artifact-folder",
    "artifact-dataset",
    "model-compare",
    "deployments",
    "deployment",
    "monitoring",
    "deployment-monitoring",
)


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_every_page_loads_clean_inert_and_accessible(admin: Watched, world: World, name: str) -> None:
    admin.problems.clear()
    page = admin.page
    page.goto(world.url + _pages(world)[name])
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__xss === undefined")
    assert admin.problems == []
    serious = _axe(page)
    assert serious == [], [(v["id"], v["help"], [n["target"] for n in v["nodes"][:3]]) for v in serious]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_login_page_is_clean_and_accessible(browser: Any, world: World) -> None:
    context = browser.new_context()
    watched = Watched(context.new_page())
    watched.page.goto(world.url + "/ui/login")
    assert watched.problems == [] and _axe(watched.page) == []
    SHOTS.mkdir(parents=True, exist_ok=True)
    watched.page.screenshot(path=str(SHOTS / "login.png"))
    context.close()


def test_charts_draw_from_their_data(admin: Watched, world: World) -> None:
    page = admin.page
    page.goto(world.url + f"/ui/runs/{world.ids['parent']}")
    page.wait_for_selector(".plot canvas")
    page.check("input.log-scale")
    page.wait_for_selector(".plot canvas")
    page.fill("input.smoothing", "0.9")
    page.wait_for_selector(".plot canvas")
    assert page.locator(".plot canvas").count() == page.locator(".plot").count()
    assert admin.problems == []


def test_filter_then_compare_flow(admin: Watched, world: World) -> None:
    page = admin.page
    page.goto(world.url + f"/ui/experiments/{world.ids['experiment']}")
    page.fill("#filter", "params.lr = '0.2'")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("input[name=run]").count() == 1
    page.goto(world.url + f"/ui/experiments/{world.ids['experiment']}")
    for box in page.locator("input[name=run]").all():
        box.check()
    page.click("text=Compare selected runs")
    page.wait_for_selector("h1:has-text('Compare 2 runs')")
    page.wait_for_selector(".plot canvas")
    assert admin.problems == []


def test_open_lineage_from_a_model_version(admin: Watched, world: World) -> None:
    page = admin.page
    page.goto(world.url + f"/ui/models/{quote(MODEL)}/versions/1")
    page.click("text=Upstream and downstream")
    page.wait_for_selector("svg.graph g.node")
    page.click("svg.graph a:has-text('Blessing')")
    page.wait_for_selector("h1:has-text('Lineage of churn')")  # the blessing, named after the model
    assert admin.problems == []


def test_a_viewer_is_forbidden_the_admin_pages(browser: Any, world: World) -> None:
    watched = _session(browser, world, "vi")
    response = watched.page.goto(world.url + "/ui/admin/tokens")
    assert response is not None and response.status == 403
    assert watched.page.locator("h1").inner_text() == "Forbidden"
    assert watched.page.locator("nav[aria-label=Main] >> text=Admin").count() == 0
    watched.page.context.close()


def test_logout_ends_the_session(browser: Any, world: World) -> None:
    watched = _session(browser, world, "ed")
    watched.page.click("text=Log out")
    watched.page.wait_for_url("**/ui/login")
    watched.page.goto(world.url + "/ui/experiments")
    assert "/ui/login" in watched.page.url
    watched.page.context.close()


def test_evaluation_by_slice_from_a_model_card(admin: Watched, world: World) -> None:
    page = admin.page
    page.goto(world.url + f"/ui/models/{quote(MODEL)}/versions/1")
    page.click("text=Evaluation by slice, thresholds and checks")
    page.wait_for_selector("h1:has-text('Evaluation')")
    assert page.locator("table.slices tbody tr").count() == 2
    assert page.locator("table.slices td.fail").count() >= 1  # the failed accuracy check on a slice
    page.select_option("#spec", "city")
    page.uncheck("input[name=metric][value=roc_auc]")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state()
    assert "roc_auc" not in page.locator("table.slices thead").inner_text()
    assert page.evaluate("window.__xss === undefined") and admin.problems == []


def test_compare_draws_parallel_coordinates(admin: Watched, world: World) -> None:
    page = admin.page
    page.goto(world.url + f"/ui/compare?run={world.ids['parent']}&run={world.ids['child']}")
    assert page.locator("svg.parallel path.run").count() == 2
    box = page.locator("svg.parallel").bounding_box()
    assert box is not None and box["width"] > 400
    assert admin.problems == []


_COMPARE_TIMES = """() => ({
  paint: performance.getEntriesByName("first-contentful-paint").map((e) => e.startTime),
  data: performance.getEntriesByType("resource")
    .filter((e) => e.name.includes("/ui/compare/metric.json")).map((e) => [e.name, e.startTime]),
})"""


def test_compare_asks_for_its_chart_data_after_the_first_paint(admin: Watched, world: World) -> None:
    admin.problems.clear()
    page = admin.page
    ids = [world.ids["parent"], world.ids["child"]]
    page.goto(world.url + f"/ui/compare?run={ids[0]}&run={ids[1]}")
    sync_api.expect(page.locator(".plot canvas")).to_have_count(1, timeout=60_000)
    times = page.evaluate(_COMPARE_TIMES)
    (paint,) = times["paint"]
    ((url, asked),) = times["data"]  # one request for the chart: the runs come from the page's form
    assert asked >= paint, times
    assert all(f"run={i}" in url for i in ids) and "key=loss" in url
    assert admin.problems == []


def test_compare_charts_load_as_they_near_the_viewport(browser: Any, world: World) -> None:
    watched = _session(browser, world, "root")
    page = watched.page
    page.set_viewport_size({"width": 1280, "height": 200})  # the chart lies screens below the top
    page.goto(world.url + f"/ui/compare?run={world.ids['parent']}&run={world.ids['child']}")
    page.wait_for_load_state("networkidle")
    assert page.evaluate(_COMPARE_TIMES)["data"] == [] and page.locator(".plot canvas").count() == 0
    page.locator(".plot").scroll_into_view_if_needed()
    sync_api.expect(page.locator(".plot canvas")).to_have_count(1, timeout=60_000)
    # the chart's JSON button submits the runs' form with its key
    page.click("figure.chart:has(.plot) button:has-text('JSON')")
    page.wait_for_url("**/ui/compare/metric.json?**")
    assert page.url.count("run=") == 2 and "key=loss" in page.url
    assert watched.problems == []
    watched.page.context.close()


def test_deployments_from_the_list_to_a_model_version(admin: Watched, world: World) -> None:
    page = admin.page
    page.goto(world.url + "/ui/experiments")
    page.click("nav[aria-label=Main] >> text=Deployments")
    page.click("text=churn-live")
    page.wait_for_selector("ol.steps li.current")
    assert page.locator("ol.steps li.current").inner_text().startswith("25")
    assert page.locator("text=p99_latency").count() >= 1
    assert page.evaluate("window.__xss === undefined")


def test_artifact_preview_from_a_run(admin: Watched, world: World) -> None:
    page = admin.page
    page.goto(world.url + f"/ui/artifacts/{world.ids['dataset_version']}")
    assert page.locator("table.preview tbody tr").count() == 20
    assert page.locator("table.preview thead th").first.inner_text().startswith("age")
    assert page.evaluate("window.__xss === undefined") and admin.problems == []


def test_monitoring_from_a_deployment_draws_its_charts_and_windows(admin: Watched, world: World) -> None:
    admin.problems.clear()
    page = admin.page
    page.goto(world.url + "/ui/deployments/churn-live")
    page.click("text=Monitoring: windows, drift, performance and alerts")
    page.wait_for_selector("h1:has-text('Monitoring of churn-live')")
    # every chart drawn: waited on through a locator (a string predicate is evaluated with eval,
    # which the page's Content-Security-Policy refuses whenever the first check comes too early)
    assert page.locator(".plot").count() == 4  # drift, baseline drift, performance, label coverage
    sync_api.expect(page.locator(".plot canvas")).to_have_count(4, timeout=60_000)
    performance = page.locator(".plot[data-src*='performance.json']")
    assert performance.locator(".u-legend").inner_text().count("accuracy") >= 2  # realised and estimated
    box = performance.locator("canvas").bounding_box()
    assert box is not None and box["width"] > 300
    assert page.locator("table.windows tbody tr").count() == 8
    assert "drift, baseline" in page.locator("table.windows td.warn").all_inner_texts()  # hour 3
    assert page.locator("table.alerts tr.alert.open").count() == 1
    assert page.evaluate("window.__xss === undefined") and admin.problems == []
