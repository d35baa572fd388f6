"""Films and their validation: reading a catalog from JSON Lines or CSV.

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
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from recommender.catalog import limits
from recommender.catalog.ids import DerivedIds, slugify  # noqa: F401 - slugify: callers' name for it
from recommender.catalog.moments import parse_moment
from recommender.errors import CatalogError

ON_INVALID = ("fail", "skip")
SKIP_HINT = ("; --on-invalid skip builds the valid rows and lists each rejected one in "
             "rejects.jsonl")


@dataclass(frozen=True)
class Film:
    id: str
    title: str
    synopsis: str
    year: int | None = None
    original_title: str | None = None
    aliases: tuple[str, ...] = ()
    genres: tuple[str, ...] = ()
    language: str | None = None
    image_url: str | None = None
    """A poster or still: an http(s) URL or a path on this server; shown where present."""
    available_from: str | None = None
    """When the film may first be shown (ISO 8601 UTC, ``...Z``); None: always could."""
    available_until: str | None = None
    """When it may no longer be shown (a licence's end); None: never."""

    def to_dict(self) -> dict[str, Any]:
        # by hand: dataclasses.asdict deep-copies every field, a third of a small rebuild
        return {"id": self.id, "title": self.title, "synopsis": self.synopsis,
                "year": self.year, "original_title": self.original_title,
                "aliases": list(self.aliases), "genres": list(self.genres),
                "language": self.language, "image_url": self.image_url,
                "available_from": self.available_from, "available_until": self.available_until}

    def window(self) -> tuple[float, float]:
        """(from, until) in seconds since the epoch; open ends -inf and +inf."""
        return (_timestamp(self.available_from, float("-inf")),
                _timestamp(self.available_until, float("inf")))

    def available_at(self, now: float) -> bool:
        """Whether the film may be shown at ``now``: ``from <= now < until``."""
        start, end = self.window()
        return start <= now < end

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Film:
        """Rebuild a film already validated (e.g. from an index's films.jsonl)."""
        return cls(
            id=d["id"], title=d["title"], synopsis=d["synopsis"], year=d.get("year"),
            original_title=d.get("original_title"), aliases=tuple(d.get("aliases") or ()),
            genres=tuple(d.get("genres") or ()), language=d.get("language"),
            image_url=d.get("image_url"), available_from=d.get("available_from"),
            available_until=d.get("available_until"),
        )


def _timestamp(value: str | None, default: float) -> float:
    return default if value is None else datetime.fromisoformat(value).timestamp()


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
                 language: str | None = None, on_invalid: str = "fail") -> Catalog:
    """Read and validate a catalog; ``.csv`` files are read with ``columns``.

    Args:
        path: a ``.jsonl`` (or ``.json``) or ``.csv`` file.
        columns: CSV column mapping; ignored for JSON Lines.
        language: the synopses' language where the file doesn't say.
        on_invalid: "fail" (refuse the catalog at its first bad row) or "skip"
            (leave each bad row out, recorded in :attr:`Catalog.rejects`).

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
        rows = _read_csv(str(path), text, columns, language, derived)
        how = json.dumps(asdict(columns), sort_keys=True)
    else:
        rows = _read_jsonl(str(path), text, language)
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


def _read_jsonl(path: str, text: str,
                language: str | None) -> Iterator[tuple[int, Film | CatalogError]]:
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
            yield lineno, _with_value(obj, partial(_film_from_fields, path, lineno, obj,
                                                   language))
        except CatalogError as exc:
            yield lineno, exc


def _read_csv(path: str, text: str, cols: CsvColumns, language: str | None,
              derived: DerivedIds | None) -> Iterator[tuple[int, Film | CatalogError]]:
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
                         ("--image-col", cols.image)):
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
            yield lineno, _with_value(row, partial(_csv_film, path, lineno, row, cols,
                                                   language, derived, len(header)))
        except CatalogError as exc:
            yield lineno, exc


def _csv_film(path: str, lineno: int, row: dict[str, str], cols: CsvColumns,
              language: str | None, derived: DerivedIds | None, width: int) -> Film:
    if None in row or any(v is None for v in row.values()):
        raise CatalogError(path, f"expected {width} fields", line=lineno)
    obj: dict[str, Any] = {"title": row[cols.title], "synopsis": row[cols.text]}
    if cols.year and row[cols.year].strip():
        obj["year"] = _parse_year(path, lineno, cols.year, row[cols.year])
    if cols.genres:
        obj["genres"] = [g.strip() for g in row[cols.genres].split(",") if g.strip()]
    if cols.language and row[cols.language].strip():
        obj["language"] = row[cols.language].strip()
    if cols.image and row[cols.image].strip():
        obj["image_url"] = row[cols.image].strip()
    if derived is None:
        obj["id"] = row[cols.id or "id"].strip()
    else:
        obj["id"] = derived.derive(obj["title"], obj.get("year"), obj["synopsis"])
    return _film_from_fields(path, lineno, obj, language,
                             field_names={"title": cols.title, "synopsis": cols.text,
                                          "id": cols.id or "id",
                                          "image_url": cols.image or "image_url"})


def _with_value(row: dict[str, Any], make: Callable[[], Film]) -> Film:
    """``make()``, its error given the value of the field it names, from ``row``."""
    try:
        return make()
    except CatalogError as exc:
        if exc.field is not None and "value" not in exc.details:
            exc.with_value(row.get(exc.field))
        raise


def _parse_year(path: str, lineno: int | None, field_name: str, raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise CatalogError(path, f"year must be an integer, got {raw!r}", lineno, field_name)
    try:
        year = int(str(raw).strip())
    except ValueError:
        raise CatalogError(path, f"year must be an integer, got {raw!r}",
                           lineno, field_name) from None
    if not limits.MIN_YEAR <= year <= limits.MAX_YEAR:
        raise CatalogError(path, f"year {year} is outside {limits.MIN_YEAR}..{limits.MAX_YEAR}",
                           lineno, field_name)
    return year


def _film_from_fields(path: str, lineno: int | None, obj: dict[str, Any], language: str | None,
                      field_names: dict[str, str] | None = None) -> Film:
    names = field_names or {}

    def text(key: str, required: bool) -> str | None:
        value = obj.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str):
            raise CatalogError(path, f"{key} must be a string", lineno, names.get(key, key))
        if not value.strip():
            if required:
                raise CatalogError(path, f"{key} is empty", lineno, names.get(key, key))
            return None
        return value

    def strings(key: str, longest: int) -> tuple[str, ...]:
        value = obj.get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise CatalogError(path, f"{key} must be a list of strings", lineno, key)
        if len(value) > limits.MAX_LIST_ITEMS or any(len(v) > longest for v in value):
            raise CatalogError(path, f"{key} may hold at most {limits.MAX_LIST_ITEMS} strings of "
                               f"at most {longest} characters each", lineno, key)
        return tuple(v.strip() for v in value if v.strip())

    def bounded(key: str, value: str | None, longest: int) -> str | None:
        if value is not None and len(value) > longest:
            raise CatalogError(path, f"{key} is {len(value):,} characters long; at most "
                               f"{longest:,}", lineno, names.get(key, key))
        return value

    film_id = obj.get("id")
    if film_id is None:
        raise CatalogError(path, "id is missing", lineno, names.get("id", "id"))
    if not isinstance(film_id, str) or not limits.ID_PATTERN.match(film_id):
        raise CatalogError(
            path, f"id {film_id!r} is not URL-safe: use lowercase letters, digits and "
            "single hyphens ([a-z0-9-]+)", lineno, names.get("id", "id"),
        )
    title = bounded("title", text("title", required=True), limits.MAX_TITLE_CHARS)
    synopsis = obj.get("synopsis")
    # The synopsis is embedded as it is, never altered: it is only checked.
    if not isinstance(synopsis, str):
        raise CatalogError(path, "synopsis must be a string", lineno,
                           names.get("synopsis", "synopsis"))
    if not synopsis.strip():
        raise CatalogError(path, "synopsis is empty", lineno, names.get("synopsis", "synopsis"))
    bounded("synopsis", synopsis, limits.MAX_SYNOPSIS_CHARS)
    year = obj.get("year")
    if year is not None:
        if isinstance(year, (str, bool)):
            raise CatalogError(path, f"year must be an integer, got {year!r}", lineno, "year")
        year = _parse_year(path, lineno, "year", year)
    lang = bounded("language", text("language", required=False), limits.MAX_LANGUAGE_CHARS) \
        or language
    image_url = text("image_url", required=False)
    if image_url is not None:
        image_url = image_url.strip()
        if len(image_url) > limits.MAX_URL_CHARS or not limits.IMAGE_URL.match(image_url) \
                or (image_url[0] == "/" and limits.IMAGE_PATH_ESCAPES.search(image_url)):
            raise CatalogError(path, "image_url must be an http(s) URL or a path on this "
                               "server starting with / (no . or .. segments, no //host, no "
                               f"backslash; at most {limits.MAX_URL_CHARS} characters)", lineno,
                               names.get("image_url", "image_url"))
    window = {}
    for key in ("available_from", "available_until"):
        if obj.get(key) is not None:
            try:
                window[key] = parse_moment(obj[key])
            except ValueError as exc:
                raise CatalogError(path, f"{key} {exc}", lineno, key) from None
    if window.get("available_from", "") >= window.get("available_until", "~"):
        raise CatalogError(path, f"available_until ({window['available_until']}) must be after "
                           f"available_from ({window['available_from']})", lineno, key)
    assert title is not None
    return Film(
        id=film_id, title=title.strip(), synopsis=synopsis, year=year,
        original_title=(bounded("original_title", text("original_title", required=False),
                                limits.MAX_TITLE_CHARS) or None),
        aliases=strings("aliases", limits.MAX_TITLE_CHARS),
        genres=strings("genres", limits.MAX_GENRE_CHARS),
        language=lang.strip().lower() if lang else None, image_url=image_url, **window,
    )


def film_from_fields(where: str, obj: dict[str, Any]) -> Film:
    """A film from a JSON object (a catalog line, a request's body), checked as a catalog
    file's lines are: the one set of rules for every way a film enters."""
    return _with_value(obj, partial(_film_from_fields, where, None, obj, None))
