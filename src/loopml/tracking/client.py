"""The tracking client: experiments, runs, params, metrics, tags, artifacts and inputs of one store."""

from __future__ import annotations

import atexit
import contextvars
import functools
import itertools
import sys
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from loopml.config import Settings, load_settings
from loopml.errors import InvalidInput, InvalidState, NotFound
from loopml.store.entities import (
    Artifact,
    EventType,
    ExecutionState,
    Experiment,
    Metric,
    Page,
    Run,
    RunStatus,
    every_item,
)
from loopml.store.repositories import Store
from loopml.tracking import _serialize, _values, reproducibility
from loopml.tracking._buffer import MetricBuffer
from loopml.tracking.active_run import ActiveRun, describe_error

if TYPE_CHECKING:
    from loopml.artifacts import Blobs

__all__ = ["DEFAULT_EXPERIMENT", "Client"]

DEFAULT_EXPERIMENT = "Default"
RUN_EXECUTION_TYPE = "run"
_WRITE_CHUNK = 10_000
_client_ids = itertools.count()


@dataclass(slots=True, kw_only=True)
class _OpenRun:
    """What the client keeps about a run it started and has not ended."""

    execution_id: str
    record: dict[str, Any] = field(default_factory=dict)


def _flush_at_exit(ref: weakref.ref[Client]) -> None:
    client = ref()
    if client is not None:
        client._at_exit()


class Client:
    """Logs to and reads from one metadata store and one blob store.

    Metric points are buffered and written in batches (``settings.metric_flush_size``), on
    :meth:`flush`, before the client reads a run, when a run ends and at interpreter exit.
    Params and tags are written at once, so a conflict surfaces at the call that caused it.

    Args:
        settings: Where the stores live (default :func:`loopml.config.load_settings`).
        store: An open metadata store to use instead of opening ``settings.resolved_store_url()``.
        blobs: A blob store to use instead of the settings' own (their artifact root and encryption
            key, :func:`loopml.artifacts.blob_store_for`; the server's, through it, in remote mode).

    Example:
        >>> import tempfile, loopml.config
        >>> client = Client(loopml.config.Settings(home=tempfile.mkdtemp()))
        >>> with client.start_run("demo") as run:
        ...     client.log_metric(run.run_id, "loss", 0.5)
        >>> client.get_run(run.run_id).metrics["loss"]
        0.5
        >>> client.close()
    """

    def __init__(
        self, settings: Settings | None = None, *, store: Store | None = None, blobs: Blobs | None = None
    ) -> None:
        self.settings = settings if settings is not None else load_settings()
        self._store = store
        self._owns_store = store is None
        self._blobs = blobs
        self._buffer = MetricBuffer(self._write_metrics, flush_size=self.settings.metric_flush_size)
        self._open: dict[str, _OpenRun] = {}
        self._stack: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
            f"loopml_active_runs_{next(_client_ids)}", default=()
        )
        self._exit_hook = functools.partial(_flush_at_exit, weakref.ref(self))
        atexit.register(self._exit_hook)

    # -- stores ---------------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """The metadata store, opened on first use."""
        if self._store is None:
            if self.settings.tracking_uri:  # remote mode: the same calls over the server's REST API
                from loopml.store.remote import RemoteStore

                self._store = RemoteStore(self.settings.tracking_uri, token=self.settings.tracking_token)
                return self._store
            # Loaded here so that importing the SDK does not load SQLAlchemy and the migrations.
            from loopml.store.sql import open_store

            self._store = open_store(self.settings.resolved_store_url())
        return self._store

    @property
    def blobs(self) -> Blobs:
        """The blob store, opened on first use (the server's, through its API, in remote mode)."""
        if self._blobs is None:
            store = self.store
            if self.settings.tracking_uri:
                from loopml.store.remote import RemoteBlobs, RemoteStore

                if isinstance(store, RemoteStore):
                    self._blobs = RemoteBlobs(store.session)
                    return self._blobs
            from loopml.artifacts import blob_store_for

            self._blobs = blob_store_for(self.settings)
        return self._blobs

    def flush(self) -> None:
        """Write every buffered metric point."""
        self._buffer.flush()

    def close(self) -> None:
        """Flush and release the store (runs still open stay RUNNING)."""
        try:
            self.flush()
        finally:
            atexit.unregister(self._exit_hook)
            if self._store is not None and self._owns_store:
                self._store.close()
                self._store = None

    def _at_exit(self) -> None:
        # The interpreter sets sys.last_value when the program died of an uncaught exception.
        crash = getattr(sys, "last_value", None)
        status, error = RunStatus.FINISHED, None
        if isinstance(crash, BaseException):
            status = RunStatus.FAILED if isinstance(crash, Exception) else RunStatus.KILLED
            error = describe_error(crash)
        try:
            for run_id in list(self._open):
                self.end_run(run_id, status, error=error)
            self.flush()
        except Exception as err:  # nothing can be raised to anyone at exit
            print(f"loopml: could not save tracking data at exit: {err}", file=sys.stderr)

    def _write_metrics(self, run_id: str, points: Sequence[Metric]) -> None:
        for start in range(0, len(points), _WRITE_CHUNK):
            self.store.runs.log_batch(run_id, metrics=points[start : start + _WRITE_CHUNK])

    # -- experiments ----------------------------------------------------------------------------

    def create_experiment(self, name: str, *, tags: Mapping[str, str] | None = None) -> Experiment:
        """Create an experiment; :class:`~loopml.errors.Conflict` if the name is taken."""
        return self.store.experiments.create(name, tags=tags)

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with this id (:class:`~loopml.errors.NotFound` otherwise)."""
        return self.store.experiments.get(experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment:
        """The experiment with this name (:class:`~loopml.errors.NotFound` otherwise)."""
        return self.store.experiments.get_by_name(name)

    def list_experiments(self, *, include_deleted: bool = False) -> list[Experiment]:
        """Every experiment."""
        return self.store.experiments.list(include_deleted=include_deleted)

    def _experiment_id(self, name_or_id: str) -> str:
        found = self.store.experiments.find_by_name(name_or_id)
        if found is not None:
            return found.experiment_id
        try:
            return self.store.experiments.get(name_or_id).experiment_id
        except NotFound as err:
            raise NotFound(
                f"No experiment named or with id {name_or_id!r}; `loopml experiments list` lists them."
            ) from err

    # -- runs -----------------------------------------------------------------------------------

    def active_run(self) -> ActiveRun | None:
        """The innermost run started by this client in the current context and not yet ended."""
        stack = self._stack.get()
        return ActiveRun(self, stack[-1]) if stack else None

    def start_run(
        self,
        experiment: str = DEFAULT_EXPERIMENT,
        run_name: str | None = None,
        *,
        parent_run_id: str | None = None,
        nested: bool = False,
        tags: Mapping[str, Any] | None = None,
        seeds: Mapping[str, int] | None = None,
    ) -> ActiveRun:
        """Start a RUNNING run (creating the experiment by name if needed) and capture its environment.

        Args:
            experiment: Experiment name.
            run_name: Run name (generated when None).
            parent_run_id: Parent run, for a nested run.
            nested: Make the innermost active run of this client the parent.
            tags: Tags set at creation.
            seeds: Random seeds used, recorded in the reproducibility record.

        Returns:
            A handle that is also a context manager ending the run.

        Raises:
            InvalidState: ``nested=True`` with no active run.
        """
        if nested and parent_run_id is None:
            current = self.active_run()
            if current is None:
                raise InvalidState(
                    "start_run(nested=True) needs an active run to nest under; none is active."
                )
            parent_run_id = current.run_id
        exp = self.store.experiments.get_or_create(experiment)
        str_tags = {_values.check_key("tag", k): _values.param_value(v) for k, v in (tags or {}).items()}
        run = self.store.runs.create(
            exp.experiment_id, name=run_name, parent_run_id=parent_run_id, tags=str_tags
        )
        execution = self.store.lineage.create_execution(
            type=RUN_EXECUTION_TYPE, name=run.name, run_id=run.run_id
        )
        record = reproducibility.capture(seeds=seeds)
        self.store.runs.set_reproducibility(run.run_id, record)
        self._open[run.run_id] = _OpenRun(execution_id=execution.execution_id, record=record)
        self._stack.set((*self._stack.get(), run.run_id))
        return ActiveRun(self, run.run_id)

    def end_run(
        self, run_id: str, status: RunStatus = RunStatus.FINISHED, *, error: str | None = None
    ) -> Run:
        """End a run: flush its metrics, finish its record and execution, set its status.

        Raises:
            InvalidState: the run has already ended.
        """
        status = RunStatus(status)
        if not status.is_terminal:
            raise InvalidInput(f"end_run needs a final status (FINISHED, FAILED, KILLED). Got {status}.")
        try:
            self._buffer.flush(run_id)
        finally:
            self._stack.set(tuple(r for r in self._stack.get() if r != run_id))
            state = self._open.pop(run_id, None)
        run = self.store.runs.get(run_id)
        if run.status.is_terminal:
            raise InvalidState(f"Run {run_id} already ended with status {run.status}.")
        record = state.record if state is not None else dict(run.reproducibility)
        self.store.runs.set_reproducibility(run_id, reproducibility.finalise(record))
        execution_id = state.execution_id if state is not None else self._find_execution_id(run_id)
        if execution_id is not None:
            done = ExecutionState.COMPLETE if status is RunStatus.FINISHED else ExecutionState.FAILED
            self.store.lineage.finish_execution(execution_id, done, error=error)
        return self.store.runs.set_status(run_id, status, error=error)

    def get_run(self, run_id: str) -> Run:
        """The run with this id, pending metrics flushed first."""
        self._buffer.flush(run_id)
        return self.store.runs.get(run_id)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of one metric of a run, pending metrics flushed first."""
        self._buffer.flush(run_id)
        return self.store.runs.get_metric_history(run_id, key)

    def search_runs(
        self,
        experiments: str | Sequence[str],
        *,
        filter: str | None = None,
        order_by: str | Sequence[str] = (),
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> Page[Run]:
        """Search runs of experiments given by name or id (``metrics.auc > 0.8 and params.x = 'y'``)."""
        self.flush()
        names = [experiments] if isinstance(experiments, str) else list(experiments)
        ids = [self._experiment_id(e) for e in names]
        orders = [order_by] if isinstance(order_by, str) else list(order_by)
        return self.store.runs.search(
            ids, filter=filter, order_by=orders, max_results=max_results, page_token=page_token
        )

    # -- params, metrics, tags ------------------------------------------------------------------

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        """Log a param now; :class:`~loopml.errors.Conflict` if it exists with another value."""
        self.log_params(run_id, {key: value})

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Log params now, all or nothing."""
        values = {_values.check_key("param", k): _values.param_value(v) for k, v in params.items()}
        if values:
            self.store.runs.log_batch(run_id, params=values)
            state = self._open.get(run_id)
            if state is not None:  # seeds passed as params are seeds used: the record keeps them
                state.record.setdefault("seeds", {}).update(reproducibility.seeds_in(params))

    def log_metric(
        self, run_id: str, key: str, value: float, step: int | None = None, timestamp: int | None = None
    ) -> None:
        """Buffer one metric point (value checked now; step 0 and time now by default)."""
        point = Metric(
            key=_values.check_key("metric", key),
            value=_values.metric_value(key, value),
            step=_values.step_value(key, step),
            timestamp=_values.timestamp_value(key, timestamp),
        )
        self._buffer.add(run_id, (point,))

    def log_metrics(
        self,
        run_id: str,
        metrics: Mapping[str, float],
        *,
        step: int | None = None,
        timestamp: int | None = None,
    ) -> None:
        """Buffer several metric points sharing one step and timestamp."""
        ts = _values.timestamp_value("metrics", timestamp)
        points = [
            Metric(
                key=_values.check_key("metric", k),
                value=_values.metric_value(k, v),
                step=_values.step_value(k, step),
                timestamp=ts,
            )
            for k, v in metrics.items()
        ]
        self._buffer.add(run_id, points)

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        """Set a tag now (tags may be overwritten)."""
        self.set_tags(run_id, {key: value})

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        """Set several tags now."""
        values = {_values.check_key("tag", k): _values.param_value(v) for k, v in tags.items()}
        if values:
            self.store.runs.log_batch(run_id, tags=values)

    # -- artifacts and inputs -------------------------------------------------------------------

    def _execution_id(self, run_id: str) -> str:
        state = self._open.get(run_id)
        if state is not None:
            return state.execution_id
        found = self._find_execution_id(run_id)
        if found is None:
            execution = self.store.lineage.create_execution(
                type=RUN_EXECUTION_TYPE, name=self.store.runs.get(run_id).name, run_id=run_id
            )
            return execution.execution_id
        return found

    def _find_execution_id(self, run_id: str) -> str | None:
        execution = self.store.lineage.find_run_execution(run_id)
        return execution.execution_id if execution is not None else None

    def _running(self, run_id: str) -> Run:
        run = self.store.runs.get(run_id)
        if run.status.is_terminal:
            raise InvalidState(
                f"Run {run_id} has ended ({run.status}); artifacts can only be logged to a RUNNING run."
            )
        return run

    def _screen(self, data: bytes | Path, *, name: str) -> dict[str, Any]:
        """Scan content about to be logged; the verdict to record (raises UnsafeArtifact to refuse)."""
        from loopml.security.uploads import SCAN_PROPERTY, screen_bytes, screen_file

        policy = self.settings.unsafe_artifacts
        if isinstance(data, Path):
            return {SCAN_PROPERTY: screen_file(data, name=name, policy=policy)}
        return {SCAN_PROPERTY: screen_bytes(data, name=name, policy=policy)}

    def _record_output(
        self, run_id: str, *, type: str, name: str, data: bytes | Path, scan: dict[str, Any] | None = None
    ) -> Artifact:
        scan = scan if scan is not None else self._screen(data, name=name)
        ref = (
            self.blobs.put_file(data, label=name)
            if isinstance(data, Path)
            else self.blobs.put_bytes(data, label=name)
        )
        artifact = self.store.artifacts.create(
            type=type,
            name=name,
            uri=ref.uri,
            sha256=ref.sha256,
            size=ref.size,
            run_id=run_id,
            properties=scan,
        )
        self.store.lineage.add_events(
            self._execution_id(run_id), [(artifact.artifact_id, EventType.OUTPUT, type.lower())]
        )
        return artifact

    def log_artifact(
        self, run_id: str, path: str | PathLike[str], name: str | None = None, *, type: str = "File"
    ) -> list[Artifact]:
        """Store a file, or every file under a directory, as outputs of the run.

        Args:
            run_id: A RUNNING run.
            path: A file or a directory.
            name: Artifact name (default: the file or directory name); files of a directory are
                named ``<name>/<relative path>``.
            type: Artifact type, e.g. ``"Model"`` or ``"Dataset"``.

        Returns:
            One artifact per file.

        Every file is scanned first (pickle-family content opcode by opcode); the verdict is
        recorded in the artifact's ``loopml.scan`` property.

        Raises:
            InvalidInput: ``path`` does not exist or is an empty directory.
            UnsafeArtifact: the scanner judged a file unsafe and ``settings.unsafe_artifacts`` is
                ``refuse`` (the default); then no file of a directory is logged.
        """
        source = Path(path)
        if not source.exists():
            raise InvalidInput(f"Cannot log artifact {str(source)!r}: no such file or directory.")
        self._running(run_id)
        base = name or source.name
        if source.is_file():
            return [self._record_output(run_id, type=type, name=base, data=source)]
        files = sorted(p for p in source.rglob("*") if p.is_file())
        if not files:
            raise InvalidInput(f"Cannot log artifact {str(source)!r}: the directory holds no files.")
        named = {f"{base}/{f.relative_to(source).as_posix()}": f for f in files}
        scans = {n: self._screen(f, name=n) for n, f in named.items()}  # all of them before any upload
        return [
            self._record_output(run_id, type=type, name=n, data=f, scan=scans[n]) for n, f in named.items()
        ]

    def log_dict(self, run_id: str, obj: Any, name: str) -> Artifact:
        """Store ``obj`` as YAML (``.yaml``/``.yml`` names) or JSON, as an output of the run."""
        self._running(run_id)
        return self._record_output(run_id, type="File", name=name, data=_serialize.dict_bytes(obj, name))

    def log_text(self, run_id: str, text: str, name: str) -> Artifact:
        """Store ``text`` as a UTF-8 file, as an output of the run."""
        self._running(run_id)
        return self._record_output(run_id, type="File", name=name, data=_serialize.text_bytes(text, name))

    def create_artifact(
        self,
        path: str | PathLike[str],
        *,
        name: str | None = None,
        type: str = "Dataset",
        properties: Mapping[str, Any] | None = None,
        versioned: bool = False,
    ) -> Artifact:
        """Store a file as an artifact that belongs to no run (e.g. a dataset to pass to ``log_input``).

        Raises:
            InvalidInput: ``path`` is not a file.
            UnsafeArtifact: the scanner judged it unsafe (see :meth:`log_artifact`).
        """
        source = Path(path)
        if not source.is_file():
            raise InvalidInput(f"Cannot store {str(source)!r} as an artifact: it is not a file.")
        label = name or source.name
        scan = self._screen(source, name=label)
        ref = self.blobs.put_file(source, label=label)
        return self.store.artifacts.create(
            type=type,
            name=label,
            uri=ref.uri,
            sha256=ref.sha256,
            size=ref.size,
            properties={**(properties or {}), **scan},
            versioned=versioned,
        )

    def log_input(self, run_id: str, artifact: Artifact | str, *, role: str = "dataset") -> Artifact:
        """Record an artifact (or artifact id) as an input of the run, in lineage and reproducibility."""
        art = artifact if isinstance(artifact, Artifact) else self.store.artifacts.get(artifact)
        self.store.lineage.add_events(self._execution_id(run_id), [(art.artifact_id, EventType.INPUT, role)])
        entry = {
            "artifact_id": art.artifact_id,
            "name": art.name,
            "type": art.type,
            "role": role,
            "uri": art.uri,
            "sha256": art.sha256,
            "size": art.size,
            "version": art.version,
        }
        state = self._open.get(run_id)
        record = state.record if state is not None else dict(self.store.runs.get(run_id).reproducibility)
        record["datasets"] = [*record.get("datasets", []), entry]
        self.store.runs.set_reproducibility(run_id, record)
        return art

    def get_artifact(self, artifact_id: str) -> Artifact:
        """The artifact with this id."""
        return self.store.artifacts.get(artifact_id)

    def list_artifacts(self, run_id: str) -> list[Artifact]:
        """Every artifact logged by a run."""
        return list(every_item(lambda token: self.store.artifacts.list(run_id=run_id, page_token=token)))

    def _stored(self, artifact_id: str) -> tuple[Artifact, str]:
        art = self.store.artifacts.get(artifact_id)
        if art.is_reference or art.sha256 is None:
            raise InvalidInput(
                f"Artifact {artifact_id} ({art.name}) is registered by reference at {art.uri}; read it there."
            )
        return art, art.sha256

    def _reader(self, *, allow_unsafe: bool) -> Blobs:
        """The blob store to read from; a remote one carries the unsafe opt-in to the server."""
        blobs = self.blobs
        if allow_unsafe and self.settings.tracking_uri:
            from loopml.store.remote import RemoteBlobs

            if isinstance(blobs, RemoteBlobs):
                return blobs.allowing_unsafe()
        return blobs

    def download_artifact(
        self, artifact_id: str, dest: str | PathLike[str], *, allow_unsafe: bool = False
    ) -> Path:
        """Copy an artifact's verified bytes to ``dest`` (a file path, or an existing directory).

        A folder artifact becomes a folder at ``dest`` (or inside it, when it is a directory),
        written only once its manifest and every file verified.

        Args:
            artifact_id: The artifact.
            dest: A file path, or an existing directory to write into.
            allow_unsafe: Download an artifact the scanner recorded unsafe on upload.

        Raises:
            IntegrityError: the stored bytes do not match the recorded hash.
            UnsafeArtifact: the artifact was recorded unsafe and ``allow_unsafe`` is false.
        """
        from loopml.artifacts import get_folder, is_folder
        from loopml.security.uploads import check_download

        art, sha = self._stored(artifact_id)
        check_download(art.properties, name=art.name, artifact_id=artifact_id, allow_unsafe=allow_unsafe)
        blobs = self._reader(allow_unsafe=allow_unsafe)
        target = Path(dest)
        if target.is_dir():
            target = target / PurePosixPath(art.name).name
        if is_folder(art.properties):
            return get_folder(blobs, sha, target, label=repr(art.name), total_size=art.size)
        return blobs.get_file(sha, target, label=art.name, size=art.size)

    def verify_artifact(self, artifact_id: str) -> Artifact:
        """Re-hash an artifact's bytes; :class:`~loopml.errors.IntegrityError` on any mismatch.

        A folder artifact verifies by its manifest's hash, then every file's hash and size.
        """
        from loopml.artifacts import is_folder, verify_folder

        art, sha = self._stored(artifact_id)
        blobs = self._reader(allow_unsafe=True)  # verifying hands no bytes to anyone
        if is_folder(art.properties):
            verify_folder(blobs, sha, label=repr(art.name), total_size=art.size)
        else:
            blobs.verify(sha, label=art.name, size=art.size)
        return art
