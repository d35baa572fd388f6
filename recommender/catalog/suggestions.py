"""Title suggestions: the catalog's titles that a query nearly is ("Did you mean ...?").

A suggestion is made only where the query reads as a near miss of a title: a typo, a
missing or an extra word. A description is not a title, and a score that rewards any
partial overlap (rapidfuzz's ``WRatio``, used before) suggested "13TH", "A 2nd Chance" and
"A 3 Minute Hug" for "a boxer fights a Russian" at 0.86 to 0.9 (issue 37).

The score is word by word, in both directions: how much of the query the title's words
account for, and how much of the title the query's words do, each weighted by word
length, a misspelt word counting by its similarity (``fuzz.ratio``). Their geometric
mean is the score, so a title has to explain most of the query *and* be mostly in it:
"Stranger Thigns" -> Stranger Things 0.94; "Rocky 6" -> Rocky 0.91; "a boxer fights a
Russian" -> Russian Doll 0.47, no suggestion. :data:`SUGGEST_FROM` was chosen on the
development half of ``seeds/labels/titles.json`` and of the labelled descriptions; on the
other half, 6/6 seed and 20/20 Netflix title queries find their film and 0 of 42 and 0
of 23 descriptions get a suggestion (the rule before: 23 of 23 on Netflix;
``python scripts/eval_suggestions.py``, docs/search-quality.md).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

from rapidfuzz import fuzz, process

SUGGEST_FROM = 0.65
"""Least score (0-1) of a suggestion."""
WORD_CUTOFF = 66.0
"""Least similarity (0-100) of a misspelt word to a title's word ("yuo" ~ "you": 66.7)."""
MAX_QUERY_WORDS = 16
"""A query of more words than this is a description: no title is looked for."""
COMMON_SHARE = 0.02
"""A word in more than this share of titles ("the", "of") counts toward a title's score
but doesn't make it a candidate alone: else every description is compared with
thousands of titles."""


class TitleSuggester:
    """Near misses among normalised catalog names (``titles.normalize_title``'s form)."""

    def __init__(self, keys: Sequence[str]) -> None:
        self._words = [tuple(key.split()) for key in keys]
        films_of: dict[str, list[int]] = defaultdict(list)
        for i, words in enumerate(self._words):
            for word in set(words):
                films_of[word].append(i)
        self._films_of = dict(films_of)
        self._vocabulary = list(films_of)
        self._common = max(3, int(COMMON_SHARE * len(keys)))

    def suggest(self, key: str, limit: int) -> list[tuple[int, float]]:
        """The best ``limit`` names as (position in ``keys``, score), best first, each
        scoring at least :data:`SUGGEST_FROM`."""
        query = key.split()
        if not query or len(query) > MAX_QUERY_WORDS:
            return []
        near = [self._near(word) for word in query]
        candidates: set[int] = set()
        for matches in near:
            for match in matches:
                films = self._films_of[match]
                if len(films) <= self._common or len(query) <= 2:
                    candidates.update(films)
        scored = [(i, _score(query, near, self._words[i])) for i in candidates]
        scored = [(i, s) for i, s in scored if s >= SUGGEST_FROM]
        scored.sort(key=lambda t: (-t[1], abs(len(self._words[t[0]]) - len(query))))
        return scored[:limit]

    def _near(self, word: str) -> dict[str, float]:
        """The titles' words that ``word`` may be (similarity 0-1): itself; for a word of
        three letters or more, any within :data:`WORD_CUTOFF`; a number only itself."""
        if len(word) < 3 or word.isdigit():
            return {word: 1.0} if word in self._films_of else {}
        found = process.extract(word, self._vocabulary, scorer=fuzz.ratio,
                                score_cutoff=WORD_CUTOFF, limit=None)
        return {match: score / 100 for match, score, _ in found}


def _score(query: Sequence[str], near: Sequence[dict[str, float]],
           title: Sequence[str]) -> float:
    in_title = set(title)
    covered_query = sum(len(w) * max((s for m, s in n.items() if m in in_title), default=0.0)
                        for w, n in zip(query, near, strict=True))
    covered_title = sum(len(t) * max((n.get(t, 0.0) for n in near), default=0.0)
                        for t in title)
    share_query = covered_query / sum(len(w) for w in query)
    share_title = covered_title / max(sum(len(t) for t in title), 1)
    return math.sqrt(share_query * share_title)
