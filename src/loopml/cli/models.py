"""``loopml models``: sign and verify model packages."""

from __future__ import annotations

import contextlib
import getpass
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Protocol

import typer

from loopml.cli import _context
from loopml.cli._output import format_ms, print_json, print_listing, print_table
from loopml.cli.keys import PassphraseEnv, key_ring, passphrase_from_env, trust_store
from loopml.errors import IntegrityError, InvalidInput
from loopml.registry import KeySigner, ModelRegistry, ModelUri, sign_package, verify_package
from loopml.store.entities import AliasEvent, ModelVersion, RegisteredModel
from loopml.store.ids import resolve_run_id
from loopml.store.remote import RemoteModelReader

app = typer.Typer(
    help="Model registry: register, version, alias and download models; sign and verify packages.",
    no_args_is_help=True,
)


@app.command("sign")
def sign(
    path: Annotated[Path, typer.Argument(help="Package folder.")],
    key: Annotated[str, typer.Option("--key", help="Name of the signing key (`loopml keys list`).")],
    passphrase_env: PassphraseEnv = None,
) -> None:
    """Check PATH against its checksums, then sign it (writes PATH/model.sig)."""
    info = key_ring().get(key)
    signature = sign_package(
        path, KeySigner(info.private_path, passphrase=passphrase_from_env(passphrase_env))
    )
    typer.echo(f"Signed {path} with key {info.name} (key id {info.key_id}): {signature}")


@app.command("verify")
def verify(
    path: Annotated[Path, typer.Argument(help="Package folder.")],
    allow_unsigned: Annotated[
        bool, typer.Option("--allow-unsigned", help="Only check checksums when there is no signature.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Re-hash every file and check the signature against the trust store (exit 1 on failure)."""
    try:
        result = verify_package(path, trust_store=trust_store(), require_signature=not allow_unsigned)
    except IntegrityError as err:
        if not as_json:
            raise
        print_json({"path": str(path), "ok": False, "error": str(err)})
        raise  # the entry point maps IntegrityError to exit code 1
    report = {
        "path": str(path),
        "ok": True,
        "flavor": result.spec.flavor,
        "files": len(result.manifest.files),
        "signature": result.signature_status.value,
        "signer": result.signer.name if result.signer else None,
        "key_id": result.signer.key_id if result.signer else None,
    }
    if as_json:
        print_json(report)
    else:
        who = f" by {report['signer']} (key id {report['key_id']})" if result.signer else ""
        typer.echo(
            f"OK: {path}: {report['files']} files match checksums.json; signature {report['signature']}{who}"
        )


# --- registry: registered models, versions, aliases ---------------------------------------------


@contextlib.contextmanager
def _registry(command: str) -> Iterator[ModelRegistry]:
    """The registry on the local store (commands that verify, scan or write files need it)."""
    _context.require_local(command)
    yield _context.services().registry


class _ModelReader(Protocol):
    def search(self, *, name_like: str | None = None, tag: str | None = None) -> list[RegisteredModel]: ...
    def get_model(self, name: str) -> RegisteredModel: ...
    def versions(self, name: str) -> list[ModelVersion]: ...
    def alias_history(self, name: str, alias: str | None = None) -> list[AliasEvent]: ...


@contextlib.contextmanager
def _reader() -> Iterator[_ModelReader]:
    """The read side of the registry: the server's with LOOPML_TRACKING_URI, else the local store's."""
    session = _context.remote_session()
    if session is not None:
        yield RemoteModelReader(session)
        return
    _context.ensure_local_store()
    with _registry("models") as registry:
        yield registry


def _actor() -> str:
    return getpass.getuser()


_Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _version_row(v: ModelVersion) -> list[Any]:
    blessed = "" if v.blessing_passed is None else ("passed" if v.blessing_passed else "failed")
    return [
        v.version,
        v.status.value,
        v.flavor,
        "yes" if v.is_signed else "no",
        v.scan_verdict,
        blessed,
        ", ".join(v.aliases),
        format_ms(v.created_at),
        v.created_by or "",
    ]


_VERSION_COLUMNS = ["version", "status", "flavor", "signed", "scan", "blessing", "aliases", "created", "by"]


@app.command("list")
def list_models(
    name_like: Annotated[str | None, typer.Option("--name", help="SQL LIKE pattern, e.g. 'churn%'.")] = None,
    tag: Annotated[str | None, typer.Option("--tag", help="KEY or KEY=VALUE.")] = None,
    as_json: _Json = False,
) -> None:
    """List registered models."""
    with _reader() as registry:
        models = registry.search(name_like=name_like, tag=tag)
    if as_json:
        print_listing(models)
        return
    rows = [
        [
            m.name,
            m.latest_version or "",
            ", ".join(f"{a}→{v}" for a, v in m.aliases.items()),
            format_ms(m.updated_at),
        ]
        for m in models
    ]
    print_table("Registered models", ["name", "latest", "aliases", "updated"], rows)


@app.command("show")
def show(name: str, as_json: _Json = False) -> None:
    """Show a registered model: description, tags, aliases and versions."""
    with _reader() as registry:
        model = registry.get_model(name)
        versions = registry.versions(name)
    if as_json:
        print_json({"model": model, "versions": versions})
        return
    typer.echo(f"{model.name}: {model.description or '(no description)'}")
    typer.echo(f"tags: {dict(model.tags)}  aliases: {dict(model.aliases)}")
    print_table("Versions", _VERSION_COLUMNS, [_version_row(v) for v in versions])


@app.command("versions")
def versions(name: str, as_json: _Json = False) -> None:
    """List the versions of a registered model."""
    with _reader() as registry:
        found = registry.versions(name)
    if as_json:
        print_listing(found)
    else:
        print_table(f"Versions of {name}", _VERSION_COLUMNS, [_version_row(v) for v in found])


@app.command("register")
def register(
    path: Annotated[Path, typer.Argument(help="Package folder.")],
    name: Annotated[str, typer.Option("--name", help="Registered model name.")],
    run: Annotated[
        str | None, typer.Option("--run", help="Run (id or unique prefix) that produced the model.")
    ] = None,
    blessing: Annotated[
        Path | None,
        typer.Option(
            "--blessing",
            help="evaluation.json with a blessing (`loopml artifacts get EVALUATION_ID -o DIR` writes it).",
        ),
    ] = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
    trust_global: Annotated[
        list[str] | None, typer.Option("--trust-global", help="module.name the scanner should accept.")
    ] = None,
    as_json: _Json = False,
) -> None:
    """Verify, scan and register a package as the next version of NAME."""
    verdict = None
    if blessing is not None:
        from loopml.analysis import EvaluationResult

        verdict = EvaluationResult.load(blessing).blessing
        if verdict is None:
            raise InvalidInput(f"{blessing} holds no blessing; evaluate with thresholds to get one.")
    with _registry("models register") as registry:
        run_id = resolve_run_id(_context.store(), run) if run else None
        version = registry.register(
            path,
            name,
            run_id=run_id,
            blessing=verdict,
            description=description,
            actor=_actor(),
            trusted_globals=trust_global or (),
        )
    if as_json:
        print_json(version)
    else:
        typer.echo(f"Registered {path} as models:/{name}/{version.version}")


@app.command("alias")
def alias(
    name: str,
    alias_name: Annotated[str, typer.Argument(metavar="ALIAS")],
    version: Annotated[int | None, typer.Argument()] = None,
    reason: Annotated[str | None, typer.Option("--reason")] = None,
    delete: Annotated[bool, typer.Option("--delete", help="Remove the alias.")] = False,
) -> None:
    """Point ALIAS of NAME at VERSION (the promotion policy decides), or --delete it."""
    with _registry("models alias") as registry:
        if delete:
            registry.delete_alias(name, alias_name, actor=_actor(), reason=reason)
            typer.echo(f"Deleted alias {alias_name} of {name}")
            return
        if version is None:
            raise InvalidInput("Give the VERSION to point the alias at (or --delete).")
        registry.set_alias(name, alias_name, version, actor=_actor(), reason=reason)
    typer.echo(f"models:/{name}@{alias_name} → version {version}")


@app.command("archive")
def archive(
    name: str,
    version: int,
    force: Annotated[bool, typer.Option("--force", help="Also delete aliases held by the version.")] = False,
    reason: Annotated[str | None, typer.Option("--reason")] = None,
) -> None:
    """Archive a version (it can no longer take an alias)."""
    with _registry("models archive") as registry:
        registry.archive(name, version, actor=_actor(), force=force, reason=reason)
    typer.echo(f"Archived version {version} of {name}")


@app.command("download")
def download(
    uri: Annotated[
        str, typer.Argument(help="models:/NAME@ALIAS, models:/NAME/VERSION or models:/NAME/latest")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="New folder to write the package to.")],
) -> None:
    """Rebuild a registered package folder (every file verified)."""
    with _registry("models download") as registry:
        version = registry.resolve(uri)
        path = registry.download(ModelUri(name=version.name, version=version.version), out)
        foreign = registry.is_foreign(version)
    typer.echo(f"Downloaded {uri} to {path}")
    if foreign:
        typer.echo(
            f"It is an MLflow model (flavor {version.flavor!r}, scan verdict {version.scan_verdict}, "
            "unsigned): each file matched what the store recorded at registration; there is no "
            "checksums.json or signature to verify, and its pickle is loaded only by the MLflow client."
        )


@app.command("history")
def history(
    name: str,
    alias_name: Annotated[str | None, typer.Option("--alias", help="Only this alias.")] = None,
    as_json: _Json = False,
) -> None:
    """The audit trail of alias changes of NAME: who, when, from which version to which."""
    with _reader() as registry:
        events = registry.alias_history(name, alias_name)
    if as_json:
        print_listing(events)
        return
    rows = [
        [format_ms(e.at), e.alias, e.from_version, e.to_version, e.result.value, e.actor, e.reason or ""]
        for e in events
    ]
    print_table(f"Alias history of {name}", ["at", "alias", "from", "to", "result", "actor", "reason"], rows)
