"""``loopml monitor`` through a loopml server (``LOOPML_TRACKING_URI``): the monitoring API's calls.

Reads (windows, status, alerts) are the server's ``GET /api/v1/deployments/{name}/windows|monitoring|alerts``;
a pass is ``POST /api/v1/deployments/{name}/monitoring/run``, run by the server on its own log with
its own alert rules and retrain policies (``deployments.manage`` needed, audited). Options that name
files on this machine (a log folder, rule or policy folders, webhooks, a Prometheus file) have no
meaning there and are refused with where to set them instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from loopml.errors import InvalidInput
from loopml.monitor.records import WindowRecord
from loopml.monitor.service import MonitorStatus
from loopml.store.remote import ApiSession

__all__ = ["RemoteMonitoring", "refuse_local_options"]

#: Server options that hold what a local option would set, per local option.
_ON_THE_SERVER = {
    "--log-dir": "the server reads its own prediction log (<home>/predictions where it runs)",
    "--model": "the monitoring API takes deployments; monitor a model by name on the server's host",
    "--rules": "the server evaluates its own alert rules",
    "--webhook": "the server delivers alerts through its own channels",
    "--prometheus-file": "write it on the server's host, with `loopml monitor run --prometheus-file`",
    "--retrain-policies": "start the server with `loopml server --retrain-policies DIR`",
}


def refuse_local_options(command: str, given: Mapping[str, object], uri: str) -> None:
    """Refuse the options of ``given`` that are set (not None, False or empty) and mean this machine.

    Raises:
        InvalidInput: naming each option, why, and what to do instead (exit 2).
    """
    named = [option for option, value in given.items() if value not in (None, False, [], ())]
    if named:
        why = "; ".join(f"{option}: {_ON_THE_SERVER[option]}" for option in named)
        raise InvalidInput(
            f"`loopml monitor {command}` goes through the server LOOPML_TRACKING_URI={uri}, where "
            f"{', '.join(named)} cannot apply ({why}). Leave {'them' if len(named) > 1 else 'it'} out, "
            "or run the command on the server's host with LOOPML_TRACKING_URI unset."
        )


def _seg(value: str) -> str:
    return quote(value, safe="") or "%20"


class RemoteMonitoring:
    """The monitoring API of one server, answered as the local service's records."""

    def __init__(self, session: ApiSession) -> None:
        self._api = session

    def deployments(self) -> list[str]:
        """The deployments the caller may see, by name."""
        return [str(d["name"]) for d in self._api.call("GET", "/deployments")["deployments"]]

    def windows(
        self, name: str, *, window: str | None = None, since: dt.datetime | None = None
    ) -> list[WindowRecord]:
        """The deployment's stored windows, oldest first (``window``: one kind; ``since``: those
        starting then or later)."""
        found = self._api.call(
            "GET", f"/deployments/{_seg(name)}/windows", params={"window": window, "limit": 10_000}
        )
        records = [WindowRecord.from_document(d) for d in found["windows"]]
        return [r for r in records if since is None or r.start >= since]

    def status(self, name: str) -> MonitorStatus:
        """Where monitoring of the deployment stands."""
        return MonitorStatus.from_document(self._api.call("GET", f"/deployments/{_seg(name)}/monitoring"))

    def alerts(self, name: str | None, *, open_only: bool, limit: int) -> list[dict[str, Any]]:
        """The alerts of the deployment (None: of every deployment the caller may see), newest first,
        at most ``limit``: their JSON views (:meth:`loopml.monitor.alerts.Alert.view`)."""
        found: list[dict[str, Any]] = []
        for each in [name] if name else self.deployments():
            page = self._api.call(
                "GET", f"/deployments/{_seg(each)}/alerts", params={"open": open_only, "limit": limit}
            )
            found.extend(page["alerts"])
        found.sort(key=lambda a: str(a["opened_at"]), reverse=True)  # stable: the server's order in a tie
        return found[:limit]

    def run(self, name: str, request: Mapping[str, Any]) -> dict[str, Any]:
        """One pass of the deployment on the server: what :func:`loopml.monitor.passes.pass_document` says."""
        done: dict[str, Any] = self._api.call(
            "POST", f"/deployments/{_seg(name)}/monitoring/run", body=dict(request)
        )
        return done
