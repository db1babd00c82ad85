"""One CLI behaviour everywhere: id prefixes, listing JSON, piped output, missing stores, the new verbs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from loopml.config import Settings
from loopml.errors import InvalidInput, NotFound
from loopml.store.ids import pick_unique
from loopml.tracking import Client

from .conftest import Invoke

_ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def family(home: Path, tmp_path: Path) -> dict[str, str]:
    """A parent run with two child runs (one logs a metric history and an artifact)."""
    client = Client(Settings(home=home))
    data = tmp_path / "table.csv"
    data.write_text("a,b\n1,2\n")
    with client.start_run("family", "parent") as parent:
        with client.start_run("family", "child-a", nested=True) as child_a:
            for step, loss in enumerate((1.0, 0.5, 0.25, 0.2)):
                client.log_metric(child_a.run_id, "loss", loss, step=step)
            [art] = client.log_artifact(child_a.run_id, data)
        with client.start_run("family", "child-b", nested=True) as child_b:
            pass
    client.close()
    return {
        "parent": parent.run_id,
        "child_a": child_a.run_id,
        "child_b": child_b.run_id,
        "artifact": art.artifact_id,
    }


# --- ids -----------------------------------------------------------------------------------------


def test_every_id_argument_takes_the_prefix_listings_show(invoke: Invoke, family: dict[str, str]) -> None:
    short = family["child_a"][:8]
    shown = invoke("runs", "show", short, "--json")
    assert shown.code == 0, shown.err
    assert json.loads(shown.out)["run"]["run_id"] == family["child_a"]
    assert invoke("runs", "compare", short, family["parent"][:8]).code == 0
    assert invoke("runs", "reproduce", short).code == 0
    art = invoke("artifacts", "show", family["artifact"][:8], "--json")
    assert art.code == 0 and json.loads(art.out)["artifact_id"] == family["artifact"]
    assert invoke("artifacts", "verify", family["artifact"][:6]).code == 0
    graph = invoke("lineage", family["artifact"][:8], "--json")
    assert graph.code == 0 and json.loads(graph.out)["root"] == family["artifact"]


def test_a_prefix_that_matches_nothing_or_is_too_short_is_not_found(
    invoke: Invoke, family: dict[str, str]
) -> None:
    missing = invoke("runs", "show", "ffffffff")
    assert missing.code == 2 and "No run with id 'ffffffff'" in missing.err
    assert invoke("runs", "show", family["child_a"][:3]).code == 2  # under 4 characters: not a prefix


def test_an_ambiguous_prefix_is_an_error_listing_the_candidates(
    invoke: Invoke, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = iter(["abcd" + "1" * 28, "abcd" + "2" * 28])
    monkeypatch.setattr("loopml.store._runs.new_id", lambda: next(ids))
    client = Client(Settings(home=home))
    for name in ("one", "two"):
        with client.start_run("twins", name):
            pass
    client.close()
    result = invoke("runs", "show", "abcd")
    assert result.code == 2
    assert "'abcd' is ambiguous" in result.err
    assert "abcd" + "1" * 28 in result.err and "abcd" + "2" * 28 in result.err
    assert invoke("runs", "show", "abcd2").code == 0


def test_pick_unique_lists_the_candidates() -> None:
    with pytest.raises(InvalidInput, match=r"'ab12' is ambiguous: it matches ab12aa, ab12bb\. Give more"):
        pick_unique("run", "ab12", ["ab12bb", "ab12aa"], hint="`loopml runs list`")
    with pytest.raises(NotFound, match="`loopml runs list` lists them"):
        pick_unique("run", "ab12", [], hint="`loopml runs list`")


# --- JSON shape and timestamps -------------------------------------------------------------------


def test_every_listing_has_one_json_shape_with_iso_utc_times(invoke: Invoke, family: dict[str, str]) -> None:
    for argv in (
        ("experiments", "list"),
        ("runs", "list"),
        ("artifacts", "list"),
        ("runs", "metrics", family["child_a"], "loss"),
        ("runs", "compare", family["parent"], family["child_a"]),
        ("models", "list"),
        ("pipeline", "runs"),
        ("data", "list"),
        ("users", "list"),
        ("tokens", "list"),
        ("audit", "list"),
    ):
        result = invoke(*argv, "--json")
        assert result.code == 0, (argv, result.err)
        listing = json.loads(result.out)
        assert set(listing) == {"items", "next_page_token"}, argv
    [experiment] = json.loads(invoke("experiments", "list", "--json").out)["items"]
    assert _ISO_UTC.match(experiment["created_at"])
    run = json.loads(invoke("runs", "show", family["parent"], "--json").out)["run"]
    assert _ISO_UTC.match(run["start_time"]) and _ISO_UTC.match(run["end_time"])
    assert invoke("users", "create", "ana").code == 0
    [event] = json.loads(invoke("audit", "list", "--json").out)["items"]
    assert _ISO_UTC.match(event["at"])


# --- piped output --------------------------------------------------------------------------------


def test_piped_tables_keep_ids_whole_and_notes_apart(invoke: Invoke, family: dict[str, str]) -> None:
    listed = invoke("runs", "list", "--max-results", "2")
    assert listed.code == 0
    for run_id in (family["child_a"], family["child_b"]):
        assert run_id in listed.out or family["parent"] in listed.out
    assert any(len(line) > 80 for line in listed.out.splitlines())  # not wrapped at 80 columns
    lines = listed.out.splitlines()
    more = next(i for i, line in enumerate(lines) if line.startswith("More: --page-token"))
    assert lines[more - 1] == "" and lines[more - 2].startswith("└")  # a blank line after the border


# --- verbs ---------------------------------------------------------------------------------------


def test_runs_list_indents_children_under_their_parent(invoke: Invoke, family: dict[str, str]) -> None:
    out = invoke("runs", "list").out
    rows = [line for line in out.splitlines() if family["parent"] in line or "child-" in line]
    assert family["parent"] in rows[0]
    assert all("└ child-" in row for row in rows[1:]) and len(rows) == 3


def test_runs_metrics_prints_the_history_and_a_sparkline(invoke: Invoke, family: dict[str, str]) -> None:
    result = invoke("runs", "metrics", family["child_a"][:8], "loss", "--json")
    points = json.loads(result.out)["items"]
    assert [(p["step"], p["value"]) for p in points] == [(0, 1.0), (1, 0.5), (2, 0.25), (3, 0.2)]
    assert all(_ISO_UTC.match(p["timestamp"]) for p in points)
    text = invoke("runs", "metrics", family["child_a"][:8], "loss").out
    assert "█▄▁▁" in text and "min 0.2" in text and "last 0.2" in text
    unknown = invoke("runs", "metrics", family["child_a"], "acc")
    assert unknown.code == 2 and "no metric 'acc'" in unknown.err and "loss" in unknown.err


def test_runs_delete_and_restore(invoke: Invoke, family: dict[str, str]) -> None:
    assert invoke("runs", "delete", family["child_b"][:8]).code == 0
    listed = {r["run_id"] for r in json.loads(invoke("runs", "list", "--json").out)["items"]}
    assert family["child_b"] not in listed and family["parent"] in listed
    everything = json.loads(invoke("runs", "list", "--all", "--json").out)["items"]
    assert family["child_b"] in {r["run_id"] for r in everything}
    assert "(deleted)" in invoke("runs", "list", "--all").out
    assert invoke("runs", "restore", family["child_b"][:8]).code == 0
    listed = {r["run_id"] for r in json.loads(invoke("runs", "list", "--json").out)["items"]}
    assert family["child_b"] in listed


def test_experiments_create_delete_restore(invoke: Invoke, family: dict[str, str]) -> None:
    made = invoke("experiments", "create", "churn", "--tag", "team=ml", "--json")
    assert made.code == 0, made.err
    assert json.loads(made.out)["tags"] == {"team": "ml"}
    assert invoke("experiments", "create", "churn").code == 2  # the name is taken
    assert invoke("experiments", "create", "x", "--tag", "novalue").code == 2
    assert invoke("experiments", "delete", "churn").code == 0
    active = {e["name"] for e in json.loads(invoke("experiments", "list", "--json").out)["items"]}
    assert "churn" not in active
    everything = json.loads(invoke("experiments", "list", "--all", "--json").out)["items"]
    [deleted] = [e for e in everything if e["name"] == "churn"]
    assert deleted["lifecycle_stage"] == "deleted"
    assert invoke("experiments", "restore", deleted["experiment_id"][:8]).code == 0
    active = {e["name"] for e in json.loads(invoke("experiments", "list", "--json").out)["items"]}
    assert "churn" in active


def test_artifacts_list_of_a_run(invoke: Invoke, family: dict[str, str]) -> None:
    listing = json.loads(invoke("artifacts", "list", family["child_a"][:8], "--json").out)
    assert [a["artifact_id"] for a in listing["items"]] == [family["artifact"]]
    assert json.loads(invoke("artifacts", "list", family["parent"], "--json").out)["items"] == []
    text = invoke("artifacts", "list")
    assert text.code == 0 and family["artifact"] in text.out and "table.csv" in text.out


# --- reads never create a store ------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ("runs", "list"),
        ("runs", "show", "0123abcd"),
        ("runs", "metrics", "0123abcd", "loss"),
        ("experiments", "list"),
        ("artifacts", "list"),
        ("artifacts", "show", "0123abcd"),
        ("lineage", "0123abcd"),
        ("models", "list"),
        ("models", "versions", "churn"),
        ("pipeline", "runs"),
        ("pipeline", "show", "0123abcd"),
        ("data", "list"),
        ("data", "show", "train@1"),
        ("users", "list"),
        ("tokens", "list"),
        ("audit", "list"),
        ("eval", "show", "0123abcd"),
    ],
)
def test_reads_in_a_folder_without_a_store_say_so(invoke: Invoke, home: Path, argv: tuple[str, ...]) -> None:
    result = invoke(*argv)
    assert result.code == 2, result.err
    assert "No loopml store" in result.err and "LOOPML_HOME" in result.err and "loopml demo" in result.err
    assert not home.exists()
