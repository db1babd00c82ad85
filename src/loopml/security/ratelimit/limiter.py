"""The rate limiter the server uses: a policy applied over a bucket backend."""

from __future__ import annotations

from loopml.config import Settings
from loopml.security.auth import Role
from loopml.security.ratelimit.buckets import (
    Decision,
    FallbackLimiter,
    InProcessLimiter,
    Limiter,
    RedisLimiter,
)
from loopml.security.ratelimit.policy import EndpointClass, RateLimitPolicy

__all__ = ["DAY_S", "RateLimiter", "rate_limiter_from_settings"]

DAY_S = 86_400


class RateLimiter:
    """Per-key token buckets by role and endpoint class, plus the role's daily quota.

    Args:
        backend: Where buckets live (:class:`InProcessLimiter` or :class:`RedisLimiter`).
        policy: The limits.
        fallback: Used when the backend fails (e.g. Redis down), so limits still hold per process.

    Example:
        >>> limiter = RateLimiter(InProcessLimiter())
        >>> limiter.check("token:t1", role=Role.VIEWER, endpoint_class=EndpointClass.READ).allowed
        True
    """

    def __init__(
        self,
        backend: Limiter,
        policy: RateLimitPolicy | None = None,
        *,
        fallback: Limiter | None = None,
    ) -> None:
        self.backend = backend
        self.policy = policy or RateLimitPolicy()
        self._buckets: Limiter = backend if fallback is None else FallbackLimiter(backend, fallback)

    def check(self, key: str, *, role: Role | None, endpoint_class: EndpointClass) -> Decision:
        """Count one request of ``key`` (a token, user or client address) and decide."""
        limit = self.policy.limit_for(role, endpoint_class)
        bucket = f"{key}:{endpoint_class.value if role is not None else EndpointClass.AUTH_FAILURE.value}"
        decision = self._buckets.consume(bucket, rate=limit.rate, burst=limit.burst)
        quota = self.policy.quota_for(role)
        if not decision.allowed or quota is None:
            return decision
        return self._buckets.count(f"{key}:day", limit=quota, window_s=DAY_S)


def rate_limiter_from_settings(settings: Settings) -> RateLimiter:
    """Redis-shared limits when ``redis_url`` is set, else in-process; policy from ``rate_limits``."""
    policy = RateLimitPolicy.from_mapping(settings.rate_limits)
    if settings.redis_url:
        return RateLimiter(RedisLimiter(settings.redis_url), policy, fallback=InProcessLimiter())
    return RateLimiter(InProcessLimiter(), policy)
