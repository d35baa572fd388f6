"""Where a search should say "nothing close": the nearest film's cosine for real
descriptions and for nonsense, per model and catalog, and the floor chosen between them.

Real descriptions are the labelled queries of seeds.json and seeds-hard.json (the Danish
seeds) and netflix.json (Netflix); nonsense is seeds/labels/nonsense.json. Each is
halved by position: the floor is chosen on the development half (the highest that keeps
every development description's results, less a margin of 0.02), and reported on the
other half: descriptions that keep their results, nonsense told "nothing close".

    python scripts/eval_relevance_floor.py [--models all-MiniLM-L6-v2,multilingual-e5-small]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from benchlib import NETFLIX, ROOT, load_netflix, save_report

from recommender.catalog.films import Catalog, load_catalog
from recommender.config import Settings
from recommender.embedding.embedder import Embedder
from recommender.index.build import build_index
from recommender.index.store import load_index
from recommender.search.engine import Engine, QueryOptions

LABELS = ROOT / "seeds" / "labels"
MARGIN = 0.02


def queries(*files: str) -> list[str]:
    return [q["q"] for name in files for q in json.loads((LABELS / name).read_text())["queries"]
            if "q" in q]


def nearest(engine: Engine, q: str) -> float:
    """The nearest film's cosine (the engine is opened with no floor)."""
    page = engine.search(q, QueryOptions(k=1, mode="semantic"))
    return float(page.results[0].semantic or 0.0)


def measure(engine: Engine, real: list[str], nonsense: list[str]) -> dict[str, Any]:
    real_scores = [nearest(engine, q) for q in real]
    nonsense_scores = [nearest(engine, q) for q in nonsense]
    floor = round(min(real_scores[0::2]) - MARGIN, 3)
    kept = sum(s >= floor for s in real_scores[1::2])
    caught = sum(s < floor for s in nonsense_scores[1::2])
    return {"floor": floor,
            "real_min_max": [round(min(real_scores), 3), round(max(real_scores), 3)],
            "nonsense_min_max": [round(min(nonsense_scores), 3), round(max(nonsense_scores), 3)],
            "reported": {"descriptions": len(real_scores[1::2]), "kept": kept,
                         "nonsense": len(nonsense_scores[1::2]), "told_nothing_close": caught},
            "development_nonsense_caught": sum(s < floor for s in nonsense_scores[0::2])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="all-MiniLM-L6-v2,multilingual-e5-small")
    parser.add_argument("--out", default="bench-results/relevance_floor.json")
    args = parser.parse_args()
    nonsense = json.loads((LABELS / "nonsense.json").read_text())["queries"]
    catalogs: dict[str, tuple[Catalog, list[str]]] = {
        "seeds": (load_catalog(ROOT / "seeds" / "films.jsonl"),
                  queries("seeds.json", "seeds-hard.json"))}
    if NETFLIX.exists():
        catalogs["netflix"] = (load_netflix(), queries("netflix.json"))
    report: dict[str, Any] = {}
    print("| model | catalog | floor (chosen on development) | descriptions kept (reported) "
          "| nonsense told nothing close (reported) | nearest cosine: descriptions | nonsense |")
    print("|---|---|---|---|---|---|---|")
    for model in args.models.split(","):
        embedder = Embedder(model)
        for name, (catalog, real) in catalogs.items():
            with tempfile.TemporaryDirectory() as folder:
                out = Path(folder) / "idx"
                build_index(catalog, embedder, out, progress=False)
                engine = Engine(load_index(out), embedder, Settings(index=out,
                                                                    relevance_floor=0.0))
                m = measure(engine, real, nonsense)
            report.setdefault(model, {})[name] = m
            r = m["reported"]
            print(f"| {model} | {name} | {m['floor']} | {r['kept']}/{r['descriptions']} | "
                  f"{r['told_nothing_close']}/{r['nonsense']} | {m['real_min_max']} | "
                  f"{m['nonsense_min_max']} |")
    save_report(args.out, report)


if __name__ == "__main__":
    main()
