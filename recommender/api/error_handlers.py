"""Every error leaves here, ours and werkzeug's, in the contract's shape
``{"error": {"code", "message", ...}}``: a named exception's status and words, never a
stack trace (an unexpected one is logged and answered 500 ``internal_error``)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from recommender.api import http_io
from recommender.errors import (
    InvalidParameter,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RecommenderError,
    UnsupportedMediaType,
)

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    app.register_error_handler(RecommenderError, _render_error)
    app.register_error_handler(HTTPException, _render_http_exception)
    app.register_error_handler(Exception, _render_unexpected)


def _error_response(error: RecommenderError) -> Any:
    response = jsonify({"error": error.to_dict()})
    if "retry_after" in error.details:
        response.headers["Retry-After"] = str(error.details["retry_after"])
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="recommender"'
    return response, error.status


def _render_error(error: RecommenderError) -> Any:
    return _error_response(error)


_HTTP_ERRORS: dict[int, type[RecommenderError]] = {
    404: NotFound, 405: MethodNotAllowed, 413: PayloadTooLarge, 415: UnsupportedMediaType,
}


def _render_http_exception(exc: HTTPException) -> Any:
    status = exc.code or 500
    if status == 404:
        error: RecommenderError = NotFound(
            f"No route {request.path!r}. The routes are listed at /docs and /openapi.json."
        )
    elif status == 405:
        error = MethodNotAllowed(
            f"{request.method} is not allowed on {request.path}; "
            f"allowed: {', '.join(sorted(getattr(exc, 'valid_methods', None) or []))}."
        )
    elif status == 413:
        settings = http_io.settings()
        if request.endpoint == "catalog.bulk":  # the one route with a limit of its own
            limit, setting, advice = (settings.catalog_max_body_bytes,
                                      "RECOMMENDER_CATALOG_MAX_BODY_BYTES",
                                      "fewer films per bulk change")
        else:
            limit, setting, advice = (settings.max_body_bytes, "RECOMMENDER_MAX_BODY_BYTES",
                                      "POST /events: fewer events per batch")
        error = PayloadTooLarge(
            f"The request body is larger than {limit:,} bytes: send less in one request "
            f"({advice}), or raise {setting} on the server.", limit=limit, setting=setting)
    elif status in _HTTP_ERRORS:
        error = _HTTP_ERRORS[status](exc.description or exc.name)
    elif 400 <= status < 500:
        error = InvalidParameter("request", exc.description or exc.name)
    else:
        return _render_unexpected(exc)
    response, code = _error_response(error)
    valid_methods = getattr(exc, "valid_methods", None)  # werkzeug's MethodNotAllowed's
    if status == 405 and valid_methods:
        response.headers["Allow"] = ", ".join(valid_methods)
    return response, code


def _render_unexpected(exc: Exception) -> Any:
    if isinstance(exc, HTTPException) and (exc.code or 500) < 500:
        return _render_http_exception(exc)
    log.exception("unexpected error on %s %s", request.method, request.path)
    body = {"error": {"code": "internal_error",
                      "message": "An unexpected error occurred; it has been logged."}}
    return jsonify(body), 500
