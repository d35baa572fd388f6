"""The named errors of the service.

Every error a user can cause is one of these. Each carries its HTTP status and
the contract's error code, so the API renders all of them in one handler and
the command line prints the same message.
"""

from __future__ import annotations

from typing import Any


class RecommenderError(Exception):
    """Base class: an error with a message meant for the user who caused it."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, public: str | None = None, **details: Any) -> None:
        """``message`` is for the log and the command line; ``public``, where given, is
        what an HTTP answer says instead: the same fault without the server's paths, a
        library's internals or a database's host."""
        super().__init__(message)
        self.message = message
        self.public = public
        self.details = details

    @property
    def public_message(self) -> str:
        return self.public or self.message

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.public_message, **self.details}

    def with_message(self, message: str) -> RecommenderError:
        """The same error, told another way."""
        self.message = message
        self.public = None
        self.args = (message,)
        return self


class InvalidParameter(RecommenderError):
    status = 400
    code = "invalid_parameter"

    def __init__(self, parameter: str, message: str, **details: Any) -> None:
        super().__init__(message, parameter=parameter, **details)
        self.parameter = parameter


class NotFound(RecommenderError):
    status = 404
    code = "not_found"


class FilmNotFound(NotFound):
    def __init__(self, film_id: str) -> None:
        super().__init__(
            f"No film with id {film_id!r}. List the ids with GET /films.", id=film_id
        )


class FilmNotAvailable(NotFound):
    """A film the catalog holds that the viewer's context may not see: not licensed in
    their country now (``reason`` territory), or rated above their age (maturity)."""

    code = "film_not_available"

    def __init__(self, film_id: str, reason: str) -> None:
        said = {"territory": "is not licensed in the viewer's country at this time (or "
                "no country was given, and it is licensed only in some)",
                "maturity": "is rated above the viewer's max_age"}[reason]
        super().__init__(f"The film {film_id!r} {said}.", id=film_id, reason=reason)


class TitleNotFound(RecommenderError):
    status = 404
    code = "title_not_found"

    def __init__(self, title: str, suggestions: list[dict[str, Any]]) -> None:
        hint = (
            " Did you mean: " + "; ".join(s["title"] for s in suggestions) + "?"
            if suggestions
            else ""
        )
        super().__init__(
            f"No film is titled {title!r}.{hint}", title=title, suggestions=suggestions
        )
        self.suggestions = suggestions


class AmbiguousTitle(RecommenderError):
    status = 409
    code = "ambiguous_title"

    def __init__(self, title: str, candidates: list[dict[str, Any]]) -> None:
        years = ", ".join(str(c["year"]) for c in candidates)
        super().__init__(
            f"{len(candidates)} films are titled {title!r} ({years}); "
            "add year= to pick one, or ask by id.",
            title=title,
            candidates=candidates,
        )
        self.candidates = candidates


class NothingToRecommendFrom(RecommenderError):
    """No liked item resolved and no query text: nothing left to recommend from."""

    status = 404

    def __init__(self, unresolved: list[dict[str, Any]]) -> None:
        # title_not_found when a title failed, not_found when only ids did
        self.code = "title_not_found" if any(
            u.get("code") != "not_found" for u in unresolved) or not unresolved else "not_found"
        super().__init__(
            "None of the liked films could be found and no query text was given: "
            "nothing to recommend from. See unresolved for suggestions.",
            unresolved=unresolved,
        )


class Unauthorized(RecommenderError):
    status = 401
    code = "unauthorized"


class Forbidden(RecommenderError):
    status = 403
    code = "forbidden"


class RateLimited(RecommenderError):
    status = 429
    code = "rate_limited"


class InvalidJson(RecommenderError):
    """A body the JSON parser can't take: malformed, not UTF-8, too deep, duplicate keys."""

    status = 400
    code = "invalid_json"


class Timeout(RecommenderError):
    """The request ran past the service's time budget; it was stopped between stages."""

    status = 503
    code = "timeout"


class MethodNotAllowed(RecommenderError):
    status = 405
    code = "method_not_allowed"


class PayloadTooLarge(RecommenderError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(RecommenderError):
    status = 415
    code = "unsupported_media_type"


class IndexUnavailable(RecommenderError):
    """No usable index is loaded (missing, unreadable or refused)."""

    status = 503
    code = "index_unavailable"


class IndexMismatch(IndexUnavailable):
    """The index on disk was built differently from what this process expects
    (another model, dimension or format), so its vectors can't be compared."""


class ModelUnavailable(IndexUnavailable):
    """The model an index was built with can't be run here: not installed, or its
    weights are not the pinned ones (refused before any use). Over HTTP it is an
    ``index_unavailable``: no version can serve without its model."""


class EventsUnavailable(RecommenderError):
    """The event store can't be reached (a database down or unwritable); the query
    routes keep answering."""

    status = 503
    code = "events_unavailable"


class EventsBusy(EventsUnavailable):
    """The database answers, but every thread this worker allows on it is waiting on it:
    the server is at its capacity for the database, not the database down."""

    code = "busy"


class PortUnavailable(RecommenderError):
    """``recommender serve`` can't listen where it was told (another server holds it)."""

    code = "port_unavailable"


class CatalogUnavailable(RecommenderError):
    """The database that keeps the catalog's changes can't be written or read now; the
    films already loaded go on being served."""

    status = 503
    code = "catalog_unavailable"


class CatalogError(RecommenderError):
    """A catalog file is refused; names the line and the field."""

    status = 400
    code = "invalid_catalog"

    def __init__(self, path: str, message: str, line: int | None = None,
                 field: str | None = None) -> None:
        where = f"{path}, line {line}" if line is not None else path
        if field:
            where += f", field {field!r}"
        super().__init__(f"{where}: {message}", line=line, field=field)
        self.reason = message
        self.line = line
        self.field = field

    def with_value(self, value: Any) -> CatalogError:
        """Record the offending value (cut to 300 characters) for the rejects file."""
        if isinstance(value, str) and len(value) > 300:
            value = value[:300] + "…"
        self.details["value"] = value
        return self

    def reject(self) -> dict[str, Any]:
        """The row as ``rejects.jsonl`` lists it."""
        return {"line": self.line, "field": self.field, "value": self.details.get("value"),
                "reason": self.reason}
