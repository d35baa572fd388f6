"""The OpenAPI document, and schemathesis against it through the WSGI app:
no 500s, answers match the documented schemas and codes, invalid input rejected."""

import dataclasses
import os
import re
from datetime import datetime

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings

from recommender.api.app import create_app
from recommender.api.openapi import build_openapi
from recommender.config import Settings
from recommender.distribution.live import LiveIndex

# Driven through hypothesis directly: schemathesis's own pytest plugin doesn't run on pytest 9.
# Derandomised so CI is repeatable; FUZZ_RANDOM=1 FUZZ_EXAMPLES=500 searches further. A random
# search can report query-string ambiguities that aren't faults: a query string can't tell
# null or a number from the text "null" or "5", so such "negative" cases are valid text.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
RANDOM = os.environ.get("FUZZ_RANDOM") == "1"
POSITIVE, NEGATIVE = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE
CASES = [
    (m.upper(), p, mode)
    for p, ops in build_openapi(Settings())["paths"].items() for m, op in ops.items()
    if not p.startswith("/admin/")  # tested on their own, with real index versions
    # invalid input exists only where there is input
    for mode in ([POSITIVE, NEGATIVE] if "requestBody" in op or any(
        p["in"] == "query" for p in op.get("parameters", [])) else [POSITIVE])
]


def _schema(settings, engine, folder):
    # a database of its own: the catalog and events it is sent stay out of other tests'
    app = create_app(dataclasses.replace(settings, events_url=f"sqlite:///{folder}/e.sqlite3"),
                     live=LiveIndex.serving(engine))
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


@pytest.fixture(scope="module")
def api_schema(settings, engine, tmp_path_factory):
    return _schema(settings, engine, tmp_path_factory.mktemp("fuzzed"))


def is_write(method: str, path: str) -> bool:
    """The catalog's writes are fuzzed on their own (test_openapi_writes.py): the films
    they add and withdraw would change the answers the read routes are checked on."""
    return (method in ("PUT", "PATCH", "DELETE") and path.startswith("/films/")) or \
        path == "/films/bulk"


@pytest.mark.parametrize("method, path, mode", [c for c in CASES if not is_write(*c[:2])])
def test_api_matches_its_openapi_document(api_schema, method, path, mode):
    check_operation(api_schema[path][method], path, mode)


def check_operation(operation, path: str, mode) -> None:
    """Fuzz one operation: its answers match the document, bad input is refused."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None,
                         derandomize=not RANDOM, suppress_health_check=list(HealthCheck))
    def check(case):
        window = _window(case) if path != "/films" else None  # /films pages by limit
        if window is not None and window > 1000:
            # a limit on two parameters together, which a schema can't state
            response = case.call()
            assert response.status_code == 400, response.text
            if mode == POSITIVE:  # else another parameter may be the one named
                named = response.json()["error"]["parameter"]  # or an expression's parse
                assert named == "offset" or (named == "filter" and _has_expression(case))
            return
        if mode == POSITIVE and _rule_across_fields(case):
            response = case.call()  # a rule over several fields, which a schema can't state
            assert response.status_code in (400, 404), response.text  # 404: no such film
            return
        if mode == POSITIVE and _has_expression(case):
            # a filter expression has a grammar (docs/rules.md), which a schema can't state:
            # one that doesn't parse is a 400 naming it, never a 500
            response = case.call()
            if response.status_code == 400 and \
                    response.json()["error"]["parameter"] == "filter":
                return
            case.validate_response(response)
            return
        if mode == POSITIVE and _patches_a_window(case):
            # the window patched together with the film's stored one: end before start is
            # a 400 naming it, which the body alone can't show
            response = case.call()
            if response.status_code == 400:
                assert response.json()["error"]["parameter"] in WINDOW, response.text
            else:
                case.validate_response(response)
            return
        if mode == NEGATIVE and _whole_number_in_query(case, operation):
            # 0.0 is an integer to JSON Schema and to the server, not to the generator
            assert case.call().status_code < 500
            return
        case.call_and_validate()

    check()


WINDOW = ("available_from", "available_until")


def _has_expression(case) -> bool:
    body = case.body if isinstance(case.body, dict) else {}
    return bool((case.query or {}).get("filter") or body.get("filter") or any(
        isinstance(r, dict) and r.get("filter") for r in body.get("requests") or []))


def _patches_a_window(case) -> bool:
    body = case.body if isinstance(case.body, dict) else {}
    fields = [body] if case.method == "PATCH" else [
        c.get("fields") or {} for c in body.get("changes") or [] if isinstance(c, dict)]
    return any(isinstance(f, dict) and any(f.get(k) for k in WINDOW) for f in fields)


def _whole_number_in_query(case, operation) -> bool:
    """A query parameter of type integer given a whole float (``year_max=0.0``)."""
    integers = {p["name"] for p in operation.definition.raw.get("parameters", [])
                if p.get("in") == "query" and p.get("schema", {}).get("type") == "integer"}
    return any(isinstance(v, float) and v.is_integer() for k, v in (case.query or {}).items()
               if k in integers)


def _rule_across_fields(case) -> bool:
    """A catalog change whose window ends before it starts, or a bulk request naming a
    film twice: schema-valid, refused by rules over two fields (or items) together."""
    body = case.body if isinstance(case.body, dict) else {}
    films = [body, body.get("fields") or {}] + [
        c.get("film") or c.get("fields") or {} for c in body.get("changes") or []
        if isinstance(c, dict)]
    for film in films:
        if isinstance(film, dict) and film.get("available_from") and \
                film.get("available_until"):
            try:
                start, end = (datetime.fromisoformat(film[k]) for k in
                              ("available_from", "available_until"))
            except ValueError:
                return False
            if end.replace(microsecond=0) <= start.replace(microsecond=0):
                return True
        for territory in (film.get("territories") or []) if isinstance(film, dict) else []:
            if isinstance(territory, dict) and _ends_before_start(territory, "from", "until"):
                return True
    ids = [c.get("id") or (c.get("film") or {}).get("id")
           for c in body.get("changes") or [] if isinstance(c, dict)]
    return len(ids) != len(set(ids))


def _ends_before_start(item: dict, start: str, end: str) -> bool:
    try:
        first, last = (datetime.fromisoformat(item[k]) for k in (start, end))
    except (KeyError, TypeError, ValueError):
        return False
    return last.replace(microsecond=0) <= first.replace(microsecond=0)


def _window(case) -> int | None:
    """offset + k of a generated request, where both are integers."""
    source = case.body if isinstance(case.body, dict) else (case.query or {})
    try:
        return int(source.get("offset", 0)) + int(source.get("k", 10))
    except (TypeError, ValueError):
        return None


def test_document_covers_every_route(client, app):
    doc = client.get("/openapi.json").get_json()
    documented = {(m.upper(), re.sub(r"\{(\w+)\}", r"<\1>", p))
                  for p, ops in doc["paths"].items() for m in ops}
    routed = {(m, r.rule) for r in app.url_map.iter_rules() for m in r.methods
              if m in ("GET", "POST", "PUT", "PATCH", "DELETE") and r.endpoint != "static"}
    routed -= {("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/"), ("GET", "/dashboard"),
               ("GET", "/favicon.ico"),
               ("GET", "/static/<path:filename>")}  # the pages for people, not the API
    assert routed == documented
    search = {p["name"]: p for p in doc["paths"]["/search"]["get"]["parameters"]}
    assert search["q"]["required"] and search["k"]["schema"]["maximum"] == 100
    assert set(search) >= {"mode", "genres", "exclude", "diversity", "explain"}
    body = doc["components"]["schemas"]["RecommendRequest"]
    assert body["additionalProperties"] is False and "positive" in body["properties"]


def test_docs_page(client):
    r = client.get("/docs")
    assert r.status_code == 200 and r.content_type.startswith("text/html")
    page = r.get_data(as_text=True)
    assert "POST /recommend/batch" in page and "http" not in page.replace("/openapi.json", "")
