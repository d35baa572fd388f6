"""The live index of a server process: versions loaded, checked and swapped without downtime.

:class:`LiveIndex` puts the serving rooms together: it opens and checks the version that
``current`` points to, and hands an engine that passed to its
:class:`~.holder.EngineHolder` (the atomic swap); a refused version leaves the old one
serving and is kept as a :class:`~.refusal.Refusal`. A
:class:`~.watcher.VersionWatcher` reloads when the pointer moves, a
:class:`~.model_follower.ModelFollower` keeps the collaborative model, and where the index
is the cache of a store a :class:`~.published.Follower` downloads its versions first.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from recommender.config import Settings
from recommender.distribution.holder import EngineHolder
from recommender.distribution.live_catalog import LiveCatalog
from recommender.distribution.model_follower import ModelFollower
from recommender.distribution.published import Follower
from recommender.distribution.refusal import Refusal
from recommender.distribution.watcher import VersionWatcher
from recommender.embedding.embedder import Embedder
from recommender.errors import IndexUnavailable, RecommenderError
from recommender.index.store import complete_versions, load_index, resolve_version_dir
from recommender.search.engine import Engine
from recommender.search.factory import expected_model, make_embedder, query_encoder
from recommender.viewers.collaborative import CollaborativeModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReloadResult:
    changed: bool
    version: str
    previous: str | None


def open_live(settings: Settings, embedder: Embedder | None = None, *,
              load_model: bool = True) -> LiveIndex:
    """The live index ``settings`` describe: a local index folder, or (``index_url``) a
    local cache of a store's versions, followed."""
    follower = None
    if settings.index_url:
        follower = Follower(settings.index_url, settings.cache_dir)
        settings = dataclasses.replace(settings, index=settings.cache_dir)
    return LiveIndex(settings, embedder or make_embedder(settings, server=True),
                     load_model=load_model, follower=follower)


class LiveIndex:
    """The engine a process serves, the versions it may swap to, and why not.

    Args:
        settings: where the index is (``settings.index``) and the limits.
        embedder: the model of the first version; a version of another model gets its own
            (or is refused where ``settings.model`` names one).
        load_model: load the query encoder at start, so a dimension mismatch shows at once.
        follower: where ``settings.index`` is the cache of a store, what keeps it in step.
    """

    def __init__(self, settings: Settings, embedder: Embedder, *, load_model: bool = True,
                 follower: Follower | None = None) -> None:
        self.settings = settings
        self.embedder = embedder
        self.load_model = load_model
        self.follower = follower
        self._on_reload: Callable[[str], None] = lambda outcome: None
        self.holder = EngineHolder()
        self.catalog = LiveCatalog(self.holder, settings)
        """The catalog's live changes on top of the version that serves."""
        self.models = ModelFollower(settings.index, on_refused=lambda: self._on_reload("refused"))
        self.refusal: Refusal | None = None
        """Why the newest version isn't the one serving: the last reload refused, or at
        start-up the current version refused and an older one served (None: neither)."""
        self._from_follower = False
        self._lock = threading.Lock()
        self._started_on: Path | None = None
        self._watcher: VersionWatcher | None = None

    @classmethod
    def serving(cls, engine: Engine, settings: Settings | None = None) -> LiveIndex:
        """A live index that already serves ``engine`` as it is, table or none (one engine
        shared by several apps, or an engine opened by hand); :meth:`start` then loads
        nothing."""
        live = cls(settings or engine.settings, engine.embedder)
        live.catalog.serve(engine, make_table=False)
        return live

    def subscribe(self, *, on_swap: Callable[[Engine], None],
                  on_reload: Callable[[str], None]) -> None:
        """Be told of each engine that serves (now, if one does) and each reload's outcome
        ("swapped", "refused")."""
        self.holder.subscribe(on_swap)
        self._on_reload = on_reload

    # -- what requests and operators read ----------------------------------------

    def engine(self) -> Engine:
        return self.holder.engine()

    @property
    def loaded(self) -> bool:
        return self.holder.current is not None

    @property
    def query_embedder(self) -> Embedder:
        """What embeds free-text queries now: the serving version's."""
        current = self.holder.current
        return current.embedder if current is not None else self.embedder

    @property
    def reload_error(self) -> str | None:
        return self.refusal.message if self.refusal else None

    @property
    def reload_refusal(self) -> str | None:
        """:attr:`reload_error` without the server's paths, for /ready."""
        return self.refusal.public if self.refusal else None

    @property
    def model(self) -> CollaborativeModel | None:
        """The collaborative model of ``<index>/models/current`` (None: none trained)."""
        return self.models.model

    @property
    def model_error(self) -> str | None:
        return self.models.refused

    def follow_model(self) -> bool:
        return self.models.follow()

    # -- loading -----------------------------------------------------------------

    def _open(self, folder: Path) -> Engine:
        """Load and check the version in ``folder``, without touching what serves now."""
        index = load_index(folder, expected_model=expected_model(self.settings))
        embedder = self.embedder
        if index.model != embedder.name:  # another model's version needs its own queries
            log.info("version of model %s: loading it (was %s)", index.model, embedder.name)
            embedder = make_embedder(self.settings, server=True, model=index.model)
        if self.load_model:
            # with an export, onnxruntime and the tokenizer only: torch is never imported
            embedder = embedder.for_export(query_encoder(self.settings, index))
            index.check_compatible(dimension=embedder.dimension)
        engine = Engine(index, embedder, self.settings)
        # a table saved in the version is mapped now; one not made yet is made after
        # the swap, so that a fresh version answers at once, by the pipeline
        engine.precompute_similar(compute=False)
        return engine

    def _serve(self, engine: Engine) -> None:
        self.embedder = engine.embedder.for_export(None)  # the model of what serves
        self.refusal = None  # first: whoever sees the new engine sees no stale refusal
        self.catalog.serve(engine)  # with the catalog's changes it doesn't hold yet

    def start(self) -> None:
        """Load at start-up: the current version, or else the newest version that loads.

        A process that can load nothing still starts, answering 503 with the reason,
        rather than crash-looping under its supervisor. Following a store, it first
        brings the cache to the store's current version (or serves what the cache has).
        An index that already serves an engine (:meth:`serving`) loads nothing.
        """
        if self.loaded:
            self.follow_model()
            return
        self._sync()
        try:
            candidates = [resolve_version_dir(self.settings.index)]
            self._started_on = candidates[0].resolve()
        except IndexUnavailable as exc:
            self.holder.missing = Refusal.of(exc)
            log.error("no index loaded: %s", exc.message)
            return
        candidates += [v for v in complete_versions(self.settings.index)[::-1]
                       if v.resolve() != candidates[0].resolve()]
        refusals: list[Refusal] = []
        for folder in candidates:
            try:
                self._serve(self._open(folder))
            except (RecommenderError, OSError) as exc:
                refusals.append(Refusal.of(exc))
                log.error("index version %s refused: %s", folder.name, refusals[-1].message)
                continue
            self.follow_model()
            if refusals:  # said where an operator looks, and counted, not only logged
                log.warning("serving %s: the current version was refused", folder.name)
                self.refusal = refusals[0].framed(
                    f"current version {candidates[0].name} refused at start-up (",
                    f"); serving {folder.name}")
                self._on_reload("refused")
            return
        self.holder.missing = refusals[0]

    def reload(self) -> ReloadResult:
        """Swap in the version ``current`` now points to, if it differs and passes.

        Raises:
            IndexUnavailable: the new version is missing or refused; the old one
                keeps serving (the message names both).
        """
        with self._lock:
            old = self.holder.current
            previous = old.index.version if old else None
            try:
                target = resolve_version_dir(self.settings.index)
                if old is not None and target.resolve() == old.index.path.resolve():
                    # current points at what serves (put back after a refusal): the
                    # refusal is history, not news
                    if self.follower is None or self.follower.refused is None:
                        self.refusal = None
                    return ReloadResult(False, old.index.version, previous)
                new = self._open(target)
                self._serve(new)
            except (RecommenderError, OSError) as exc:
                refusal = Refusal.of(exc)
                log.error("reload refused: %s", refusal.message)
                self.refusal = refusal
                self._on_reload("refused")
                still = f" Still serving version {previous}." if previous else ""
                raise IndexUnavailable(f"Reload refused: {refusal.message}{still}",
                                       public=f"Reload refused: {refusal.public}{still}",
                                       serving=previous) from None
            self._on_reload("swapped")
            log.info("reloaded: serving version %s (was %s)", new.index.version, previous)
            return ReloadResult(True, new.index.version, previous)

    # -- following -----------------------------------------------------------------

    def watch(self, interval: float) -> None:
        """Reload in the background whenever ``current`` changes (every worker does)."""
        if interval <= 0 or self._watcher is not None:
            return
        # where start() loaded from, not the pointer now: another worker sharing the cache
        # of a store may move it while this one loads (it stayed on the old version for
        # good, found by the fleet test under load)
        self._watcher = VersionWatcher(self._pointer, self.reload, each_poll=self._poll,
                                       interval=interval,
                                       jitter=self.settings.reload_jitter_seconds,
                                       seen=self._started_on)
        self._watcher.start()

    def _pointer(self) -> Path | None:
        try:
            return resolve_version_dir(self.settings.index).resolve()
        except IndexUnavailable:
            return None

    def _poll(self) -> None:
        self._sync()
        try:
            self.follow_model()
        except Exception:  # never let the watcher die silently
            log.exception("following the collaborative model")
        served = self.holder.current
        if self.refusal and not self._from_follower and served is not None \
                and self._pointer() == served.index.path.resolve():
            # current is back on what serves (even if it moved before the watcher began,
            # as a worker starting on a fallback can see): the refusal is history
            self.refusal = None

    def _sync(self) -> None:
        """Following a store: download its new current version into the cache, checked;
        a refusal is kept (``refusal``, /ready, the reload metric) and the cache goes on
        serving what it had."""
        if self.follower is None:
            return
        before = self.follower.refused
        try:
            self.follower.sync()
        except IndexUnavailable as exc:
            self.refusal = Refusal.of(exc)
            self._from_follower = True
            if self.follower.refused and self.follower.refused != before:
                self._on_reload("refused")  # once per refused version, not per poll
            return
        except Exception:  # never let the follower kill the watcher
            log.exception("following %s", self.follower.url)
            return
        if self._from_follower:  # the store is readable and its current is good again
            self._from_follower = False
            self.refusal = None

    def stop(self) -> None:
        self.catalog.stop()
        if self._watcher is not None:
            self._watcher.stop()

