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
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from recommender.config import Settings
from recommender.embedding import Embedder
from recommender.engine import Engine
from recommender.errors import IndexUnavailable, RecommenderError
from recommender.index import FilmIndex
from recommender.published import Follower
from recommender.store import complete_versions, load_index, resolve_version_dir

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


@dataclass(frozen=True)
class ReloadResult:
    changed: bool
    version: str
    previous: str | None


class LiveIndex:
    """The engine a process serves, and the lock that serialises swaps.

    Args:
        settings: where the index is (``settings.index``) and the limits.
        embedder: the model; kept across reloads (an index of another model is refused).
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
        self.reload_error: str | None = None
        """Why the last reload was refused (None: it wasn't)."""
        self._watcher: threading.Thread | None = None
        self.follower = follower
        """Where ``settings.index`` is the cache of a store: what keeps it in step."""
        self._table_thread: threading.Thread | None = None
        """The thread making the last swapped-in version's table, where one was needed."""
        self._stop = threading.Event()
        if engine is not None:
            self._on_swap(engine)

    # -- what requests use -------------------------------------------------------

    def engine(self) -> Engine:
        engine = self._engine  # one read: a request keeps this engine to its end
        if engine is None:
            raise IndexUnavailable(f"No index is loaded: {self.error}")
        return engine

    @property
    def loaded(self) -> bool:
        return self._engine is not None

    # -- loading -----------------------------------------------------------------

    def _open(self, folder: Path) -> Engine:
        """Load and check the version in ``folder``, without touching what serves now:
        the shared embedder switches to the version's export only in :meth:`_serve`."""
        index = load_index(folder, expected_model=self.embedder.name)
        if self.load_model:
            export = self._export(index)
            # with an export, onnxruntime and the tokenizer only: torch is never imported
            dimension = self.embedder.check_onnx(export) if export is not None else \
                self.embedder.load().dimension
            index.check_compatible(dimension=dimension)
        engine = Engine(index, self.embedder, self.settings)
        # a table saved in the version is mapped now; one not made yet is made after
        # the swap (_serve), so that a fresh version answers at once, by the pipeline
        engine.precompute_similar(compute=False)
        return engine

    def _export(self, index: FilmIndex) -> Path | None:
        """The export that embeds this version's queries (None: torch does)."""
        return index.query_model_path if self.settings.query_backend == "onnx" else None

    def _serve(self, engine: Engine) -> None:
        """Make ``engine`` the one requests get; its export embeds queries from now on."""
        if self.load_model:
            self.embedder.use_onnx(self._export(engine.index))
        # the errors go first: whoever sees the new engine sees no stale refusal with it
        self.error = self.reload_error = None
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
        except IndexUnavailable as exc:
            self.error = exc.message
            log.error("no index loaded: %s", exc.message)
            return
        candidates += [v for v in complete_versions(self.settings.index)[::-1]
                       if v.resolve() != candidates[0].resolve()]
        errors = []
        for folder in candidates:
            try:
                self._serve(self._open(folder))
            except (RecommenderError, OSError) as exc:
                errors.append(str(getattr(exc, "message", exc)))
                log.error("index version %s refused: %s", folder.name, errors[-1])
                continue
            if errors:
                log.warning("serving %s: the current version was refused", folder.name)
            return
        self.error = errors[0]

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
                    return ReloadResult(False, old.index.version, previous)
                new = self._open(target)
                self._serve(new)
            except (RecommenderError, OSError) as exc:
                message = str(getattr(exc, "message", exc))
                log.error("reload refused: %s", message)
                self.reload_error = message
                self._on_reload("refused")
                still = f" Still serving version {previous}." if previous else ""
                raise IndexUnavailable(f"Reload refused: {message}{still}",
                                       serving=previous) from None
            self.reload_error = None
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
            seen = target()
            retry_at, backoff = None, interval
            while not self._stop.wait(interval):
                self._sync()
                now = target()
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
            self.reload_error = exc.message
            if self.follower.refused and self.follower.refused != refused:
                self._on_reload("refused")  # once per refused version, not per poll
        except Exception:  # never let the follower kill the watcher
            log.exception("following %s", self.follower.url)

    def stop(self) -> None:
        self._stop.set()
