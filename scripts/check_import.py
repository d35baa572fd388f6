"""An import that never guesses, checked on a real history: the MovieLens x catalog join
(scripts/join_movielens.py) imported with each film given as a plain string, its id, as
an application's export often gives it. Counts the events rejected and the events stored
against another film than the one the line named (issue 37: 18% rejected, and
``life-2018`` attached to Life 2.0).

    python scripts/join_movielens.py --catalog ../shared/datasets/netflix_titles.csv \\
        --out bench-results/ml-netflix
    python scripts/check_import.py --join bench-results/ml-netflix
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
from pathlib import Path

from benchlib import save_report

from recommender.cli.main import main as cli


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--join", required=True, type=Path, help="what join_movielens wrote")
    parser.add_argument("--out", default="bench-results/import-check.json")
    args = parser.parse_args()
    lines = [json.loads(x) for x in (args.join / "events.jsonl").read_text().splitlines()]
    with tempfile.TemporaryDirectory() as tmp:
        index, db = Path(tmp) / "idx", Path(tmp) / "events.sqlite3"
        if cli(["build", "--catalog", str(args.join / "films.jsonl"), "--out", str(index),
                "--quiet"]) != 0:
            sys.exit("the build failed")
        plain = Path(tmp) / "plain.jsonl"
        plain.write_text("".join(json.dumps({**e, "film": e["film"]["id"]}) + "\n"
                                 for e in lines))
        code = cli(["events", "import", str(plain), "--index", str(index),
                    "--events-url", f"sqlite:///{db}"])
        with sqlite3.connect(db) as con:
            stored = dict(con.execute("SELECT event_id, film_id FROM events").fetchall())
    named = {e["event_id"]: e["film"]["id"] for e in lines}
    elsewhere = [(i, named[i], film) for i, film in stored.items() if named.get(i) != film]
    report = {"events": len(lines), "stored": len(stored),
              "rejected": len(lines) - len(stored), "attached_to_another_film": len(elsewhere),
              "examples": elsewhere[:5], "import_exit_code": code}
    print(json.dumps(report, indent=1))
    save_report(args.out, report)
    return 0 if not elsewhere and len(stored) == len(lines) else 1


if __name__ == "__main__":
    sys.exit(main())
