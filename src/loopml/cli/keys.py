"""``loopml keys``: signing key pairs and the trust store of public keys."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from loopml.cli import _context
from loopml.cli._output import print_listing, print_table
from loopml.errors import InvalidInput
from loopml.registry.signing import KeyRing, TrustStore

app = typer.Typer(help="Signing keys (EC P-256) and trusted public keys.", no_args_is_help=True)


def key_ring() -> KeyRing:
    """The key ring under ``<LOOPML_HOME>/keys``."""
    return _context.services().key_ring


def trust_store() -> TrustStore:
    """The trust store under ``<LOOPML_HOME>/trust``."""
    return _context.services().trust_store


def passphrase_from_env(variable: str | None) -> bytes | None:
    """The passphrase held in environment variable ``variable`` (None when not asked for)."""
    if variable is None:
        return None
    value = os.environ.get(variable)
    if not value:
        raise InvalidInput(
            f"Environment variable {variable} is not set or empty; export the passphrase in it."
        )
    return value.encode("utf-8")


PassphraseEnv = Annotated[
    str | None, typer.Option("--passphrase-env", metavar="VAR", help="Env variable holding the passphrase.")
]


@app.command("generate")
def generate(name: str, passphrase_env: PassphraseEnv = None) -> None:
    """Create an EC P-256 key pair NAME (private key owner-only, optionally encrypted)."""
    info = key_ring().generate(name, passphrase=passphrase_from_env(passphrase_env))
    typer.echo(f"Created key {info.name} (key id {info.key_id}) in {info.private_path.parent}")


@app.command("list")
def list_keys(
    trusted: Annotated[bool, typer.Option("--trusted", help="List the trust store instead.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List your key pairs (or, with --trusted, the trusted public keys)."""
    if trusted:
        keys = [{"name": k.name, "key_id": k.key_id, "path": str(k.path)} for k in trust_store().list()]
        if as_json:
            print_listing(keys)
        else:
            print_table("Trusted keys", ["name", "key id", "path"], [tuple(k.values()) for k in keys])
        return
    infos = key_ring().list()
    if as_json:
        print_listing(infos)
        return
    rows = [(k.name, k.key_id, "yes" if k.is_encrypted else "no") for k in infos]
    print_table("Keys", ["name", "key id", "encrypted"], rows)


@app.command("export-public")
def export_public(
    name: str,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Print (or write) the PEM public key of NAME."""
    pem = key_ring().export_public(name)
    if out is None:
        typer.echo(pem.decode("ascii"), nl=False)
    else:
        out.write_bytes(pem)
        typer.echo(f"Wrote {out}")


@app.command("trust")
def trust(
    public_key: Annotated[Path, typer.Argument(help="PEM public key file.")],
    name: Annotated[str, typer.Option("--name", help="Name to trust it under.")],
) -> None:
    """Add a public key to this project's trust store."""
    if not public_key.is_file():
        raise InvalidInput(f"No file {public_key}; pass a PEM public key (`loopml keys export-public`).")
    key = trust_store().add(public_key.read_bytes(), name=name)
    typer.echo(f"Trusted {key.name} (key id {key.key_id})")
