"""A per-project event rate limit (off by default), answered as Sentry SDKs expect."""

import math
import time

from store.errors import TooManyRequests


class RateLimiter:
    """A token bucket per project, refilled continuously at `per_minute` per minute.

    Each collector process keeps its own buckets: with N collectors the effective limit is
    N times per_minute, which is documented rather than coordinated through the database.
    """

    def __init__(self, per_minute: int) -> None:
        self._rate = per_minute / 60.0
        self._capacity = float(per_minute)
        self._buckets: dict[int, tuple[float, float]] = {}

    def check(self, project_id: int) -> None:
        if self._rate <= 0:
            return
        now = time.monotonic()
        tokens, updated = self._buckets.get(project_id, (self._capacity, now))
        tokens = min(self._capacity, tokens + (now - updated) * self._rate)
        if tokens < 1:
            retry_after = max(1, math.ceil((1 - tokens) / self._rate))
            self._buckets[project_id] = (tokens, now)
            raise TooManyRequests(
                "project rate limit exceeded",
                headers={
                    "Retry-After": str(retry_after),
                    # <retry_after>:<categories (empty: all)>:<scope>:<reason>
                    "X-Sentry-Rate-Limits": f"{retry_after}::project:project_quota",
                },
            )
        self._buckets[project_id] = (tokens - 1, now)
