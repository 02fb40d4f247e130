"""Rate limits of the API, counted by `limits` (atomic fixed-window counters, in memory or in Redis when the app
runs as several processes): per API key at the key's own rate, and per client address for open data read without a
key, at a lower rate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter


@dataclass(frozen=True)
class RateLimitState:
    """One request's place in its window, for the RateLimit-* headers (and Retry-After when refused)."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        headers = {"RateLimit-Limit": str(self.limit), "RateLimit-Remaining": str(self.remaining),
                   "RateLimit-Reset": str(self.reset_seconds), "RateLimit-Policy": f"{self.limit};w=60"}
        if not self.allowed:
            headers["Retry-After"] = str(self.reset_seconds)
        return headers


class ApiRateLimiter:
    def __init__(self, redis_url: str | None) -> None:
        storage: Storage = (RedisStorage("async+" + redis_url, implementation="redispy", key_prefix="dps-api")
                            if redis_url else MemoryStorage())
        self.storage = storage  # also holds each key's count of requests a day (dps.web.api_key_state)
        self._limiter = FixedWindowRateLimiter(storage)

    async def hit(self, who: str, per_minute: int, now: datetime) -> RateLimitState:
        """Count one request of `who` ("key:12", "address:203.0.113.9") against `per_minute`, in the minute of
        the app's clock that `now` falls in (so the window follows the injectable clock; `limits` counts)."""
        seconds = int(now.timestamp())
        window = f"{who}:{seconds // 60}"
        item = RateLimitItemPerMinute(per_minute)
        allowed = await self._limiter.hit(item, window)
        stats = await self._limiter.get_window_stats(item, window)
        return RateLimitState(allowed, per_minute, stats.remaining, 60 - seconds % 60)
