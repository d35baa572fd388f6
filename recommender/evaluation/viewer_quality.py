"""Offline evaluation of per-viewer recommendations: the harness behind
``recommender eval-users``.

Chronological leave-last-out: each viewer's *last positive event* of a film new to them
(a like, a rating of 3.75 or more, a view of half the film or more: what
:func:`recommender.viewers.personal.event_weight` counts as taste) is held out; what they did
before it is their history, what they did after it is dropped. The held-out events are
taken out of the log, the rest is stored in a fresh SQLite event store, and every model
answers every viewer through the code the service answers with (a
:class:`~recommender.viewers.personal.Personalizer` whose clock is the log's last event):

- ``per-user (MODE)``: ``GET /users/{user}/recommendations`` in that ranking mode;
- ``trending``: ``GET /trending``, less the films the viewer has seen;
- ``random``: films drawn uniformly from those the viewer hasn't seen (seeded).

Metrics at k: **hit rate** (the held-out film is in the top k), **NDCG** (1 / log2(1 +
rank): one relevant film, so the ideal is 1), **coverage** (the distinct films any viewer
was shown / the catalog's films). Per segment too: the part of a user id before its first
``:`` (``genre:...``, ``franchise:...``), where the ids have one.

What leave-last-out can't rule out: other viewers' events later than a viewer's held-out
one still count for trending (as in most published leave-one-out figures; a global
time split would not have it).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recommender.config import Settings
from recommender.search.engine import Engine
from recommender.search.query import QueryOptions
from recommender.storage import Event, open_store
from recommender.viewers import collaborative
from recommender.viewers.baselines import Baselines
from recommender.viewers.personal import DAY, Personalizer, event_weight, open_personalizer
from recommender.viewers.training import train_set

POSITIVE = 0.5
"""An event of at least this weight is taste (the same cut as a "because you liked" row)."""
STORE_BATCH = 5000


@dataclass
class Split:
    """A log split chronologically: what the models learn from and what they must find."""

    history: list[Event] = field(default_factory=list)
    """Every event kept, every viewer (skipped viewers' whole logs: they count for trending)."""
    held_out: dict[str, Event] = field(default_factory=dict)
    """Per evaluated viewer, the event to find."""
    skipped: dict[str, int] = field(default_factory=dict)
    """Viewers not evaluated, by why."""


def split_last_out(events: Iterable[Event], min_history: int = 1) -> Split:
    """Hold out each viewer's last positive event of a film they had no earlier event of,
    keeping the ``min_history`` or more events before it; ties in time keep file order."""
    by_user: dict[str, list[Event]] = {}
    for event in sorted(events, key=lambda e: e.ts or 0.0):  # stable: same-second events keep order
        by_user.setdefault(event.user, []).append(event)
    split = Split()
    for user, log in by_user.items():
        first: dict[str, int] = {}
        for i, event in enumerate(log):
            first.setdefault(event.film_id, i)
        target = next((i for i in range(len(log) - 1, -1, -1)
                       if event_weight(log[i].type, log[i].value) >= POSITIVE
                       and first[log[i].film_id] == i), None)
        if target is None or target < min_history:
            why = "no positive event of a film new to them" if target is None else \
                f"fewer than {min_history} events before the held-out one"
            split.skipped[why] = split.skipped.get(why, 0) + 1
            split.history.extend(log)
            continue
        split.held_out[user] = log[target]
        split.history.extend(log[:target])
    return split


def split_by_time(events: Iterable[Event], min_history: int = 1,
                  fraction: float = 0.9) -> Split:
    """A global time split: every event before the cut-off (the time ``fraction`` of the
    events are older than) is history, for everyone; each viewer's first positive event of
    a film new to them after it is held out. Nothing after the cut-off is learnt from, so
    no viewer's later events help another's (which leave-last-out allows)."""
    ordered = sorted(events, key=lambda e: e.ts or 0.0)
    split = Split()
    if not ordered:
        return split
    cut = ordered[min(int(len(ordered) * fraction), len(ordered) - 1)].ts or 0.0
    before: dict[str, set[str]] = {}
    counts: dict[str, int] = {}
    for event in ordered:
        if (event.ts or 0.0) < cut:
            split.history.append(event)
            before.setdefault(event.user, set()).add(event.film_id)
            counts[event.user] = counts.get(event.user, 0) + 1
    for event in ordered:
        if (event.ts or 0.0) < cut or event.user in split.held_out:
            continue
        if event_weight(event.type, event.value) >= POSITIVE and \
                event.film_id not in before.get(event.user, set()) and \
                counts.get(event.user, 0) >= min_history:
            split.held_out[event.user] = event
    later = {e.user for e in ordered if (e.ts or 0.0) >= cut} - set(split.held_out)
    if later:
        split.skipped["nothing to find after the cut-off, or too little before it"] = \
            len(later)
    return split


def _each_once(events: Sequence[Event]) -> list[Event]:
    """The first of the events that share an ``event_id``: the store keeps one, so do we."""
    ids: set[str] = set()
    kept = []
    for event in events:
        if event.event_id and event.event_id in ids:
            continue
        ids.add(event.event_id)
        kept.append(event)
    return kept


def segment_of(user: str) -> str | None:
    return user.split(":", 1)[0] if ":" in user else None


@dataclass
class _Scores:
    hits: list[float] = field(default_factory=list)
    ndcg: list[float] = field(default_factory=list)
    shown: set[str] = field(default_factory=set)
    fallbacks: int = 0

    def add(self, ranked: Sequence[str], target: str) -> None:
        rank = next((i for i, f in enumerate(ranked, start=1) if f == target), None)
        self.hits.append(1.0 if rank else 0.0)
        self.ndcg.append(1.0 / math.log2(1 + rank) if rank else 0.0)
        self.shown.update(ranked)

    def summary(self, films: int) -> dict[str, Any]:
        n = len(self.hits)
        return {"viewers": n, "hit_rate": round(sum(self.hits) / n, 4) if n else 0.0,
                "ndcg": round(sum(self.ndcg) / n, 4) if n else 0.0,
                "coverage": round(len(self.shown) / films, 4) if films else 0.0,
                "films_shown": len(self.shown)}


_OWN_SEGMENTS = ("new viewers", "warm viewers", "cold films")
NEW_VIEWER_EVENTS = 2
HEAD_SHARE = 0.1
"""The share of the films, most watched first, whose hits the debiased hit rate leaves
out."""
"""A viewer with at most this many events before the held-out one is a *new* viewer."""


def evaluate_users(engine: Engine, events: Sequence[Event], settings: Settings, k: int = 10,
                   modes: Sequence[str] = ("hybrid",), min_history: int = 1, seed: int = 0,
                   progress: Callable[[Iterable[str]], Iterable[str]] | None = None,
                   cold_fraction: float = 0.0, split_by: str = "last",
                   cut: float = 0.9, cold_new: bool = True, tuning: bool = True
                   ) -> dict[str, Any]:
    """Score the service's per-user recommendations (one per mode), its content ranking
    alone, the baselines (:mod:`recommender.viewers.baselines`), trending and random on ``events``.

    The service's collaborative model is trained on the history alone, as ``recommender
    train`` would train it at the log's end. With ``cold_fraction``, every event of that
    share of the catalog's films (seeded) is hidden from everything learnt: the segment
    *cold films* is then the viewers whose held-out film is one of them; with ``cold_new``
    they are new on the service (arrived a day before the clock), as the live catalog
    says of the films it adds, else nothing says when they came. ``cut`` is the
    time split's cut-off, as the share of the events before it. The report's ``hits``
    are each model's per-viewer hits (1 or 0), in viewer order, for pooling several cuts.
    ``tuning``: the model's backtest chooses the ranking's values on the history, as
    ``recommender train`` does (off: the settings' own values serve).
    """
    events = _each_once(events)
    split = split_by_time(events, min_history, cut) if split_by == "time" else \
        split_last_out(events, min_history)
    films = len(engine.index)
    rng = np.random.default_rng(seed)
    hidden: set[str] = set()
    if cold_fraction > 0:
        ids = [f.id for f in engine.index.films]
        hidden = {ids[int(i)] for i in rng.choice(len(ids), size=int(len(ids) * cold_fraction),
                                                  replace=False)}
        split.history = [e for e in split.history if e.film_id not in hidden]
    models = [f"per-user ({mode})" for mode in modes] + \
        [f"content only ({mode})" for mode in modes] + \
        list(Baselines.NAMES) + ["trending", "random"]
    overall = {m: _Scores() for m in models}
    by_segment: dict[str, dict[str, _Scores]] = {}
    # "now" is the end of what is learnt from: the log's end, or the time split's cut-off
    now = max((e.ts or 0.0 for e in (events if split_by != "time" else split.history)),
              default=0.0)
    users = sorted(split.held_out)
    before = {u: 0 for u in users}
    for event in split.history:
        if event.user in before:
            before[event.user] += 1
    baselines = Baselines(split.history, [f.id for f in engine.index.films], now)
    # the films watched most before the clock: a hit on one of them is one any popular
    # list makes; a hit outside them is what a ranking finds on its own
    head = set(np.array([f.id for f in engine.index.films])[
        np.argsort(-baselines.popular, kind="stable")[:max(int(films * HEAD_SHARE), 1)]])
    with tempfile.TemporaryDirectory(prefix="recommender-eval-users-") as tmp:
        store = open_store(f"sqlite:///{Path(tmp) / 'events.sqlite3'}")
        try:
            for start in range(0, len(split.history), STORE_BATCH):
                store.add(split.history[start:start + STORE_BATCH])
            # trained as `recommender train` trains: its backtest chooses the ranking's
            # values on this history alone (nothing after the clock)
            trained, _ = train_set(
                Path(tmp), ((e.user, e.film_id, e.type, e.value, e.ts or now)
                            for e in split.history),
                [f.id for f in engine.index.films], settings, tuning=tuning)
            model = collaborative.load(trained.path) if trained.path else None
            # the hidden films are the films a catalog adds: the live catalog records when
            # (a day before the clock here), as it would for films added this week
            arrivals = {f: now - DAY for f in hidden} if cold_new else {}
            service = open_personalizer(settings, store=store, clock=lambda: now,
                                        model=lambda: model, arrivals=lambda index: arrivals)
            content = open_personalizer(settings, store=store, clock=lambda: now,
                                        model=lambda: None)
            for user in progress(users) if progress else users:
                target = split.held_out[user].film_id
                segments = [segment_of(user),
                            "new viewers" if before[user] <= NEW_VIEWER_EVENTS else
                            "warm viewers", "cold films" if target in hidden else None]
                rows = [overall] + [by_segment.setdefault(
                    segment, {m: _Scores() for m in models}) for segment in segments if segment]
                answers = _answers(engine, service, content, baselines, user, k, modes, rng)
                for model_name, ranked, fallback in answers:
                    for scores in rows:
                        scores[model_name].add(ranked, target)
                        scores[model_name].fallbacks += fallback
        finally:
            store.close()
    return {
        "k": k, "films": films, "events": len(events), "history_events": len(split.history),
        "viewers": len(users), "skipped": split.skipped, "min_history": min_history,
        "seed": seed, "clock": now, "cold_films_hidden": len(hidden), "split": split_by,
        "collaborative_model": None if model is None else model.manifest,
        "models": {m: {**s.summary(films), "trending_fallbacks": s.fallbacks}
                   for m, s in overall.items()},
        "hits": {m: s.hits for m, s in overall.items()},
        "ndcgs": {m: s.ndcg for m, s in overall.items()},
        "viewer_history": [before[u] for u in users],
        "viewer_target_popular": [split.held_out[u].film_id in head for u in users],
        "segments": {seg: {m: s.summary(films) for m, s in scores.items()}
                     for seg, scores in sorted(by_segment.items())},
    }


def _answers(engine: Engine, service: Personalizer, content: Personalizer,
             baselines: Baselines, user: str, k: int, modes: Sequence[str],
             rng: np.random.Generator) -> Iterable[tuple[str, list[str], int]]:
    """(model, ranked film ids, 1 if the per-user model fell back to trending) per model."""
    profile = service.profile(user)
    for name, personal in (("per-user", service), ("content only", content)):
        for mode in modes:
            page = personal.recommend_for(engine, user, profile,
                                          QueryOptions(k=k, mode=mode, unrestricted=True))
            yield (f"{name} ({mode})", [h.film.id for h in page.results],
                   int(not page.query["basis"].startswith("history")))
    seen = profile.seen | set(profile.weights)
    for name in Baselines.NAMES:
        yield name, baselines.rank(name, seen, k), 0
    page = service.trending(engine, QueryOptions(k=k, unrestricted=True), exclude=sorted(seen))
    yield "trending", [h.film.id for h in page.results], 0
    index = engine.index
    picks: list[str] = []
    for row in rng.permutation(len(index)):
        if len(picks) >= k:
            break
        if index.films[int(row)].id not in seen:
            picks.append(index.films[int(row)].id)
    yield "random", picks, 0


def format_table(report: dict[str, Any]) -> str:
    """The report as Markdown: one row per model, then one per segment and model."""
    k = report["k"]
    lines = [f"| model | viewers | hit rate@{k} | NDCG@{k} | coverage@{k} |",
             "|---|---|---|---|---|"]
    for model, m in report["models"].items():
        lines.append(f"| {model} | {m['viewers']} | {m['hit_rate']:.3f} | {m['ndcg']:.3f} | "
                     f"{m['coverage']:.3f} |")
    for segment, models in report["segments"].items():
        for model, m in models.items():
            label = segment if segment in _OWN_SEGMENTS else f"{segment} viewers"
            lines.append(f"| {model}, {label} | {m['viewers']} | "
                         f"{m['hit_rate']:.3f} | {m['ndcg']:.3f} | {m['coverage']:.3f} |")
    return "\n".join(lines)
