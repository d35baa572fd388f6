"""Training the viewers' side from the event store: the backtest's choices
(:mod:`recommender.viewers.tuning`), then the collaborative model with its "what comes
next" matrix (:mod:`recommender.viewers.collaborative`), written as one version whose
manifest records what was chosen. ``recommender train``, the server's scheduled
training and the offline evaluation all train here, so all three rank alike."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from recommender.config import Settings
from recommender.viewers import collaborative
from recommender.viewers.collaborative import TrainReport
from recommender.viewers.sources import learners
from recommender.viewers.timeline import Log
from recommender.viewers.tuning import Tuned, tune


def train_set(out: Path, timeline: Iterable[tuple[str, str, str, float | None, float]],
              catalog_films: Sequence[str], settings: Settings, *, tuning: bool = True,
              lam: float = collaborative.DEFAULT_LAMBDA,
              max_films: int = collaborative.MAX_FILMS,
              min_events: int = collaborative.MIN_EVENTS, keep_versions: int = 3,
              source: str = "") -> tuple[TrainReport, Tuned | None]:
    """Read ``timeline`` ((user, film, type, value, ts), e.g.
    :meth:`~recommender.storage.events.EventStore.timeline`) once; with ``tuning``,
    choose the ranking's weights and time constants on it; then train and write the
    model (none under ``min_events`` events)."""
    started = time.perf_counter()
    log = Log.read_from(timeline, list(catalog_films))
    tuned = tune(log, settings, lam, max_films) if tuning and log.read >= min_events \
        else None
    report = collaborative.train_arrays(
        out, log.user, log.film, log.ts, catalog_films, read=log.read, span=log.span,
        started=started, lam=lam, max_films=max_films, min_events=min_events,
        keep_versions=keep_versions, source=source,
        half_life_days=settings.train_half_life_days,
        extra={"tuned": tuned.to_dict()} if tuned is not None else None,
        learners=learners())
    return report, tuned


def train_if_due(settings: Settings, store: Any, catalog_films: Sequence[str]
                 ) -> TrainReport | None:
    """Train when the current model is older than ``train_every_seconds`` (or there is
    none), unless another process of this machine is training now (a lock); None: not
    due."""
    import fcntl

    folder = Path(settings.index) / collaborative.MODELS
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".train.lock", "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        current = collaborative.current_path(settings.index)
        if current is not None:
            manifest = json.loads((current / collaborative.MANIFEST).read_text())
            if time.time() - manifest["trained_at_ts"] < settings.train_every_seconds:
                return None
        report, _ = train_set(Path(settings.index), store.timeline(), catalog_films,
                              settings, source=getattr(store, "kind", ""))
        return report


def tuned_summary(tuned: Tuned | None) -> str:
    """``recommender train``'s lines on what the backtest chose."""
    if tuned is None:
        return "  ranking: not tuned (--no-tune); the settings' values serve"
    if not tuned.values:
        return f"  ranking: not tuned: {tuned.why_not}"
    values = ", ".join(f"{k} {v:g}" for k, v in tuned.values.items())
    return (f"  ranking tuned on {tuned.viewers:,} viewer-cuts (cut-offs {', '.join(tuned.cuts)}"
            f" of the log; {tuned.candidates} candidates, {tuned.seconds:.1f} s): {values}\n"
            f"  backtest hit@10: chosen {tuned.hit_rate:.3f}, the settings' values "
            f"{tuned.settings_hit_rate:.3f}, decayed popularity "
            f"{tuned.decayed_popularity_hit_rate:.3f}")
