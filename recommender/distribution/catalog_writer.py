"""Taking a catalog change: checked, embedded once, stored, then served.

:class:`CatalogWriter` turns what an operator asks for (a film put, patched or withdrawn;
a bulk of up to :data:`~recommender.catalog.changes.MAX_BULK`) into whole films, embeds
the ones whose embedded text is new with the served version's own model (the lean
encoder a worker already has), and stores them all in one transaction: acknowledged once
committed, all or nothing. Its own process is woken to serve them at once; the others
read them from the database within their poll.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from recommender.catalog.changes import MAX_BULK, Change, Request, film_from_body, patched
from recommender.catalog.facets import MaturityScale
from recommender.catalog.films import Film
from recommender.distribution.live_catalog import LiveCatalog, embed_fields
from recommender.embedding.embedder import document_text
from recommender.errors import CatalogUnavailable, EventsUnavailable, FilmNotFound, InvalidParameter
from recommender.index.overlay import changes_through
from recommender.storage.catalog_log import ConcurrentChange

log = logging.getLogger(__name__)
RETRY_SECONDS = 2.0
"""How long a patch or withdrawal whose film another writer changed meanwhile is read
again and retried (with a random pause, so simultaneous writers fall into line) before
it gives up with a 503: writers of one film are serialised, not turned away."""


@dataclass(frozen=True)
class Written:
    """One change as taken: the film after it (None: withdrawn), and whether it is new."""

    change: Change
    created: bool

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.change.film_id, "seq": self.change.seq,
                               "status": "withdrawn" if self.change.film is None else
                               ("created" if self.created else "replaced")}
        if self.change.film is not None:
            out["film"] = self.change.film.to_dict()
        return out


class CatalogWriter:
    """Writes catalog changes for one process's :class:`LiveCatalog`."""

    def __init__(self, catalog: LiveCatalog, scale: MaturityScale | None = None) -> None:
        self.catalog = catalog
        self.scale = scale
        """The maturity ratings a film may carry (None: the default scale)."""

    def apply(self, requests: list[Request]) -> list[Written]:
        """Take ``requests`` whole or not at all.

        Raises:
            InvalidParameter: a film that isn't valid (nothing is stored).
            FilmNotFound: a patch or withdrawal of a film the catalog doesn't hold.
            CatalogUnavailable: the database can't be reached (503, Retry-After).
        """
        if not 1 <= len(requests) <= MAX_BULK:
            raise InvalidParameter("changes", f"a batch holds 1 to {MAX_BULK} changes, got "
                                   f"{len(requests)}; split it", max_items=MAX_BULK)
        deadline = time.monotonic() + RETRY_SECONDS
        attempt = 0
        while attempt == 0 or time.monotonic() < deadline:
            attempt += 1
            try:
                return self._apply_once(requests)
            except ConcurrentChange as exc:
                log.info("film %s changed by another writer meanwhile: read again (%d)",
                         exc.film_id, attempt)
                time.sleep(random.uniform(0.002, 0.01 * min(attempt, 10)))
            except EventsUnavailable as exc:
                raise CatalogUnavailable(
                    "The catalog's database is not answering; the change was not stored. "
                    "The films already loaded go on being served. Try again shortly.",
                    retry_after=exc.details.get("retry_after", 2)) from None
        raise CatalogUnavailable("The films kept changing under this request (other "
                                 "writers); try again.", retry_after=1)

    def _apply_once(self, requests: list[Request]) -> list[Written]:
        catalog = self.catalog
        base = catalog.base
        if base is None:
            raise CatalogUnavailable("No index is loaded yet to change; try again shortly.",
                                     retry_after=2)
        changelog = catalog.connected()
        through = changes_through(base.index.manifest)
        ids = [r.film_id for r in requests]
        newest = changelog.newest_of(ids)
        index = base.index
        out: list[tuple[str, Film | None, np.ndarray | None, bool]] = []
        expected: dict[str, int] = {}
        to_embed: list[int] = []
        fields = embed_fields(base)
        for request in requests:
            change = newest.get(request.film_id)
            current: Film | None
            vector: np.ndarray | None = None
            if change is not None and change.seq > through:
                current, vector = change.film, change.vector
            else:
                row = index.row_of.get(request.film_id)
                current = index.films[row] if row is not None else None
                vector = index.vector(row) if row is not None else None
            if request.op == "put":
                film: Film | None = film_from_body(request.film_id, request.fields,
                                                    scale=self.scale)
            elif current is None:
                raise FilmNotFound(request.film_id)
            elif request.op == "patch":
                film = patched(current, request.fields, self.scale)
            else:
                film = None
            if request.op != "put":
                expected[request.film_id] = change.seq if change is not None else 0
            if film is not None and (current is None or vector is None or (
                    change is not None and change.seq > through and change.model != index.model)
                    or document_text(current, fields) != document_text(film, fields)):
                to_embed.append(len(out))
                vector = None
            out.append((request.film_id, film, vector if film is not None else None,
                        current is None))
        if to_embed:  # one batch through the served model: no other process embeds them
            vectors = base.embedder.encode([document_text(f, fields) for i in to_embed
                                            if (f := out[i][1]) is not None])
            for i, vector in zip(to_embed, vectors, strict=True):
                film_id, film, _, created = out[i]
                out[i] = (film_id, film, np.asarray(vector, dtype=np.float32), created)
        stored, held = changelog.record([(i, f, v) for i, f, v, _ in out], index.model,
                                        expected)
        # this process serves them before it answers (read your writes on this worker);
        # the others within their poll
        catalog.poll()
        # created: the film had no live copy when the change was stored, as the database
        # said under its lock (what was read before may be stale: of eight simultaneous
        # first PUTs of one film, one is created, seven replace it)
        written, seen = [], set()
        for change in stored:
            before = held.get(change.film_id, change.film_id in index.row_of) \
                if change.film_id not in seen else True
            seen.add(change.film_id)
            written.append(Written(change, change.film is not None and not before))
        return written
