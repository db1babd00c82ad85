"""SQL implementation of :class:`~loopml.store.repositories.ExperimentRepository`."""

from __future__ import annotations

import builtins
from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from loopml.errors import Conflict, InvalidState
from loopml.store._engine import Database
from loopml.store._schema import EXPERIMENT_TAGS, EXPERIMENTS
from loopml.store._stamps import new_id, now_ms
from loopml.store.entities import Experiment, LifecycleStage
from loopml.store.missing import missing_experiment
from loopml.store.validation import check_key, check_tag_value

__all__ = ["SqlExperimentRepository"]

_EXP = EXPERIMENTS
_TAGS = EXPERIMENT_TAGS


class SqlExperimentRepository:
    """Experiments and their tags in the SQL store."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, name: str, *, tags: Mapping[str, str] | None = None) -> Experiment:
        """Create an experiment.

        Raises:
            Conflict: if the name is taken (also by a deleted experiment).
            InvalidInput: for a bad name or tag.
        """
        check_key(name, kind="experiment name")
        checked = {check_key(k, kind="tag key"): check_tag_value(k, v) for k, v in (tags or {}).items()}
        experiment_id = new_id()
        try:
            with self._db.write() as conn:
                conn.execute(
                    sa.insert(_EXP).values(
                        experiment_id=experiment_id,
                        name=name,
                        lifecycle_stage=LifecycleStage.ACTIVE.value,
                        created_at=now_ms(),
                    )
                )
                if checked:
                    conn.execute(
                        sa.insert(_TAGS),
                        [{"experiment_id": experiment_id, "key": k, "value": v} for k, v in checked.items()],
                    )
        except IntegrityError as err:
            raise Conflict(
                f"An experiment named {name!r} already exists; use it (get_or_create) or choose "
                "another name (`loopml experiments list` shows deleted ones too)."
            ) from err
        return self.get(experiment_id)

    def get(self, experiment_id: str) -> Experiment:
        found = self._find(_EXP.c.experiment_id == experiment_id)
        if found is None:
            raise missing_experiment(experiment_id=experiment_id)
        return found

    def get_by_name(self, name: str) -> Experiment:
        found = self.find_by_name(name)
        if found is None:
            raise missing_experiment(name=name)
        return found

    def find_by_name(self, name: str) -> Experiment | None:
        return self._find(_EXP.c.name == name)

    def get_or_create(self, name: str) -> Experiment:
        """The active experiment ``name``, created if missing (safe across processes).

        Raises:
            InvalidState: if the experiment exists but is deleted.
        """
        check_key(name, kind="experiment name")
        found = self.find_by_name(name)
        if found is None:
            try:
                found = self.create(name)
            except Conflict:
                found = self.get_by_name(name)  # another process created it meanwhile
        if found.lifecycle_stage is LifecycleStage.DELETED:
            raise InvalidState(
                f"Experiment {name!r} ({found.experiment_id}) is deleted; restore it with "
                f"`loopml experiments restore {found.experiment_id}` or use another name."
            )
        return found

    def list(self, *, include_deleted: bool = False) -> builtins.list[Experiment]:
        query = sa.select(_EXP).order_by(_EXP.c.created_at, _EXP.c.name)
        if not include_deleted:
            query = query.where(_EXP.c.lifecycle_stage == LifecycleStage.ACTIVE.value)
        with self._db.read() as conn:
            rows = conn.execute(query).all()
            tags = _tags_of(conn, [r.experiment_id for r in rows])
        return [_to_experiment(r, tags.get(r.experiment_id, {})) for r in rows]

    def set_tag(self, experiment_id: str, key: str, value: str) -> None:
        check_key(key, kind="tag key")
        check_tag_value(key, value)
        with self._db.write() as conn:
            self._require(conn, experiment_id)
            stmt = self._db.insert(_TAGS).values(experiment_id=experiment_id, key=key, value=value)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["experiment_id", "key"], set_={"value": stmt.excluded.value}
                )
            )

    def rename(self, experiment_id: str, name: str) -> Experiment:
        """Give an experiment a new name.

        Raises:
            Conflict: if the name is taken (also by a deleted experiment).
            InvalidInput: for a bad name.
            NotFound: for an unknown experiment.
        """
        check_key(name, kind="experiment name")
        try:
            with self._db.write() as conn:
                result = conn.execute(
                    sa.update(_EXP).where(_EXP.c.experiment_id == experiment_id).values(name=name)
                )
                if result.rowcount == 0:
                    raise missing_experiment(experiment_id=experiment_id)
        except IntegrityError as err:
            raise Conflict(
                f"An experiment named {name!r} already exists; choose another name "
                "(`loopml experiments list` shows deleted ones too)."
            ) from err
        return self.get(experiment_id)

    def delete(self, experiment_id: str) -> None:
        self._set_stage(experiment_id, LifecycleStage.DELETED)

    def restore(self, experiment_id: str) -> None:
        self._set_stage(experiment_id, LifecycleStage.ACTIVE)

    def _set_stage(self, experiment_id: str, stage: LifecycleStage) -> None:
        with self._db.write() as conn:
            result = conn.execute(
                sa.update(_EXP)
                .where(_EXP.c.experiment_id == experiment_id)
                .values(lifecycle_stage=stage.value)
            )
            if result.rowcount == 0:
                raise missing_experiment(experiment_id=experiment_id)

    def _require(self, conn: Connection, experiment_id: str) -> None:
        query = sa.select(_EXP.c.experiment_id).where(_EXP.c.experiment_id == experiment_id)
        if conn.execute(query).first() is None:
            raise missing_experiment(experiment_id=experiment_id)

    def _find(self, where: sa.ColumnElement[bool]) -> Experiment | None:
        """The one experiment matching ``where``, with its tags, in one query (a row per tag)."""
        joined = _EXP.outerjoin(_TAGS, _TAGS.c.experiment_id == _EXP.c.experiment_id)
        query = sa.select(_EXP, _TAGS.c.key.label("tag_key"), _TAGS.c.value.label("tag_value"))
        with self._db.read() as conn:
            rows = conn.execute(query.select_from(joined).where(where)).all()
        if not rows:
            return None
        tags = {r.tag_key: r.tag_value for r in rows if r.tag_key is not None}
        return _to_experiment(rows[0], tags)


def _tags_of(conn: Connection, experiment_ids: builtins.list[str]) -> dict[str, dict[str, str]]:
    tags: dict[str, dict[str, str]] = {}
    if not experiment_ids:
        return tags
    query = sa.select(_TAGS)
    if len(experiment_ids) <= 500:
        query = query.where(_TAGS.c.experiment_id.in_(experiment_ids))
    for row in conn.execute(query):
        tags.setdefault(row.experiment_id, {})[row.key] = row.value
    return tags


def _to_experiment(row: sa.Row[tuple[object, ...]], tags: Mapping[str, str]) -> Experiment:
    return Experiment(
        experiment_id=row.experiment_id,
        name=row.name,
        lifecycle_stage=LifecycleStage(row.lifecycle_stage),
        created_at=row.created_at,
        tags=dict(tags),
    )
