"""Rate limits and quotas: token buckets per principal, role and endpoint class (in-process or Redis)."""

from loopml.security.ratelimit.buckets import (
    Decision,
    FallbackLimiter,
    InProcessLimiter,
    Limiter,
    RedisLimiter,
)
from loopml.security.ratelimit.limiter import DAY_S, RateLimiter, rate_limiter_from_settings
from loopml.security.ratelimit.policy import (
    AUTH_FAILURE_LIMIT,
    DEFAULT_LIMITS,
    EndpointClass,
    Limit,
    RateLimitPolicy,
)

__all__ = [
    "AUTH_FAILURE_LIMIT",
    "DAY_S",
    "DEFAULT_LIMITS",
    "Decision",
    "EndpointClass",
    "FallbackLimiter",
    "InProcessLimiter",
    "Limit",
    "Limiter",
    "RateLimitPolicy",
    "RateLimiter",
    "RedisLimiter",
    "rate_limiter_from_settings",
]
