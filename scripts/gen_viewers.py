"""A generated viewing log for a built catalog (Netflix), for ``recommender eval-users``.

There is no public viewing log on this machine, so this one is made up, and what it is
made of decides what any model scores on it. Read this before quoting a figure:

- every film has a *popularity*: a Zipf weight (1 / rank) over a seeded shuffle of the
  catalog, so a few films are watched by many viewers and trending has something to find;
- a **genre viewer** (70% by default) has one favourite genre, taken from the genres with
  at least 30 films; most of their events are of films of that genre, picked by
  popularity: likes, views of 60-100% of the film, ratings of 4 or 5, and now and then a
  view given up early (under a fifth) or a dislike;
- a **franchise viewer** watches two or more members of one franchise (the hand-labelled
  groups of ``seeds/labels/netflix.json``: Rocky, Tremors, Ip Man, Star Trek, ...) in
  release order, liking most, between one to six events of films of that franchise's
  genres (so the held-out event is a franchise film for some of them only: the script
  prints how many);
- every viewer also watches a few popular films of any genre (noise: about one event in
  six), and a third of them dislike one or two films outside their taste;
- times are spread over the 60 days before ``--end``, each viewer's in order.

So a viewer's taste is either a catalog label (genre) or a set of titles that share words
and story (franchise); nothing here knows the embedding, but a content model has an easy
time with franchises by construction, and the genres are the catalog's own labels, which
a model that reads synopses only sees through the synopses. The user ids carry the
segment (``genre:horror-movies:0042``, ``franchise:rocky:0007``), which eval-users
reports apart.

    python scripts/gen_viewers.py --index /tmp/netflix --out /tmp/netflix-viewers.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recommender.evaluation.viewer_quality import POSITIVE  # noqa: E402
from recommender.index.store import load_index  # noqa: E402
from recommender.viewers.personal import event_weight  # noqa: E402

MIN_GENRE_FILMS = 30
SPAN_DAYS = 60


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


class Catalog:
    """The films of an index with their popularity, by genre."""

    def __init__(self, films: list, rng: random.Random) -> None:
        self.films = films
        order = list(range(len(films)))
        rng.shuffle(order)
        self.popularity = [0.0] * len(films)
        for rank, i in enumerate(order, start=1):
            self.popularity[i] = 1.0 / rank
        self.by_genre: dict[str, list[int]] = {}
        for i, film in enumerate(films):
            for genre in film.genres:
                self.by_genre.setdefault(genre, []).append(i)
        self.row_of = {film.id: i for i, film in enumerate(films)}

    def popular(self, rows: list[int], rng: random.Random, n: int) -> list[int]:
        """Up to ``n`` distinct rows of ``rows``, drawn by popularity."""
        weights = [self.popularity[r] for r in rows]
        picked: list[int] = []
        for _ in range(n * 4):
            if len(picked) >= n or len(picked) >= len(rows):
                break
            row = rng.choices(rows, weights)[0]
            if row not in picked:
                picked.append(row)
        return picked


def taste_event(rng: random.Random) -> tuple[str, float | None]:
    roll = rng.random()
    if roll < 0.40:
        return "like", None
    if roll < 0.80:
        return "view", round(rng.uniform(0.6, 1.0), 2)
    if roll < 0.92:
        return "rating", float(rng.choice([4, 4.5, 5]))
    if roll < 0.97:
        return "view", round(rng.uniform(0.02, 0.18), 2)
    return "dislike", None


def noise_event(rng: random.Random) -> tuple[str, float | None]:
    return ("view", round(rng.uniform(0.1, 1.0), 2)) if rng.random() < 0.8 else ("like", None)


def viewer(taste: list[int], catalog: Catalog, rng: random.Random,
           franchise: list[int] | None = None) -> list[tuple[int, str, float | None]]:
    """(row, type, value) in the viewer's order."""
    n_taste = rng.randint(1, 6) if franchise else rng.randint(4, 24)
    events = [(row, *taste_event(rng)) for row in catalog.popular(taste, rng, n_taste)]
    if franchise:
        members = franchise[:rng.randint(2, len(franchise))]
        slots = sorted(rng.sample(range(len(events) + len(members)), len(members)))
        for slot, row in zip(slots, members, strict=True):
            events.insert(slot, (row, "like", None) if rng.random() < 0.7
                          else (row, "view", round(rng.uniform(0.7, 1.0), 2)))
    everything = list(range(len(catalog.films)))
    for row in catalog.popular(everything, rng, max(1, len(events) // 6)):
        events.insert(rng.randrange(len(events) + 1), (row, *noise_event(rng)))
    if rng.random() < 1 / 3:
        taste_set = set(taste) | set(franchise or ())
        others = [r for r in rng.sample(everything, min(50, len(everything))) if r not in taste_set]
        for row in others[:rng.randint(1, 2)]:
            events.insert(rng.randrange(len(events) + 1), (row, "dislike", None))
    return events


def held_out(events: list[tuple[int, str, float | None]]) -> int | None:
    """The row eval-users will hold out (its rule: the last positive event of a new film)."""
    first: dict[int, int] = {}
    for i, (row, _, _) in enumerate(events):
        first.setdefault(row, i)
    return next((row for i, (row, type_, value) in reversed(list(enumerate(events)))
                 if event_weight(type_, value) >= POSITIVE and first[row] == i), None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", required=True, help="a built index of the catalog")
    parser.add_argument("--out", required=True, help="the JSON Lines log to write")
    parser.add_argument("--viewers", type=int, default=1000)
    parser.add_argument("--franchise-share", type=float, default=0.3)
    parser.add_argument("--franchises", default=str(ROOT / "seeds/labels/netflix.json"),
                        help="labelled groups (JSON with groups: name, ids)")
    parser.add_argument("--end", default="2026-11-01T00:00:00+00:00",
                        help="the log's last moment (ISO 8601)")
    parser.add_argument("--min-genre-films", type=int, default=MIN_GENRE_FILMS,
                        help=f"a favourite genre has this many films (default {MIN_GENRE_FILMS})")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    catalog = Catalog(list(load_index(args.index).films), rng)
    genres = sorted(g for g, rows in catalog.by_genre.items()
                    if len(rows) >= args.min_genre_films)
    groups = []
    for group in json.loads(Path(args.franchises).read_text(encoding="utf-8"))["groups"]:
        rows = [catalog.row_of[i] for i in group["ids"] if i in catalog.row_of]
        if len(rows) >= 2:
            groups.append((group["name"], sorted(rows, key=lambda r: (
                catalog.films[r].year or 0, catalog.films[r].title))))
    if not genres:
        parser.error(f"no genre has {args.min_genre_films} films: lower --min-genre-films")
    end = datetime.fromisoformat(args.end).astimezone(UTC)
    lines = 0
    counts = {"genre": 0, "franchise": 0, "franchise_held_out": 0}
    tmp = Path(args.out).with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        for n in range(args.viewers):
            if groups and rng.random() < args.franchise_share:
                name, members = rng.choice(groups)
                genre_rows = sorted({r for m in members for g in catalog.films[m].genres
                                     for r in catalog.by_genre[g]} - set(members))
                user = f"franchise:{slug(name)}:{n:04d}"
                events = viewer(genre_rows, catalog, rng, franchise=members)
                counts["franchise"] += 1
                counts["franchise_held_out"] += held_out(events) in members
            else:
                genre = rng.choice(genres)
                user = f"genre:{slug(genre)}:{n:04d}"
                events = viewer(catalog.by_genre[genre], catalog, rng)
                counts["genre"] += 1
            start = end - timedelta(days=rng.uniform(1, SPAN_DAYS))
            step = (end - start) / (len(events) + 1)
            for i, (row, type_, value) in enumerate(events, start=1):
                event = {"user": user, "film": {"id": catalog.films[row].id}, "type": type_,
                         "ts": (start + step * i).isoformat(timespec="seconds"),
                         "event_id": f"{user}:{i}"}
                if value is not None:
                    event["value"] = value
                out.write(json.dumps(event) + "\n")
                lines += 1
    tmp.replace(args.out)
    print(f"{args.out}: {lines} events of {args.viewers} viewers ({counts['genre']} genre "
          f"viewers over {len(genres)} genres, {counts['franchise']} franchise viewers over "
          f"{len(groups)} franchises; for {counts['franchise_held_out']} of them the event "
          f"eval-users holds out is a franchise film), {len(catalog.films)} films")
    return 0


if __name__ == "__main__":
    sys.exit(main())
