"""The OpenAPI document, generated from the pydantic models that validate requests.

``build_openapi(settings)`` is served at ``/openapi.json``; ``/docs`` renders
it as a page with no external assets.
"""

from __future__ import annotations

from html import escape
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from recommender import __version__
from recommender.api import access, catalog, reports, responses, schemas, viewer_params
from recommender.api.patterns import ID_RE
from recommender.config import Settings
from recommender.search.query import MAX_RESULT_WINDOW

_REF = "#/components/schemas/{model}"
_ERRORS = {
    400: "invalid_parameter: names the parameter and what is allowed; invalid_json: a body "
         "the parser can't take (malformed, not UTF-8, deeper than 32 levels, a key twice)",
    401: "unauthorized: an API key is configured and none was sent",
    403: "forbidden: the key is not valid (or not an admin key)",
    404: "not_found / title_not_found (with suggestions)",
    405: "method_not_allowed",
    409: "ambiguous_title (with candidates)",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited (Retry-After header)",
    503: "index_unavailable; catalog_unavailable: the catalog's database can't be reached "
         "(catalog changes; Retry-After); timeout: the request ran past the time budget "
         "(RECOMMENDER_REQUEST_BUDGET_SECONDS); events_unavailable: the event database "
         "can't be reached (per-viewer routes); busy: every thread this worker allows on "
         "the event database is waiting on it (Retry-After)",
}
_RESPONSE_MODELS: list[type[BaseModel]] = [
    responses.ResultPageOut, responses.FilmOut, responses.FilmListOut, responses.HealthOut,
    responses.ReadyOut, responses.ReloadOut, responses.AdminStatusOut, responses.BatchOut,
    responses.ErrorOut, responses.EventsOut, responses.RowsOut, responses.HistoryOut,
    responses.MapOut, responses.ViewerOut, catalog.ChangeOut, catalog.BulkOut,
    *reports.RESPONSE_MODELS,
]
_BODY_MODELS: list[type[BaseModel]] = [schemas.RecommendRequest, schemas.BatchRequest,
                                       schemas.EventIn, schemas.EventBatch, catalog.FilmIn,
                                       catalog.FilmPatch, catalog.BulkRequest,
                                       schemas.ContextIn, schemas.RankRequest]


def _query_parameters(model: type[BaseModel], settings: Settings) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    limits = {"k": {"maximum": settings.max_k}, "q": {"maxLength": settings.max_query_chars},
              "title": {"maxLength": settings.max_title_chars}}
    if "k" in schema["properties"]:  # a query, paged within the result window
        limits["offset"] = {"maximum": MAX_RESULT_WINDOW - 1}
    out = []
    for name, prop in schema["properties"].items():
        prop = {k: v for k, v in prop.items() if k != "title"}
        description = prop.pop("description", None)
        for key, limit in limits.get(name, {}).items():  # a setting, where tighter
            prop[key] = min(prop.get(key, limit), limit)
        param: dict[str, Any] = {"name": name, "in": "query", "required": name in required,
                                 "schema": prop}
        if description:
            param["description"] = description
        if name in schemas.LIST_FIELDS:
            param |= {"style": "form", "explode": True}
        out.append(param)
    return out


def _responses(ok: str | None, codes: list[int], ok_status: int = 200) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    if ok:
        responses[str(ok_status)] = {"description": "OK", "content": {
            "application/json": {"schema": {"$ref": _REF.format(model=ok)}}}}
    for code in codes:
        responses[str(code)] = {"description": _ERRORS[code], "content": {
            "application/json": {"schema": {"$ref": _REF.format(model="ErrorOut")}}}}
    return responses


def _catalog_writes(film_id: dict[str, Any],
                    body: Any) -> dict[str, Any]:
    """PUT, PATCH and DELETE of one film: admin routes (the admin key where one is set)."""
    codes = [400, 401, 403, 404, 413, 415, 503]
    film_id = {**film_id, "schema": {"type": "string", "pattern": ID_RE}}
    return {
        "put": {"summary": "Add or replace a film (201 created, 200 replaced); served by "
                           "every worker within seconds", "parameters": [film_id],
                "requestBody": body("FilmIn"),
                "responses": {**_responses("ChangeOut", []),
                              **_responses("ChangeOut", codes, ok_status=201)}},
        "patch": {"summary": "Change some fields of a film, e.g. its available_until",
                  "parameters": [film_id], "requestBody": body("FilmPatch"),
                  "responses": _responses("ChangeOut", codes)},
        "delete": {"summary": "Withdraw a film: in no answer from then on (its events stay)",
                   "parameters": [film_id],
                   "responses": _responses("ChangeOut", [400, 401, 403, 404, 503])}}


def build_openapi(settings: Settings) -> dict[str, Any]:
    """The whole API: every route, parameter, body, response and error."""
    _, definitions = models_json_schema(
        [(m, "validation") for m in _BODY_MODELS + _RESPONSE_MODELS], ref_template=_REF)
    components = definitions.get("$defs", {})
    # limits that are settings, not constants
    components["RecommendRequest"]["properties"]["k"]["maximum"] = settings.max_k
    components["RecommendRequest"]["properties"]["query"]["anyOf"][0]["maxLength"] = \
        settings.max_query_chars
    components["RecommendRequest"]["properties"]["offset"]["maximum"] = MAX_RESULT_WINDOW - 1
    components["BatchRequest"]["properties"]["requests"]["maxItems"] = settings.max_batch
    keyed = ([401, 403] if _any_credentials(settings) else []) + \
        ([429] if settings.rate_limit_per_minute else [])
    film_id = {"name": "film_id", "in": "path", "required": True, "schema": {"type": "string"}}
    user = {"name": "user", "in": "path", "required": True, "description": "the viewer's id",
            "schema": TypeAdapter(schemas.UserId).json_schema()}  # the validator's own
    query = _query_parameters(viewer_params.FilmQueryParams, settings)
    json_body = {"required": True, "content": {"application/json": {"schema": {"$ref": ""}}}}

    def body(model: str) -> dict[str, Any]:
        return {**json_body, "content": {"application/json": {
            "schema": {"$ref": _REF.format(model=model)}}}}

    paths: dict[str, Any] = {
        "/health": {"get": {"summary": "Liveness, with the index served",
                            "responses": _responses("HealthOut", [503])}},
        "/ready": {"get": {"summary": "Readiness: an index is loaded and answers a query",
                           "responses": _responses("ReadyOut", [503])}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {
            "description": "text exposition format",
            "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
        "/films": {"get": {"summary": "The catalog, a page at a time",
                           "parameters": _query_parameters(schemas.ListParams, settings),
                           "responses": _responses("FilmListOut", [400, *keyed, 503])}},
        "/films/{film_id}": {"get": {"summary": "One film with its synopsis, where the "
                                                "context may see it (else 404 "
                                                "film_not_available, with the reason)",
                                     "parameters": [film_id, *_query_parameters(
                                         schemas.FilmParams, settings)],
                                     "responses": _responses("FilmOut",
                                                             [400, 404, *keyed, 503])},
                             **_catalog_writes(film_id, body)},
        "/films/bulk": {"post": {
            "summary": f"Up to {catalog.MAX_BULK} catalog changes (put, patch, delete), "
                       "stored all or none; needs the admin key where one is set",
            "requestBody": body("BulkRequest"),
            "responses": _responses("BulkOut", [400, 401, 403, 404, 413, 415, 503])}},
        "/films/{film_id}/similar": {"get": {
            "summary": "The films most like this one", "parameters": [film_id, *query],
            "responses": _responses("ResultPageOut", [400, 404, *keyed, 503])}},
        "/films/{film_id}/also-liked": {"get": {
            "summary": "Viewers who watched this film also watched: from every viewer's "
                       "events (the collaborative model); empty until one is trained",
            "parameters": [film_id, *query],
            "responses": _responses("ResultPageOut", [400, 404, *keyed, 503])}},
        "/similar": {"get": {
            "summary": "The films most like the film of this title",
            "parameters": _query_parameters(viewer_params.TitleParams, settings),
            "responses": _responses("ResultPageOut", [400, 404, 409, *keyed, 503])}},
        "/search": {"get": {
            "summary": "The films that best match a free-text description",
            "parameters": _query_parameters(viewer_params.TextParams, settings),
            "responses": _responses("ResultPageOut", [400, *keyed, 503])}},
        "/map": {"get": {
            "summary": "Every film on the plane (PCA of its vector), coloured by genre or "
                       "decade: what the web page's map draws",
            "parameters": _query_parameters(schemas.MapParams, settings),
            "responses": _responses("MapOut", [400, *keyed, 503])}},
        "/recommend": {"post": {
            "summary": "Films like several liked films, unlike disliked ones",
            "requestBody": body("RecommendRequest"),
            "responses": _responses("ResultPageOut", [400, 404, 413, 415, *keyed, 503])}},
        "/recommend/batch": {"post": {
            "summary": f"Up to {settings.max_batch} recommendation requests, each answered "
                       "as if alone", "requestBody": body("BatchRequest"),
            "responses": _responses("BatchOut", [400, 413, 415, *keyed, 503])}},
        "/events": {"post": {
            "summary": "Store viewer events: one, or {\"events\": [...]} (up to "
                       f"{settings.max_events_per_request}); each validated alone, the "
                       "accepted ones committed before the answer",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "oneOf": [{"$ref": _REF.format(model="EventIn")},
                          {"$ref": _REF.format(model="EventBatch")}]}}}},
            "responses": _responses("EventsOut", [400, 404, 413, 415, *keyed, 503])}},
        "/users/{user}/recommendations": {"get": {
            "summary": "Films for this viewer from their history (trending, then the "
                       "catalog, for a viewer without one), each with its reasons",
            "parameters": [user, *_query_parameters(schemas.UserRecommendationParams,
                                                    settings)],
            "responses": _responses("ResultPageOut", [400, *keyed, 503])}},
        "/users/{user}/rows": {"get": {
            "summary": "'Because you liked X' rows, no film in two rows",
            "parameters": [user, *_query_parameters(schemas.RowsParams, settings)],
            "responses": _responses("RowsOut", [400, *keyed, 503])}},
        "/users/{user}/history": {"get": {
            "summary": "The viewer's events, newest first",
            "parameters": [user, *_query_parameters(schemas.HistoryParams, settings)],
            "responses": _responses("HistoryOut", [400, *keyed, 503])}},
        "/users/{user}/rank": {"post": {
            "summary": "The films given (up to 500), ordered for this viewer with reasons; "
                       "those the context may not see left out and listed",
            "parameters": [user], "requestBody": body("RankRequest"),
            "responses": _responses("ResultPageOut", [400, 413, 415, *keyed, 503])}},
        "/users/{user}": {
            "get": {"summary": "The viewer's stored context: country and max_age",
                    "parameters": [user],
                    "responses": _responses("ViewerOut", [400, *keyed, 503])},
            "put": {"summary": "Store the viewer's context whole ({\"country\": \"DK\", "
                               "\"max_age\": 7}: a kids profile); every answer for them "
                               "obeys it", "parameters": [user],
                    "requestBody": body("ContextIn"),
                    "responses": _responses("ViewerOut", [400, 413, 415, *keyed, 503])},
            "delete": {
                "summary": "Erase every event of the viewer and their stored context; "
                           "afterwards the viewer is unknown",
                "parameters": [user],
                "responses": {"204": {"description": "erased (also when there was nothing)"},
                              **_responses(None, [400, *keyed, 503])}}},
        "/trending": {"get": {
            "summary": "Films by recent events, time-decayed, then the catalog's order",
            "parameters": _query_parameters(viewer_params.TrendingViewerParams, settings),
            "responses": _responses("ResultPageOut", [400, *keyed, 503])}},
        "/admin/reload": {"post": {
            "summary": "Swap to the index version 'current' points to",
            "responses": _responses("ReloadOut", [401, 403, 503])}},
        "/admin/status": {"get": {
            "summary": "For operators: the index's folder and the last reload's error",
            "responses": _responses("AdminStatusOut", [401, 403, 503])}},
        **reports.openapi_paths(_responses, lambda m: _query_parameters(m, settings)),
    }
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "recommender", "version": __version__,
                 "description": "Content-based 'more like this' film recommendations."},
        "paths": paths,
        "components": {"schemas": components},
    }
    if _any_credentials(settings):
        doc["components"]["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}
        doc["security"] = [{"bearer": []}, {"apiKey": []}]
    return doc


def _any_credentials(settings: Settings) -> bool:
    return bool(settings.viewer_token_secret or any(getattr(settings, name)
                                                    for name in access.GRANTS))


def docs_page(doc: dict[str, Any]) -> str:
    """A plain HTML page describing every route (no scripts, no external assets)."""
    parts = [f"<!doctype html><meta charset='utf-8'><title>{escape(doc['info']['title'])} API"
             "</title><style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:auto;"
             "padding:1rem}code{background:#f3f3f3;padding:0 .2em}table{border-collapse:"
             "collapse}td,th{border:1px solid #ddd;padding:.2em .5em;text-align:left}</style>",
             f"<h1>{escape(doc['info']['title'])} {escape(doc['info']['version'])}</h1>",
             f"<p>{escape(doc['info']['description'])} The machine-readable document is "
             "<a href='/openapi.json'>/openapi.json</a>.</p>"]
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            parts.append(f"<h2><code>{method.upper()} {escape(path)}</code></h2>"
                         f"<p>{escape(op.get('summary', ''))}</p>")
            params = op.get("parameters", [])
            if params:
                parts.append("<table><tr><th>parameter</th><th>in</th><th>required</th>"
                             "<th>description</th></tr>")
                for p in params:
                    parts.append(f"<tr><td><code>{escape(p['name'])}</code></td>"
                                 f"<td>{p['in']}</td><td>{'yes' if p['required'] else ''}</td>"
                                 f"<td>{escape(p.get('description', ''))}</td></tr>")
                parts.append("</table>")
            if "requestBody" in op:
                schema = op["requestBody"]["content"]["application/json"]["schema"]
                refs = [s["$ref"] for s in schema.get("oneOf", [schema])]
                names = " or ".join(f"<code>{escape(r.rsplit('/', 1)[-1])}</code>" for r in refs)
                parts.append(f"<p>JSON body: {names}</p>")
            codes = ", ".join(f"{c}" for c in op["responses"])
            parts.append(f"<p>Responses: {codes}</p>")
    return "\n".join(parts)
