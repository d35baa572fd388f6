"""The catalog's writes fuzzed against the OpenAPI document (as test_openapi.py does the
read routes), on an app and a database of their own: no 500s, documented codes only, and
a change refused is never stored."""

import dataclasses

import pytest
import schemathesis

from recommender.api.app import create_app
from recommender.api.openapi import build_openapi
from recommender.config import Settings
from recommender.distribution.live import LiveIndex
from tests.integration.test_openapi import NEGATIVE, POSITIVE, check_operation, is_write

CASES = [(m.upper(), p, mode) for p, ops in build_openapi(Settings())["paths"].items()
         for m in ops if is_write(m.upper(), p) for mode in (POSITIVE, NEGATIVE)]


@pytest.fixture(scope="module")
def write_schema(settings, engine, tmp_path_factory):
    events = tmp_path_factory.mktemp("fuzzed-writes") / "events.sqlite3"
    app = create_app(dataclasses.replace(settings, events_url=f"sqlite:///{events}",
                                         catalog_poll_seconds=0),
                     live=LiveIndex.serving(engine))
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


def test_every_write_is_fuzzed():
    assert {(m, p) for m, p, _ in CASES} == {
        ("PUT", "/films/{film_id}"), ("PATCH", "/films/{film_id}"),
        ("DELETE", "/films/{film_id}"), ("POST", "/films/bulk")}


@pytest.mark.parametrize("method, path, mode", CASES)
def test_a_write_matches_the_openapi_document(write_schema, method, path, mode):
    check_operation(write_schema[path][method], path, mode)
