"""Title resolution: from what a user typed to one film.

Rules (the contract's): case, accents, punctuation and surrounding whitespace
don't matter; Roman and Arabic numerals are the same; aliases and the original
title count as titles; where nothing matches exactly, a typo-tolerant match
that is clearly best wins; otherwise suggestions. Two films with one title are
ambiguous unless a year picks one.

Danish letters are letters: æ and ø are kept (Løb is not Lob); å is written
``aa`` on both sides, the old Danish spelling, so "Paa" finds "På".
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rapidfuzz import fuzz, process

from recommender import budget
from recommender.catalog.films import Film
from recommender.catalog.suggestions import TitleSuggester
from recommender.errors import AmbiguousTitle, TitleNotFound

Match = Literal["exact", "alias", "fuzzy"]

# Only I..XXXIX: enough for sequels, and short of words like "mix" or "civil".
_ROMAN = re.compile(r"^(x{0,3})(ix|iv|v?i{0,3})$")
_ROMAN_VALUES = {"i": 1, "v": 5, "x": 10}
_KEEP = str.maketrans({"å": "aa", "æ": "æ", "ø": "ø"})
_NON_WORD = re.compile(r"[^\w]+|_")

FUZZY_CUTOFF = 75.0
"""Least similarity (0-100) of a typo-tolerant match."""
FUZZY_MARGIN = 8.0
"""How far the best fuzzy match must lead the next film to count as clearly best."""
SUGGESTION_CUTOFF = 50.0
"""Least similarity (0-100) of a film to be a rival of a typo-tolerant match."""
MAX_SUGGESTIONS = 5


def _roman_to_int(token: str) -> int | None:
    if not token or not _ROMAN.match(token):
        return None
    total = 0
    for i, ch in enumerate(token):
        value = _ROMAN_VALUES[ch]
        nxt = _ROMAN_VALUES[token[i + 1]] if i + 1 < len(token) else 0
        total += -value if value < nxt else value
    return total


def normalize_title(title: str) -> str:
    """The form titles are compared in: ``"Rocky  II!"`` -> ``"rocky 2"``."""
    text = unicodedata.normalize("NFKC", title).casefold().translate(_KEEP)
    # Strip accents (é -> e) but not æ/ø, which don't decompose and stay letters.
    text = "".join(
        ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch)
    )
    text = text.replace("&", " and ")
    tokens = [t for t in _NON_WORD.split(text) if t]
    return " ".join(str(_roman_to_int(t) or t) for t in tokens)


@dataclass(frozen=True)
class Resolution:
    film: Film
    match: Match
    matched: str
    """The title or alias that matched, as written in the catalog."""
    score: float = 100.0

    def to_dict(self) -> dict[str, object]:
        return {"match": self.match, "matched_title": self.matched,
                "match_score": round(self.score, 1)}


def film_summary(film: Film) -> dict[str, object]:
    return {"id": film.id, "title": film.title, "year": film.year}


@functools.lru_cache(maxsize=200_000)
def _catalog_key(name: str) -> str:
    """:func:`normalize_title` of a catalog's name, remembered: the live catalog makes a
    resolver for every state of its changes, over the same names (a query's title is
    normalised afresh, so that no client can fill this)."""
    return normalize_title(name)


class TitleResolver:
    """Resolves titles against a fixed list of films. Build once per index."""

    def __init__(self, films: Sequence[Film]) -> None:
        # normalised title -> [(film, catalog spelling, is_primary_title)]
        self._by_key: dict[str, list[tuple[Film, str, bool]]] = defaultdict(list)
        for film in films:
            names = [(film.title, True)]
            names += [(n, False) for n in (film.original_title, *film.aliases) if n]
            seen: set[str] = set()
            for name, primary in names:
                key = _catalog_key(name)
                if key and key not in seen:
                    seen.add(key)
                    self._by_key[key].append((film, name, primary))
        self._keys = list(self._by_key)
        self._suggester: TitleSuggester | None = None  # made on the first miss

    def resolve(self, title: str, year: int | None = None, *,
                exact: bool = False) -> Resolution:
        """The one film ``title`` (and ``year``, if given) names; with ``exact``, only a
        title that normalises to a catalog's name, never a near miss (the suggestions
        then come with the refusal).

        Raises:
            TitleNotFound: with up to five suggestions.
            AmbiguousTitle: several films share the title and no year picks one.
        """
        key = normalize_title(title)
        entries = self._by_key.get(key, [])
        if entries:
            films = _distinct_films(entries)
            if year is not None:
                films = [f for f in films if f.year == year]
            if len(films) == 1:
                film = films[0]
                name, primary = next((n, p) for f, n, p in entries if f is film)
                return Resolution(film, "exact" if primary else "alias", name)
            if len(films) > 1:
                raise AmbiguousTitle(title, [film_summary(f) for f in _by_year(films)])
            # the title exists, but not in that year: fall through to suggestions
            _spend_fuzzy(title)
            raise TitleNotFound(title, self._suggest(key))
        _spend_fuzzy(title)
        if exact:  # data, not a person's query: never attached to a near miss
            raise TitleNotFound(title, self._suggest(key))
        return self._fuzzy(title, key, year)

    def suggest(self, title: str, limit: int = MAX_SUGGESTIONS) -> list[dict[str, object]]:
        return self._suggest(normalize_title(title), limit=limit)

    def _fuzzy(self, title: str, key: str, year: int | None) -> Resolution:
        if not key:
            raise TitleNotFound(title, [])
        scored = process.extract(key, self._keys, scorer=fuzz.ratio,
                                 score_cutoff=SUGGESTION_CUTOFF, limit=None)
        # best score per film, so one film's aliases don't count as rivals
        best: dict[str, tuple[float, Film, str]] = {}
        for candidate, score, _ in scored:
            for film, name, _primary in self._by_key[candidate]:
                if year is not None and film.year != year:
                    continue
                if film.id not in best or score > best[film.id][0]:
                    best[film.id] = (score, film, name)
        ranked = sorted(best.values(), key=lambda t: -t[0])
        if ranked:
            top_score, film, name = ranked[0]
            runner_up = ranked[1][0] if len(ranked) > 1 else 0.0
            if top_score >= FUZZY_CUTOFF and top_score - runner_up >= FUZZY_MARGIN:
                return Resolution(film, "fuzzy", name, top_score)
        raise TitleNotFound(title, self._suggest(key))

    def _suggest(self, key: str, *, limit: int = MAX_SUGGESTIONS) -> list[dict[str, object]]:
        """Films whose name ``key`` nearly is (:mod:`recommender.catalog.suggestions`): none
        for a description."""
        if not key:
            return []
        if self._suggester is None:  # two threads may both make it: the same one
            self._suggester = TitleSuggester(self._keys)
        out: list[dict[str, Any]] = []
        seen: set[str] = set()
        for i, score in self._suggester.suggest(key, limit * 2):
            for film, _name, _primary in self._by_key[self._keys[i]]:
                if film.id not in seen:
                    seen.add(film.id)
                    out.append({**film_summary(film), "score": round(score, 3)})
        return out[:limit]


def _spend_fuzzy(title: str) -> None:
    """A typo-tolerant match scans every title: only within the request's budget."""
    if not budget.spend_fuzzy():
        raise TitleNotFound(title, []).with_message(
            f"{title!r} is not an exact title, and this request has used up its "
            "typo-tolerant title searches: give exact titles or ids.")


def _distinct_films(entries: list[tuple[Film, str, bool]]) -> list[Film]:
    seen: dict[str, Film] = {}
    for film, _, _ in entries:
        seen.setdefault(film.id, film)
    return list(seen.values())


def _by_year(films: list[Film]) -> list[Film]:
    return sorted(films, key=lambda f: (f.year is None, f.year or 0, f.id))
