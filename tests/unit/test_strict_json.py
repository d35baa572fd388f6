"""The JSON every body is parsed with (recommender/strict_json.py): what JSON can't carry
into an answer or a database is refused at the edge, naming where."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.errors import InvalidJson
from recommender.strict_json import MAX_JSON_DEPTH, parse_json


def _fill(template: str, value: str) -> str:
    """``template`` with ``value`` where it says %s (JSON's braces rule out str.format)."""
    return template.replace("%s", value)


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400",
                                    "1" * 5000])
def test_numbers_json_has_no_room_for_are_refused(number):
    with pytest.raises(InvalidJson, match="no room"):
        parse_json(_fill('{"year": %s}', number))


def test_large_but_finite_numbers_pass():
    assert parse_json(_fill('{"a": 1e308, "b": %s}', "9" * 300)) == \
        {"a": 1e308, "b": int("9" * 300)}


@pytest.mark.parametrize("body, field", [
    ('{"title": "\\ud800"}', "title"),
    ('{"films": [{"genres": ["ok", "x\\udfff"]}]}', "films[0].genres[1]"),
    ('{"exclude": ["\\ud800"]}', "exclude[0]"),
])
def test_a_lone_surrogate_is_refused_naming_its_field(body, field):
    with pytest.raises(InvalidJson) as caught:
        parse_json(body)
    assert caught.value.details["field"] == field
    assert "surrogate" in caught.value.message


def test_a_lone_surrogate_in_a_key_or_the_whole_body_is_refused():
    with pytest.raises(InvalidJson, match="surrogate"):
        parse_json('{"\\ud800": 1}')
    with pytest.raises(InvalidJson, match="surrogate"):
        parse_json('"\\udc00"')


def test_a_surrogate_pair_is_one_character_and_passes():
    assert parse_json('{"title": "\\ud83c\\udfac"}') == {"title": "\U0001F3AC"}


def test_depth_is_still_bounded():
    parse_json("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)
    with pytest.raises(InvalidJson, match="deeper"):
        parse_json("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1))


JSON_TEXT = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(JSON_TEXT)
def test_whatever_is_accepted_can_be_written_back_as_utf8_json(value):
    """Anything the parser accepts can be answered and stored: ``json.dumps`` without
    NaN, encoded as UTF-8, never raises (the two 500s of lone surrogates and NaN)."""
    text = json.dumps(value, ensure_ascii=True)  # \\uXXXX escapes, as a client sends them
    try:
        parsed = parse_json(text)
    except InvalidJson:
        return
    json.dumps(parsed, allow_nan=False, ensure_ascii=False).encode("utf-8")
