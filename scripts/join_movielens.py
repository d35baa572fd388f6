"""Join a MovieLens log to a catalog CSV by title and year: a catalog of the films that
match and the viewers' ratings of them as a JSONL event log (what ``POST /events`` and
``recommender events import`` take).

    python scripts/join_movielens.py --catalog ../shared/datasets/imdb_top_1000.csv \\
        --out bench-results/ml-imdb
    python scripts/join_movielens.py --catalog ../shared/datasets/netflix_titles.csv \\
        --out bench-results/ml-netflix

writes ``OUT/films.jsonl`` (build it with ``recommender build --catalog OUT/films.jsonl``)
and ``OUT/events.jsonl`` (``recommender eval-users --events OUT/events.jsonl``), and says
how many films and ratings matched.

MovieLens ``ml-latest-small`` is GroupLens research data: F. Maxwell Harper and Joseph A.
Konstan, "The MovieLens Datasets: History and Context", ACM TiiS 5(4), 2015. Its licence
allows research use and forbids commercial use; what this writes stays out of the
repository (bench-results/ is ignored).

A title matches when it is the same once normalised (case, accents, punctuation, a
trailing ", The" moved back to the front, MovieLens's "(a.k.a. ...)" dropped) and its year
is the same, else one year off (release dates differ between sources); a catalog title
that two MovieLens films would match goes to the one of the same year.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import unicodedata
from pathlib import Path

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"
MOVIELENS = SHARED / "movielens-latest-small"

# Columns of the two catalogs of ../shared/datasets, by the name of their title column.
CATALOGS = {
    "Series_Title": {"title": "Series_Title", "year": "Released_Year", "text": "Overview",
                     "genres": "Genre"},
    "Movie": {"title": "Movie", "year": "release_year", "text": "description",
              "genres": "genre"},
}
_ARTICLE = re.compile(r"^(?P<rest>.+), (?P<article>the|a|an|les|la|le|il|el|der|die|das)$")
_ML_TITLE = re.compile(r"^(?P<title>.+?)\s*\((?P<year>\d{4})\)\s*$")


def normalise(title: str) -> str:
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"\(a\.k\.a\..*?\)|\(.*?\)", " ", text).strip()
    text = text.replace("&", " and ")
    match = _ARTICLE.match(text)
    if match:
        text = f"{match['article']} {match['rest']}"
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def slug(text: str) -> str:
    return "-".join(re.sub(r"[^a-z0-9]+", " ", normalise(text)).split()) or "film"


def read_catalog(path: Path) -> tuple[list[dict], dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    columns = next((c for key, c in CATALOGS.items() if rows and key in rows[0]), None)
    if columns is None:
        sys.exit(f"{path}: not a catalog this script knows (columns {list(rows[0])[:6]})")
    if "type" in rows[0]:  # Netflix titles: films only (MovieLens has no TV shows)
        rows = [r for r in rows if r.get("type", "Movie") == "Movie"]
    if columns["genres"] not in rows[0]:
        columns = {**columns, "genres": "Genres"}
    return rows, columns


def join(catalog: Path, movielens: Path) -> tuple[list[dict], list[dict], dict]:
    rows, columns = read_catalog(catalog)
    by_key: dict[tuple[str, int], dict] = {}
    for row in rows:
        try:
            year = int(str(row[columns["year"]]).strip()[:4])
        except ValueError:
            continue  # IMDb's real dirt: "PG" in a year column
        by_key.setdefault((normalise(row[columns["title"]]), year), row)
    with (movielens / "movies.csv").open(encoding="utf-8", newline="") as fh:
        movies = list(csv.DictReader(fh))
    matched: dict[str, dict] = {}  # movieId -> catalog row
    taken: dict[int, str] = {}  # id(row) -> movieId, so a row is matched once
    for exact in (True, False):  # the same year first, then one year off
        for movie in movies:
            if movie["movieId"] in matched:
                continue
            m = _ML_TITLE.match(movie["title"].strip())
            if not m:
                continue
            title, year = normalise(m["title"]), int(m["year"])
            for candidate in ([year] if exact else [year - 1, year + 1]):
                row = by_key.get((title, candidate))
                if row is not None and id(row) not in taken:
                    matched[movie["movieId"]] = row
                    taken[id(row)] = movie["movieId"]
                    break
    films, ids = [], {}
    used: set[str] = set()
    for movie_id, row in matched.items():
        year = int(str(row[columns["year"]]).strip()[:4])
        film_id = f"{slug(row[columns['title']])}-{year}"
        while film_id in used:
            film_id += "-x"
        used.add(film_id)
        ids[movie_id] = film_id
        genres = [g.strip() for g in str(row.get(columns["genres"], "")).split(",") if g.strip()]
        films.append({"id": film_id, "title": row[columns["title"]].strip(), "year": year,
                      "synopsis": row[columns["text"]].strip(), "genres": genres,
                      "language": "en"})
    events = []
    ratings = 0
    with (movielens / "ratings.csv").open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            ratings += 1
            film_id = ids.get(r["movieId"])
            if film_id is None:
                continue
            events.append({"user": f"ml-{r['userId']}", "film": {"id": film_id},
                           "type": "rating", "value": float(r["rating"]),
                           "ts": int(r["timestamp"]),
                           "event_id": f"ml-{r['userId']}-{r['movieId']}"})
    events.sort(key=lambda e: (e["ts"], e["event_id"]))
    facts = {"catalog": catalog.name, "catalog_films": len(rows), "movielens_films": len(movies),
             "films_matched": len(films), "ratings": ratings, "ratings_matched": len(events),
             "viewers": len({e["user"] for e in events})}
    return films, events, facts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", type=Path, default=SHARED / "imdb_top_1000.csv")
    parser.add_argument("--movielens", type=Path, default=MOVIELENS)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    for path in (args.catalog, args.movielens / "ratings.csv"):
        if not path.is_file():
            sys.exit(f"{path} not found: this needs ../shared/datasets (see its README.md)")
    films, events, facts = join(args.catalog, args.movielens)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("films.jsonl", films), ("events.jsonl", events)):
        tmp = args.out / f".{name}.tmp"
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                       encoding="utf-8")
        tmp.replace(args.out / name)
    (args.out / "join.json").write_text(json.dumps(facts, indent=2) + "\n")
    print(f"{facts['films_matched']} of {facts['catalog_films']} catalog films matched "
          f"{facts['ratings_matched']:,} of {facts['ratings']:,} MovieLens ratings by "
          f"{facts['viewers']} viewers -> {args.out}/films.jsonl, {args.out}/events.jsonl")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
