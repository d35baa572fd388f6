"""What each answer showed, kept in the event database beside the events, and what came of
it: impressions, attribution and the figures built on them.

An *impression* is one answer that showed films: its ``recommendation_id``, the surface
(``user_recommendations``, ``similar``, ...), the viewer where there is one, the
experiment and variant it was served under, the index and model versions, the time, and
one ``impression_films`` row per film shown with its rank.

An event **is attributed** to an impression when it carries the impression's
``recommendation_id`` *and* its film was among those shown; any other event that carries
one (unknown, expired, forged, or a film the answer didn't show) is stored as every event
is and counted as *unattributed*. Attribution is a join made when a report is read, not a
flag written with the event: an event that arrives before its impression is written (the
impressions are written in batches, off the request path) is attributed all the same.

A *conversion* is an attributed event of one of :data:`CONVERSIONS` (a rating of 4 or
more); an impression's *clicks* are its films that got at least one conversion: at most
one per film per impression, whatever the viewer did with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from recommender.storage.events import EventStore

CONVERSIONS = ("click", "view", "like", "watchlist", "rating")
"""Event types that count as a conversion (a rating only at :data:`GOOD_RATING` or more)."""
GOOD_RATING = 4.0
DAY = 86_400.0
_CONVERTS = ("(e.type IN ('click', 'view', 'like', 'watchlist') OR "
             f"(e.type = 'rating' AND e.value >= {GOOD_RATING}))")


@dataclass(frozen=True)
class Impression:
    """One answer that showed films, as stored."""

    recommendation_id: str
    surface: str
    films: tuple[str, ...]
    """The films shown, best first (rank 1 is the first)."""
    ts: float
    user: str | None = None
    experiment: str | None = None
    variant: str | None = None
    index_version: str | None = None
    model_version: str | None = None
    promoted: tuple[tuple[str, str], ...] = ()
    """(film, rule) of each film a rule placed (docs/rules.md); the others are organic."""


@dataclass
class Figures:
    """What a set of impressions led to."""

    impressions: int = 0
    viewers: int = 0
    clicks: int = 0
    conversions: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CONVERSIONS, 0))


class ImpressionLog:
    """The impressions of one event store (SQLite or PostgreSQL)."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    def write(self, impressions: Sequence[Impression]) -> int:
        """Store ``impressions`` in one transaction (one already stored is skipped);
        returns how many were new."""
        store = self.store
        written = 0
        with store.transaction() as cur:
            for imp in impressions:
                cur.execute(store.sql(
                    "INSERT INTO impressions (recommendation_id, surface, user_id, "
                    "experiment, variant, index_version, model_version, films, ts, day) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (recommendation_id) "
                    "DO NOTHING"),
                    (imp.recommendation_id, imp.surface, imp.user, imp.experiment,
                     imp.variant, imp.index_version, imp.model_version, len(imp.films),
                     imp.ts, int(imp.ts // DAY)))
                if cur.rowcount <= 0:
                    continue
                written += 1
                placed = dict(imp.promoted)
                cur.executemany(store.sql(
                    "INSERT INTO impression_films (recommendation_id, film_id, rank, promoted) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (recommendation_id, film_id) DO NOTHING"),
                    [(imp.recommendation_id, film, rank, placed.get(film))
                     for rank, film in enumerate(imp.films, start=1)])
        return written

    def purge(self, before: float) -> int:
        """Forget the impressions older than ``before`` (the retention period's start)."""
        store = self.store
        with store.transaction() as cur:
            cur.execute(store.sql(
                "DELETE FROM impression_films WHERE recommendation_id IN "
                "(SELECT recommendation_id FROM impressions WHERE ts < ?)"), (before,))
            cur.execute(store.sql("DELETE FROM impressions WHERE ts < ?"), (before,))
            return max(cur.rowcount, 0)

    def forget(self, user: str) -> int:
        """Erase every impression shown to ``user`` (with their events, on erasure)."""
        store = self.store
        with store.transaction() as cur:
            cur.execute(store.sql(
                "DELETE FROM impression_films WHERE recommendation_id IN "
                "(SELECT recommendation_id FROM impressions WHERE user_id = ?)"), (user,))
            cur.execute(store.sql("DELETE FROM impressions WHERE user_id = ?"), (user,))
            return max(cur.rowcount, 0)

    def get(self, recommendation_id: str) -> Impression | None:
        store = self.store
        with store.transaction(write=False) as cur:
            cur.execute(store.sql(
                "SELECT recommendation_id, surface, ts, user_id, experiment, variant, "
                "index_version, model_version FROM impressions WHERE recommendation_id = ?"),
                (recommendation_id,))
            row = cur.fetchone()
            if row is None:
                return None
            cur.execute(store.sql("SELECT film_id FROM impression_films WHERE "
                                   "recommendation_id = ? ORDER BY rank"), (recommendation_id,))
            films = tuple(r[0] for r in cur.fetchall())
        return Impression(row[0], row[1], films, row[2], *row[3:])

    def shown(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, str]]:
        """For each (recommendation_id, film) that an impression showed: its (surface,
        variant); the others are absent (unattributed)."""
        store = self.store
        ids = sorted({rid for rid, _ in pairs})
        if not ids:
            return {}
        found: dict[tuple[str, str], tuple[str, str]] = {}
        with store.transaction(write=False) as cur:
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                marks = ", ".join("?" * len(chunk))
                cur.execute(store.sql(
                    "SELECT f.recommendation_id, f.film_id, i.surface, i.variant FROM "
                    "impression_films f JOIN impressions i ON i.recommendation_id = "
                    f"f.recommendation_id WHERE f.recommendation_id IN ({marks})"), chunk)
                for rid, film, surface, variant in cur.fetchall():
                    found[(rid, film)] = (surface, variant or "")
        return {pair: found[pair] for pair in pairs if pair in found}

    def figures(self, since: float, until: float, experiment: str | None = None,
                by: str = "variant") -> dict[tuple[str, ...], Figures]:
        """The impressions of ``since`` .. ``until`` and what they led to, grouped ``by``
        variant (of ``experiment``), by surface and day (``"surface_day"``) or by surface
        (``"surface"``)."""
        store = self.store
        if by == "variant":
            key, where, args = "i.variant", "i.experiment = ? AND ", [experiment]
        else:
            key, where, args = "i.surface, i.day" if by == "surface_day" else "i.surface", "", []
        span = [since, until]
        out: dict[tuple[str, ...], Figures] = {}
        with store.transaction(write=False) as cur:
            cur.execute(store.sql(
                f"SELECT {key}, COUNT(*), COUNT(DISTINCT i.user_id) FROM impressions i "
                f"WHERE {where}i.ts >= ? AND i.ts < ? GROUP BY {key}"), args + span)
            for *group, impressions, viewers in cur.fetchall():
                out[_key(group)] = Figures(int(impressions), int(viewers))
            # each (impression, film) with at least one conversion is one click; each
            # conversion type counts once per (impression, film) too
            converted = ("COUNT(DISTINCT e.recommendation_id || ' ' || e.film_id) FROM "
                         "impressions i JOIN impression_films f ON f.recommendation_id = "
                         "i.recommendation_id JOIN events e ON e.recommendation_id = "
                         "f.recommendation_id AND e.film_id = f.film_id WHERE "
                         f"{where}i.ts >= ? AND i.ts < ? AND {_CONVERTS} GROUP BY {key}")
            cur.execute(store.sql(f"SELECT {key}, e.type, {converted}, e.type"), args + span)
            for *group, kind, n in cur.fetchall():
                out.setdefault(_key(group), Figures()).conversions[kind] = int(n)
            cur.execute(store.sql(f"SELECT {key}, {converted}"), args + span)
            for *group, clicks in cur.fetchall():
                out.setdefault(_key(group), Figures()).clicks = int(clicks)
        return out

    def placements(self, since: float, until: float) -> dict[tuple[str, str], tuple[int, int]]:
        """(films shown, clicks) per (surface, "promoted" or "organic") of ``since`` ..
        ``until``: the click-through of the places rules gave, beside the others'."""
        store = self.store
        placed = "CASE WHEN f.promoted IS NULL THEN 'organic' ELSE 'promoted' END"
        joined = ("FROM impressions i JOIN impression_films f ON f.recommendation_id = "
                  "i.recommendation_id")
        out: dict[tuple[str, str], tuple[int, int]] = {}
        with store.transaction(write=False) as cur:
            cur.execute(store.sql(
                f"SELECT i.surface, {placed}, COUNT(*) {joined} WHERE i.ts >= ? AND "
                f"i.ts < ? GROUP BY i.surface, {placed}"), (since, until))
            for surface, kind, shown in cur.fetchall():
                out[(surface, kind)] = (int(shown), 0)
            cur.execute(store.sql(
                f"SELECT i.surface, {placed}, COUNT(DISTINCT e.recommendation_id || ' ' || "
                f"e.film_id) {joined} JOIN events e ON e.recommendation_id = "
                "f.recommendation_id AND e.film_id = f.film_id WHERE i.ts >= ? AND i.ts < ? "
                f"AND {_CONVERTS} GROUP BY i.surface, {placed}"), (since, until))
            for surface, kind, clicks in cur.fetchall():
                out[(surface, kind)] = (out.get((surface, kind), (0, 0))[0], int(clicks))
        return out

    def unattributed(self, since: float, until: float) -> int:
        """Events of ``since`` .. ``until`` that name a recommendation_id no impression
        showed their film under."""
        store = self.store
        with store.transaction(write=False) as cur:
            cur.execute(store.sql(
                "SELECT COUNT(*) FROM events e WHERE e.recommendation_id IS NOT NULL AND "
                "e.ts >= ? AND e.ts < ? AND NOT EXISTS (SELECT 1 FROM impression_films f "
                "WHERE f.recommendation_id = e.recommendation_id AND f.film_id = "
                "e.film_id)"), (since, until))
            return int(cur.fetchone()[0])


def _key(group: Sequence[object]) -> tuple[str, ...]:
    return tuple("" if g is None else str(g) for g in group)
