"""The service's errors as exceptions: one base class, one subclass per kind of answer,
each with the service's ``code``, its message and what it added (``field``,
``suggestions``, ``retry_after`` ...)."""

from __future__ import annotations

from typing import Any


class RecommenderError(Exception):
    """Any answer that is not a success, or no answer at all.

    Attributes:
        status: the HTTP status (0: no answer reached the client).
        code: the service's error code (``not_found``, ``events_unavailable`` ...).
        details: everything else the error body said.
    """

    def __init__(self, message: str, status: int = 0, code: str = "",
                 details: dict[str, Any] | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.details = details or {}
        self.retry_after = retry_after


class BadRequest(RecommenderError):
    """400, 413, 415: the request was wrong; ``field`` names what, where the service says."""

    @property
    def field(self) -> str | None:
        value = self.details.get("parameter") or self.details.get("field")
        return str(value) if value is not None else None


class Unauthorized(RecommenderError):
    """401 or 403: no key, or a key (or viewer token) that doesn't allow this."""


class NotFound(RecommenderError):
    """404: no such film, title or route; a title's ``suggestions`` where it has some."""

    @property
    def suggestions(self) -> list[dict[str, Any]]:
        return list(self.details.get("suggestions") or [])


class Conflict(RecommenderError):
    """409: two films share the title and no year picks one (``candidates``)."""


class RateLimited(RecommenderError):
    """429: too many requests; ``retry_after`` seconds to wait."""


class Unavailable(RecommenderError):
    """503 (a dependency down, the service busy or out of time) or no answer at all
    (``status`` 0); ``retry_after`` seconds to wait where the service said."""


class ServerError(RecommenderError):
    """Any other 5xx: the service failed; it should never answer one."""


def error_for(status: int, body: Any, retry_after: float | None) -> RecommenderError:
    """The exception for an answer of ``status`` with the JSON ``body``."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {"code": "", "message": f"the service answered {status}"}
    details = {k: v for k, v in error.items() if k not in ("code", "message")}
    kind: type[RecommenderError]
    if status in (400, 405, 413, 415, 422):
        kind = BadRequest
    elif status in (401, 403):
        kind = Unauthorized
    elif status == 404:
        kind = NotFound
    elif status == 409:
        kind = Conflict
    elif status == 429:
        kind = RateLimited
    elif status == 503:
        kind = Unavailable
    elif status >= 500:
        kind = ServerError
    else:
        kind = RecommenderError
    return kind(str(error.get("message", "")), status, str(error.get("code", "")), details,
                retry_after)
