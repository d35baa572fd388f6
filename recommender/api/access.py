"""Who may ask: API keys scoped to actions, viewer tokens, and a rate limit per client.

Every route is one action (:func:`action_of`): ``search`` (the catalog's answers),
``events`` (events, and a viewer's recommendations, rows, history and erasure),
``catalog`` (catalog writes) or ``admin``. A key allows the actions of its setting
(:data:`GRANTS`); a viewer token (:mod:`recommender.api.tokens`) allows ``search`` and
``events`` as its one viewer. An action needs a key (or token) that allows it once a key
of its own scope is set (an admin key makes only ``catalog`` and ``admin`` need one);
otherwise it is open on loopback, and on a public address open only for ``search``:
viewers' data, writes and ``/admin`` are refused there. Keys are compared
in constant time. Probes (``/health``, ``/ready``), ``/metrics`` and the pages stay open.
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

from flask import Flask, g, request

from recommender.api import tokens
from recommender.api.catalog import is_catalog_write
from recommender.config import Settings
from recommender.errors import Forbidden, RateLimited, Unauthorized

log = logging.getLogger(__name__)
OPEN_PATHS = frozenset({"/health", "/ready", "/metrics", "/openapi.json", "/docs"})
SEARCH, EVENTS, CATALOG, ADMIN = "search", "events", "catalog", "admin"
GRANTS = {"search_keys": {SEARCH}, "events_keys": {EVENTS}, "catalog_keys": {CATALOG},
          "api_keys": {SEARCH, EVENTS}, "admin_keys": {SEARCH, EVENTS, CATALOG, ADMIN}}
"""What a key of each setting allows. ``api_keys`` allow what they always did (queries,
events and viewers' data); ``admin_keys`` allow everything."""
SETTING_OF = {SEARCH: "RECOMMENDER_SEARCH_KEYS", EVENTS: "RECOMMENDER_EVENTS_KEYS",
              CATALOG: "RECOMMENDER_CATALOG_KEYS", ADMIN: "RECOMMENDER_ADMIN_KEYS"}


def action_of(method: str, path: str) -> str | None:
    """The action a request is (None: open to all: probes, metrics, pages, documents)."""
    if path in OPEN_PATHS or path in ("/", "/dashboard") or path.startswith("/static/"):
        return None
    if path.startswith("/admin/"):
        return ADMIN
    if is_catalog_write(method, path):
        return CATALOG
    if path == "/events" or path.startswith("/users/"):
        return EVENTS
    return SEARCH


def token_viewer() -> str | None:
    """The one viewer this request may act as, where it came with a viewer token (None:
    a key, or no credential: any viewer its action allows)."""
    return g.get("token_viewer")


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
    keys = [(key, GRANTS[name]) for name in GRANTS for key in _keys(getattr(settings, name))]
    secret = settings.viewer_token_secret
    # the actions that need a credential: those a key of their own scope is set for (an
    # admin key, which allows everything, makes only the catalog's writes and /admin need
    # one, as it always did)
    keyed = {action for name in GRANTS if name != "admin_keys"
             and _keys(getattr(settings, name)) for action in GRANTS[name]}
    if _keys(settings.admin_keys):
        keyed |= {CATALOG, ADMIN}
    if secret:  # a viewer token's holder is a credential for events too
        keyed.add(EVENTS)
    proxies = frozenset(p.strip() for p in settings.trusted_proxies.split(",") if p.strip())
    public = not is_loopback(settings.host)
    # On a public address an action no key allows is closed, but for search: anyone who
    # reaches the server could otherwise read or erase any viewer, write the catalog or
    # swap the index (cf. Meilisearch's master key in production).
    closed = {EVENTS, CATALOG, ADMIN} - keyed if public else set()
    if closed:
        log.warning("serving on %s: %s closed, no key allows them (%s)", settings.host,
                    ", ".join(sorted(closed)), ", ".join(SETTING_OF[a] for a in sorted(closed)))
    limiter = RateLimiter(settings.rate_limit_per_minute) \
        if settings.rate_limit_per_minute > 0 else None

    @app.before_request
    def _check_access() -> None:
        action = action_of(request.method, request.path)
        if action is None:
            return
        if action in closed:
            raise Forbidden(
                f"{_WHAT[action]} closed: this server listens on {settings.host} and no key "
                f"allows them. Set {SETTING_OF[action]} (or RECOMMENDER_ADMIN_KEYS"
                + (", or RECOMMENDER_VIEWER_TOKEN_SECRET for viewer tokens" if action == EVENTS
                   else "") + ") and send one.")
        identity = None
        if action in keyed:
            identity = _credential(action, keys, secret)
        if limiter is not None:
            wait = limiter.take(identity or "addr:" + client_address(proxies))
            if wait > 0:
                raise RateLimited(
                    f"Too many requests: the limit is {settings.rate_limit_per_minute} a "
                    f"minute per client. Retry in {math.ceil(wait)} s.",
                    retry_after=math.ceil(wait))


_WHAT = {EVENTS: "Viewers' data and events are", CATALOG: "Catalog changes are",
         ADMIN: "The /admin routes are", SEARCH: "Queries are"}


def _credential(action: str, keys: list[tuple[bytes, set[str]]], secret: str) -> str:
    """Check the request's key or viewer token for ``action``; the identity its rate limit
    counts under. A viewer token's holder may act only as its viewer."""
    given = presented_key()
    if given is None:
        raise Unauthorized(
            "This service needs an API key: send it as 'Authorization: Bearer KEY' "
            "or 'X-API-Key: KEY'.")
    key = _matching(given.encode(), [k for k, _ in keys])
    if key is not None:
        allowed = set().union(*(a for k, a in keys if k == key))
        if action not in allowed:
            raise Forbidden(f"This key doesn't allow {action}: it allows "
                            f"{', '.join(sorted(allowed))}. Send a key of {SETTING_OF[action]}"
                            " or RECOMMENDER_ADMIN_KEYS.", needs=action)
        # the bucket of a validated key: a made-up key per request finds no fresh one
        return "key:" + hashlib.sha256(key).hexdigest()[:16]
    token = tokens.verify(secret, given)
    if token is None:
        raise Forbidden("The API key or viewer token is not valid (or has expired).")
    if action not in (SEARCH, EVENTS):
        raise Forbidden(f"A viewer token doesn't allow {action}.", needs=action)
    user = (request.view_args or {}).get("user")
    named = request.args.get("user")
    if (isinstance(user, str) and user != token.user) or (named and named != token.user):
        raise Forbidden("This viewer token acts only as its own viewer; it can't read, "
                        "erase or act as another.", needs=action)
    g.token_viewer = token.user
    return "viewer:" + hashlib.sha256(token.user.encode()).hexdigest()[:16]
