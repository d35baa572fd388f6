"""How well "Did you mean" finds the title a person meant, and how rarely it speaks up for a
description, on labelled sets written before the rule was tuned (seeds/labels/titles.json,
and the description queries of seeds.json, seeds-hard.json and netflix.json).

Each set is split in two by position: the even-numbered queries are the development half
(where ``SUGGEST_FROM`` was chosen), the odd-numbered ones the half reported. Beside ours,
the rule before (rapidfuzz ``WRatio``, the page showing those of 0.85 and more).

    python scripts/eval_suggestions.py [--out bench-results/suggestions.json]
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from benchlib import NETFLIX, ROOT, load_netflix, save_report
from rapidfuzz import fuzz, process

from recommender.catalog.films import load_catalog
from recommender.catalog.titles import TitleResolver, normalize_title
from recommender.errors import AmbiguousTitle, TitleNotFound

LABELS = ROOT / "seeds" / "labels"


def ours(resolver: TitleResolver, q: str) -> list[str]:
    """The titles the page offers for ``q``: a typo-tolerant match, else suggestions."""
    try:
        resolution = resolver.resolve(q)
    except TitleNotFound as exc:
        return [s["title"] for s in exc.suggestions]
    except AmbiguousTitle as exc:
        return [c["title"] for c in exc.candidates]
    return [resolution.film.title]


def before(resolver: TitleResolver, q: str) -> list[str]:
    """The rule before issue 37: WRatio over every name, the page's floor of 0.85."""
    try:
        resolution = resolver.resolve(q)
        if resolution.match == "fuzzy":
            return [resolution.film.title]
        return [resolution.film.title]
    except AmbiguousTitle as exc:
        return [c["title"] for c in exc.candidates]
    except TitleNotFound:
        pass
    keys = resolver._keys
    found = process.extract(normalize_title(q), keys, scorer=fuzz.WRatio, score_cutoff=85,
                            limit=5)
    return [resolver._by_key[k][0][1] for k, _, _ in found]


def measure(resolver: TitleResolver, titles: list[dict], descriptions: list[str],
            rule: Any) -> dict[str, Any]:
    halves: dict[str, Any] = {}
    for half, start in (("development", 0), ("reported", 1)):
        wanted = titles[start::2]
        found = sum(normalize_title(t["title"]) in {normalize_title(s) for s in rule(resolver,
                    t["q"])} for t in wanted)
        told = descriptions[start::2]
        spoke = [d for d in told if rule(resolver, d)]
        halves[half] = {"title_queries": len(wanted), "title_found": found,
                        "descriptions": len(told), "descriptions_with_a_suggestion": len(spoke),
                        "examples": spoke[:3]}
    return halves


def wilson(hits: int, n: int, z: float = 1.96) -> str:
    """A 95% Wilson interval of a share: the sets are small."""
    if n == 0:
        return "-"
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return f"[{max(0.0, centre - half):.2f}, {min(1.0, centre + half):.2f}]"


def descriptions_of(*files: str) -> list[str]:
    out: list[str] = []
    for name in files:
        out += [q["q"] for q in json.loads((LABELS / name).read_text())["queries"]]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench-results/suggestions.json")
    args = parser.parse_args()
    labels = json.loads((LABELS / "titles.json").read_text())
    sets = {"seeds": (TitleResolver(load_catalog(ROOT / "seeds" / "films.jsonl").films),
                      labels["seeds"],
                      descriptions_of("seeds.json", "seeds-hard.json") + labels["descriptions"])}
    if NETFLIX.exists():
        sets["netflix"] = (TitleResolver(load_netflix().films), labels["netflix"],
                           descriptions_of("netflix.json") + labels["descriptions"])
    report: dict[str, Any] = {}
    print("| catalog | rule | half | titles found (95% CI) | descriptions given a suggestion "
          "(95% CI) | e.g. |")
    print("|---|---|---|---|---|---|")
    for name, (resolver, titles, descriptions) in sets.items():
        for rule_name, rule in (("ours", ours), ("before (WRatio >= 0.85)", before)):
            halves = measure(resolver, titles, descriptions, rule)
            report.setdefault(name, {})[rule_name] = halves
            for half, h in halves.items():
                found, spoke = h["title_found"], h["descriptions_with_a_suggestion"]
                print(f"| {name} | {rule_name} | {half} | {found}/{h['title_queries']} "
                      f"{wilson(found, h['title_queries'])} | {spoke}/{h['descriptions']} "
                      f"{wilson(spoke, h['descriptions'])} | {'; '.join(h['examples'])} |")
    save_report(args.out, report)


if __name__ == "__main__":
    main()
