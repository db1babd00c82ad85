"""The audit log: recording, listing with filters, ``--since`` parsing, and ``loopml audit list``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopml.cli import main
from loopml.errors import InvalidInput
from loopml.security._durations import parse_duration, parse_since
from loopml.security.audit import AuditLog, result_of_status
from loopml.store.sql import SqlStore, open_store

HOUR = 3_600_000


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LOOPML_HOME", str(tmp_path))
    for name in ("LOOPML_STORE_URL", "LOOPML_TRACKING_URI", "LOOPML_CONFIG", "LOOPML_TOKEN_PEPPER"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def store(home: Path) -> Iterator[SqlStore]:
    opened = open_store(f"sqlite:///{home / 'store.db'}")
    yield opened
    opened.close()


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


def test_record_and_list_filters(store: SqlStore) -> None:
    now = [10 * HOUR]
    audit = AuditLog(store, clock=lambda: now[0])
    audit.record(
        actor="ana", action="runs.create", target="experiment:e1", client="10.0.0.5", status_code=201
    )
    now[0] += HOUR
    audit.record(
        actor="bob",
        action="models.aliases",
        target="model:churn",
        status_code=403,
        details={"message": "Permission 'aliases.production' is needed"},
    )
    now[0] += HOUR
    audit.record(actor=None, action="runs.get", status_code=401)
    events = audit.list()
    assert [(e.actor, e.result, e.status_code) for e in events] == [
        (None, "unauthorized", 401),
        ("bob", "forbidden", 403),
        ("ana", "ok", 201),
    ]
    assert events[2].client == "10.0.0.5" and events[2].target == "experiment:e1"
    assert events[1].details["message"].startswith("Permission 'aliases.production'")
    assert [e.actor for e in audit.list(user="ana")] == ["ana"]
    assert [e.status_code for e in audit.list(since="90m")] == [401, 403]
    assert [e.actor for e in audit.list(action="models.*")] == ["bob"]
    assert len(audit.list(limit=1)) == 1


def test_result_words() -> None:
    assert [result_of_status(s) for s in (None, 200, 204, 401, 403, 429, 404, 500)] == [
        "ok",
        "ok",
        "ok",
        "unauthorized",
        "forbidden",
        "rate_limited",
        "failed",
        "failed",
    ]


def test_since_and_duration_parsing() -> None:
    assert parse_since("2h", now_ms=10 * HOUR) == 8 * HOUR
    assert parse_since("1970-01-01T01:00:00", now_ms=0) == HOUR
    assert parse_since("1970-01-01T02:00:00+01:00", now_ms=0) == HOUR
    assert parse_duration("2w").days == 14
    for bad in ("yesterday", "0d", "-1h", "1y", ""):
        with pytest.raises(InvalidInput, match=repr(bad)):
            parse_since(bad, now_ms=0) if bad != "0d" else parse_duration(bad)


def test_cli_audit_list(store: SqlStore, capsys: pytest.CaptureFixture[str]) -> None:
    audit = AuditLog(store)
    audit.record(
        actor="ana", action="runs.create", target="experiment:e1", client="127.0.0.1", status_code=201
    )
    audit.record(actor="bob", action="runs.delete", status_code=403)
    code, out, _ = run_cli(["audit", "list", "--user", "ana", "--since", "1h", "--json"], capsys)
    assert code == 0
    rows = json.loads(out)["items"]
    assert [(r["actor"], r["action"], r["result"], r["client"]) for r in rows] == [
        ("ana", "runs.create", "ok", "127.0.0.1")
    ]
    code, out, _ = run_cli(["audit", "list", "--json"], capsys)
    assert code == 0 and [(r["action"], r["result"]) for r in json.loads(out)["items"]] == [
        ("runs.delete", "forbidden"),
        ("runs.create", "ok"),
    ]
    code, out, _ = run_cli(["audit", "list"], capsys)
    assert code == 0 and "Audit events" in out
    code, _, err = run_cli(["audit", "list", "--since", "soon"], capsys)
    assert code == 2 and "'soon' is not understood" in err


def test_a_request_event_commits_with_the_request_write_and_takes_its_answer(store: SqlStore) -> None:
    audit = AuditLog(store, clock=lambda: 5 * HOUR)
    rider = audit.rider(actor="ed", action="experiments.create", target="experiment_name:e", status_code=201)
    with rider.carried():
        store.experiments.create("e")
    assert rider.committed
    [event] = audit.list()
    assert (event.actor, event.at, event.status_code, event.result) == ("ed", 5 * HOUR, 201, "ok")
    audit.set_outcome(rider.result, 409)  # answered otherwise than expected
    [event] = audit.list()
    assert (event.status_code, event.result) == (409, "failed")
