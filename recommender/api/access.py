"""Who may ask: optional API keys, and an optional rate limit per client.

With no keys configured the service is open (it binds to 127.0.0.1 by
default). With read keys, every query needs one; with admin keys, the
``/admin`` routes need one of those. Keys are compared in constant time.
Probes (``/health``, ``/ready``) and ``/metrics`` stay open for monitoring.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
import threading
import time
from collections.abc import Iterable

from flask import Flask, request

from recommender.api.catalog import is_catalog_write
from recommender.config import Settings
from recommender.errors import Forbidden, RateLimited, Unauthorized

log = logging.getLogger(__name__)
OPEN_PATHS = frozenset({"/health", "/ready", "/metrics", "/openapi.json", "/docs"})


def _keys(raw: str) -> tuple[bytes, ...]:
    return tuple(k.strip().encode() for k in raw.split(",") if k.strip())


def _matching(given: bytes, keys: Iterable[bytes]) -> bytes | None:
    """The key ``given`` equals, if any. Every key is compared, so the time taken
    doesn't tell which one nearly matched."""
    found = None
    for key in keys:
        if hmac.compare_digest(given, key):
            found = key
    return found


def presented_key() -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.headers.get("X-API-Key") or None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def client_address(trusted_proxies: frozenset[str]) -> str:
    """Who is asking: the peer address, or, where the peer is a trusted proxy, the
    nearest address in ``X-Forwarded-For`` that isn't one (a client can prepend anything
    to the header, so only what trusted proxies appended counts)."""
    peer = request.remote_addr or "unknown"
    if peer not in trusted_proxies:
        return peer
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")]
    for hop in reversed([h for h in hops if h]):
        if hop not in trusted_proxies:
            return hop[:64]
    return peer


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
    """Register the access check. Call it after :func:`recommender.api.observability.init_app`,
    so refused requests get a request id, a real duration and a log line too."""
    read_keys = _keys(settings.api_keys)
    admin_keys = _keys(settings.admin_keys)
    proxies = frozenset(p.strip() for p in settings.trusted_proxies.split(",") if p.strip())
    # Without an admin key, /admin is open only to a server on loopback: bound to a
    # public address it would let anyone who reaches it swap the index (cf. Meilisearch's
    # master key in production).
    admin_closed = not admin_keys and not is_loopback(settings.host)
    if admin_closed:
        log.warning("serving on %s with no admin key: /admin routes are closed; set "
                    "RECOMMENDER_ADMIN_KEYS to use them", settings.host)
    limiter = RateLimiter(settings.rate_limit_per_minute) \
        if settings.rate_limit_per_minute > 0 else None

    @app.before_request
    def _check_access() -> None:
        if request.path in OPEN_PATHS or request.path in ("/", "/dashboard") or \
                request.path.startswith("/static/"):
            return
        given = presented_key()
        admin = request.path.startswith("/admin/") or \
            is_catalog_write(request.method, request.path)
        if admin and admin_closed:
            raise Forbidden(
                f"The /admin routes and catalog changes are closed: this server listens on "
                f"{settings.host} and has no admin key. Set RECOMMENDER_ADMIN_KEYS and send "
                "one.")
        needed = admin_keys if admin else read_keys + admin_keys
        identity = None
        if (admin and admin_keys) or (not admin and read_keys):
            if given is None:
                raise Unauthorized(
                    "This service needs an API key: send it as 'Authorization: Bearer KEY' "
                    "or 'X-API-Key: KEY'.")
            key = _matching(given.encode(), needed)
            if key is None:
                raise Forbidden("admin key required" if admin else "The API key is not valid.")
            # the bucket of a validated key: a made-up key per request finds no fresh one
            identity = "key:" + hashlib.sha256(key).hexdigest()[:16]
        if limiter is not None:
            wait = limiter.take(identity or "addr:" + client_address(proxies))
            if wait > 0:
                raise RateLimited(
                    f"Too many requests: the limit is {settings.rate_limit_per_minute} a "
                    f"minute per client. Retry in {math.ceil(wait)} s.",
                    retry_after=math.ceil(wait))
