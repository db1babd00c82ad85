"""SQL implementation of :class:`~loopml.store.repositories.ArtifactRepository`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from loopml.errors import Conflict, InvalidInput, NotFound
from loopml.store._engine import Database
from loopml.store._paging import check_max_results, decode_token, encode_token
from loopml.store._schema import ARTIFACTS, RUNS
from loopml.store._stamps import new_id, now_ms
from loopml.store.entities import Artifact, Page
from loopml.store.missing import missing_artifact
from loopml.store.validation import check_artifact_name, check_json, check_name

__all__ = ["SqlArtifactRepository", "to_artifact"]

_ART = ARTIFACTS
_RUNS = RUNS
_SHA256 = re.compile(r"[0-9a-f]{64}")
_VERSION_ATTEMPTS = 20


class SqlArtifactRepository:
    """Artifact records (where the bytes are, their hash and size) in the SQL store."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(
        self,
        *,
        type: str,
        name: str,
        uri: str,
        sha256: str | None,
        size: int | None,
        is_reference: bool = False,
        run_id: str | None = None,
        properties: Mapping[str, Any] | None = None,
        versioned: bool = False,
    ) -> Artifact:
        """Record an artifact; ``versioned`` assigns the next version of ``(type, name)`` atomically.

        Raises:
            InvalidInput: for a bad type, name, uri, hash, size or properties.
            NotFound: for an unknown ``run_id``.
        """
        values = _checked_values(
            type=type, name=name, uri=uri, sha256=sha256, size=size, is_reference=is_reference
        )
        values |= {
            "artifact_id": new_id(),
            "run_id": run_id,
            "properties": check_json(properties, what="artifact properties"),
            "created_at": now_ms(),
            "version": None,
        }
        last_error: IntegrityError | None = None
        for _attempt in range(_VERSION_ATTEMPTS):
            try:
                with self._db.write() as conn:
                    if run_id is not None and _missing_run(conn, run_id):
                        raise NotFound(f"No run with id {run_id!r}; `loopml runs list` lists runs.")
                    if versioned:
                        values["version"] = _next_version(conn, type, name)
                    conn.execute(sa.insert(_ART).values(**values))
                return self.get(values["artifact_id"])
            except IntegrityError as err:  # a concurrent writer took this version: try the next
                last_error = err
        raise Conflict(
            f"Could not assign a version to artifact {type}/{name} after {_VERSION_ATTEMPTS} tries "
            "(many concurrent writers); retry."
        ) from last_error

    def get(self, artifact_id: str) -> Artifact:
        with self._db.read() as conn:
            row = conn.execute(sa.select(_ART).where(_ART.c.artifact_id == artifact_id)).first()
        if row is None:
            raise missing_artifact(artifact_id)
        return to_artifact(row)

    def find_version(self, type: str, name: str, version: int | None = None) -> Artifact | None:
        """The given version of ``(type, name)``, or its latest when ``version`` is None."""
        query = sa.select(_ART).where(_ART.c.type == type, _ART.c.name == name)
        if version is None:
            query = query.order_by(
                sa.case((_ART.c.version.is_(None), 1), else_=0),
                _ART.c.version.desc(),
                _ART.c.created_at.desc(),
            )
        else:
            query = query.where(_ART.c.version == version)
        with self._db.read() as conn:
            row = conn.execute(query.limit(1)).first()
        return None if row is None else to_artifact(row)

    def list(
        self,
        *,
        run_id: str | None = None,
        type: str | None = None,
        name: str | None = None,
        sha256: str | None = None,
        id_prefix: str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> Page[Artifact]:
        """Artifacts, oldest first, filtered by run, type, name and content hash.

        ``sha256`` finds the records whose bytes are one blob (served from ``ix_artifacts_sha256``).
        """
        limit = check_max_results(max_results)
        offset = decode_token(page_token)
        query = sa.select(_ART)
        filters = ((_ART.c.run_id, run_id), (_ART.c.type, type), (_ART.c.name, name), (_ART.c.sha256, sha256))
        for column, value in filters:
            if value is not None:
                query = query.where(column == value)
        if id_prefix is not None:
            escaped = id_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(_ART.c.artifact_id.like(escaped + "%", escape="\\"))
        query = query.order_by(_ART.c.created_at, _ART.c.artifact_id).limit(limit + 1).offset(offset)
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        items = [to_artifact(r) for r in rows[:limit]]
        return Page(items=items, next_page_token=encode_token(offset + limit) if len(rows) > limit else None)


def _checked_values(
    *, type: str, name: str, uri: str, sha256: str | None, size: int | None, is_reference: bool
) -> dict[str, Any]:
    check_name(type, kind="artifact type")
    check_artifact_name(name)
    if not isinstance(uri, str) or not uri:
        raise InvalidInput(f"The artifact uri must be a non-empty string; got {uri!r:.80}.")
    if sha256 is not None and (not isinstance(sha256, str) or not _SHA256.fullmatch(sha256)):
        raise InvalidInput(
            f"The sha256 of artifact {name!r} must be 64 lowercase hex digits; got {sha256!r:.80}."
        )
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        raise InvalidInput(f"The size of artifact {name!r} must be a non-negative int; got {size!r}.")
    return {
        "type": type,
        "name": name,
        "uri": uri,
        "sha256": sha256,
        "size": size,
        "is_reference": bool(is_reference),
    }


def _missing_run(conn: Connection, run_id: str) -> bool:
    return conn.execute(sa.select(_RUNS.c.run_id).where(_RUNS.c.run_id == run_id)).first() is None


def _next_version(conn: Connection, type: str, name: str) -> int:
    query = sa.select(sa.func.max(_ART.c.version)).where(_ART.c.type == type, _ART.c.name == name)
    current = conn.execute(query).scalar()
    return 1 if current is None else int(current) + 1


def to_artifact(row: Any) -> Artifact:
    """Map an ``artifacts`` row to :class:`Artifact`."""
    return Artifact(
        artifact_id=row.artifact_id,
        type=row.type,
        name=row.name,
        uri=row.uri,
        sha256=row.sha256,
        size=row.size,
        is_reference=bool(row.is_reference),
        version=row.version,
        run_id=row.run_id,
        properties=dict(row.properties or {}),
        created_at=row.created_at,
    )
