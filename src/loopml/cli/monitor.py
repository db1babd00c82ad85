"""``loopml monitor``: compute due monitoring windows, list them, show status, write the HTML report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from loopml.cli import _context
from loopml.cli._output import print_json, print_note, print_table
from loopml.errors import InvalidInput

if TYPE_CHECKING:
    from loopml.cli._monitor_remote import RemoteMonitoring
    from loopml.monitor.alerts import AlertService
    from loopml.monitor.records import WindowRecord
    from loopml.monitor.retrain import RetrainPolicy
    from loopml.monitor.service import MonitorService
    from loopml.monitor.windows import MonitorConfig

app = typer.Typer(
    help="Monitoring windows of the prediction log: drift, skew, performance, labels; status and report.",
    no_args_is_help=True,
)

Name = Annotated[str, typer.Argument(help="A deployment (its primary model's log), or a model with --model.")]
IsModel = Annotated[bool, typer.Option("--model", help="NAME is a model, not a deployment.")]
Window = Annotated[str, typer.Option("--window", help="hour, day or requests:N.")]
LogDir = Annotated[
    Path | None, typer.Option("--log-dir", help="The prediction log (default: <home>/predictions).")
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _service(log_dir: Path | None, *, create: bool = False) -> MonitorService:
    _context.require_local("monitor")
    if not create:
        _context.ensure_local_store()
    return _context.services().monitor(log_dir)


def _time(text: str | None, option: str) -> dt.datetime | None:
    if text is None:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError as err:
        raise InvalidInput(f"{option} must be an ISO 8601 time (2026-03-01T10:00Z); got {text!r}.") from err
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _rows(records: list[WindowRecord], metrics: tuple[str, ...]) -> list[list[str]]:
    def cell(r: WindowRecord, m: str) -> str:
        v = r.rows if m == "rows" else r.metrics.get(m)
        return "" if v is None else f"{v:.4g}"

    return [
        [r.deployment, r.window, r.start.strftime("%Y-%m-%d %H:%M"), r.version, "yes" if r.complete else "NO"]
        + [cell(r, m) for m in metrics]
        for r in records
    ]


def _print(title: str, records: list[WindowRecord], metrics: tuple[str, ...] = ()) -> None:
    """The windows as a table of ``metrics`` (default: the summary figures), then slice drift."""
    if not metrics:
        from loopml.monitor.records import SUMMARY_METRICS

        metrics = SUMMARY_METRICS
    print_table(
        title, ["deployment", "window", "start", "version", "complete", *metrics], _rows(records, metrics)
    )
    for r in records:
        drifted = r.drifted_slices()
        if drifted:
            shown = ", ".join(f"{key} ({_top_feature(r, key)})" for key in sorted(drifted))
            print_note(f"slice drift {r.start.strftime('%Y-%m-%d %H:%M')}: {shown}")


def _top_feature(record: WindowRecord, key: str) -> str:
    """The feature that moved most in slice ``key`` against the previous window."""
    prefix = f"slice.{key}.drift."
    moved = {m[len(prefix) :]: v for m, v in record.metrics.items() if m.startswith(prefix)}
    return max(moved, key=lambda f: (moved[f], f)) if moved else "-"


Target_ = Annotated[str | None, typer.Argument(help="A deployment or model (default: everything logged).")]
SliceColumn = Annotated[
    list[str] | None,
    typer.Option(
        "--slice",
        help="An input feature to slice figures and drift by (repeatable: --slice SEX --slice RAC1P).",
    ),
]
KeyField = Annotated[
    str | None, typer.Option("--key-field", help="Also join labels keyed by this input feature.")
]
LabelHorizon = Annotated[
    str, typer.Option("--label-horizon", help="How long late labels still update a window (e.g. 7d).")
]
Rules = Annotated[
    Path | None,
    typer.Option("--rules", help="Folder of alert rules, <deployment>.yaml each (default rules otherwise)."),
]
PromFile = Annotated[
    Path | None,
    typer.Option(
        "--prometheus-file",
        help="Write open alerts as loopml_monitor_alert_active to this .prom file (node-exporter textfile).",
    ),
]
Webhooks = Annotated[
    list[str] | None,
    typer.Option("--webhook", help="POST each alert event as JSON to this URL (repeatable)."),
]


RetrainPolicies = Annotated[
    Path | None,
    typer.Option(
        "--retrain-policies",
        help="A folder of retrain policies (<deployment>.yaml, with an action): after the pass, each of "
        "those deployments takes a step of the retrain loop, as `loopml monitor retrain` does.",
    ),
]


@app.command("run")
def run(
    name: Target_ = None,
    is_model: IsModel = False,
    window: Window = "hour",
    slice_column: SliceColumn = None,
    key_field: KeyField = None,
    label_horizon: LabelHorizon = "7d",
    now: Annotated[
        str | None, typer.Option("--now", help="Compute as of this time (ISO 8601; default now).")
    ] = None,
    log_dir: LogDir = None,
    rules: Rules = None,
    webhook: Webhooks = None,
    prometheus_file: PromFile = None,
    retrain_policies: RetrainPolicies = None,
    as_json: Json = False,
) -> None:
    """Compute the windows that are due once (cron-friendly), then evaluate the alert rules on them
    (and, with --retrain-policies, retrain by policy)."""
    config = _config(window, slice_column, key_field, label_horizon)
    if _context.is_remote():
        local = {"--model": is_model, "--log-dir": log_dir, "--rules": rules, "--webhook": webhook,
                 "--prometheus-file": prometheus_file, "--retrain-policies": retrain_policies}  # fmt: skip
        remote = _remote("run", local)
        document = _pass_remotely(remote, name, _request(config, slice_column, label_horizon, now))
        _report_run(document, config.window.name, as_json)
        return
    alerting = _alerts(rules, webhook or [])  # rules are checked before any window is computed
    policies = _policies(retrain_policies, name)
    _run_once(name, is_model, config, _time(now, "--now"), log_dir, alerting, as_json, policies=policies)
    if prometheus_file is not None:
        _export_open_alerts(alerting, prometheus_file)


@app.command("watch")
def watch(
    name: Target_ = None,
    is_model: IsModel = False,
    window: Window = "hour",
    every: Annotated[str, typer.Option("--every", help="Time between two passes (e.g. 5m).")] = "5m",
    times: Annotated[
        int | None,
        typer.Option("--times", min=1, help="Stop after this many passes (default: until Ctrl-C)."),
    ] = None,
    slice_column: SliceColumn = None,
    key_field: KeyField = None,
    label_horizon: LabelHorizon = "7d",
    log_dir: LogDir = None,
    rules: Rules = None,
    webhook: Webhooks = None,
    prometheus_file: PromFile = None,
    retrain_policies: RetrainPolicies = None,
    as_json: Json = False,
) -> None:
    """Do what `loopml monitor run` does, every --every, until interrupted (--json: one line a pass)."""
    import time

    from loopml.monitor.windows import parse_span

    pause = parse_span(every).total_seconds()
    config = _config(window, slice_column, key_field, label_horizon)
    if _context.is_remote():
        local = {"--model": is_model, "--log-dir": log_dir, "--rules": rules, "--webhook": webhook,
                 "--prometheus-file": prometheus_file, "--retrain-policies": retrain_policies}  # fmt: skip
        remote = _remote("watch", local)
        request = _request(config, slice_column, label_horizon, None)
    else:
        alerting = _alerts(rules, webhook or [])
        policies = _policies(retrain_policies, name)
    done = 0
    try:
        while times is None or done < times:
            if done:
                time.sleep(pause)
            if _context.is_remote():
                _report_run(_pass_remotely(remote, name, request), config.window.name, as_json, lines=True)
            else:
                _run_once(
                    name, is_model, config, None, log_dir, alerting, as_json, lines=True, policies=policies
                )
                if prometheus_file is not None:
                    _export_open_alerts(alerting, prometheus_file)
            done += 1
    except KeyboardInterrupt:
        typer.echo(f"Stopped after {done} pass(es).", err=True)


def _config(
    window: str, slice_columns: list[str] | None, key_field: str | None, label_horizon: str
) -> MonitorConfig:
    from loopml.monitor.windows import MonitorConfig, WindowSpec, parse_span

    return MonitorConfig(
        window=WindowSpec.parse(window),
        slice_columns=tuple(slice_columns or ()),
        key_field=key_field,
        label_horizon=parse_span(label_horizon),
    )


def _remote(command: str, local: Mapping[str, object]) -> RemoteMonitoring:
    """The server's monitoring API, once no option that means this machine is set."""
    from loopml.cli._monitor_remote import RemoteMonitoring, refuse_local_options

    refuse_local_options(command, local, _context.settings().tracking_uri or "")
    session = _context.remote_session()
    if session is None:  # pragma: no cover - is_remote() said a server is configured
        raise InvalidInput("LOOPML_TRACKING_URI is set but names no loopml server.")
    return RemoteMonitoring(session)


def _request(
    config: MonitorConfig, slices: list[str] | None, label_horizon: str, now: str | None
) -> dict[str, object]:
    """What ``monitor run`` asks of the server (checked here first: a bad value never travels)."""
    at = _time(now, "--now")
    return {
        "window": config.window.name,
        "slices": list(slices or ()),
        "key_field": config.key_field,
        "label_horizon": label_horizon,
        "now": None if at is None else at.isoformat(),
    }


def _pass_remotely(
    remote: RemoteMonitoring, name: str | None, request: Mapping[str, object]
) -> dict[str, Any]:
    """The server's pass of ``name``, or of every deployment the caller sees, as one document."""
    names = [name] if name else remote.deployments()
    merged: dict[str, Any] = {"targets": [], "log_versions": [], "log_problems": [], "computed": [],
                              "alerts": {"new": [], "resolved": [], "open": []}}  # fmt: skip
    for each in names:
        done = remote.run(each, request)
        for key in ("targets", "log_versions", "log_problems", "computed"):
            merged[key] += done[key]
        for key in ("new", "resolved", "open"):
            merged["alerts"][key] += done["alerts"][key]
        if "retraining" in done:
            retraining = merged.setdefault("retraining", {"decisions": {}, "errors": {}})
            retraining["decisions"].update(done["retraining"]["decisions"])
            retraining["errors"].update(done["retraining"]["errors"])
    return merged


def _export_open_alerts(alerting: AlertService, path: Path) -> None:
    """Every open alert as ``loopml_monitor_alert_active`` in Prometheus' text format, written atomically."""
    from prometheus_client import generate_latest

    from loopml.atomic_write import write_text_atomic
    from loopml.monitor.alerts import AlertStatus, PrometheusChannel

    channel = PrometheusChannel()
    channel.sync(alerting.list(status=AlertStatus.OPEN, limit=10_000))
    write_text_atomic(path, generate_latest(channel.registry).decode())


def _run_once(
    name: str | None,
    is_model: bool,
    config: MonitorConfig,
    now: dt.datetime | None,
    log_dir: Path | None,
    alerting: AlertService,
    as_json: bool,
    *,
    lines: bool = False,
    policies: Mapping[str, RetrainPolicy] | None = None,
) -> None:
    from loopml.monitor.passes import monitoring_pass, pass_document, retrain_pass

    service = _service(log_dir, create=True)
    done = monitoring_pass(service, alerting, config, name=name, is_model=is_model, now=now)
    retrained = None
    if policies:
        services = _context.services()
        kind = config.window.name
        retrained = retrain_pass(
            policies,
            lambda p: services.retrain_loop(p, monitor=service, window=kind, alerts=alerting),
            service,
            alerting,
            window=kind,
        )
    _report_run(pass_document(done, retrained), config.window.name, as_json, lines=lines)


def _policies(folder: Path | None, name: str | None) -> dict[str, RetrainPolicy] | None:
    """The runnable retrain policies of ``folder`` (only ``name``'s when given), read before anything runs."""
    if folder is None:
        return None
    from loopml.monitor.retrain import runnable_policies

    found = runnable_policies(folder)
    return {k: v for k, v in found.items() if name is None or k == name}


def _alerts(rules: Path | None, webhooks: list[str]) -> AlertService:
    from loopml.monitor.alerts import Channel, LogChannel, WebhookChannel, rules_in

    channels: list[Channel] = [LogChannel(), *(WebhookChannel(url) for url in webhooks)]
    return _context.services().alerts(rules=rules_in(rules) if rules is not None else None, channels=channels)


def _report_run(document: Mapping[str, Any], window: str, as_json: bool, *, lines: bool = False) -> None:
    """Print what a pass did, from :func:`loopml.monitor.passes.pass_document` (local or the server's)."""
    from loopml.monitor.records import WindowRecord

    if as_json:
        print_json(dict(document), lines=lines)
        return
    retraining = document.get("retraining")
    if retraining is not None:
        _report_retraining(retraining)
    for v in document["log_versions"]:
        typer.echo(f"prediction log {v['hour'][:13]} registered as {v['ref']}", err=True)
    for problem in document["log_problems"]:
        typer.echo(f"prediction log {problem}", err=True)
    for a in document["alerts"]["new"]:
        typer.echo(f"ALERT {a['severity']} {a['deployment']} {a['rule']}: {a['message']}", err=True)
    for a in document["alerts"]["resolved"]:
        typer.echo(f"resolved {a['deployment']} {a['rule']} ({a['metric']})", err=True)
    computed = [WindowRecord.from_document(r) for r in document["computed"]]
    if not computed:
        typer.echo(f"No {window} window was due for {', '.join(document['targets']) or '-'}.")
        return
    _print("Windows computed", computed)
    for r in computed:
        if not r.complete:
            typer.echo(f"incomplete {r.deployment} {r.start.isoformat()}: {'; '.join(r.problems)}", err=True)


def _report_retraining(retraining: Mapping[str, Any]) -> None:
    for name, error in retraining["errors"].items():
        typer.echo(f"could not retrain {name}: {error}", err=True)
    rows = [
        [name, d["kind"], d["reason"], d["candidate"] or "", d["retrain_id"] or ""]
        for name, decisions in retraining["decisions"].items()
        for d in decisions
    ]
    if rows:
        print_table("Retraining", ["deployment", "decision", "reason", "candidate", "retrain"], rows)


@app.command("windows")
def windows(
    name: Name,
    is_model: IsModel = False,
    window: Annotated[str | None, typer.Option("--window", help="Only this window kind.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Windows starting at or after (ISO 8601).")
    ] = None,
    metric: Annotated[
        list[str] | None, typer.Option("--metric", help="A metric column to show (repeatable).")
    ] = None,
    log_dir: LogDir = None,
    as_json: Json = False,
) -> None:
    """List the stored windows of a deployment, oldest first."""
    if _context.is_remote():
        remote = _remote("windows", {"--model": is_model, "--log-dir": log_dir})
        records = remote.windows(name, window=window, since=_time(since, "--since"))
    else:
        service = _service(log_dir)
        records = service.windows(
            service.target(name, is_model=is_model), window=window, since=_time(since, "--since")
        )
    if as_json:
        print_json({"items": [r.to_document() for r in records], "next_page_token": None})
        return
    _print(f"Windows of {name}", records, tuple(metric or ()))


@app.command("status")
def status(name: Name, is_model: IsModel = False, log_dir: LogDir = None, as_json: Json = False) -> None:
    """Where monitoring stands: windows, the latest figures, incomplete windows, labels joined and pending."""
    if _context.is_remote():
        s = _remote("status", {"--model": is_model, "--log-dir": log_dir}).status(name)
    else:
        service = _service(log_dir)
        s = service.status(service.target(name, is_model=is_model))
    if as_json:
        print_json(s.to_document())
        return
    typer.echo(f"{s.deployment} (model {s.model}): {s.windows} window(s) {', '.join(s.window_kinds)}")
    typer.echo(
        f"labels: {s.labels} stored, {s.labels_joined} joined, "
        f"{s.labels_pending} pending (late or unknown ids)"
    )
    if s.latest is not None:
        shown = sorted(k for k in s.latest.metrics if not k.startswith("slice."))
        print_table(
            f"Latest window {s.latest.start.isoformat()} ({s.latest.rows} rows)",
            ["metric", "value"],
            [[k, f"{s.latest.metrics[k]:.4g}"] for k in shown],
        )
    for r in s.incomplete:
        print_note(f"incomplete {r.start.isoformat()}: {'; '.join(r.problems)}")


@app.command("report")
def report(
    name: Name,
    is_model: IsModel = False,
    window: Window = "hour",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="The HTML file (default NAME-monitor.html).")
    ] = None,
    log_dir: LogDir = None,
    as_json: Json = False,
) -> None:
    """Write an HTML report: drift per feature over time, performance with bands, label coverage."""
    from loopml.atomic_write import write_text_atomic
    from loopml.monitor.report import render_monitor_report

    if _context.is_remote():
        records = _remote("report", {"--model": is_model, "--log-dir": log_dir}).windows(name, window=window)
    else:
        service = _service(log_dir)
        records = service.windows(service.target(name, is_model=is_model), window=window)
    if not records:
        raise InvalidInput(
            f"No {window} window is stored for {name!r}; compute them with `loopml monitor run {name}`."
        )
    path = output or Path(f"{name}-monitor.html")
    write_text_atomic(path, render_monitor_report(records))
    if as_json:
        print_json({"report": str(path), "windows": len(records)})
        return
    typer.echo(f"Wrote {path} ({len(records)} {window} windows).")


@app.command("alerts")
def alerts(
    name: Annotated[str | None, typer.Argument(help="A deployment (default: all).")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only alerts still open.")] = False,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=10_000, help="At most this many, newest first.")
    ] = 100,
    as_json: Json = False,
) -> None:
    """Alerts raised by `loopml monitor run` (window rules) and by retraining, newest first."""
    from loopml.monitor.alerts import AlertStatus

    if _context.is_remote():
        views = _remote("alerts", {}).alerts(name, open_only=open_only, limit=limit)
    else:
        _context.ensure_local_store()
        status = AlertStatus.OPEN if open_only else None
        views = [a.view() for a in _context.services().alerts().list(name, status=status, limit=limit)]
    if as_json:
        print_json({"items": views, "next_page_token": None})
        return
    columns = ("deployment", "rule", "metric", "severity", "status", "opened_at", "message")
    print_table(
        "Alerts",
        ["deployment", "rule", "metric", "severity", "status", "opened", "message"],
        [[str(v[c]) for c in columns] for v in views],
    )


@app.command("retrain")
def retrain(
    name: Annotated[str, typer.Argument(help="A deployment (its primary model is the champion).")],
    policy: Annotated[
        Path,
        typer.Option(
            "--policy", help="The deployment's retrain policy (YAML: triggers, guards, span, action)."
        ),
    ],
    pipeline: Annotated[
        str | None,
        typer.Option(
            "--pipeline",
            help="The model's pipeline, FILE.py[:NAME] or module[:NAME]; run with span_start/span_end "
            "(default: the policy's action.pipeline).",
        ),
    ] = None,
    task: Annotated[
        str | None,
        typer.Option("--task", help="binary, multiclass or regression (default: the policy's, else binary)."),
    ] = None,
    guard_slice: Annotated[
        list[str] | None,
        typer.Option(
            "--guard-slice", help="An input feature the candidate may not be worse on (repeatable)."
        ),
    ] = None,
    window: Annotated[str, typer.Option("--window", help="Which stored windows the triggers read.")] = "hour",
    key_field: KeyField = None,
    max_anomalies: Annotated[
        int | None,
        typer.Option(
            "--max-anomalies", min=0, help="Data-quality gate: schema anomalies allowed per window."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would happen; run and record nothing.")
    ] = False,
    log_dir: LogDir = None,
    as_json: Json = False,
) -> None:
    """Retrain by policy: triggers on the stored windows and open alerts, guards (the data-quality gate:
    the span's windows complete), the pipeline on the new span, candidate vs champion on recent
    labelled rows, and a canary if it is no worse on any guarded slice."""
    from loopml.monitor.passes import retrain_step
    from loopml.monitor.retrain import load_policy

    if _context.is_remote():
        raise InvalidInput(
            f"`loopml monitor retrain` runs the model's pipeline on this machine against the store, and "
            f"cannot go through the server LOOPML_TRACKING_URI={_context.settings().tracking_uri}. "
            "The server takes the retraining step of its own policies: start it with `loopml server "
            "--retrain-policies DIR` and run `loopml monitor run NAME` (or let its background passes "
            "do it); or run this command on the server's host with LOOPML_TRACKING_URI unset."
        )
    rules = _with_options(
        load_policy(policy),  # checked before anything runs
        pipeline=pipeline,
        task=task,
        guard_slices=guard_slice,
        key_field=key_field,
        max_anomalies=max_anomalies,
    )
    service = _service(log_dir)
    service.target(name)  # an unknown deployment is refused before anything runs
    services = _context.services()
    alerting = services.alerts()
    loop = services.retrain_loop(rules, monitor=service, window=window, alerts=alerting)
    decisions = retrain_step(loop, service, alerting, name, window=window, dry_run=dry_run)
    if as_json:
        print_json({"decisions": decisions})
        return
    print_table(
        f"Retraining of {name}" + (" (dry run)" if dry_run else ""),
        ["decision", "reason", "candidate", "retrain"],
        [[d.kind.value, d.reason, d.candidate or "", d.retrain_id or ""] for d in decisions],
    )


def _with_options(
    policy: RetrainPolicy,
    *,
    pipeline: str | None,
    task: str | None,
    guard_slices: list[str] | None,
    key_field: str | None,
    max_anomalies: int | None,
) -> RetrainPolicy:
    """The policy with what the command line says in place of its action's and guards' settings."""
    import dataclasses

    from loopml.monitor.retrain import RetrainAction

    action = policy.action
    source = pipeline or (action.pipeline if action is not None else None)
    if source is None:
        raise InvalidInput(
            "Name the model's pipeline: --pipeline FILE.py[:NAME], "
            "or `action: {pipeline: ...}` in the policy."
        )
    action = RetrainAction(
        pipeline=source,
        task=task or (action.task if action is not None else "binary"),
        guard_slices=tuple(guard_slices) if guard_slices else (action.guard_slices if action else ()),
        key_field=key_field or (action.key_field if action is not None else None),
    )
    guards = policy.guards
    if max_anomalies is not None:
        guards = dataclasses.replace(guards, max_anomalies=max_anomalies)
    return dataclasses.replace(policy, action=action, guards=guards)
