"""One typed settings object for the whole service.

Precedence: defaults, then ``RECOMMENDER_*`` environment variables, then
command-line flags. Only this module reads the environment; everything else
receives a :class:`Settings`.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import iso3166

ENV_PREFIX = "RECOMMENDER_"
DEFAULT_MODEL = "all-MiniLM-L6-v2"
Mode = Literal["semantic", "lexical", "hybrid"]
MODES: tuple[str, ...] = typing.get_args(Mode)
DEFAULT_MODE: Mode = "hybrid"
"""The mode ``recommender eval`` measured best on the shipped labelled sets."""


@dataclass(frozen=True)
class Settings:
    index: Path = Path("models/seeds")
    """An index folder: a build output (with ``current``) or one version folder. Given a URL
    (``s3://...``, ``file:///...``) it is the store to follow: see ``index_url``."""
    index_url: str = ""
    """A store that ``recommender publish`` writes to (any fsspec URL); set, the server
    serves from ``cache_dir`` and follows the store's ``current``. ``--index URL`` sets it."""
    cache_dir: Path = Path("models/cache")
    """Where a server following a store keeps the versions it downloads."""
    catalog: Path = Path("seeds/films.jsonl")
    """The catalog a build reads: JSON Lines or CSV (docs/cli.md)."""
    model: str = ""
    """The model: one of the registry's (all-MiniLM-L6-v2, multilingual-e5-small,
    all-mpnet-base-v2; docs/models.md), or any sentence-transformers model by local path
    or hub name. Empty: a build picks by the catalog's language (Danish and other
    non-English: multilingual-e5-small; English: all-MiniLM-L6-v2), and the server and
    every other command take the model each index version records. Set, an index of
    another model is refused, naming both."""
    host: str = "127.0.0.1"
    """Address the server binds; on a non-loopback address /admin needs an admin key."""
    port: int = 8000
    """Port the server listens on."""
    workers: int = 2
    """Server worker processes (gunicorn); each loads the index and answers alone."""
    threads: int = 4
    """Threads per server worker, each answering one request at a time (gthread). All but
    one may wait on the event database at once: a slow one never holds them all."""
    torch_threads: int = 0
    """Threads torch may use per worker; 0 = cores / workers (at least 1)."""
    search_mode: Mode = DEFAULT_MODE
    """semantic | lexical | hybrid, where a query doesn't say (``mode=``)."""
    rrf_k: int = 10
    """Rank constant of the hybrid fusion; small, because catalogs here are small."""
    semantic_weight: float | None = None
    """Weight of the vector ranking in the hybrid fusion (the words get the rest). Unset:
    the index's model's own, tuned per model (docs/models.md; 0.4 for a model outside the
    registry)."""
    relevance_floor: float | None = None
    """A free-text search whose nearest film's cosine is below this, and whose words match
    no film, answers "nothing close" (``results`` empty, the nearest few under
    ``nearest``). Unset: the floor the index recorded for its model (docs/search-quality.md);
    0: never."""
    query_backend: Literal["onnx", "torch"] = "onnx"
    """How free-text queries are embedded: "onnx" where the index has an export, or "torch"."""
    query_cache_size: int = 1024
    """Free-text query vectors kept per process (LRU); 0: no cache."""
    similar_table_max_films: int = 20_000
    """Catalogs up to this size get every film's "more like this" (default mode, no
    filters) as a table: computed once per version by the first server process that loads
    it, saved in the version folder and memory-mapped by the others; 0: never."""
    build_precision: Literal["bf16", "fp32"] = "bf16"
    """What builds embed at through the ONNX export (OpenVINO): "bf16" where the CPU
    has it (else fp32), or "fp32". Queries are embedded at fp32 either way."""
    batch_size: int = 64
    """Films embedded per batch by a build."""
    keep_versions: int = 3
    """Index versions kept on disk after a build (the newest ones)."""
    max_k: int = 100
    """Most results one page may hold (``k``)."""
    max_query_chars: int = 1000
    """Longest free-text query (``q``, ``query``), in characters."""
    max_title_chars: int = 300
    """Longest title a request may name, in characters."""
    max_body_bytes: int = 1024 * 1024
    """Largest request body; larger ones get 413 ``payload_too_large``. The default holds
    a full POST /events batch: 1,000 events with UUIDs for ids, a ``ts`` and a
    ``recommendation_id`` are about 270 KB, with 200-character ids about 750 KB."""
    max_batch: int = 32
    """Requests in one POST /recommend/batch."""
    request_budget_seconds: float = 3.0
    """Time a request (a whole batch included) may take; past it, checked between the
    pipeline's stages, it answers 503 ``timeout`` instead of holding a worker."""
    max_fuzzy_lookups: int = 10
    """Typo-tolerant title searches (a scan of every title) one request may make; titles
    past it are not found (listed as unresolved in a recommendation)."""
    max_batch_fuzzy_lookups: int = 32
    """The same for a whole POST /recommend/batch, shared by its requests."""
    read_timeout_seconds: float = 10.0
    """Time a client has to send a whole request (head and body) before the server
    closes the connection with a 408; until then it waits on the event loop, not on a
    thread. Bodies of every size a route allows (a bulk change's 8 MiB too) are read so."""
    worker_timeout_seconds: int = 15
    """A server worker that stops answering its master (hung, stopped) for this long is
    killed and replaced; a slow request doesn't count (its thread isn't the heartbeat)."""
    worker_max_requests: int = 0
    """Requests after which a worker is replaced by a fresh one (with 10% jitter, so they
    don't all go at once); 0: never."""
    trusted_proxies: str = ""
    """Comma-separated addresses of proxies whose X-Forwarded-For names the client
    (for the rate limit and the access log); empty: the peer address is the client."""
    reload_jitter_seconds: float = 1.0
    """Each process waits a random 0..this before loading a new version, so the workers
    of a fleet don't all do their per-version work at the same instant."""
    api_keys: str = ""
    """Comma-separated keys for queries, events and viewers' data (what they always
    allowed: ``search`` and ``events``); docs/operations.md has the table of routes."""
    admin_keys: str = ""
    """Comma-separated keys for everything: /admin routes, catalog writes, events,
    queries. Empty, /admin is open on loopback and closed on a public address."""
    search_keys: str = ""
    """Comma-separated keys that allow queries only (``search``): safe in a browser."""
    events_keys: str = ""
    """Comma-separated keys that allow ``events``: send events, read and erase any
    viewer's data. Keep them on an application's server, never in a browser."""
    catalog_keys: str = ""
    """Comma-separated keys that allow catalog writes (PUT/PATCH/DELETE /films, bulk)."""
    viewer_token_secret: str = ""
    """The secret viewer tokens are signed with (HS256): a token lets its holder search
    and act as its one viewer (``recommender token USER``); empty: no tokens."""
    rate_limit_per_minute: int = 0
    """Requests a minute per client (key, else address), per worker; 0: no limit."""
    reload_poll_seconds: float = 2.0
    """How often each server process checks whether ``current`` moved (0: never)."""
    catalog_poll_seconds: float = 0.5
    """How often each server process looks for catalog changes made by another (0:
    never; it still takes its own at once): a change is everywhere within about this plus
    the time to apply it (docs/live-catalog.md)."""
    catalog_max_body_bytes: int = 8 * 1024 * 1024
    """Largest body of a bulk catalog change (``POST /films/bulk``, up to 1,000 films)."""
    events_url: str = ""
    """Where viewer events are stored: ``sqlite:///PATH`` or ``postgresql://...`` (several
    replicas sharing one store); empty: a SQLite file beside the index folder,
    ``<index>.events.sqlite3``."""
    train_every_seconds: float = 0.0
    """Retrain the collaborative model from the event store this often, in the server (one
    worker of the machine at a time, under a lock); 0: only ``recommender train`` does.
    A server following a store never trains: the machine that publishes does."""
    event_half_life_days: float = 30.0
    """A viewer's event counts half as much for their recommendations after this long."""
    max_user_events: int = 500
    """The newest events of a viewer that shape their recommendations."""
    max_events_per_request: int = 1000
    """Events one POST /events may carry."""
    trending_window_days: float = 14.0
    """Events counted by GET /trending, where the request doesn't say (``window_days``)."""
    trending_half_life_days: float = 3.0
    """An event counts half as much for trending after this long."""
    trending_max_events: int = 100_000
    """The newest events of the window trending counts, however busy the service is."""
    trending_cache_seconds: float = 10.0
    """How long each process reuses its trending counts before counting again."""
    popular_weight: float = 2.0
    """How much what is popular now counts in a warm viewer's ranking, beside the
    collaborative model (1) and the content (0.1), in standard deviations; 0: not at all.
    This, ``popular_half_life_days``, ``history_half_life_days`` and ``next_weight`` are
    chosen by ``recommender train`` on the service's own log unless set here (docs/viewer-
    quality.md); these defaults were chosen on development cut-offs of MovieLens logs."""
    popular_half_life_days: float = 90.0
    """An event counts half as much for "popular now" in the viewers' rankings after this
    long (trending, a row of its own, has its own)."""
    popular_activity_half_life_days: float = 180.0
    """Popular now counts half as much for a viewer idle this long (0: alike); not tuned."""
    history_half_life_days: float = 180.0
    """A viewer's film counts half as much for their collaborative score when their newest
    event of it is this much older than their newest event of all; 0: all the same."""
    train_half_life_days: float = 0.0
    """An interaction counts half as much for the model after this long (0: all alike)."""
    next_weight: float = 0.5
    """How much "what comes next" (after the viewer's last few films) counts, in s.d."""
    new_slots: int = 3
    """Places of a viewer's page kept for the films new on the service (arrived within
    ``new_window_days``, not learnt by the model yet) that fit them best; 0: none."""
    new_window_days: float = 30.0
    """How long a film that arrived (its ``available_from``, or its addition to the live
    catalog) counts as new on the service."""
    experiments: str = ""
    """A JSON file of A/B experiments (docs/feedback.md); empty: none. A file missing or
    wrong stops the server at start, naming its line and field."""
    rules: str = ""
    """A JSON file of rules: named filters, promotions, pins, boosts (docs/rules.md);
    empty: none. Wrong, the start stops naming line and field; SIGHUP reads it again."""
    maturity_scale: str = ""
    """A JSON file of rating -> least age (null: unrated); empty: the default (docs/rules.md)."""
    unrated_age: int = 18
    """The age an unrated film counts as for ``max_age`` (a kids profile sees none)."""
    default_country: str = ""
    """The country (ISO 3166-1 alpha-2) of a request with none given or stored."""
    require_country: Literal["false", "true"] = "false"
    """true: a request with no country (given, stored or default) is a 400 that says so."""
    impressions: Literal["on", "off"] = "on"
    """Record what each answer showed (its impression) in the event database, for
    click-through and experiments (docs/feedback.md); off: none is recorded."""
    impressions_queue_size: int = 10_000
    """Impressions a process holds waiting to be written; past it they are dropped and
    counted (``recommender_impressions_dropped_total``), never an answer held."""
    impressions_batch: int = 500
    """Impressions written in one transaction at most."""
    impressions_flush_seconds: float = 0.5
    """How long the writer gathers impressions before writing what it has."""
    impressions_retention_days: float = 90.0
    """Impressions older than this are forgotten (checked hourly by each writer)."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """Least level the server logs (JSON lines on stderr)."""
    explicit: frozenset[str] = dataclasses.field(default=frozenset(), repr=False,
                                                 metadata={"internal": True})
    """Settings given by a variable or flag: training's tuned values never replace them."""

    def __post_init__(self) -> None:
        """Refuse a setting out of its range or choices at start-up, naming its variable,
        rather than let it fail every request later (and blame the client)."""
        hints = _hints()
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            variable = ENV_PREFIX + field.name.upper()
            choices = _choices(hints[field.name])
            if choices and value not in choices:
                raise ValueError(f"{variable} must be one of {', '.join(choices)}, "
                                 f"got {value!r}")
            low = _MINIMUM.get(field.name)
            if low is not None and not value >= low:
                raise ValueError(f"{variable} must be at least {low}, got {value!r}")
        if self.semantic_weight is not None and not 0.0 <= self.semantic_weight <= 1.0:
            raise ValueError(f"{ENV_PREFIX}SEMANTIC_WEIGHT must be from 0 to 1, "
                             f"got {self.semantic_weight!r}")
        if self.relevance_floor is not None and not -1.0 <= self.relevance_floor <= 1.0:
            raise ValueError(f"{ENV_PREFIX}RELEVANCE_FLOOR is a cosine, from -1 to 1 (0: no "
                             f"floor), got {self.relevance_floor!r}")
        _check_country(self.default_country)
        if self.viewer_token_secret and len(self.viewer_token_secret.encode()) < 32:
            # HS256 with a short key can be guessed offline from one token (RFC 7518 3.2)
            raise ValueError(f"{ENV_PREFIX}VIEWER_TOKEN_SECRET must be at least 32 bytes; "
                             "make one with: python -c 'import secrets; "
                             "print(secrets.token_urlsafe(32))'")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, overlaid by ``RECOMMENDER_*`` variables, overlaid by ``overrides``
        (flags; ``None`` means "not given")."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            if field.metadata.get("internal"):
                continue
            raw = environ.get(ENV_PREFIX + field.name.upper())
            if raw is not None and raw != "":
                if _choices(_hints()[field.name]):  # "Hybrid" means hybrid
                    raw = raw.strip().lower()
                values[field.name] = _coerce(field.name, field.type, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "://" in str(values.get("index", "")):  # a store to follow, not a folder
            values["index_url"] = str(values.pop("index"))
        for name in ("index", "catalog", "cache_dir"):
            if name in values:
                values[name] = Path(values[name])
        return cls(**values, explicit=frozenset(values))

    def effective_torch_threads(self) -> int:
        if self.torch_threads > 0:
            return self.torch_threads
        return max(1, (os.cpu_count() or 1) // max(1, self.workers))


def _check_country(code: str) -> None:
    if code and code.upper() not in iso3166.countries_by_alpha2:
        raise ValueError(f"{ENV_PREFIX}DEFAULT_COUNTRY must be an ISO 3166-1 alpha-2 code "
                         f"(DK, SE ...), got {code!r}")


DEFAULT_SEMANTIC_WEIGHT = 0.4


def fusion_weight(settings: Settings) -> float:
    """The vector ranking's weight in the hybrid fusion: the setting, where the engine
    hasn't filled it in with its model's own (:class:`~recommender.search.engine.Engine`)."""
    return DEFAULT_SEMANTIC_WEIGHT if settings.semantic_weight is None \
        else settings.semantic_weight


_MINIMUM: dict[str, float] = {
    "port": 0, "workers": 1, "threads": 1, "torch_threads": 0, "rrf_k": 1, "query_cache_size": 0,
    "similar_table_max_films": 0, "batch_size": 1, "keep_versions": 1, "max_k": 1,
    "max_query_chars": 1, "max_title_chars": 1, "max_body_bytes": 1024, "max_batch": 1,
    "request_budget_seconds": 0, "max_fuzzy_lookups": 0, "max_batch_fuzzy_lookups": 0,
    "read_timeout_seconds": 0.1, "worker_timeout_seconds": 2,
    "worker_max_requests": 0, "reload_jitter_seconds": 0, "rate_limit_per_minute": 0,
    "reload_poll_seconds": 0, "catalog_poll_seconds": 0, "catalog_max_body_bytes": 1024,
    "train_every_seconds": 0, "event_half_life_days": 0.001,
    "max_user_events": 1,
    "max_events_per_request": 1, "trending_window_days": 0.001,
    "trending_half_life_days": 0.001, "trending_max_events": 1, "trending_cache_seconds": 0,
    "popular_weight": 0, "popular_half_life_days": 0.001, "history_half_life_days": 0,
    "popular_activity_half_life_days": 0, "train_half_life_days": 0,
    "new_slots": 0, "new_window_days": 0, "next_weight": 0, "impressions_queue_size": 1,
    "impressions_batch": 1, "impressions_flush_seconds": 0, "impressions_retention_days": 0.001,
    "unrated_age": 0,
}
"""The least value of each numeric setting (a negative count or time means nothing)."""


def _hints() -> dict[str, Any]:
    return typing.get_type_hints(Settings)


def _choices(hint: Any) -> tuple[str, ...]:
    return typing.get_args(hint) if typing.get_origin(hint) is Literal else ()


def _coerce(name: str, type_name: Any, raw: str) -> Any:
    kind = type_name if isinstance(type_name, str) else getattr(type_name, "__name__", "")
    if kind == "int":
        try:
            return int(raw)
        except ValueError:
            raise ValueError(
                f"{ENV_PREFIX}{name.upper()} must be an integer, got {raw!r}"
            ) from None
    if kind in ("float", "float | None"):
        try:
            return float(raw)
        except ValueError:
            raise ValueError(
                f"{ENV_PREFIX}{name.upper()} must be a number, got {raw!r}"
            ) from None
    if kind == "Path":
        return Path(raw)
    return raw
