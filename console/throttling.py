"""Rate limits on machine ingest: a fixed-window counter per client and endpoint in Redis.

DRF's own SimpleRateThrottle keeps the time of every request of a client in the cache and
rewrites that list on each request: at the thousands of write captures per second a bank sends,
that is O(rate) work per request. One INCR per request does the same job.
"""

from __future__ import annotations

import time

import redis
from django.conf import settings
from rest_framework.throttling import BaseThrottle

from console.client_address import client_address

PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}

_client: redis.Redis | None = None


def parse_rate(rate: str) -> tuple[int, int]:
    """'600/min' -> (600, 60). A clear error names the bad rate."""
    try:
        count, period = rate.split("/")
        return int(count), PERIODS[period.strip().lower()]
    except (ValueError, KeyError):
        raise ValueError(f"rate limit {rate!r} is not like '600/min' (periods: s, min, hour)") from None


def _redis() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    return _client



def request_client_address(request) -> str:
    """The client's address (X-Forwarded-For believed only from TRUSTED_PROXIES), for counting.

    DRF's own get_ident takes X-Forwarded-For from anyone, so a client could pick its identity.
    """
    return client_address(request.META.get("REMOTE_ADDR"), request.META.get("HTTP_X_FORWARDED_FOR"),
                          settings.TRUSTED_PROXY_NETWORKS)


class IngestRateThrottle(BaseThrottle):
    """Limits a view by its `throttle_scope`, using settings.INGEST_RATE_LIMITS[scope]."""

    def __init__(self) -> None:
        self.retry_after: float | None = None

    def allow_request(self, request, view) -> bool:
        scope = getattr(view, "throttle_scope", None)
        rate = settings.INGEST_RATE_LIMITS.get(scope) if scope else None
        if not rate:
            return True
        limit, period = parse_rate(rate)
        now = time.time()
        window = int(now // period)
        user = getattr(request, "user", None)
        client = f"user:{user.pk}" if user is not None and user.is_authenticated else f"ip:{request_client_address(request)}"
        key = f"mhc:rate:{scope}:{client}:{window}"
        try:
            pipe = _redis().pipeline()
            pipe.incr(key)
            pipe.expire(key, period + 1)
            count = pipe.execute()[0]
        except redis.RedisError:
            return True  # fail open: the ingest itself answers 503 when Redis is down
        if count > limit:
            self.retry_after = period - (now % period)
            return False
        return True

    def wait(self) -> float | None:
        return self.retry_after
