"""The live index of a server process: loaded once, swapped without downtime.

:class:`LiveIndex` holds the current :class:`Engine`. A request takes the
engine once (:meth:`LiveIndex.engine`) and uses that object to the end, so a
swap never changes an index under a request in flight: it finishes on the old
one. :meth:`LiveIndex.reload` loads and checks the version that ``current``
points to, and swaps only if it passes; otherwise the old one keeps serving.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from recommender.config import Settings
from recommender.distribution.published import Follower
from recommender.embedding.embedder import Embedder
from recommender.errors import IndexUnavailable, RecommenderError
from recommender.index.film_index import FilmIndex
from recommender.index.store import complete_versions, load_index, resolve_version_dir
from recommender.search.engine import Engine
from recommender.search.factory import expected_model, make_embedder, query_encoder
from recommender.viewers import collaborative
from recommender.viewers.collaborative import CollaborativeModel

log = logging.getLogger(__name__)
MAX_RETRY_SECONDS = 60.0
"""Longest wait between two tries of a refused reload."""


def trim_heap() -> None:
    """Give the memory a load freed back to the system (glibc's ``malloc_trim``).

    Loading a version parses files and builds an ONNX session; what those temporaries
    leave free stays in the process's heap, counted in its RSS: 30-44 MB a worker here
    (docs/performance.md, "Lean processes"). Elsewhere than glibc it does nothing.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _messages(exc: BaseException) -> tuple[str, str]:
    """(for the log and operators, for public answers) of a refusal."""
    if isinstance(exc, RecommenderError):
        return exc.message, exc.public_message
    # an OSError's words up to the library's own (": [ONNXRuntimeError] ..."), each path
    # cut to its file's name
    head = str(exc).split(": ", 1)[0]
    return str(exc), _PATH.sub(r"\1", head) or type(exc).__name__


_PATH = re.compile(r"(?<![\w.])/(?:[^\s/:'\"]+/)+([^\s/:'\"]+)")


@dataclass(frozen=True)
class ReloadResult:
    changed: bool
    version: str
    previous: str | None


class LiveIndex:
    """The engine a process serves, and the lock that serialises swaps.

    Args:
        settings: where the index is (``settings.index``) and the limits.
        embedder: the model of the first version; a version of another model gets its own
            (or is refused where ``settings.model`` names one).
        load_model: load the model at start, so a dimension mismatch shows at once.
    """

    def __init__(self, settings: Settings, embedder: Embedder, *, load_model: bool = True,
                 engine: Engine | None = None,
                 on_swap: Callable[[Engine], None] | None = None,
                 on_reload: Callable[[str], None] | None = None,
                 follower: Follower | None = None) -> None:
        self.settings = settings
        self._on_swap = on_swap or (lambda engine: None)
        self._on_reload = on_reload or (lambda outcome: None)
        self.embedder = embedder
        self.load_model = load_model
        self._engine = engine
        self._lock = threading.Lock()
        self.error: str | None = None
        """Why no index is loaded (None: one is), for the log and /admin/status."""
        self.error_public: str | None = None
        """The same without the server's paths, for public answers."""
        self.reload_error: str | None = None
        """Why the newest version isn't the one serving: the last reload refused, or at
        start-up the current version refused and an older one served (None: neither)."""
        self.reload_refusal: str | None = None
        """The same without the server's paths, for /ready."""
        self._watcher: threading.Thread | None = None
        self.follower = follower
        """Where ``settings.index`` is the cache of a store: what keeps it in step."""
        self._table_thread: threading.Thread | None = None
        """The thread making the last swapped-in version's table, where one was needed."""
        self._stop = threading.Event()
        self._from_follower = False
        self._started_on: Path | None = None
        """Where ``current`` pointed when :meth:`start` chose a version: the watcher's first
        reference, so a move between loading and watching is not missed."""
        self.model: CollaborativeModel | None = None
        """The collaborative model of ``<index>/models/current`` (None: none trained)."""
        self.model_error: str | None = None
        """Why the newest model isn't the one serving (None: it is, or there is none)."""
        if engine is not None:
            self._on_swap(engine)

    # -- what requests use -------------------------------------------------------

    def engine(self) -> Engine:
        engine = self._engine  # one read: a request keeps this engine to its end
        if engine is None:
            raise IndexUnavailable(f"No index is loaded: {self.error}",
                                   public=f"No index is loaded: {self.error_public}")
        return engine

    @property
    def loaded(self) -> bool:
        return self._engine is not None

    # -- loading -----------------------------------------------------------------

    def _open(self, folder: Path) -> Engine:
        """Load and check the version in ``folder``, without touching what serves now:
        the shared embedder switches to the version's export only in :meth:`_serve`."""
        index = load_index(folder, expected_model=expected_model(self.settings))
        embedder = self._embedder_for(index.model)
        if self.load_model:
            export = self._export(index)
            # with an export, onnxruntime and the tokenizer only: torch is never imported
            dimension = embedder.check_onnx(export) if export is not None else \
                embedder.load().dimension
            index.check_compatible(dimension=dimension)
        engine = Engine(index, embedder, self.settings)
        # a table saved in the version is mapped now; one not made yet is made after
        # the swap (_serve), so that a fresh version answers at once, by the pipeline
        engine.precompute_similar(compute=False)
        return engine

    def _embedder_for(self, model: str) -> Embedder:
        """The embedder of ``model``: the one serving where it is the same model, else a
        new one (a version built with another model: its vectors need its own queries)."""
        if model == self.embedder.name:
            return self.embedder
        log.info("version of model %s: loading it (was %s)", model, self.embedder.name)
        return make_embedder(self.settings, server=True, model=model)

    def _export(self, index: FilmIndex) -> Path | None:
        """The export that embeds this version's queries (None: torch does)."""
        return query_encoder(self.settings, index)

    def _serve(self, engine: Engine) -> None:
        """Make ``engine`` the one requests get; its export embeds queries from now on."""
        self.embedder = engine.embedder
        if self.load_model:
            self.embedder.use_onnx(self._export(engine.index))
        # the errors go first: whoever sees the new engine sees no stale refusal with it
        self.error = self.error_public = None
        self._refused(None)
        self._engine = engine  # one assignment: requests see the old or the new
        self._on_swap(engine)
        trim_heap()
        if engine.neighbours is None and engine.wants_table:
            # one process of those sharing the version computes it, the others wait on
            # its lock and map it; answers meanwhile are the pipeline's (the same pages)
            self._table_thread = threading.Thread(
                target=self._make_table, args=(engine,), name="similar-table", daemon=True)
            self._table_thread.start()

    @staticmethod
    def _make_table(engine: Engine) -> None:
        try:
            engine.precompute_similar()
        except Exception:  # the pipeline keeps answering; say why there is no table
            log.exception("more-like-this table for version %s", engine.index.version)
        trim_heap()

    def start(self) -> None:
        """Load at start-up: the current version, or else the newest version that loads.

        A process that can load nothing still starts, answering 503 with the reason,
        rather than crash-looping under its supervisor. Following a store, it first
        brings the cache to the store's current version (or serves what the cache has).
        """
        self._sync()
        try:
            candidates = [resolve_version_dir(self.settings.index)]
            self._started_on = candidates[0].resolve()
        except IndexUnavailable as exc:
            self.error, self.error_public = exc.message, exc.public_message
            log.error("no index loaded: %s", exc.message)
            return
        candidates += [v for v in complete_versions(self.settings.index)[::-1]
                       if v.resolve() != candidates[0].resolve()]
        errors: list[tuple[str, str]] = []
        for folder in candidates:
            try:
                self._serve(self._open(folder))
            except (RecommenderError, OSError) as exc:
                errors.append(_messages(exc))
                log.error("index version %s refused: %s", folder.name, errors[-1][0])
                continue
            self.follow_model()
            if errors:  # said where an operator looks, and counted, not only logged
                log.warning("serving %s: the current version was refused", folder.name)
                first = candidates[0].name
                self._refused(
                    (f"current version {first} refused at start-up ({errors[0][0]}); "
                     f"serving {folder.name}"),
                    (f"current version {first} refused at start-up ({errors[0][1]}); "
                     f"serving {folder.name}"))
                self._on_reload("refused")
            return
        self.error, self.error_public = errors[0]

    def follow_model(self) -> bool:
        """Swap in the model ``<index>/models/current`` points to, if it moved and loads;
        a model that doesn't load is refused (logged, kept in ``model_error``) and the one
        serving stays. True if a new one serves."""
        target = collaborative.current_path(self.settings.index)
        if target is None or (self.model is not None and self.model.path == target):
            return False
        try:
            model = collaborative.load(target)
        except RecommenderError as exc:
            if self.model_error != exc.public_message:
                log.error("model refused: %s", exc.message)
                self._on_reload("refused")
            self.model_error = exc.public_message  # shown on /ready: no server path
            return False
        self.model, self.model_error = model, None
        log.info("collaborative model %s serving (%d films, %d events)", model.version,
                 len(model.film_ids), model.manifest["events"])
        return True

    def reload(self) -> ReloadResult:
        """Swap in the version ``current`` now points to, if it differs and passes.

        Raises:
            IndexUnavailable: the new version is missing or refused; the old one
                keeps serving (the message names both).
        """
        with self._lock:
            old = self._engine
            previous = old.index.version if old else None
            try:
                target = resolve_version_dir(self.settings.index)
                if old is not None and target.resolve() == old.index.path.resolve():
                    # current points at what serves (put back after a refusal): the
                    # refusal is history, not news
                    if self.follower is None or self.follower.refused is None:
                        self._refused(None)
                    return ReloadResult(False, old.index.version, previous)
                new = self._open(target)
                self._serve(new)
            except (RecommenderError, OSError) as exc:
                message, public = _messages(exc)
                log.error("reload refused: %s", message)
                self._refused(message, public)
                self._on_reload("refused")
                still = f" Still serving version {previous}." if previous else ""
                raise IndexUnavailable(f"Reload refused: {message}{still}",
                                       public=f"Reload refused: {public}{still}",
                                       serving=previous) from None
            self._refused(None)
            self._on_reload("swapped")
            log.info("reloaded: serving version %s (was %s)", new.index.version, previous)
            return ReloadResult(True, new.index.version, previous)

    # -- following the pointer ---------------------------------------------------

    def watch(self, interval: float) -> None:
        """Reload in the background whenever ``current`` changes (every worker does).

        A move is acted on after a random wait of up to ``reload_jitter_seconds``, so
        the workers of a fleet don't all load at once; a refused reload is tried again
        with backoff (``interval`` doubling to at most a minute) until it passes or
        ``current`` moves on.
        """
        if interval <= 0 or self._watcher is not None:
            return

        def target() -> Path | None:
            try:
                return resolve_version_dir(self.settings.index).resolve()
            except IndexUnavailable:
                return None

        def loop() -> None:
            # what start() loaded from, not the pointer now: another worker sharing the
            # cache of a store may move it while this one loads (it stayed on the old
            # version for good, found by tests/test_published.py's fleet under load)
            seen = self._started_on or target()
            retry_at, backoff = None, interval
            while not self._stop.wait(interval):
                self._sync()
                try:
                    self.follow_model()
                except Exception:  # never let the watcher die silently
                    log.exception("following the collaborative model")
                now = target()
                served = self._engine
                if self.reload_refusal and not self._from_follower and served is not None \
                        and now == served.index.path.resolve():
                    # current is back on what serves (even if it moved before this loop
                    # began, as a worker starting on a fallback can see): the refusal is
                    # history
                    self._refused(None)
                if now != seen:  # a move of the pointer: act on it once, after a jitter
                    seen, backoff = now, interval
                    if self._stop.wait(random.uniform(0, self.settings.reload_jitter_seconds)):
                        return
                elif retry_at is None or time.monotonic() < retry_at:
                    continue
                try:
                    self.reload()
                    retry_at = None
                except IndexUnavailable:  # logged; try again later, backing off
                    retry_at = time.monotonic() + backoff
                    backoff = min(2 * backoff, MAX_RETRY_SECONDS)
                except Exception:  # never let the watcher die silently
                    log.exception("index watcher")
                    retry_at = time.monotonic() + backoff

        self._watcher = threading.Thread(target=loop, name="index-watcher", daemon=True)
        self._watcher.start()

    def _sync(self) -> None:
        """Following a store: download its new current version into the cache, checked;
        a refusal is kept (``reload_error``, /ready, the reload metric) and the cache goes
        on serving what it had."""
        if self.follower is None:
            return
        refused = self.follower.refused
        try:
            self.follower.sync()
        except IndexUnavailable as exc:
            self._refused(exc.message, exc.public_message)
            self._from_follower = True
            if self.follower.refused and self.follower.refused != refused:
                self._on_reload("refused")  # once per refused version, not per poll
            return
        except Exception:  # never let the follower kill the watcher
            log.exception("following %s", self.follower.url)
            return
        if self._from_follower:  # the store is readable and its current is good again
            self._from_follower = False
            self._refused(None)

    def _refused(self, message: str | None, public: str | None = None) -> None:
        """Record why the newest version isn't serving (None: clear it)."""
        self.reload_refusal = public or message
        self.reload_error = message

    def stop(self) -> None:
        self._stop.set()
