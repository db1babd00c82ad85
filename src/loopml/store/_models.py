"""SQL implementation of :class:`~loopml.store.repositories.ModelRepository`.

Races are settled by the database, never by reading then writing in separate transactions:
version numbers come from ``max(version) + 1`` inside the transaction that inserts the version,
under a row lock on the model (PostgreSQL) or ``BEGIN IMMEDIATE`` (SQLite), with the unique
``(model_id, version)`` key and a retry as the last line of defence. Alias moves are a
compare-and-set on the locked alias row, and every attempt, won or lost, writes an audit event.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import EllipsisType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from loopml.errors import Conflict, InvalidInput, InvalidState, NotFound
from loopml.store._engine import Database
from loopml.store._paging import check_max_results, decode_token, encode_token
from loopml.store._schema import (
    ARTIFACTS,
    MODEL_ALIAS_EVENTS,
    MODEL_ALIASES,
    MODEL_VERSION_TAGS,
    MODEL_VERSIONS,
    REGISTERED_MODEL_TAGS,
    REGISTERED_MODELS,
)
from loopml.store._stamps import new_id, now_ms
from loopml.store.entities import (
    Alias,
    AliasEvent,
    AliasEventResult,
    ModelVersion,
    ModelVersionStatus,
    Page,
    RegisteredModel,
)
from loopml.store.missing import missing_model
from loopml.store.validation import check_json, check_key, check_name, check_tag_value, shorten

__all__ = ["SqlModelRepository", "check_alias_name", "check_model_name"]

_MODELS = REGISTERED_MODELS
_MODEL_TAGS = REGISTERED_MODEL_TAGS
_VERSIONS = MODEL_VERSIONS
_VERSION_TAGS = MODEL_VERSION_TAGS
_ALIASES = MODEL_ALIASES
_EVENTS = MODEL_ALIAS_EVENTS
_ART = ARTIFACTS

_ALIAS = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_ATTEMPTS = 20
_LIST_MODELS = "`loopml models list` lists registered models"


def check_model_name(name: object) -> str:
    """A registered model name: a key (no ``/``, no control characters) without ``@``."""
    checked = check_key(name, kind="model name")
    if "@" in checked:
        raise InvalidInput(
            f"The model name {shorten(checked)!r} contains '@', which separates the alias in "
            "models:/NAME@ALIAS URIs. Use letters, digits and . _ - instead."
        )
    return checked


def check_alias_name(alias: object) -> str:
    """An alias: a letter or ``_`` then up to 63 letters, digits, ``_ . -``; not ``latest``."""
    if not isinstance(alias, str) or not _ALIAS.fullmatch(alias) or alias.lower() == "latest":
        raise InvalidInput(
            f"The alias {alias!r:.70} is not valid: it must start with a letter or '_', have at most "
            "64 letters, digits, '_', '.' or '-', and not be 'latest' (reserved for the newest "
            "version). Examples: champion, challenger, staging."
        )
    return alias


def _check_version(version: object) -> int:
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidInput(f"A model version must be an integer >= 1; got {version!r:.40}.")
    return version


def _check_tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise InvalidInput(f"Tags must be a mapping of key to value; got {type(tags).__name__}.")
    return {check_key(k, kind="tag key"): check_tag_value(k, v) for k, v in tags.items()}


def _no_model(name: str) -> NotFound:
    return missing_model(name)


def _no_version(name: str, version: int) -> NotFound:
    return NotFound(
        f"Model {name!r} has no version {version}; `loopml models versions {name}` lists its versions."
    )


class SqlModelRepository:
    """Registered models, versions, aliases and alias events in the SQL store."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- models --------------------------------------------------------------------------------

    def create_model(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        created_by: str | None = None,
    ) -> RegisteredModel:
        """Create a registered model.

        Raises:
            Conflict: the name is taken.
            InvalidInput: a bad name or tag.
        """
        check_model_name(name)
        checked_tags = _check_tags(tags)
        try:
            with self._db.write() as conn:
                model_id = self._insert_model(conn, name, description=description, created_by=created_by)
                if model_id is None:
                    raise Conflict(f"A model named {name!r} is already registered; pick another name.")
                self._set_tags(conn, _MODEL_TAGS, "model_id", model_id, checked_tags)
        except IntegrityError as err:
            raise Conflict(f"A model named {name!r} is already registered; pick another name.") from err
        return self.get_model(name)

    def _insert_model(
        self, conn: Connection, name: str, *, description: str | None, created_by: str | None
    ) -> str | None:
        """Insert a model row unless the name exists; the new id, or None when it existed."""
        now = now_ms()
        model_id = new_id()
        statement = (
            self._db.insert(_MODELS)
            .values(
                model_id=model_id,
                name=name,
                description=description,
                created_at=now,
                created_by=None if created_by is None else check_name(created_by, kind="actor"),
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["name"])
            .returning(_MODELS.c.model_id)
        )
        return model_id if conn.execute(statement).first() is not None else None

    def get_model(self, name: str) -> RegisteredModel:
        found = self.find_model(name)
        if found is None:
            raise _no_model(name)
        return found

    def find_model(self, name: str) -> RegisteredModel | None:
        with self._db.read() as conn:
            row = conn.execute(sa.select(_MODELS).where(_MODELS.c.name == name)).first()
            return None if row is None else self._to_models(conn, [row])[0]

    def search_models(
        self,
        *,
        name_like: str | None = None,
        tag: str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> Page[RegisteredModel]:
        """Models by name pattern (SQL ``LIKE``, case-sensitive) and tag (``key`` or ``key=value``)."""
        limit = check_max_results(max_results)
        offset = decode_token(page_token)
        query = sa.select(_MODELS)
        if name_like is not None:
            query = query.where(_MODELS.c.name.like(name_like))
        if tag is not None:
            key, has_value, value = tag.partition("=")
            tagged = sa.select(_MODEL_TAGS.c.model_id).where(_MODEL_TAGS.c.key == key)
            if has_value:
                tagged = tagged.where(_MODEL_TAGS.c.value == value)
            query = query.where(_MODELS.c.model_id.in_(tagged))
        query = query.order_by(_MODELS.c.name).limit(limit + 1).offset(offset)
        with self._db.read() as conn:
            rows = conn.execute(query).all()
            items = self._to_models(conn, rows[:limit])
        return Page(items=items, next_page_token=encode_token(offset + limit) if len(rows) > limit else None)

    def update_model(
        self, name: str, *, description: str | None = None, tags: Mapping[str, str] | None = None
    ) -> RegisteredModel:
        """Set the description (when given) and merge ``tags``."""
        checked_tags = _check_tags(tags)
        with self._db.write() as conn:
            model_id = self._model_id(conn, name)
            values: dict[str, Any] = {"updated_at": now_ms()}
            if description is not None:
                values["description"] = description
            conn.execute(sa.update(_MODELS).where(_MODELS.c.model_id == model_id).values(**values))
            self._set_tags(conn, _MODEL_TAGS, "model_id", model_id, checked_tags)
        return self.get_model(name)

    def rename_model(self, name: str, new_name: str) -> RegisteredModel:
        """Give a model a new name; its versions follow.

        Raises:
            Conflict: ``new_name`` is taken.
            InvalidState: an alias points into the model (deployments follow aliases by name).
            NotFound: no model ``name``.
        """
        check_model_name(new_name)
        try:
            with self._db.write() as conn:
                model_id = self._model_id(conn, name, lock=True)
                aliases = conn.execute(
                    sa.select(_ALIASES.c.alias).where(_ALIASES.c.model_id == model_id)
                ).all()
                if aliases:
                    held = ", ".join(sorted(r.alias for r in aliases))
                    raise InvalidState(
                        f"Model {name!r} has aliases ({held}) that deployments may follow by name; delete "
                        f"them first (`loopml models alias {name} ALIAS --delete`), then rename."
                    )
                if conn.execute(sa.select(_MODELS.c.model_id).where(_MODELS.c.name == new_name)).first():
                    raise Conflict(f"A model named {new_name!r} is already registered; pick another name.")
                conn.execute(
                    sa.update(_MODELS)
                    .where(_MODELS.c.model_id == model_id)
                    .values(name=new_name, updated_at=now_ms())
                )
        except IntegrityError as err:
            raise Conflict(f"A model named {new_name!r} is already registered; pick another name.") from err
        return self.get_model(new_name)

    def delete_model(self, name: str) -> None:
        """Delete a model that has no versions (versions are kept for lineage; archive them instead).

        Raises:
            InvalidState: the model has versions.
            NotFound: no model ``name``.
        """
        with self._db.write() as conn:
            model_id = self._model_id(conn, name, lock=True)
            if conn.execute(
                sa.select(_VERSIONS.c.version_id).where(_VERSIONS.c.model_id == model_id)
            ).first():
                raise InvalidState(
                    f"Model {name!r} has versions, which loopml keeps for lineage; archive them instead "
                    f"(`loopml models archive {name} VERSION`)."
                )
            conn.execute(sa.delete(_EVENTS).where(_EVENTS.c.model_id == model_id))
            conn.execute(sa.delete(_MODEL_TAGS).where(_MODEL_TAGS.c.model_id == model_id))
            conn.execute(sa.delete(_MODELS).where(_MODELS.c.model_id == model_id))

    def delete_tag(self, name: str, key: str, *, version: int | None = None) -> None:
        """Remove tag ``key`` of the model, or of one of its versions.

        Raises:
            NotFound: no such model, version or tag.
        """
        with self._db.write() as conn:
            if version is None:
                owner = self._model_id(conn, name)
                table, column, where = _MODEL_TAGS, "model_id", f"model {name!r}"
            else:
                owner = self._version_row(conn, name, _check_version(version)).version_id
                table, column, where = _VERSION_TAGS, "version_id", f"version {version} of model {name!r}"
            deleted = conn.execute(sa.delete(table).where(table.c[column] == owner, table.c.key == key))
            if deleted.rowcount == 0:
                raise NotFound(f"The {where} has no tag {key!r}; `loopml models show {name}` lists its tags.")

    # -- versions ------------------------------------------------------------------------------

    def create_version(
        self,
        name: str,
        *,
        manifest_sha256: str,
        flavor: str,
        scan_verdict: str,
        artifact_id: str | None = None,
        signature_key_id: str | None = None,
        is_signed: bool = False,
        blessing_artifact_id: str | None = None,
        blessing_passed: bool | None = None,
        run_id: str | None = None,
        execution_id: str | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        properties: Mapping[str, Any] | None = None,
        created_by: str | None = None,
    ) -> ModelVersion:
        """Add the next version of ``name``, creating the model on first use.

        Raises:
            InvalidInput: a bad name, hash, flavor, tag or property.
            NotFound: an unknown ``artifact_id``.
            Conflict: no version number could be assigned after many concurrent attempts.
        """
        check_model_name(name)
        if not isinstance(manifest_sha256, str) or not _SHA256.fullmatch(manifest_sha256):
            raise InvalidInput(
                f"manifest_sha256 must be 64 lowercase hex digits; got {manifest_sha256!r:.80}."
            )
        checked_tags = _check_tags(tags)
        values: dict[str, Any] = {
            "artifact_id": artifact_id,
            "manifest_sha256": manifest_sha256,
            "flavor": check_name(flavor, kind="flavor"),
            "signature_key_id": signature_key_id,
            "is_signed": bool(is_signed),
            "scan_verdict": check_name(scan_verdict, kind="scan verdict"),
            "blessing_artifact_id": blessing_artifact_id,
            "blessing_passed": blessing_passed,
            "status": ModelVersionStatus.READY.value,
            "run_id": run_id,
            "execution_id": execution_id,
            "description": description,
            "properties": check_json(properties, what="model version properties"),
            "created_by": None if created_by is None else check_name(created_by, kind="actor"),
        }
        last: IntegrityError | None = None
        for _attempt in range(_ATTEMPTS):
            try:
                with self._db.write() as conn:
                    number = self._insert_version(conn, name, values, checked_tags)
                return self.get_version(name, number)
            except IntegrityError as err:  # a concurrent writer took this number: try the next
                last = err
        raise Conflict(
            f"Could not assign a version number to model {name!r} after {_ATTEMPTS} tries "
            "(many concurrent registrations); retry."
        ) from last

    def _insert_version(
        self, conn: Connection, name: str, values: dict[str, Any], tags: dict[str, str]
    ) -> int:
        if values["artifact_id"] is not None:
            exists = conn.execute(
                sa.select(_ART.c.artifact_id).where(_ART.c.artifact_id == values["artifact_id"])
            )
            if exists.first() is None:
                raise NotFound(
                    f"No artifact with id {values['artifact_id']!r} to register as a model version."
                )
        self._insert_model(conn, name, description=None, created_by=values["created_by"])
        model_id = self._model_id(conn, name, lock=True)
        current = conn.execute(
            sa.select(sa.func.max(_VERSIONS.c.version)).where(_VERSIONS.c.model_id == model_id)
        ).scalar()
        number = 1 if current is None else int(current) + 1
        now = now_ms()
        version_id = new_id()
        conn.execute(
            sa.insert(_VERSIONS).values(
                version_id=version_id,
                model_id=model_id,
                version=number,
                created_at=now,
                updated_at=now,
                **values,
            )
        )
        conn.execute(sa.update(_MODELS).where(_MODELS.c.model_id == model_id).values(updated_at=now))
        self._set_tags(conn, _VERSION_TAGS, "version_id", version_id, tags)
        return number

    def get_version(self, name: str, version: int) -> ModelVersion:
        _check_version(version)
        with self._db.read() as conn:
            model_id = self._model_id(conn, name)
            row = conn.execute(
                sa.select(_VERSIONS).where(_VERSIONS.c.model_id == model_id, _VERSIONS.c.version == version)
            ).first()
            if row is None:
                raise _no_version(name, version)
            return self._to_versions(conn, name, [row])[0]

    def find_latest_version(self, name: str, *, include_archived: bool = False) -> ModelVersion | None:
        """The highest-numbered version (READY only unless ``include_archived``)."""
        with self._db.read() as conn:
            model_id = self._model_id(conn, name)
            query = sa.select(_VERSIONS).where(_VERSIONS.c.model_id == model_id)
            if not include_archived:
                query = query.where(_VERSIONS.c.status == ModelVersionStatus.READY.value)
            row = conn.execute(query.order_by(_VERSIONS.c.version.desc()).limit(1)).first()
            return None if row is None else self._to_versions(conn, name, [row])[0]

    def list_versions(self, name: str, *, status: ModelVersionStatus | None = None) -> list[ModelVersion]:
        """Every version of ``name``, oldest first (optionally only those with ``status``)."""
        with self._db.read() as conn:
            model_id = self._model_id(conn, name)
            query = sa.select(_VERSIONS).where(_VERSIONS.c.model_id == model_id)
            if status is not None:
                query = query.where(_VERSIONS.c.status == ModelVersionStatus(status).value)
            rows = conn.execute(query.order_by(_VERSIONS.c.version)).all()
            return self._to_versions(conn, name, rows)

    def update_version(
        self,
        name: str,
        version: int,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        signature_key_id: str | None = None,
        blessing_artifact_id: str | None = None,
        blessing_passed: bool | None = None,
    ) -> ModelVersion:
        """Change the given fields (None leaves a field as it is); tags are merged."""
        _check_version(version)
        checked_tags = _check_tags(tags)
        changes: dict[str, Any] = {
            k: v
            for k, v in (
                ("description", description),
                ("signature_key_id", signature_key_id),
                ("blessing_artifact_id", blessing_artifact_id),
                ("blessing_passed", blessing_passed),
            )
            if v is not None
        }
        if signature_key_id is not None:
            changes["is_signed"] = True
        with self._db.write() as conn:
            row = self._version_row(conn, name, version)
            conn.execute(
                sa.update(_VERSIONS)
                .where(_VERSIONS.c.version_id == row.version_id)
                .values(updated_at=now_ms(), **changes)
            )
            self._set_tags(conn, _VERSION_TAGS, "version_id", row.version_id, checked_tags)
        return self.get_version(name, version)

    def archive_version(
        self, name: str, version: int, *, actor: str, force: bool = False, reason: str | None = None
    ) -> ModelVersion:
        """Archive a version.

        Raises:
            InvalidState: the version holds an alias and ``force`` is not set (the aliases are
                named); with ``force`` they are deleted, each deletion audited.
        """
        _check_version(version)
        check_name(actor, kind="actor")
        with self._db.write() as conn:
            row = self._version_row(conn, name, version, lock=True)
            held = conn.execute(
                sa.select(_ALIASES)
                .where(_ALIASES.c.model_id == row.model_id, _ALIASES.c.version == version)
                .order_by(_ALIASES.c.alias)
                .with_for_update()
            ).all()
            if held and not force:
                names = ", ".join(a.alias for a in held)
                raise InvalidState(
                    f"Version {version} of {name!r} holds alias(es) {names}; move them to another version "
                    f"first (`loopml models alias {name} ALIAS VERSION`), or archive with --force, which "
                    "deletes them."
                )
            now = now_ms()
            for alias_row in held:
                conn.execute(
                    sa.delete(_ALIASES).where(
                        _ALIASES.c.model_id == row.model_id, _ALIASES.c.alias == alias_row.alias
                    )
                )
                attempt = _Attempt(
                    from_version=version, to_version=None, expected=version, actor=actor, reason=reason
                )
                self._event(
                    conn,
                    row.model_id,
                    alias_row.alias,
                    attempt,
                    AliasEventResult.DELETED,
                    detail=f"version {version} archived with force",
                )
            conn.execute(
                sa.update(_VERSIONS)
                .where(_VERSIONS.c.version_id == row.version_id)
                .values(status=ModelVersionStatus.ARCHIVED.value, updated_at=now)
            )
        return self.get_version(name, version)

    # -- aliases -------------------------------------------------------------------------------

    def move_alias(
        self,
        name: str,
        alias: str,
        version: int,
        *,
        actor: str,
        expected_version: int | EllipsisType | None = ...,
        reason: str | None = None,
    ) -> Alias:
        """Point ``alias`` at ``version``: a compare-and-set against ``expected_version``.

        Raises:
            Conflict: the alias did not hold ``expected_version`` (the attempt is still audited).
            InvalidState: the version is archived (audited as refused).
            NotFound: no such model or version.
        """
        check_alias_name(alias)
        _check_version(version)
        check_name(actor, kind="actor")
        for _attempt in range(_ATTEMPTS):
            with self._db.write() as conn:
                outcome = self._try_move(conn, name, alias, version, actor, expected_version, reason)
            if isinstance(outcome, Alias):
                return outcome
            if outcome is not None:
                raise outcome
        raise Conflict(f"Alias {alias!r} of {name!r} kept changing under {_ATTEMPTS} attempts; retry.")

    def _try_move(
        self,
        conn: Connection,
        name: str,
        alias: str,
        version: int,
        actor: str,
        expected: int | EllipsisType | None,
        reason: str | None,
    ) -> Alias | Exception | None:
        """One attempt: the alias, an error to raise after commit, or None to retry."""
        target = self._version_row(conn, name, version, lock=True)
        model_id = target.model_id
        current = self._alias_row(conn, model_id, alias)
        from_version = None if current is None else int(current.version)
        attempt = _Attempt(
            from_version=from_version,
            to_version=version,
            expected=None if expected is ... else expected,
            actor=actor,
            reason=reason,
        )
        if target.status == ModelVersionStatus.ARCHIVED.value:
            message = (
                f"Version {version} of {name!r} is archived and cannot take alias {alias!r}; "
                f"register a new version or pick a READY one (`loopml models versions {name}`)."
            )
            self._event(conn, model_id, alias, attempt, AliasEventResult.REFUSED, detail=message)
            return InvalidState(message)
        if expected is not ... and from_version != expected:
            message = (
                f"Alias {alias!r} of {name!r} points at {_describe(from_version)}, not the expected "
                f"{_describe(expected)}; someone moved it meanwhile. Check `loopml models history {name}` "
                "and retry with the current version."
            )
            self._event(conn, model_id, alias, attempt, AliasEventResult.CONFLICT, detail=message)
            return Conflict(message)
        now = now_ms()
        if current is None:
            inserted = conn.execute(
                self._db.insert(_ALIASES)
                .values(model_id=model_id, alias=alias, version=version, updated_at=now, updated_by=actor)
                .on_conflict_do_nothing(index_elements=["model_id", "alias"])
                .returning(_ALIASES.c.alias)
            ).first()
            if inserted is None:  # created concurrently: judge again against the new row
                return None
        else:
            conn.execute(
                sa.update(_ALIASES)
                .where(
                    _ALIASES.c.model_id == model_id,
                    _ALIASES.c.alias == alias,
                    _ALIASES.c.version == from_version,
                )
                .values(version=version, updated_at=now, updated_by=actor)
            )
        self._event(conn, model_id, alias, attempt, AliasEventResult.MOVED)
        return Alias(name=name, alias=alias, version=version, updated_at=now, updated_by=actor)

    def delete_alias(
        self,
        name: str,
        alias: str,
        *,
        actor: str,
        expected_version: int | EllipsisType | None = ...,
        reason: str | None = None,
    ) -> None:
        """Remove ``alias`` (compare-and-set against ``expected_version``; audited).

        Raises:
            NotFound: the model has no such alias.
            Conflict: the alias did not hold ``expected_version``.
        """
        check_alias_name(alias)
        check_name(actor, kind="actor")
        error: Exception | None = None
        with self._db.write() as conn:
            model_id = self._model_id(conn, name)
            current = self._alias_row(conn, model_id, alias)
            if current is None:
                raise NotFound(
                    f"Model {name!r} has no alias {alias!r}; `loopml models show {name}` lists them."
                )
            from_version = int(current.version)
            attempt = _Attempt(
                from_version=from_version,
                to_version=None,
                expected=None if expected_version is ... else expected_version,
                actor=actor,
                reason=reason,
            )
            if expected_version is not ... and from_version != expected_version:
                message = (
                    f"Alias {alias!r} of {name!r} points at version {from_version}, not the expected "
                    f"{_describe(expected_version)}; it was not deleted."
                )
                self._event(conn, model_id, alias, attempt, AliasEventResult.CONFLICT, detail=message)
                error = Conflict(message)
            else:
                conn.execute(
                    sa.delete(_ALIASES).where(_ALIASES.c.model_id == model_id, _ALIASES.c.alias == alias)
                )
                self._event(conn, model_id, alias, attempt, AliasEventResult.DELETED)
        if error is not None:
            raise error

    def find_alias(self, name: str, alias: str) -> Alias | None:
        with self._db.read() as conn:
            row = self._alias_row(conn, self._model_id(conn, name), alias, lock=False)
        if row is None:
            return None
        return Alias(
            name=name, alias=alias, version=row.version, updated_at=row.updated_at, updated_by=row.updated_by
        )

    def list_aliases(self, name: str) -> builtins.list[Alias]:
        with self._db.read() as conn:
            model_id = self._model_id(conn, name)
            rows = conn.execute(
                sa.select(_ALIASES).where(_ALIASES.c.model_id == model_id).order_by(_ALIASES.c.alias)
            ).all()
        return [
            Alias(
                name=name, alias=r.alias, version=r.version, updated_at=r.updated_at, updated_by=r.updated_by
            )
            for r in rows
        ]

    def record_alias_event(
        self,
        name: str,
        alias: str,
        *,
        actor: str,
        result: AliasEventResult,
        to_version: int | None,
        reason: str | None = None,
        detail: str | None = None,
    ) -> AliasEvent:
        """Record an attempt refused before reaching the alias (e.g. by the promotion policy)."""
        check_alias_name(alias)
        check_name(actor, kind="actor")
        with self._db.write() as conn:
            model_id = self._model_id(conn, name)
            current = self._alias_row(conn, model_id, alias, lock=False)
            attempt = _Attempt(
                from_version=None if current is None else int(current.version),
                to_version=to_version,
                expected=None,
                actor=actor,
                reason=reason,
            )
            event_id = self._event(conn, model_id, alias, attempt, AliasEventResult(result), detail=detail)
        return next(e for e in self.alias_history(name, alias=alias) if e.event_id == event_id)

    def alias_history(self, name: str, *, alias: str | None = None) -> builtins.list[AliasEvent]:
        """Every recorded alias change attempt of ``name`` (optionally one alias), oldest first."""
        with self._db.read() as conn:
            model_id = self._model_id(conn, name)
            query = sa.select(_EVENTS).where(_EVENTS.c.model_id == model_id)
            if alias is not None:
                query = query.where(_EVENTS.c.alias == alias)
            rows = conn.execute(query.order_by(_EVENTS.c.at, _EVENTS.c.id)).all()
        return [
            AliasEvent(
                event_id=r.id,
                name=name,
                alias=r.alias,
                from_version=r.from_version,
                to_version=r.to_version,
                expected_version=r.expected_version,
                actor=r.actor,
                at=r.at,
                reason=r.reason,
                result=AliasEventResult(r.result),
                detail=r.detail,
            )
            for r in rows
        ]

    # -- helpers -------------------------------------------------------------------------------

    def _model_id(self, conn: Connection, name: str, *, lock: bool = False) -> str:
        query = sa.select(_MODELS.c.model_id).where(_MODELS.c.name == name)
        model_id = conn.execute(query.with_for_update() if lock else query).scalar()
        if model_id is None:
            raise _no_model(name)
        return str(model_id)

    def _version_row(self, conn: Connection, name: str, version: int, *, lock: bool = False) -> Any:
        model_id = self._model_id(conn, name)
        query = sa.select(_VERSIONS).where(_VERSIONS.c.model_id == model_id, _VERSIONS.c.version == version)
        row = conn.execute(query.with_for_update() if lock else query).first()
        if row is None:
            raise _no_version(name, version)
        return row

    @staticmethod
    def _alias_row(conn: Connection, model_id: str, alias: str, *, lock: bool = True) -> Any:
        query = sa.select(_ALIASES).where(_ALIASES.c.model_id == model_id, _ALIASES.c.alias == alias)
        return conn.execute(query.with_for_update() if lock else query).first()

    @staticmethod
    def _event(
        conn: Connection,
        model_id: str,
        alias: str,
        attempt: _Attempt,
        result: AliasEventResult,
        detail: str | None = None,
    ) -> int:
        inserted = conn.execute(
            sa.insert(_EVENTS)
            .values(
                model_id=model_id,
                alias=alias,
                from_version=attempt.from_version,
                to_version=attempt.to_version,
                expected_version=attempt.expected,
                actor=attempt.actor,
                at=now_ms(),
                reason=attempt.reason,
                result=result.value,
                detail=detail,
            )
            .returning(_EVENTS.c.id)
        )
        return int(inserted.scalar_one())

    def _set_tags(
        self, conn: Connection, table: sa.Table, id_column: str, owner: str, tags: dict[str, str]
    ) -> None:
        for key, value in tags.items():
            statement = (
                self._db.insert(table)
                .values({id_column: owner, "key": key, "value": value})
                .on_conflict_do_update(index_elements=[id_column, "key"], set_={"value": value})
            )
            conn.execute(statement)

    @staticmethod
    def _to_models(conn: Connection, rows: Any) -> builtins.list[RegisteredModel]:
        ids = [r.model_id for r in rows]
        if not ids:
            return []
        tags: dict[str, dict[str, str]] = {i: {} for i in ids}
        for t in conn.execute(sa.select(_MODEL_TAGS).where(_MODEL_TAGS.c.model_id.in_(ids))):
            tags[t.model_id][t.key] = t.value
        aliases: dict[str, dict[str, int]] = {i: {} for i in ids}
        for a in conn.execute(
            sa.select(_ALIASES).where(_ALIASES.c.model_id.in_(ids)).order_by(_ALIASES.c.alias)
        ):
            aliases[a.model_id][a.alias] = a.version
        latest = dict(
            conn.execute(
                sa.select(_VERSIONS.c.model_id, sa.func.max(_VERSIONS.c.version))
                .where(_VERSIONS.c.model_id.in_(ids))
                .group_by(_VERSIONS.c.model_id)
            ).all()
        )
        return [
            RegisteredModel(
                model_id=r.model_id,
                name=r.name,
                description=r.description,
                tags=tags[r.model_id],
                aliases=aliases[r.model_id],
                latest_version=latest.get(r.model_id),
                created_at=r.created_at,
                created_by=r.created_by,
                updated_at=r.updated_at,
            )
            for r in rows
        ]

    @staticmethod
    def _to_versions(conn: Connection, name: str, rows: Any) -> builtins.list[ModelVersion]:
        if not rows:
            return []
        ids = [r.version_id for r in rows]
        tags: dict[str, dict[str, str]] = {i: {} for i in ids}
        for t in conn.execute(sa.select(_VERSION_TAGS).where(_VERSION_TAGS.c.version_id.in_(ids))):
            tags[t.version_id][t.key] = t.value
        held: dict[int, list[str]] = {}
        alias_rows = conn.execute(
            sa.select(_ALIASES).where(_ALIASES.c.model_id == rows[0].model_id).order_by(_ALIASES.c.alias)
        )
        for a in alias_rows:
            held.setdefault(a.version, []).append(a.alias)
        return [
            ModelVersion(
                version_id=r.version_id,
                name=name,
                version=r.version,
                artifact_id=r.artifact_id,
                manifest_sha256=r.manifest_sha256,
                flavor=r.flavor,
                signature_key_id=r.signature_key_id,
                is_signed=bool(r.is_signed),
                scan_verdict=r.scan_verdict,
                blessing_artifact_id=r.blessing_artifact_id,
                blessing_passed=None if r.blessing_passed is None else bool(r.blessing_passed),
                status=ModelVersionStatus(r.status),
                run_id=r.run_id,
                execution_id=r.execution_id,
                description=r.description,
                tags=tags[r.version_id],
                properties=dict(r.properties or {}),
                aliases=tuple(held.get(r.version, ())),
                created_at=r.created_at,
                created_by=r.created_by,
                updated_at=r.updated_at,
            )
            for r in rows
        ]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Attempt:
    """Who tried to change an alias, from which version to which, expecting what."""

    from_version: int | None
    to_version: int | None
    expected: int | None
    actor: str
    reason: str | None


def _describe(version: int | EllipsisType | None) -> str:
    return "no version (alias absent)" if version is None else f"version {version}"
