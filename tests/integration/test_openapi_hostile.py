"""Every route of the OpenAPI document driven with the classes of bytes that were 500s
(issue 40): schemathesis makes a valid request, hypothesis puts one hostile value in
place of one of its strings or numbers (a lone surrogate, NaN, Infinity, 1e400, a time at
the calendar's edge with an offset), and the answer must not be a 5xx."""

from __future__ import annotations

import dataclasses
import json
import urllib.parse
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from recommender.api.app import create_app
from recommender.api.openapi import build_openapi
from recommender.config import Settings
from recommender.distribution.live import LiveIndex

HOSTILE_TEXT = ["\ud800", "a\udfffb", "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+05:00"]
HOSTILE_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e400"]
OPERATIONS = [(m.upper(), p) for p, ops in build_openapi(Settings())["paths"].items()
              for m in ops if not p.startswith("/admin/reload")]


@pytest.fixture(scope="module")
def app(settings, engine, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    app = create_app(dataclasses.replace(settings, events_url=f"sqlite:///{folder}/e.sqlite3"),
                     live=LiveIndex.serving(engine))
    app.testing = False  # a fault is answered as a server answers it: a 500, not raised
    return app


@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


def _leaves(value: Any, path: tuple = ()) -> list[tuple]:
    """The paths of the strings and numbers in a body (and of its keys' values)."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))]
    return [path] if isinstance(value, str | int | float) and not isinstance(value, bool) \
        else []


def _replaced(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replaced(value[path[0]], path[1:], new)
    return copy


MARK = "__hostile_number__"


def _encode(body: Any) -> str:
    """JSON as a hostile client writes it: surrogates as \\uXXXX escapes, and a number
    JSON has no room for where the marker stands."""
    text = json.dumps(body, ensure_ascii=True)
    for number in HOSTILE_NUMBERS:
        text = text.replace(json.dumps(MARK + number), number)
    return text


@pytest.mark.parametrize("method, path", OPERATIONS)
def test_no_route_answers_5xx_to_hostile_values(app, api_schema, method, path):
    client = app.test_client()

    @given(case=api_schema[path][method].as_strategy(
               generation_mode=schemathesis.GenerationMode.POSITIVE),
           data=st.data())
    @hypothesis_settings(max_examples=25, deadline=None, database=None, derandomize=True,
                         suppress_health_check=list(HealthCheck))
    def check(case, data):
        body = case.body if isinstance(case.body, dict | list) else None
        query = dict(case.query or {})
        places = [("body", p) for p in _leaves(body)] + [("query", (k,)) for k in query]
        if not places:
            return
        where, leaf = data.draw(st.sampled_from(places))
        if where == "body":
            new = data.draw(st.sampled_from(HOSTILE_TEXT + [MARK + n for n in HOSTILE_NUMBERS]))
            body = _replaced(body, leaf, new)
        else:
            query[leaf[0]] = data.draw(st.sampled_from(HOSTILE_TEXT + HOSTILE_NUMBERS))
        target = case.formatted_path
        if query:
            target += "?" + urllib.parse.urlencode(query, doseq=True, errors="surrogatepass")
        response = client.open(target, method=method, headers=dict(case.headers or {}),
                               data=_encode(body) if body is not None else None,
                               content_type="application/json" if body is not None else None)
        assert response.status_code < 500, (method, target, body, response.get_data()[:300])

    check()
