"""The evaluation harness behind ``recommender eval``.

A labelled file holds free-text queries with the ids they should find, and
groups of films that belong together (a franchise, a series): every member of
a group, asked for its similar films, should find the others. Each mode is
scored on the same questions:

- hit@1: the first result is relevant;
- hit@3: a relevant film is in the top 3;
- MRR@10: 1 / rank of the first relevant film in the top 10 (0 if none);
- recall@10: the share of the relevant films found in the top 10.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recommender.errors import CatalogError, InvalidParameter
from recommender.search.engine import MODES, Engine, QueryOptions

CUTOFF = 10
METRICS = ("hit@1", "hit@3", "mrr@10", "recall@10")


@dataclass(frozen=True)
class LabelledQuery:
    q: str
    relevant: frozenset[str]
    language: str | None = None


@dataclass(frozen=True)
class Group:
    name: str
    ids: tuple[str, ...]


@dataclass(frozen=True)
class Labels:
    queries: list[LabelledQuery]
    groups: list[Group]


def load_labels(path: str | Path, known_ids: set[str] | None = None) -> Labels:
    """Read a labelled file (JSON); ids the catalog lacks are refused, all named at once."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CatalogError(str(path), f"unreadable labels: {exc}") from None
    try:
        queries = [LabelledQuery(q["q"], frozenset(q["relevant"]), q.get("language"))
                   for q in raw.get("queries", [])]
        groups = [Group(g["name"], tuple(g["ids"])) for g in raw.get("groups", [])]
    except (KeyError, TypeError) as exc:
        raise CatalogError(str(path), f"each query needs q and relevant, each group "
                           f"name and ids ({exc!r})") from None
    if known_ids is not None:
        wanted = {i for q in queries for i in q.relevant} | {i for g in groups for i in g.ids}
        missing = sorted(wanted - known_ids)
        if missing:
            raise CatalogError(str(path), f"ids not in the catalog: {', '.join(missing)}")
    return Labels(queries, groups)


def parse_modes(text: str) -> tuple[str, ...]:
    """A ``--modes`` flag (comma-separated) as modes, each one the engine has."""
    modes = tuple(m.strip() for m in text.split(",") if m.strip())
    if not modes or set(modes) - set(MODES):
        raise InvalidParameter("modes", f"--modes takes {', '.join(MODES)}, got {text!r}")
    return modes


def _score(ranked: list[str], relevant: frozenset[str]) -> dict[str, float]:
    top = ranked[:CUTOFF]
    first = next((i for i, film_id in enumerate(top, start=1) if film_id in relevant), None)
    return {
        "hit@1": float(bool(top) and top[0] in relevant),
        "hit@3": float(first is not None and first <= 3),
        "mrr@10": 1.0 / first if first else 0.0,
        "recall@10": len(set(top) & relevant) / len(relevant) if relevant else 0.0,
    }


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    if not rows:
        return {}
    return {m: round(sum(r[m] for r in rows) / len(rows), 4) for m in METRICS}


def evaluate(engine: Engine, labels: Labels,
             modes: tuple[str, ...] = MODES) -> dict[str, Any]:
    """Score every mode on every labelled question; returns means and per-question ranks."""
    report: dict[str, Any] = {"modes": {}, "counts": {
        "queries": len(labels.queries),
        "group_members": sum(len(g.ids) for g in labels.groups)}}
    for mode in modes:
        options = QueryOptions(k=CUTOFF, mode=mode, unrestricted=True)  # every film
        by_kind: dict[str, list[dict[str, float]]] = {"queries": [], "groups": []}
        by_language: dict[str, list[dict[str, float]]] = {}
        details = []
        for query in labels.queries:
            ranked = [r.film.id for r in engine.search(query.q, options).results]
            row = _score(ranked, query.relevant)
            by_kind["queries"].append(row)
            by_language.setdefault(query.language or "?", []).append(row)
            details.append({"q": query.q, "top3": ranked[:3], **row})
        for group in labels.groups:
            for member in group.ids:
                ranked = [r.film.id for r in engine.similar(member, options).results]
                row = _score(ranked, frozenset(group.ids) - {member})
                by_kind["groups"].append(row)
                details.append({"group": group.name, "id": member, "top3": ranked[:3], **row})
        report["modes"][mode] = {
            "all": _mean(by_kind["queries"] + by_kind["groups"]),
            "queries": _mean(by_kind["queries"]),
            "groups": _mean(by_kind["groups"]),
            "queries_by_language": {lang: _mean(rows) for lang, rows in by_language.items()},
            "details": details,
        }
    return report


def format_table(report: dict[str, Any]) -> str:
    """The report as a Markdown table: one row per mode and question kind."""
    lines = ["| mode | questions | " + " | ".join(METRICS) + " |",
             "|---|---|" + "---|" * len(METRICS)]
    for mode, result in report["modes"].items():
        sections = [("all", result["all"]), ("queries", result["queries"]),
                    *((f"queries ({lang})", m)
                      for lang, m in sorted(result["queries_by_language"].items())),
                    ("groups", result["groups"])]
        for name, metrics in sections:
            if metrics:
                lines.append(f"| {mode} | {name} | "
                             + " | ".join(f"{metrics[m]:.3f}" for m in METRICS) + " |")
    return "\n".join(lines)
