"""Reading a catalog from JSON Lines or CSV (each film checked by
:mod:`recommender.catalog.film`).

By default (``on_invalid="fail"``) a catalog is refused whole at the first bad
line, with the line and field named, so nothing is ever built from half a
catalog by accident. With ``on_invalid="skip"`` each bad row is left out and
recorded (:attr:`Catalog.rejects`: line, field, value, reason), and the rest is
read: real catalogs have dirt in them.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from recommender.catalog import facets
from recommender.catalog.facets import MaturityScale
from recommender.catalog.film import (  # noqa: F401 - Film, film_from_fields: callers' names
    FIELDS,
    Film,
    check_film,
    film_from_fields,
    parse_year,
    with_value,
)
from recommender.catalog.ids import DerivedIds, slugify  # noqa: F401 - slugify: callers' name for it
from recommender.errors import CatalogError

ON_INVALID = ("fail", "skip")
SKIP_HINT = ("; --on-invalid skip builds the valid rows and lists each rejected one in "
             "rejects.jsonl")


@dataclass(frozen=True)
class CsvColumns:
    """Which CSV column holds which field. ``id`` None: ids are derived."""

    title: str = "title"
    text: str = "synopsis"
    id: str | None = None
    year: str | None = None
    genres: str | None = None
    language: str | None = None
    image: str | None = None
    kind: str | None = None
    maturity: str | None = None
    people: tuple[tuple[str, str], ...] = ()
    """(role, column): each cell a comma-separated list of names in that role."""
    keep_unmapped: bool = True
    """Every other column, non-empty, kept in the film's attributes (numbers as numbers)."""

    def mapped(self) -> set[str]:
        return {c for c in (self.title, self.text, self.id, self.year, self.genres,
                            self.language, self.image, self.kind, self.maturity,
                            *(column for _, column in self.people)) if c is not None}


@dataclass
class Catalog:
    films: list[Film]
    source: str
    sha256: str
    """Checksum of the file's bytes and of how it was read (the CSV columns)."""
    rejects: list[dict[str, Any]] = field(default_factory=list)
    """Rows left out by ``on_invalid="skip"``: line, field, value, reason."""
    derived_ids: tuple[int, int] | None = None
    """(ids derived from title and year, of which with a suffix) for a CSV without an id
    column (:mod:`recommender.catalog.ids`); None: the catalog's own ids."""
    changes: dict[str, Any] | None = None
    """The live changes applied on top of the file (:func:`recommender.catalog.changes.fold`):
    which numbers and what they did; None: the file alone."""
    by_id: dict[str, Film] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.by_id = {f.id: f for f in self.films}

    def __len__(self) -> int:
        return len(self.films)


def load_catalog(path: str | Path, columns: CsvColumns | None = None,
                 language: str | None = None, on_invalid: str = "fail",
                 scale: MaturityScale | None = None) -> Catalog:
    """Read and validate a catalog; ``.csv`` files are read with ``columns``.

    Args:
        path: a ``.jsonl`` (or ``.json``) or ``.csv`` file.
        columns: CSV column mapping; ignored for JSON Lines.
        language: the synopses' language where the file doesn't say.
        on_invalid: "fail" (refuse the catalog at its first bad row) or "skip"
            (leave each bad row out, recorded in :attr:`Catalog.rejects`).
        scale: the maturity ratings a film may carry (default: the default scale).

    Raises:
        CatalogError: naming the line and field of the first problem (with "skip",
            only for problems of the whole file: not readable, no header, no valid row).
    """
    if on_invalid not in ON_INVALID:
        raise ValueError(f"on_invalid must be one of {', '.join(ON_INVALID)}, "
                         f"got {on_invalid!r}")
    path = Path(path)
    if not path.is_file():
        raise CatalogError(str(path), "no such catalog file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CatalogError(
            str(path), f"not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    rejects: list[dict[str, Any]] = []
    rows: Iterator[tuple[int, Any]]
    derived: DerivedIds | None = None
    if path.suffix.lower() == ".csv":
        columns = columns or CsvColumns()
        derived = None if columns.id else \
            DerivedIds.of_rows(csv.DictReader(text.splitlines(keepends=True)), columns)
        rows = _read_csv(str(path), text, columns, language, derived, scale)
        how = json.dumps(asdict(columns), sort_keys=True)
    else:
        rows = _read_jsonl(str(path), text, language, scale)
        how = "jsonl"
    films: list[Film] = []
    seen: dict[str, int] = {}
    for lineno, row in rows:
        try:
            if isinstance(row, CatalogError):
                raise row
            if row.id in seen:
                id_field = columns.id if columns and columns.id else "id"
                raise CatalogError(
                    str(path), f"duplicate id {row.id!r} (first on line {seen[row.id]})",
                    line=lineno, field=id_field).with_value(row.id)
        except CatalogError as exc:
            if on_invalid == "fail":
                raise exc.with_message(exc.message + SKIP_HINT) from None
            rejects.append(exc.reject())
            continue
        seen[row.id] = lineno
        films.append(row)
    if not films:
        raise CatalogError(str(path), "the catalog holds no films" if not rejects else
                           f"none of the catalog's {len(rejects)} rows is valid; the first: "
                           f"line {rejects[0]['line']}: {rejects[0]['reason']}")
    if on_invalid == "skip":  # what is built depends on it, so --if-stale must see it
        how += " skip"
    digest = hashlib.sha256(raw + b"\0" + how.encode()).hexdigest()
    return Catalog(films=films, source=str(path), sha256=digest, rejects=rejects,
                   derived_ids=(derived.derived, derived.suffixed) if derived else None)


def _read_jsonl(path: str, text: str, language: str | None,
                scale: MaturityScale | None) -> Iterator[tuple[int, Film | CatalogError]]:
    """``(line, film)`` for each row, or ``(line, error)`` for a bad one."""
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            try:
                obj = json.loads(line)
            except (json.JSONDecodeError, RecursionError) as exc:
                raise CatalogError(path, f"malformed JSON ({getattr(exc, 'msg', exc)})",
                                   line=lineno).with_value(line) from None
            if not isinstance(obj, dict):
                raise CatalogError(path, "each line must be a JSON object",
                                   line=lineno).with_value(line)
            yield lineno, with_value(obj, partial(check_film, path, lineno, obj,
                                                   language, scale=scale, unknown="keep"))
        except CatalogError as exc:
            yield lineno, exc


def _read_csv(path: str, text: str, cols: CsvColumns, language: str | None,
              derived: DerivedIds | None,
              scale: MaturityScale | None) -> Iterator[tuple[int, Film | CatalogError]]:
    """``(line, film)`` for each row, or ``(line, error)`` for a bad one. Problems of
    the whole file (header, unknown columns) raise."""
    reader = csv.DictReader(text.splitlines(keepends=True), strict=True)
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        raise CatalogError(path, f"malformed CSV header ({exc})", line=1) from None
    for flag, column in (("--title-col", cols.title), ("--text-col", cols.text),
                         ("--id-col", cols.id), ("--year-col", cols.year),
                         ("--genres-col", cols.genres), ("--language-col", cols.language),
                         ("--image-col", cols.image), ("--kind-col", cols.kind),
                         ("--maturity-col", cols.maturity),
                         *(("--people-col", column) for _, column in cols.people)):
        if column is not None and column not in header:
            raise CatalogError(
                path, f"unknown column {column!r} given by {flag}; "
                f"the header has: {', '.join(header)}", line=1, field=column,
            )
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # the reader goes on at the next line
            # line_num counts the lines of the rows read so far: the bad one is the next
            yield reader.line_num + 1, CatalogError(path, f"malformed CSV ({exc})",
                                                    line=reader.line_num + 1)
            continue
        lineno = reader.line_num
        try:
            yield lineno, with_value(row, partial(_csv_film, path, lineno, row, cols,
                                                   language, derived, len(header), scale))
        except CatalogError as exc:
            yield lineno, exc


def _csv_film(path: str, lineno: int, row: dict[str, str], cols: CsvColumns,
              language: str | None, derived: DerivedIds | None, width: int,
              scale: MaturityScale | None) -> Film:
    if None in row or any(v is None for v in row.values()):
        raise CatalogError(path, f"expected {width} fields", line=lineno)
    obj: dict[str, Any] = {"title": row[cols.title], "synopsis": row[cols.text]}
    if cols.year and row[cols.year].strip():
        obj["year"] = parse_year(path, lineno, cols.year, row[cols.year])
    if cols.genres:
        obj["genres"] = [g.strip() for g in row[cols.genres].split(",") if g.strip()]
    if cols.language and row[cols.language].strip():
        obj["language"] = row[cols.language].strip()
    if cols.image and row[cols.image].strip():
        obj["image_url"] = row[cols.image].strip()
    if cols.kind:
        obj["kind"] = row[cols.kind]
    if cols.maturity:
        obj["maturity"] = row[cols.maturity]
    if cols.people:
        obj["people"] = [{"name": name.strip(), "role": role} for role, column in cols.people
                         for name in row[column].split(",") if name.strip()]
    if cols.keep_unmapped:
        mapped = cols.mapped()
        obj["attributes"] = facets.kept_fields({
            column: facets.cell_value(value) for column, value in row.items()
            if column not in mapped and value and value.strip()})
    if derived is None:
        obj["id"] = row[cols.id or "id"].strip()
    else:
        obj["id"] = derived.derive(obj["title"], obj.get("year"), obj["synopsis"])
    return check_film(path, lineno, obj, language, scale=scale,
                             field_names={"title": cols.title, "synopsis": cols.text,
                                          "id": cols.id or "id",
                                          "image_url": cols.image or "image_url",
                                          "kind": cols.kind or "kind",
                                          "maturity": cols.maturity or "maturity"})
