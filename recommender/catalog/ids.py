"""Ids for a CSV catalog without an id column: derived from title and year, and the same
whatever the rows' order.

``the-karate-kid-1984`` where one row has that title and year. Where several do, each
gets a suffix from its own synopsis (``consequences-2014-3f9a1c``), not from its place
in the file: reordering the CSV, or adding a row above, moves no film's id, so no
viewer's history comes to point at another film. Rows alike in title, year and synopsis
(true duplicates) are told apart by order, the only thing that differs between them. A
build says how many ids were derived and how many needed a suffix; a catalog with ids of
its own should map them (``--id-col``).
"""

from __future__ import annotations

import csv
import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from typing import Any

_SLUG_FOLD = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "ß": "ss", "đ": "d", "ł": "l"})
SUFFIX_HEX = 6
"""Hex digits of the synopsis's sha256 in a suffix: 16.7 million, so two films sharing a
title and a year are told apart with certainty short of a collision (then ``-2``)."""


def slugify(text: str) -> str:
    """A URL-safe id part: ``"Rocky II"`` -> ``"rocky-ii"``; Danish letters spelled out."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_SLUG_FOLD)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def id_base(title: str, year: Any) -> str:
    """``slug-of-title-year`` (``film`` where the title has no Latin letter or digit)."""
    base = slugify(str(title or "")) or "film"
    return f"{base}-{year}" if year not in (None, "") else base


class DerivedIds:
    """Derives the ids of one catalog, knowing which bases several rows share."""

    def __init__(self, shared: set[str]) -> None:
        self.shared = shared
        self.taken: set[str] = set()
        self.derived = 0
        self.suffixed = 0

    @classmethod
    def of_rows(cls, rows: Iterable[dict[str, Any]], columns: Any) -> DerivedIds:
        """A first pass over the CSV's rows (``columns``: its :class:`CsvColumns`)."""
        counts: Counter[str] = Counter()
        try:
            for row in rows:
                year = (row.get(columns.year) or "").strip() if columns.year else ""
                counts[id_base(row.get(columns.title) or "",
                               year if year.isdigit() else "")] += 1
        except csv.Error:  # the second pass reports it, on its line
            pass
        return cls({base for base, n in counts.items() if n > 1})

    def derive(self, title: str, year: int | None, synopsis: str) -> str:
        base = id_base(title, year)
        self.derived += 1
        candidate = base
        if base in self.shared:
            self.suffixed += 1
            digest = hashlib.sha256(synopsis.strip().encode("utf-8")).hexdigest()
            candidate = f"{base}-{digest[:SUFFIX_HEX]}"
        n = 2
        unique = candidate
        while unique in self.taken:  # rows alike in title, year and synopsis
            unique, n = f"{candidate}-{n}", n + 1
        self.taken.add(unique)
        return unique
