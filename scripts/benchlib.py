"""What the benchmark scripts share: the Netflix catalog, its columns, free-text queries,
and printing a Markdown table. Imported by the scripts beside it (not part of the package)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the scripts run from a checkout, as `python scripts/x.py`
    sys.path.insert(0, str(ROOT))

from recommender.catalog import Catalog, CsvColumns, load_catalog  # noqa: E402
from recommender.index import write_json_atomically  # noqa: E402

NETFLIX = ROOT.parent / "shared" / "datasets" / "netflix_titles.csv"
NETFLIX_COLUMNS = CsvColumns(title="Movie", text="description", year="release_year",
                             genres="genre")
QUERIES = ["a heist in Spain", "zombie apocalypse survivors", "stand-up comedy special",
           "a shark attacks swimmers", "teenagers fall in love at summer camp",
           "a detective hunts a serial killer", "documentary about climate change",
           "a boxer trains for the fight of his life", "space travel to Mars",
           "a family moves into a haunted house"]


def load_netflix(path: str | Path = NETFLIX) -> Catalog:
    """The Netflix catalog as the README builds it; exits with a message if it is absent."""
    if not Path(path).exists():
        sys.exit(f"{path} is absent: the benchmarks read ../shared/datasets/netflix_titles.csv")
    return load_catalog(path, NETFLIX_COLUMNS, language="en")


def distinct_queries(n: int) -> list[str]:
    """``n`` queries, none repeated, so no cache answers them."""
    return [f"{QUERIES[i % len(QUERIES)]} {i}" for i in range(n)]


def save_report(path: str | Path, report: dict) -> None:
    """Write a benchmark's figures as JSON (atomically) and say where."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_json_atomically(path, report)
    print(f"written to {path}")
