"""Who may ask: optional API keys, and an optional rate limit per client.

With no keys configured the service is open (it binds to 127.0.0.1 by
default). With read keys, every query needs one; with admin keys, the
``/admin`` routes need one of those. Keys are compared in constant time.
Probes (``/health``, ``/ready``) and ``/metrics`` stay open for monitoring.
"""

from __future__ import annotations

import hmac
import math
import threading
import time
from collections.abc import Iterable

from flask import Flask, request

from recommender.config import Settings
from recommender.errors import Forbidden, RateLimited, Unauthorized

OPEN_PATHS = frozenset({"/health", "/ready", "/metrics", "/openapi.json", "/docs"})


def _keys(raw: str) -> tuple[bytes, ...]:
    return tuple(k.strip().encode() for k in raw.split(",") if k.strip())


def _matches(given: bytes, keys: Iterable[bytes]) -> bool:
    # every key is compared, so the time taken doesn't tell which one nearly matched
    found = False
    for key in keys:
        found |= hmac.compare_digest(given, key)
    return found


def presented_key() -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.headers.get("X-API-Key") or None


class RateLimiter:
    """A token bucket per client: ``per_minute`` requests a minute, bursts up to that."""

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """0 if the request may go ahead, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[client] = (tokens - 1, now)
                return 0.0
            self._buckets[client] = (tokens, now)
            if len(self._buckets) > 100_000:  # forget idle clients rather than grow forever
                self._buckets = {c: v for c, v in self._buckets.items() if now - v[1] < 60}
            return (1 - tokens) / self.rate


def init_app(app: Flask, settings: Settings) -> None:
    read_keys = _keys(settings.api_keys)
    admin_keys = _keys(settings.admin_keys)
    limiter = RateLimiter(settings.rate_limit_per_minute) \
        if settings.rate_limit_per_minute > 0 else None

    @app.before_request
    def _check_access() -> None:
        if request.path in OPEN_PATHS:
            return
        given = presented_key()
        admin = request.path.startswith("/admin/")
        needed = admin_keys if admin else read_keys + admin_keys
        if (admin and admin_keys) or (not admin and read_keys):
            if given is None:
                raise Unauthorized(
                    "This service needs an API key: send it as 'Authorization: Bearer KEY' "
                    "or 'X-API-Key: KEY'.")
            if not _matches(given.encode(), needed):
                raise Forbidden("admin key required" if admin else "The API key is not valid.")
        if limiter is not None:
            wait = limiter.take(given or request.remote_addr or "unknown")
            if wait > 0:
                raise RateLimited(
                    f"Too many requests: the limit is {settings.rate_limit_per_minute} a "
                    f"minute per client. Retry in {math.ceil(wait)} s.",
                    retry_after=math.ceil(wait))
