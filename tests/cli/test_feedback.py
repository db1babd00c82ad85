"""``loopml feedback add``: one label or a CSV, idempotent, wrong types refused with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

from loopml.store.sql import open_store
from tests.cli.conftest import Invoke


def test_add_one_then_a_file(invoke: Invoke, home: Path, tmp_path: Path) -> None:
    one = invoke("feedback", "add", "--model", "churn", "--id", "r1", "--label", "yes")
    assert one.code == 0, one.err
    assert "1 new" in one.out
    csv = tmp_path / "labels.csv"
    csv.write_text("request_id,label\nr1,yes\nr2,no\n")
    again = invoke("feedback", "add", "--model", "churn", str(csv), "--json")
    assert again.code == 0, again.err
    assert json.loads(again.out) == {
        "deployment": "churn",
        "model": "churn",
        "received": 2,
        "inserted": 1,
        "replaced": 0,
        "unchanged": 1,
    }
    with open_store(f"sqlite:///{home / 'store.db'}") as store:
        assert {lab.key: lab.value for lab in store.feedback.list("churn")} == {"r1": "yes", "r2": "no"}


def test_usage_errors(invoke: Invoke, tmp_path: Path) -> None:
    both = invoke("feedback", "add", "--model", "a", "--deployment", "b", "--id", "r", "--label", "1")
    assert both.code == 2 and "exactly one" in both.err
    bad = tmp_path / "bad.csv"
    bad.write_text("id,label\nr1,1\n")
    missing = invoke("feedback", "add", "--model", "a", str(bad))
    assert missing.code == 2 and "request_id" in missing.err
