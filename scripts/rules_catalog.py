"""A catalog with the rules' fields from a real file, for tests and benchmarks: the
Netflix titles (or the IMDb top 1000) with their kind, maturity and people mapped, and a
**made-up** availability table, since no public file says where each title is licensed.

The table is seeded (the same for every run) and derived from each title's own columns:
a title is licensed from its ``date_added`` (Netflix; 2015-01-01 where it has none) in
each country it was made in (its ``country`` column, as ISO codes), and in each of DK,
SE, NO, FI, GB, DE and US with a chance of 0.6, for one to six years (so some licences
have ended); one title in ten has no list (everywhere). None of it is true; it only has
the shape a real table would have.

    python scripts/rules_catalog.py --out bench-results/netflix-rules/films.jsonl
    recommender build --catalog bench-results/netflix-rules/films.jsonl \\
        --out bench-results/netflix-rules/index --quiet
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import iso3166

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recommender.catalog.films import CsvColumns, load_catalog  # noqa: E402

DATASETS = ROOT.parent / "shared" / "datasets"
MARKETS = ("DK", "SE", "NO", "FI", "GB", "DE", "US")
NAMES = {c.name.casefold(): c.alpha2 for c in iso3166.countries}
NAMES |= {c.apolitical_name.casefold(): c.alpha2 for c in iso3166.countries}
NAMES |= {"united states": "US", "united kingdom": "GB", "south korea": "KR",
          "russia": "RU", "taiwan": "TW", "vietnam": "VN", "iran": "IR", "syria": "SY",
          "venezuela": "VE", "czech republic": "CZ", "soviet union": "RU",
          "west germany": "DE", "east germany": "DE", "vatican city": "VA"}
CATALOGS = {
    "netflix": (DATASETS / "netflix_titles.csv", CsvColumns(
        title="Movie", text="description", year="release_year", genres="genre", kind="type",
        maturity="Rating", people=(("director", "director"), ("cast", "cast")))),
    "imdb": (DATASETS / "imdb_top_1000.csv", CsvColumns(
        title="Series_Title", text="Overview", year="Released_Year", genres="Genres",
        maturity="Certificate", people=(("director", "Director"), ("cast", "Star1"),
                                        ("cast", "Star2"), ("cast", "Star3"),
                                        ("cast", "Star4")))),
}


def territories(film_id: str, made_in: str, added: str) -> list[dict] | None:
    rng = random.Random(hashlib.sha256(film_id.encode()).digest())
    if rng.random() < 0.1:
        return None
    try:
        start = datetime.strptime(added.strip(), "%B %d, %Y").replace(tzinfo=UTC)
    except ValueError:
        start = datetime(2015, 1, 1, tzinfo=UTC)
    countries = {NAMES[n.strip().casefold()] for n in made_in.split(",")
                 if n.strip().casefold() in NAMES}
    countries |= {c for c in MARKETS if rng.random() < 0.6}
    out = []
    for country in sorted(countries):
        end = start + timedelta(days=365 * rng.randint(1, 6))
        out.append({"country": country, "from": start.isoformat().replace("+00:00", "Z"),
                    "until": end.isoformat().replace("+00:00", "Z")})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", choices=sorted(CATALOGS), default="netflix")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    path, columns = CATALOGS[args.catalog]
    catalog = load_catalog(path, columns, language="en", on_invalid="skip")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    listed = 0
    with open(args.out.with_suffix(".tmp"), "w", encoding="utf-8") as out:
        for film in catalog.films:
            row = film.to_dict()
            attributes = row["attributes"]
            row["territories"] = territories(film.id, str(attributes.get("country", "")),
                                             str(attributes.get("date_added", "")))
            listed += row["territories"] is not None
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    args.out.with_suffix(".tmp").replace(args.out)
    print(f"{len(catalog)} films ({len(catalog.rejects)} rows rejected), {listed} with a "
          f"made-up territory list -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
