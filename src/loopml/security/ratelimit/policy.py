"""Rate-limit policy: a token bucket per role and endpoint class, and an optional daily quota.

Defaults (requests per second, burst):

===========  ==========  ==========  ==========  ==========
role         read        write       upload      admin
===========  ==========  ==========  ==========  ==========
viewer       50, 100     10, 20      5, 10       2, 5
editor       100, 200    200, 400    20, 40      5, 10
maintainer   100, 200    200, 400    20, 40      10, 20
admin        200, 400    400, 800    40, 80      50, 100
===========  ==========  ==========  ==========  ==========

Failed authentications are limited per client address (``auth_failure``: 10/s, burst 20).
Write limits are high for editors because batched metric logging is a write. No daily quota by
default.

Configure in ``loopml.toml``::

    [loopml.rate_limits.editor]
    write = {rate = 500, burst = 1000}
    daily_quota = 1000000
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from loopml.errors import InvalidInput
from loopml.security.auth import Role

__all__ = ["AUTH_FAILURE_LIMIT", "DEFAULT_LIMITS", "EndpointClass", "Limit", "RateLimitPolicy"]


class EndpointClass(enum.StrEnum):
    """What kind of work a request is, for rate limiting."""

    READ = "read"
    WRITE = "write"
    UPLOAD = "upload"
    ADMIN = "admin"
    AUTH_FAILURE = "auth_failure"


@dataclass(frozen=True, slots=True, kw_only=True)
class Limit:
    """A token bucket: refills ``rate`` tokens per second up to ``burst``; a request takes one."""

    rate: float
    burst: int

    def __post_init__(self) -> None:
        if not self.rate > 0:
            raise InvalidInput(f"Rate limit 'rate' must be > 0 requests per second; got {self.rate!r}.")
        if self.burst < 1:
            raise InvalidInput(f"Rate limit 'burst' must be at least 1; got {self.burst!r}.")


def _limits(
    read: tuple[float, int], write: tuple[float, int], upload: tuple[float, int], admin: tuple[float, int]
) -> dict[EndpointClass, Limit]:
    pairs = {
        EndpointClass.READ: read,
        EndpointClass.WRITE: write,
        EndpointClass.UPLOAD: upload,
        EndpointClass.ADMIN: admin,
    }
    return {cls: Limit(rate=r, burst=b) for cls, (r, b) in pairs.items()}


DEFAULT_LIMITS: Mapping[Role, Mapping[EndpointClass, Limit]] = {
    Role.VIEWER: _limits((50, 100), (10, 20), (5, 10), (2, 5)),
    Role.EDITOR: _limits((100, 200), (200, 400), (20, 40), (5, 10)),
    Role.MAINTAINER: _limits((100, 200), (200, 400), (20, 40), (10, 20)),
    Role.ADMIN: _limits((200, 400), (400, 800), (40, 80), (50, 100)),
}
AUTH_FAILURE_LIMIT = Limit(rate=10, burst=20)


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitPolicy:
    """Limits per role and endpoint class, plus optional requests-per-day quotas per role.

    Example:
        >>> policy = RateLimitPolicy.from_mapping({"viewer": {"read": {"rate": 5, "burst": 5}}})
        >>> policy.limit_for(Role.VIEWER, EndpointClass.READ)
        Limit(rate=5.0, burst=5)
        >>> policy.limit_for(Role.EDITOR, EndpointClass.WRITE)
        Limit(rate=200, burst=400)
    """

    limits: Mapping[Role, Mapping[EndpointClass, Limit]] = field(default_factory=lambda: DEFAULT_LIMITS)
    auth_failure: Limit = AUTH_FAILURE_LIMIT
    daily_quota: Mapping[Role, int] = field(default_factory=dict)

    def limit_for(self, role: Role | None, endpoint_class: EndpointClass) -> Limit:
        """The bucket for a role and class (``role`` None: an unauthenticated client)."""
        if role is None or endpoint_class is EndpointClass.AUTH_FAILURE:
            return self.auth_failure
        return self.limits[role][endpoint_class]

    def quota_for(self, role: Role | None) -> int | None:
        """Requests per UTC day allowed for a role, or None for no quota."""
        return None if role is None else self.daily_quota.get(role)

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any] | None) -> RateLimitPolicy:
        """Build a policy from ``{role: {class: {rate, burst}, daily_quota: n}, auth_failure: {...}}``.

        Unnamed roles and classes keep their defaults.

        Raises:
            InvalidInput: naming the bad key or value.
        """
        policy = cls()
        if not config:
            return policy
        limits = {role: dict(by_class) for role, by_class in DEFAULT_LIMITS.items()}
        quotas: dict[Role, int] = {}
        for key, value in config.items():
            if key == "auth_failure":
                policy = replace(policy, auth_failure=_limit(value, where="rate_limits.auth_failure"))
                continue
            role = _role(key)
            if not isinstance(value, Mapping):
                raise InvalidInput(f"rate_limits.{key} must be a table of classes; got {value!r}.")
            for name, spec in value.items():
                where = f"rate_limits.{key}.{name}"
                if name == "daily_quota":
                    if not isinstance(spec, int) or isinstance(spec, bool) or spec < 1:
                        raise InvalidInput(f"{where} must be a positive integer; got {spec!r}.")
                    quotas[role] = spec
                    continue
                limits[role][_endpoint_class(name, where=where)] = _limit(spec, where=where)
        return replace(policy, limits=limits, daily_quota=quotas)


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        valid = ", ".join([r.value for r in Role] + ["auth_failure"])
        raise InvalidInput(f"rate_limits has unknown key {value!r}; use one of: {valid}.") from None


def _endpoint_class(value: str, *, where: str) -> EndpointClass:
    try:
        cls = EndpointClass(value)
    except ValueError:
        cls = EndpointClass.AUTH_FAILURE
    if cls is EndpointClass.AUTH_FAILURE:
        valid = "read, write, upload, admin, daily_quota"
        raise InvalidInput(f"{where}: unknown endpoint class {value!r}; use one of: {valid}.")
    return cls


def _limit(spec: Any, *, where: str) -> Limit:
    if not isinstance(spec, Mapping) or set(spec) != {"rate", "burst"}:
        raise InvalidInput(f"{where} must be {{rate = <per second>, burst = <count>}}; got {spec!r}.")
    rate, burst = spec["rate"], spec["burst"]
    if isinstance(rate, bool) or not isinstance(rate, int | float):
        raise InvalidInput(f"{where}.rate must be a number; got {rate!r}.")
    if isinstance(burst, bool) or not isinstance(burst, int):
        raise InvalidInput(f"{where}.burst must be an integer; got {burst!r}.")
    return Limit(rate=float(rate), burst=burst)
