"""Limits and policies of one server instance: body sizes, JSON depth, batch sizes, reference roots."""

from __future__ import annotations

from dataclasses import dataclass

from loopml.errors import InvalidInput

__all__ = ["ServerConfig"]

_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerConfig:
    """Request-safety limits of the REST API.

    Attributes:
        max_body_bytes: Largest JSON request body; larger bodies get 413.
        max_artifact_bytes: Largest artifact upload; larger uploads get 413.
        max_json_depth: Deepest nesting of arrays/objects in a JSON body; deeper gets 400.
        max_batch_items: Most metrics (and, separately, params or tags) in one log-batch request.
        reference_roots: URL prefixes an artifact registered by reference may point into, besides
            the artifact root itself (e.g. ``("s3://datalake/",)``). Nothing else is accepted.
        statistics_interval_s: Seconds between checks of the store's planner statistics
            (PostgreSQL: tables with missing or stale statistics are analysed; see
            ``SqlStore.refresh_statistics``).
        monitor_interval_s: Seconds between two monitoring passes run in the background (windows
            of the prediction log, then the alert rules; see ``loopml.monitor.passes``), or None
            (the default: run ``loopml monitor run`` from cron instead).
        monitor_slices: Input features the background passes slice figures and drift by.
        retrain_policies: A folder of retrain policies, ``<deployment>.yaml`` each (see
            ``loopml.monitor.retrain.policy``): after each background monitoring pass, every
            deployment with a policy takes one step of the retrain loop (as ``loopml monitor
            retrain`` does). Needs ``monitor_interval_s``.

    Example:
        >>> ServerConfig(max_json_depth=8).max_json_depth
        8
    """

    max_body_bytes: int = 16 * _MIB
    max_artifact_bytes: int = 5 * 1024 * _MIB
    max_json_depth: int = 32
    max_batch_items: int = 10_000
    reference_roots: tuple[str, ...] = ()
    statistics_interval_s: float = 300.0
    monitor_interval_s: float | None = None
    monitor_slices: tuple[str, ...] = ()
    retrain_policies: str | None = None

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_artifact_bytes", "max_json_depth", "max_batch_items"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInput(f"Server setting {name} must be a positive integer; got {value!r}.")
        interval = self.statistics_interval_s
        if isinstance(interval, bool) or not isinstance(interval, int | float) or not interval > 0:
            raise InvalidInput(
                "Server setting statistics_interval_s must be a positive number of seconds; "
                f"got {interval!r}."
            )
        every = self.monitor_interval_s
        if every is not None and (
            isinstance(every, bool) or not isinstance(every, int | float) or not every > 0
        ):
            raise InvalidInput(
                "Server setting monitor_interval_s must be a positive number of seconds or None; "
                f"got {every!r}."
            )
        if self.retrain_policies is not None and every is None:
            raise InvalidInput(
                "Server setting retrain_policies needs monitor_interval_s: retraining follows the "
                "background monitoring passes (loopml server --monitor-every 5m --retrain-policies DIR)."
            )
        for root in self.reference_roots:
            if "://" not in root or root.startswith(("http://", "https://", "ftp://")):
                raise InvalidInput(
                    f"Reference root {root!r} must be a storage URL such as 's3://bucket/prefix/'; "
                    "web URLs are never fetched."
                )
